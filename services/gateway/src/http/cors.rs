//! CORS for the browser origins in `HERALD_GATEWAY_CORS_ORIGINS`, and only those. With the
//! list empty (the default) the gateway sends no CORS headers at all and browsers keep their
//! same-origin rule. Preflights (`OPTIONS` with `Access-Control-Request-Method`) are answered
//! by the edge before the route policy, since `OPTIONS` is no route's verb; tokens travel in
//! `Authorization`, never cookies, so credentials are not allowed.

use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};

/// Request headers a browser may send cross-origin.
const ALLOW_HEADERS: &str = "authorization, x-api-key, content-type, x-request-id, last-event-id";
/// Response headers a browser script may read.
const EXPOSE_HEADERS: &str =
    "x-request-id, location, retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset";
/// How long a browser may cache a preflight answer.
const MAX_AGE_SECS: &str = "600";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cors {
    origins: Vec<String>,
}

/// What the edge does with a request's `Origin`.
#[derive(Debug, PartialEq, Eq)]
pub enum CorsDecision {
    /// Not a cross-origin request we answer for (no `Origin`, or CORS off): no CORS headers.
    None,
    /// An allowed origin: add the CORS headers to the response.
    Allowed(HeaderValue),
    /// A preflight from an allowed origin: answer 204 with these headers.
    Preflight(HeaderValue),
    /// A preflight from an origin not on the list: 403.
    PreflightRefused,
}

/// `scheme://host[:port]` and nothing more, lower-cased.
fn parse_origin(raw: &str) -> Result<String, String> {
    let origin = raw.trim().to_ascii_lowercase();
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| format!("{raw:?} is not an http(s) origin"))?;
    let valid = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    if !valid {
        return Err(format!(
            "{raw:?} must be scheme://host[:port], without a path"
        ));
    }
    Ok(origin)
}

impl Cors {
    /// A comma-separated list of origins such as `https://app.example.com`; empty: CORS off.
    pub fn parse(list: &str) -> Result<Self, String> {
        let origins = list
            .split(',')
            .filter(|entry| !entry.trim().is_empty())
            .map(parse_origin)
            .collect::<Result<_, _>>()?;
        Ok(Self { origins })
    }

    pub fn enabled(&self) -> bool {
        !self.origins.is_empty()
    }

    fn allowed(&self, origin: &str) -> bool {
        self.origins.iter().any(|allowed| allowed == origin)
    }

    pub fn decide(&self, method: &Method, headers: &HeaderMap) -> CorsDecision {
        let preflight = method == Method::OPTIONS
            && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        let origin = headers.get(header::ORIGIN);
        match origin {
            Some(origin) if self.enabled() => {
                let allowed = origin.to_str().is_ok_and(|o| self.allowed(o));
                match (allowed, preflight) {
                    (true, true) => CorsDecision::Preflight(origin.clone()),
                    (true, false) => CorsDecision::Allowed(origin.clone()),
                    (false, true) => CorsDecision::PreflightRefused,
                    (false, false) => CorsDecision::None,
                }
            }
            // A preflight while CORS is off, or one without an Origin, is refused too.
            _ if preflight => CorsDecision::PreflightRefused,
            _ => CorsDecision::None,
        }
    }

    /// `Vary: Origin` on every response while CORS is on, so caches keep origins apart.
    pub fn vary(&self, headers: &mut HeaderMap) {
        if self.enabled() {
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
}

/// The headers for an allowed origin's actual request.
pub fn allow(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
}

/// The 204 answer to an allowed preflight; `methods` are the route's declared verbs.
pub fn preflight(origin: HeaderValue, methods: &str) -> actix_web::HttpResponse {
    let mut response = actix_web::HttpResponse::new(StatusCode::NO_CONTENT);
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    if let Ok(methods) = HeaderValue::from_str(methods) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
    }
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOW_HEADERS),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(MAX_AGE_SECS),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderName;

    fn headers(pairs: &[(HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn parses_origins_only() {
        let cors = Cors::parse("https://App.example.com, http://localhost:3000").unwrap();
        assert_eq!(
            cors.origins,
            ["https://app.example.com", "http://localhost:3000"]
        );
        assert!(!Cors::parse("").unwrap().enabled());
        for bad in [
            "*",
            "app.example.com",
            "https://a.com/path",
            "ftp://a.com",
            "https://",
        ] {
            assert!(Cors::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn decides_by_origin_and_preflight() {
        let cors = Cors::parse("https://app.example.com").unwrap();
        let good = (header::ORIGIN, "https://app.example.com");
        let bad = (header::ORIGIN, "https://evil.example.com");
        let acrm = (header::ACCESS_CONTROL_REQUEST_METHOD, "POST");
        let origin = HeaderValue::from_static("https://app.example.com");
        assert_eq!(
            cors.decide(&Method::GET, &headers(std::slice::from_ref(&good))),
            CorsDecision::Allowed(origin.clone())
        );
        assert_eq!(
            cors.decide(&Method::OPTIONS, &headers(&[good, acrm.clone()])),
            CorsDecision::Preflight(origin)
        );
        assert_eq!(
            cors.decide(&Method::GET, &headers(std::slice::from_ref(&bad))),
            CorsDecision::None
        );
        assert_eq!(
            cors.decide(&Method::OPTIONS, &headers(&[bad, acrm])),
            CorsDecision::PreflightRefused
        );
        assert_eq!(
            cors.decide(&Method::OPTIONS, &headers(&[])),
            CorsDecision::None
        );
    }
}
