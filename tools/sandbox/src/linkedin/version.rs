//! The `LinkedIn-Version` header of the versioned `/rest/` APIs: `YYYYMM` or `YYYYMM.RR`,
//! active for twelve months from its release (LinkedIn supports each version about a year).

use actix_web::HttpRequest;
use chrono::{DateTime, Datelike, Utc};

use super::error::ApiError;

/// How many months a version stays active, counting the month it was released.
const ACTIVE_MONTHS: i64 = 12;

/// An active version, as LinkedIn prints it in permission errors (`20251001`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Version(String);

impl Version {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

pub(crate) fn require(req: &HttpRequest, now: DateTime<Utc>) -> Result<Version, ApiError> {
    let Some(value) = req.headers().get("linkedin-version") else {
        return Err(ApiError::VersionMissing);
    };
    let raw = String::from_utf8_lossy(value.as_bytes()).trim().to_owned();
    if raw.is_empty() {
        return Err(ApiError::VersionMissing);
    }
    let Some((year, month)) = parse(&raw) else {
        return Err(ApiError::VersionInactive(raw));
    };
    let printed = format!("{year:04}{month:02}01");
    let age = months(now.year(), now.month()) - months(year, month);
    if (0..ACTIVE_MONTHS).contains(&age) {
        Ok(Version(printed))
    } else {
        Err(ApiError::VersionInactive(printed))
    }
}

fn months(year: i32, month: u32) -> i64 {
    i64::from(year) * 12 + i64::from(month) - 1
}

/// `YYYYMM` or `YYYYMM.RR` (a revision of that month's version).
fn parse(raw: &str) -> Option<(i32, u32)> {
    let (main, revision) = match raw.split_once('.') {
        Some((main, revision)) => (main, Some(revision)),
        None => (raw, None),
    };
    let digits = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(main, 6) || revision.is_some_and(|r| !digits(r, 2)) {
        return None;
    }
    let year: i32 = main[..4].parse().ok()?;
    let month: u32 = main[4..].parse().ok()?;
    (1..=12).contains(&month).then_some((year, month))
}

/// The `LinkedIn-Version` value that is current at `now` (the newest active one), for tests.
pub fn current(now: DateTime<Utc>) -> String {
    format!("{:04}{:02}", now.year(), now.month())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn check(header: Option<&str>, now: &str) -> Result<Version, ApiError> {
        let now = DateTime::parse_from_rfc3339(now)
            .unwrap()
            .with_timezone(&Utc);
        let mut req = TestRequest::default();
        if let Some(header) = header {
            req = req.insert_header(("LinkedIn-Version", header));
        }
        require(&req.to_http_request(), now)
    }

    #[test]
    fn versions_are_active_for_twelve_months() {
        let now = "2026-11-23T00:00:00Z";
        assert_eq!(check(Some("202611"), now).unwrap().as_str(), "20261101");
        assert_eq!(check(Some("202512"), now).unwrap().as_str(), "20251201");
        assert_eq!(
            check(Some("202508.02"), "2026-01-01T00:00:00Z")
                .unwrap()
                .as_str(),
            "20250801"
        );
        let old = check(Some("202511"), now).unwrap_err();
        assert_eq!(old.to_string(), "Requested version 20251101 is not active");
        assert!(matches!(
            check(Some("202612"), now),
            Err(ApiError::VersionInactive(_))
        ));
        assert!(matches!(
            check(Some("2026-11"), now),
            Err(ApiError::VersionInactive(_))
        ));
        assert!(matches!(
            check(Some("202613"), now),
            Err(ApiError::VersionInactive(_))
        ));
        assert!(matches!(check(None, now), Err(ApiError::VersionMissing)));
        assert!(matches!(
            check(Some(" "), now),
            Err(ApiError::VersionMissing)
        ));
    }
}
