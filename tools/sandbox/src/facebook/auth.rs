//! Page tokens. Any non-empty token is valid for any page; the prefixes `expired-`,
//! `noscope-` and `readonly-` take away what their names say (see the module docs). The token
//! comes from `Authorization: Bearer|OAuth <token>` or an `access_token` parameter.

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;
use chrono::{Duration, Utc};

use super::error::GraphError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageToken {
    /// `pages_read_engagement`: may read the page's posts and their engagement.
    pub(crate) can_read: bool,
    /// `pages_manage_posts`: may publish.
    pub(crate) can_publish: bool,
}

/// The token of the request: the header wins over a parameter (`params` are the query's and,
/// for a form or JSON body, the body's).
pub(crate) fn required(req: &HttpRequest, param: Option<&str>) -> Result<PageToken, GraphError> {
    let token = match req.headers().get(AUTHORIZATION) {
        Some(header) => {
            let value = header.to_str().map_err(|_| GraphError::InvalidToken)?;
            let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
            if !scheme.eq_ignore_ascii_case("bearer") && !scheme.eq_ignore_ascii_case("oauth") {
                return Err(GraphError::InvalidToken);
            }
            token.trim().to_owned()
        }
        None => param.ok_or(GraphError::MissingToken)?.trim().to_owned(),
    };
    if token.is_empty() {
        return Err(GraphError::InvalidToken);
    }
    if token.starts_with("expired-") {
        let now = Utc::now();
        return Err(GraphError::ExpiredToken {
            expired_at: now - Duration::hours(1),
            now,
        });
    }
    Ok(PageToken {
        can_read: !token.starts_with("noscope-"),
        can_publish: !token.starts_with("readonly-"),
    })
}

/// A page id: a positive number.
pub(crate) fn page_id(node: &str) -> Option<u64> {
    node.parse::<u64>().ok().filter(|&id| id > 0)
}

/// A post id: `<page id>_<post number>`.
pub(crate) fn post_id(node: &str) -> Option<(u64, u64)> {
    let (page, post) = node.split_once('_')?;
    Some((page_id(page)?, post.parse().ok()?))
}

/// `vNN.N`, as Graph API versions are written.
pub(crate) fn is_version(segment: &str) -> bool {
    let Some(rest) = segment.strip_prefix('v') else {
        return false;
    };
    let Some((major, minor)) = rest.split_once('.') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
    digits(major) && digits(minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ids_and_versions() {
        assert_eq!(page_id("123"), Some(123));
        assert_eq!(page_id("0"), None);
        assert_eq!(page_id("me"), None);
        assert_eq!(post_id("123_456"), Some((123, 456)));
        assert_eq!(post_id("123"), None);
        assert!(is_version("v23.0") && is_version("v9.10"));
        assert!(!is_version("23.0") && !is_version("v23") && !is_version("vx.0"));
    }
}
