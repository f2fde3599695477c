//! The middleware every request passes: request id and trace context, the route policy
//! (401/403/405 before any handler runs), the uniform error body, security headers, one log
//! line and the RED metrics.

use super::State;
use super::client_ip::ClientIp;
use super::error::{ApiError, ErrorBody};
use super::policy::{self, Access, Decision};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};
use herald_contracts::rpc::Identity;
use herald_kit::TraceContext;
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
/// The route label for requests no route matched (keeps metric label cardinality bounded).
const UNMATCHED: &str = "unmatched";

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

/// Applies the route table; returns the verified caller on routes that need one.
async fn admit(req: &ServiceRequest, route: Option<&str>) -> Result<Option<Identity>, ApiError> {
    // No route matched: the router's default service answers 404.
    let Some(route) = route else { return Ok(None) };
    let required = match policy::decide(req.method(), route) {
        Decision::Allowed(Access::Public) => return Ok(None),
        Decision::Allowed(Access::AtLeast(role)) => role,
        Decision::MethodNotAllowed(allow) => return Err(ApiError::method_not_allowed(&allow)),
        Decision::Undeclared => {
            tracing::error!(http.route = %route, "route missing from the policy table; refused");
            return Err(ApiError::not_found());
        }
    };
    let token = bearer_token(req.headers()).ok_or_else(ApiError::unauthenticated)?;
    let state = req.app_data::<web::Data<State>>().ok_or_else(|| {
        tracing::error!("gateway state missing");
        ApiError::internal()
    })?;
    let identity = state.verifier.verify(token).await.map_err(|error| {
        tracing::debug!(reason = %error, "token refused");
        ApiError::invalid_token()
    })?;
    if !identity.role.at_least(required) {
        return Err(ApiError::forbidden());
    }
    Ok(Some(identity))
}

fn set_security_headers(headers: &mut HeaderMap) {
    let fixed = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    // `no-store` unless the route chose otherwise (the event stream sends `no-cache`).
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// Gives every error response the uniform body carrying the request id, and every response
/// the security headers and the request id.
fn finish(response: HttpResponse<BoxBody>, request_id: &str) -> HttpResponse<BoxBody> {
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
    set_security_headers(headers);
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID, value);
    }
    response
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

    let span = tracing::info_span!("http", request_id = %request_id, trace_id = %trace.trace_id);
    let handled = async {
        match admit(&req, route.as_deref()).await {
            Err(error) => Ok(req.into_response(error.error_response())),
            Ok(identity) => {
                if let Some(identity) = identity {
                    req.extensions_mut().insert(identity);
                }
                next.call(req)
                    .await
                    .map(ServiceResponse::map_into_boxed_body)
            }
        }
    };
    // The handler runs inside the trace scope, so `rpc::call` carries it to the service.
    let outcome = trace.clone().scope(handled.instrument(span)).await;
    let (status, tenant_id, outcome) = match outcome {
        Ok(response) => {
            let (request, response) = response.into_parts();
            let response = finish(response, &request_id);
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
            let response = finish(error.error_response(), &request_id);
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
