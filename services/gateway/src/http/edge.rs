//! The middleware every request passes, in this order: request id and trace context, the
//! client IP, CORS (preflights answered here, before the policy: `OPTIONS` is no route's
//! verb), the per-IP rate limits, the route policy (401/403/405 before any handler runs), the
//! per-tenant rate limit, the route's body limit and body timeout, the handler deadline; then
//! the uniform error body, security headers, one log line and the RED metrics.

use super::EdgeSettings;
use super::State;
use super::client_ip::ClientIp;
use super::cors::{self, Cors, CorsDecision};
use super::error::{ApiError, ErrorBody};
use super::headers::{set_quota_headers, set_security_headers};
use super::policy::{self, Access, Decision, KeyAccess, paths};
use super::ratelimit::{Outcome, Quota};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};
use herald_contracts::rpc::Identity;
use herald_kit::TraceContext;
use std::time::{Duration, Instant};
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Where an API key may be sent instead of `Authorization: Bearer hk_...`.
pub const API_KEY: HeaderName = HeaderName::from_static("x-api-key");
const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
/// The route label for requests no route matched (keeps metric label cardinality bounded).
const UNMATCHED: &str = "unmatched";
/// Routes without a handler deadline: the event stream stays open as long as its client.
const UNBOUNDED_ROUTES: &[&str] = &[paths::EVENTS];
/// Requests under this path prefix count against the tighter auth-route limit too.
const AUTH_PREFIX: &str = "/v1/auth/";

/// What the edge learnt on the way in and adds to the response on the way out.
#[derive(Debug, Default)]
struct Notes {
    /// An allowed CORS origin.
    origin: Option<HeaderValue>,
    /// The tightest rate-limit quota seen.
    quota: Option<Quota>,
}

/// The request's id, in the request extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The caller's `X-Request-Id` if it is `[A-Za-z0-9._-]{1,128}`, else a new UUID.
fn request_id_of(headers: &HeaderMap) -> String {
    headers
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            (1..=128).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Continues the caller's W3C trace as a child span, or starts a new trace.
fn trace_of(headers: &HeaderMap) -> TraceContext {
    let state = headers.get(TRACESTATE).and_then(|v| v.to_str().ok());
    headers
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|parent| TraceContext::parse(parent, state))
        .map(|ctx| ctx.child())
        .unwrap_or_else(TraceContext::root)
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The credential a request carries.
#[derive(Debug, PartialEq, Eq)]
enum Credential<'a> {
    /// An access token (a session's).
    Token(&'a str),
    /// An API key, from `X-Api-Key` or as a bearer token starting `hk_`.
    ApiKey(&'a str),
}

/// The request's one credential; `None` for none, or for two (a key and a token: ambiguous).
fn credential(headers: &HeaderMap) -> Option<Credential<'_>> {
    let key = match headers.get(&API_KEY) {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|k| !k.is_empty())?,
        ),
        None => None,
    };
    match (key, bearer_token(headers)) {
        (Some(_), Some(_)) => None,
        (Some(key), None) => Some(Credential::ApiKey(key)),
        (None, Some(token)) if crate::api_keys::is_api_key(token) => {
            Some(Credential::ApiKey(token))
        }
        (None, Some(token)) => Some(Credential::Token(token)),
        (None, None) => None,
    }
}

/// Applies the route table; returns the verified caller on routes that need one.
async fn admit(req: &ServiceRequest, route: Option<&str>) -> Result<Option<Identity>, ApiError> {
    // No route matched: the router's default service answers 404.
    let Some(route) = route else { return Ok(None) };
    let (required, keys) = match policy::decide(req.method(), route) {
        Decision::Allowed(Access::Public) => return Ok(None),
        Decision::Allowed(Access::Protected { role, keys }) => (role, keys),
        Decision::MethodNotAllowed(allow) => return Err(ApiError::method_not_allowed(&allow)),
        Decision::Undeclared => {
            tracing::error!(http.route = %route, "route missing from the policy table; refused");
            return Err(ApiError::not_found());
        }
    };
    let credential = credential(req.headers()).ok_or_else(ApiError::unauthenticated)?;
    let state = req.app_data::<web::Data<State>>().ok_or_else(|| {
        tracing::error!("gateway state missing");
        ApiError::internal()
    })?;
    let token = match credential {
        Credential::Token(token) => token,
        Credential::ApiKey(key) => {
            // Authenticated first (a bad key is 401 wherever it is sent), then the route's scope.
            let verified = state.api_keys.verify(key).await.map_err(|error| {
                tracing::debug!(reason = %error, "api key refused");
                ApiError::invalid_token()
            })?;
            let allowed = match keys {
                KeyAccess::SessionOnly => false,
                KeyAccess::Scope(scope) => {
                    verified.scopes.contains(&scope) && verified.identity.role.at_least(required)
                }
            };
            if !allowed {
                return Err(ApiError::forbidden());
            }
            return Ok(Some(verified.identity));
        }
    };
    let identity = state.verifier.verify(token).await.map_err(|error| {
        tracing::debug!(reason = %error, "token refused");
        ApiError::invalid_token()
    })?;
    if !identity.role.at_least(required) {
        return Err(ApiError::forbidden());
    }
    Ok(Some(identity))
}

