//! Meta's usage headers: `X-App-Usage` (the app's share of its hourly budget) and
//! `X-Business-Use-Case-Usage` (each Page's share of its budget, with the minutes until a
//! throttled Page may call again). Values are percentages; 100 means throttled.
//!
//! Budgets are counted in fixed windows aligned to the epoch: 4,800 calls per Page per 24 h
//! (Meta's figure per engaged user; the sandbox assumes one) and 20,000 calls per app per hour.

use std::collections::HashMap;

use actix_web::HttpResponse;
use actix_web::http::header::{HeaderName, HeaderValue};
use chrono::{DateTime, Utc};
use serde_json::json;

const PAGE_BUDGET: u64 = 4_800;
const PAGE_WINDOW_SECS: i64 = 24 * 3600;
const APP_BUDGET: u64 = 20_000;
const APP_WINDOW_SECS: i64 = 3600;
/// What a throttling fault reports: short, so tests and retries are not parked for hours.
const FAULT_REGAIN_MINUTES: u64 = 1;

/// What the usage headers report for one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) page_id: u64,
    pub(crate) page_percent: u64,
    pub(crate) app_percent: u64,
    /// Minutes until a throttled page may call again; 0 when it is not throttled.
    pub(crate) regain_minutes: u64,
}

impl Usage {
    /// The same usage as a throttled answer reports it (the rate-limit fault).
    pub(crate) fn throttled(self) -> Usage {
        Usage {
            page_percent: 100,
            regain_minutes: FAULT_REGAIN_MINUTES,
            ..self
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct UsageCounter {
    /// page id → (window index, calls counted in it)
    pages: HashMap<u64, (i64, u64)>,
    app: (i64, u64),
}

impl UsageCounter {
    /// Counts one call for `page_id`; `Err` (at 100 %) when the page's budget is used up.
    pub(crate) fn hit(&mut self, page_id: u64, now: DateTime<Utc>) -> Result<Usage, Usage> {
        let app_index = now.timestamp().div_euclid(APP_WINDOW_SECS);
        if self.app.0 != app_index {
            self.app = (app_index, 0);
        }
        self.app.1 += 1;
        let app_percent = percent(self.app.1, APP_BUDGET);

        let index = now.timestamp().div_euclid(PAGE_WINDOW_SECS);
        let entry = self.pages.entry(page_id).or_insert((index, 0));
        if entry.0 != index {
            *entry = (index, 0);
        }
        if entry.1 >= PAGE_BUDGET {
            let window_end = (index + 1).saturating_mul(PAGE_WINDOW_SECS);
            let seconds_left = u64::try_from(window_end - now.timestamp()).unwrap_or(0);
            return Err(Usage {
                page_id,
                page_percent: 100,
                app_percent,
                regain_minutes: seconds_left.div_ceil(60).max(1),
            });
        }
        entry.1 += 1;
        Ok(Usage {
            page_id,
            page_percent: percent(entry.1, PAGE_BUDGET),
            app_percent,
            regain_minutes: 0,
        })
    }
}

fn percent(used: u64, budget: u64) -> u64 {
    (used * 100 / budget).min(100)
}

pub(crate) fn apply_headers(response: &mut HttpResponse, usage: &Usage) {
    let app = json!({
        "call_count": usage.app_percent,
        "total_cputime": usage.app_percent / 2,
        "total_time": usage.app_percent / 2,
    });
    let page = json!({
        usage.page_id.to_string(): [{
            "type": "pages",
            "call_count": usage.page_percent,
            "total_cputime": usage.page_percent / 2,
            "total_time": usage.page_percent / 2,
            "estimated_time_to_regain_access": usage.regain_minutes,
        }],
    });
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-app-usage", app.to_string()),
        ("x-business-use-case-usage", page.to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

/// The answer to send, with the usage headers of the page it concerned.
pub(crate) fn respond(
    result: Result<HttpResponse, super::error::GraphError>,
    usage: Option<Usage>,
) -> HttpResponse {
    let mut response =
        result.unwrap_or_else(|error| actix_web::ResponseError::error_response(&error));
    if let Some(usage) = usage
        && !response.headers().contains_key("x-business-use-case-usage")
    {
        apply_headers(&mut response, &usage);
    }
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_throttled_once_its_budget_is_used() {
        let mut counter = UsageCounter::default();
        let now = DateTime::from_timestamp(PAGE_WINDOW_SECS * 10 + 60, 0).unwrap();
        for _ in 0..PAGE_BUDGET - 1 {
            counter.hit(7, now).unwrap();
        }
        assert_eq!(counter.hit(7, now).unwrap().page_percent, 100);
        let refused = counter.hit(7, now).unwrap_err();
        assert_eq!(refused.page_percent, 100);
        assert_eq!(refused.regain_minutes, 24 * 60 - 1);
        assert_eq!(counter.hit(8, now).unwrap().page_percent, 0);
        let tomorrow = now + chrono::Duration::days(1);
        assert_eq!(counter.hit(7, tomorrow).unwrap().page_percent, 0);
    }
}
