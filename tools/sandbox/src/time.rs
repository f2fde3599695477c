//! Timestamps as the platforms print them: RFC 3339, UTC, `Z`, millisecond precision.

use chrono::{DateTime, SecondsFormat, Utc};

pub(crate) fn millis(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn serialize_millis<S: serde::Serializer>(
    at: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&millis(at))
}