/// Gives every error response the uniform body carrying the request id, and every response
/// the security, CORS and rate-limit headers and the request id.
fn finish(
    response: HttpResponse<BoxBody>,
    request_id: &str,
    settings: &EdgeSettings,
    route: Option<&str>,
    notes: &Notes,
) -> HttpResponse<BoxBody> {
    let status = response.status();
    let mut response = if status.is_client_error() || status.is_server_error() {
        let body = response
            .extensions()
            .get::<ErrorBody>()
            .cloned()
            .unwrap_or_else(|| ErrorBody::for_status(status));
        let mut response = response.set_body(BoxBody::new(body.render(request_id)));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    } else {
        response
    };
    let headers = response.headers_mut();
    set_security_headers(headers, settings, route);
    if let Some(origin) = &notes.origin {
        cors::allow(headers, origin.clone());
    }
    settings.cors.vary(headers);
    if let Some(quota) = notes.quota {
        set_quota_headers(headers, quota);
    }
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID, value);
    }
    response
}

/// The 429 for `outcome` if it is over a limit; records the quota otherwise.
fn rate_check(outcome: Outcome, notes: &mut Notes) -> Result<(), ApiError> {
    match outcome {
        Outcome::Allowed(quota) => {
            if let Some(quota) = quota {
                notes.quota = Some(quota.tighter(notes.quota));
            }
            Ok(())
        }
        Outcome::Limited(class, quota) => {
            metrics::counter!("herald_gateway_rate_limited_total", "class" => class.as_str())
                .increment(1);
            notes.quota = Some(quota);
            Err(ApiError::rate_limited(quota.reset_secs))
        }
    }
}

/// Everything between the request's arrival and its response, short of the final touches.
async fn handle(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    settings: &EdgeSettings,
    route: Option<&str>,
    notes: &mut Notes,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<State>>().cloned() else {
        tracing::error!("gateway state missing");
        return Ok(req.into_response(ApiError::internal().error_response()));
    };
    let cors = settings.cors.decide(req.method(), req.headers());
    if let CorsDecision::Allowed(origin) | CorsDecision::Preflight(origin) = &cors {
        notes.origin = Some(origin.clone());
    }
    let ip = ClientIp::from_request(req.request()).0;
    let auth_route = req.path().starts_with(AUTH_PREFIX);
    if let Err(error) = rate_check(state.limiter.charge_ip(ip, auth_route).await, notes) {
        return Ok(req.into_response(error.error_response()));
    }
    match cors {
        CorsDecision::Preflight(origin) => {
            let methods = route.map(|route| policy::decide(req.method(), route));
            let response = match methods {
                Some(Decision::MethodNotAllowed(methods)) => cors::preflight(origin, &methods),
                _ => ApiError::not_found().error_response(),
            };
            return Ok(req.into_response(response));
        }
        CorsDecision::PreflightRefused => {
            let error = ApiError::new(
                actix_web::http::StatusCode::FORBIDDEN,
                "cors_refused",
                "cross-origin requests from this origin are not allowed",
            );
            return Ok(req.into_response(error.error_response()));
        }
        CorsDecision::None | CorsDecision::Allowed(_) => {}
    }
    let identity = match admit(&req, route).await {
        Ok(identity) => identity,
        Err(error) => return Ok(req.into_response(error.error_response())),
    };
    if let Some(identity) = identity {
        let outcome = state.limiter.charge_tenant(identity.tenant_id).await;
        let key = identity.api_key_id;
        req.extensions_mut().insert(identity);
        if let Err(error) = rate_check(outcome, notes) {
            return Ok(req.into_response(error.error_response()));
        }
        if let Some(key) = key
            && let Err(error) = rate_check(state.limiter.charge_api_key(key).await, notes)
        {
            return Ok(req.into_response(error.error_response()));
        }
    }
    if let Some(route) = route {
        let limit = policy::body_limit(route);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if declared.is_some_and(|length| length > limit as u64) {
            return Ok(req.into_response(ApiError::payload_too_large().error_response()));
        }
        // Bodies come with a length or chunked; only those need counting and a deadline.
        if declared.is_some_and(|length| length > 0)
            || req.headers().contains_key(header::TRANSFER_ENCODING)
        {
            let payload = req.take_payload();
            req.set_payload(super::body::limit(payload, limit, settings.body_timeout));
        }
    }
    if route.is_some_and(|route| UNBOUNDED_ROUTES.contains(&route)) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    match tokio::time::timeout(settings.handler_timeout, next.call(req)).await {
        Ok(response) => response.map(ServiceResponse::map_into_boxed_body),
        Err(_) => {
            tracing::warn!(
                timeout_ms = settings.handler_timeout.as_millis() as u64,
                "handler deadline passed"
            );
            // The request went into the dropped handler; `edge` renders the error instead.
            Err(ApiError::gateway_timeout().into())
        }
    }
}

