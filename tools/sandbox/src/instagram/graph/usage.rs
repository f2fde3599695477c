//! Meta's usage headers. Every authenticated answer carries `X-App-Usage`
//! (`{"call_count", "total_cputime", "total_time"}`, percentages of the budget); Instagram adds
//! `X-Business-Use-Case-Usage` keyed by the user, whose entries also say
//! `estimated_time_to_regain_access` (minutes) when throttled.
//!
//! The budget is reported, not enforced: throttling comes from the `rate_limit_rate` fault.

use actix_web::HttpResponse;
use actix_web::http::header::{HeaderName, HeaderValue};
use serde_json::json;

/// Calls per user and hour that count as 100 %.
pub(crate) const CALLS_PER_HOUR: u32 = 4800;

/// Minutes a throttled caller is told to wait.
pub(crate) const REGAIN_MINUTES: u32 = 1;

fn percent(calls: u32) -> u32 {
    (calls.saturating_mul(100))
        .div_ceil(CALLS_PER_HOUR)
        .min(100)
}

/// Headers for a caller who has made `calls` calls this hour.
pub(crate) fn apply(response: &mut HttpResponse, user_id: &str, instagram: bool, calls: u32) {
    set(response, user_id, instagram, percent(calls), 0);
}

/// Headers of a throttled answer: the budget is used up.
pub(crate) fn apply_exhausted(response: &mut HttpResponse, user_id: &str, instagram: bool) {
    set(response, user_id, instagram, 100, REGAIN_MINUTES);
}

fn set(response: &mut HttpResponse, user_id: &str, instagram: bool, pct: u32, regain: u32) {
    let app = json!({ "call_count": pct, "total_cputime": pct / 2, "total_time": pct / 2 });
    insert(response, "x-app-usage", &app.to_string());
    if instagram {
        let buc = json!({
            user_id: [{
                "type": "instagram",
                "call_count": pct,
                "total_cputime": pct / 2,
                "total_time": pct / 2,
                "estimated_time_to_regain_access": regain,
            }]
        });
        insert(response, "x-business-use-case-usage", &buc.to_string());
    }
}

fn insert(response: &mut HttpResponse, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_rounds_up_and_caps() {
        assert_eq!(percent(0), 0);
        assert_eq!(percent(1), 1);
        assert_eq!(percent(CALLS_PER_HOUR), 100);
        assert_eq!(percent(CALLS_PER_HOUR * 3), 100);
    }
}
