//! Parsed inputs: a handler receives these, never raw strings.

use chrono::{DateTime, Duration, Utc};
use herald_contracts::AccountId;
use std::net::IpAddr;

pub const MAX_TEXT_CHARS: usize = 500;
pub const MAX_TARGETS: usize = 20;

#[derive(Debug, Clone, PartialEq)]
pub struct PostText(String);

impl PostText {
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err("text: must not be empty".into());
        }
        let count = trimmed.chars().count();
        if count > MAX_TEXT_CHARS {
            return Err(format!(
                "text: {count} characters, at most {MAX_TEXT_CHARS} allowed"
            ));
        }
        if trimmed
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err("text: control characters are not allowed".into());
        }
        Ok(Self(trimmed.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// When to publish: at most a year ahead; a time in the past means "now".
pub fn parse_schedule(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if at > now + Duration::days(366) {
        return Err("scheduled_at: at most one year ahead".into());
    }
    Ok(at.max(now))
}

pub fn parse_targets(ids: &[AccountId]) -> Result<Vec<AccountId>, String> {
    let mut unique = ids.to_vec();
    unique.sort();
    unique.dedup();
    if unique.is_empty() {
        return Err("account_ids: at least one account is required".into());
    }
    if unique.len() > MAX_TARGETS {
        return Err(format!("account_ids: at most {MAX_TARGETS} accounts"));
    }
    Ok(unique)
}

/// An instance base URL we may call: http(s), no credentials, no path beyond `/`, and not a
/// private, loopback or link-local address unless explicitly allowed (SSRF).
pub fn parse_instance_url(raw: &str, allow_private: bool) -> Result<String, String> {
    let url = reqwest::Url::parse(raw.trim()).map_err(|_| "instance_url: not a URL".to_owned())?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err("instance_url: must be http or https".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("instance_url: must not contain credentials".into());
    }
    if url.query().is_some()
        || url.fragment().is_some()
        || (url.path() != "/" && !url.path().is_empty())
    {
        return Err("instance_url: must be a base URL without path or query".into());
    }
    let host = url
        .host_str()
        .ok_or_else(|| "instance_url: has no host".to_owned())?;
    if !allow_private && is_private_host(host) {
        return Err("instance_url: private and loopback addresses are not allowed".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn is_private_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost")
        || host.ends_with(".localhost")
        || host.ends_with(".internal")
    {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            ip.is_private()
                || ip.is_loopback()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.octets()[0] == 100 && (64..128).contains(&ip.octets()[1])
        }
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || (ip.segments()[0] & 0xfe00) == 0xfc00
                || (ip.segments()[0] & 0xffc0) == 0xfe80
                || ip
                    .to_ipv4_mapped()
                    .is_some_and(|v4| v4.is_private() || v4.is_loopback())
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_urls() {
        assert_eq!(
            parse_instance_url("https://mastodon.social/", false),
            Ok("https://mastodon.social".into())
        );
        for bad in [
            "ftp://x",
            "https://u:p@x.org",
            "https://x.org/api",
            "http://127.0.0.1:8700",
            "http://10.1.2.3",
            "http://[::1]",
            "http://localhost",
            "http://169.254.169.254",
        ] {
            assert!(parse_instance_url(bad, false).is_err(), "{bad}");
        }
        assert_eq!(
            parse_instance_url("http://127.0.0.1:8700", true),
            Ok("http://127.0.0.1:8700".into())
        );
    }

    #[test]
    fn texts_and_targets() {
        assert!(PostText::parse("  ").is_err());
        assert!(PostText::parse(&"x".repeat(501)).is_err());
        assert_eq!(
            PostText::parse(" hi ").map(|t| t.as_str().to_owned()),
            Ok("hi".into())
        );
        assert!(parse_targets(&[]).is_err());
        let a = AccountId::new();
        assert_eq!(parse_targets(&[a, a]).map(|v| v.len()), Ok(1));
    }
}