pub async fn edge(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = request_id_of(req.headers());
    let trace = trace_of(req.headers());
    let route = req.match_pattern();
    let method = req.method().clone();
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let client_ip = ClientIp::of(&req);
    req.extensions_mut().insert(client_ip);
    let settings = match req.app_data::<web::Data<EdgeSettings>>() {
        Some(settings) => settings.clone(),
        None => {
            tracing::error!("edge settings missing");
            web::Data::new(EdgeSettings {
                cors: Cors::default(),
                hsts: None,
                body_timeout: Duration::from_secs(10),
                handler_timeout: Duration::from_secs(30),
            })
        }
    };

    let span = tracing::info_span!("http", request_id = %request_id, trace_id = %trace.trace_id);
    let mut notes = Notes::default();
    // The handler runs inside the trace scope, so `rpc::call` carries it to the service.
    let handled = handle(req, next, &settings, route.as_deref(), &mut notes);
    let outcome = trace.clone().scope(handled.instrument(span)).await;
    let (status, tenant_id, outcome) = match outcome {
        Ok(response) => {
            let (request, response) = response.into_parts();
            let response = finish(response, &request_id, &settings, route.as_deref(), &notes);
            let tenant_id = request
                .extensions()
                .get::<Identity>()
                .map(|identity| identity.tenant_id.to_string())
                .unwrap_or_default();
            (
                response.status(),
                tenant_id,
                Ok(ServiceResponse::new(request, response)),
            )
        }
        // Services below this one answer with responses, not errors; should one not, its
        // response still gets the uniform body and headers.
        Err(error) => {
            let response = finish(
                error.error_response(),
                &request_id,
                &settings,
                route.as_deref(),
                &notes,
            );
            let status = response.status();
            let error = InternalError::from_response(error.to_string(), response);
            (status, String::new(), Err(error.into()))
        }
    };

    let status = status.as_u16();
    let route = route.unwrap_or_else(|| UNMATCHED.to_owned());
    let elapsed = started.elapsed();
    metrics::counter!(
        "herald_http_requests_total",
        "route" => route.clone(),
        "method" => method.to_string(),
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!("herald_http_request_duration_seconds", "route" => route.clone())
        .record(elapsed.as_secs_f64());
    tracing::info!(
        http.method = %method,
        http.route = %route,
        http.status = status,
        duration_ms = elapsed.as_millis() as u64,
        request_id = %request_id,
        trace_id = %trace.trace_id,
        tenant_id = %tenant_id,
        "request"
    );
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn keeps_well_formed_request_ids_only() {
        assert_eq!(
            request_id_of(&headers(&[("x-request-id", "abc.D-_9")])),
            "abc.D-_9"
        );
        for bad in ["", "has space", "semi;colon", &"a".repeat(129)] {
            let id = request_id_of(&headers(&[("x-request-id", bad)]));
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "{bad:?} -> {id}");
        }
    }

    #[test]
    fn reads_bearer_tokens() {
        assert_eq!(
            bearer_token(&headers(&[("authorization", "Bearer abc")])),
            Some("abc")
        );
        assert_eq!(
            bearer_token(&headers(&[("authorization", "bearer abc")])),
            Some("abc")
        );
        assert_eq!(
            bearer_token(&headers(&[("authorization", "Basic abc")])),
            None
        );
        assert_eq!(
            bearer_token(&headers(&[("authorization", "Bearer ")])),
            None
        );
    }

    #[test]
    fn continues_incoming_traces() {
        let parent = TraceContext::root();
        let trace = trace_of(&headers(&[("traceparent", &parent.traceparent())]));
        assert_eq!(trace.trace_id, parent.trace_id);
        assert_ne!(trace.span_id, parent.span_id);
        let fresh = trace_of(&headers(&[("traceparent", "garbage")]));
        assert_ne!(fresh.trace_id, parent.trace_id);
    }
}
