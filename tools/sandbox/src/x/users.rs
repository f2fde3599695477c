//! `GET /2/users/me` (who a token acts for, at connect time) and `GET /2/users/:id/tweets`
//! (a user's recent tweets, newest first: what adapters reconcile against).

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::auth;
use super::error::XError;
use super::rate_limit::{self, USER_TWEETS, USERS_ME};
use super::render::tweet_json;
use super::tweets::{fields, query_pairs};
use crate::state::Shared;

const DEFAULT_MAX_RESULTS: usize = 10;
const MAX_RESULTS: std::ops::RangeInclusive<usize> = 5..=100;

pub(crate) async fn me(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    let now = Utc::now();
    let caller = match auth::caller(&req, now).and_then(|c| c.require_read().map(|()| c)) {
        Ok(caller) => caller,
        Err(error) => return error.error_response(),
    };
    let window = match shared.lock().x.rate.hit(caller.user.id, USERS_ME, now) {
        Ok(window) => window,
        Err(refused) => return XError::RateLimited(refused).error_response(),
    };
    let user = &caller.user;
    let body = json!({
        "data": { "id": user.id.to_string(), "name": user.name, "username": user.username }
    });
    rate_limit::respond(Ok(HttpResponse::Ok().json(body)), Some(window))
}

fn time_param(params: &[(String, String)], key: &str) -> Result<Option<DateTime<Utc>>, XError> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| {
            DateTime::parse_from_rfc3339(v)
                .map(|at| at.with_timezone(&Utc))
                .map_err(|_| {
                    XError::invalid(format!(
                        "Invalid '{key}':'{v}'. '{key}' must be a valid RFC3339 date."
                    ))
                })
        })
        .transpose()
}

pub(crate) async fn tweets(
    req: HttpRequest,
    path: web::Path<String>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let now = Utc::now();
    let caller = match auth::caller(&req, now).and_then(|c| c.require_read().map(|()| c)) {
        Ok(caller) => caller,
        Err(error) => return error.error_response(),
    };
    let mut state = shared.lock();
    let window = match state.x.rate.hit(caller.user.id, USER_TWEETS, now) {
        Ok(window) => window,
        Err(refused) => return XError::RateLimited(refused).error_response(),
    };
    let result = query_pairs(&req).and_then(|params| {
        let id = path.as_str();
        let author_id = id
            .parse::<u64>()
            .ok()
            .filter(|_| id.len() <= 19)
            .ok_or_else(|| {
                XError::invalid(format!(
                    "The `id` query parameter value [{id}] does not match ^[0-9]{{1,19}}$"
                ))
            })?;
        let max_results = match params.iter().find(|(k, _)| k == "max_results") {
            None => DEFAULT_MAX_RESULTS,
            Some((_, v)) => v
                .parse::<usize>()
                .ok()
                .filter(|n| MAX_RESULTS.contains(n))
                .ok_or_else(|| {
                    XError::invalid(format!(
                        "The `max_results` query parameter value [{v}] is not between 5 and 100"
                    ))
                })?,
        };
        let start = time_param(&params, "start_time")?;
        let end = time_param(&params, "end_time")?;
        let until_id = match params.iter().find(|(k, _)| k == "pagination_token") {
            None => None,
            Some((_, token)) => Some(u64::from_str_radix(token, 36).map_err(|_| {
                XError::invalid(format!(
                    "The `pagination_token` query parameter value [{token}] is not valid"
                ))
            })?),
        };
        let fields = fields(&params);
        let matching = state.x.timeline(author_id, start, end, until_id);
        let page = &matching[..matching.len().min(max_results)];
        let mut meta = json!({ "result_count": page.len() });
        if let (Some(newest), Some(oldest)) = (page.first(), page.last()) {
            meta["newest_id"] = json!(newest.id.to_string());
            meta["oldest_id"] = json!(oldest.id.to_string());
            if matching.len() > page.len() {
                // The token is opaque to clients; here it is the oldest id shown, base 36.
                meta["next_token"] = json!(radix36(oldest.id));
            }
        }
        let mut body = json!({ "meta": meta });
        if !page.is_empty() {
            let data: Vec<_> = page.iter().map(|t| tweet_json(t, &fields)).collect();
            body["data"] = json!(data);
        }
        Ok(HttpResponse::Ok().json(body))
    });
    rate_limit::respond(result, Some(window))
}

fn radix36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pagination_tokens_round_trip() {
        for n in [0, 35, 36, 1_234_567_890_123_456_789, u64::MAX] {
            assert_eq!(u64::from_str_radix(&radix36(n), 36).unwrap(), n);
        }
    }
}
