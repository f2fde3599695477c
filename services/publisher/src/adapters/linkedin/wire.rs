//! LinkedIn's wire formats as the adapter reads them: OpenID userinfo, organizations, Rest.li
//! error bodies (with the `DUPLICATE_POST` refusal), finder pages, and "little text", the
//! format of `commentary` in which reserved characters must be escaped.

use super::super::util;
use serde::Deserialize;

/// Little-text characters that must be escaped to appear as themselves.
const RESERVED: &[char] = &[
    '|', '{', '}', '@', '[', ']', '(', ')', '<', '>', '#', '\\', '*', '_', '~',
];

#[derive(Deserialize)]
pub(super) struct UserInfo {
    pub(super) sub: String,
    pub(super) name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Organization {
    pub(super) localized_name: Option<String>,
    pub(super) vanity_name: Option<String>,
}

#[derive(Deserialize, Default)]
pub(super) struct ErrorBody {
    pub(super) code: Option<String>,
    pub(super) message: Option<String>,
    #[serde(rename = "errorDetails")]
    pub(super) details: Option<serde_json::Value>,
}

impl ErrorBody {
    pub(super) async fn read(response: reqwest::Response) -> Self {
        response.json().await.unwrap_or_default()
    }

    pub(super) fn text(&self) -> String {
        util::short(
            self.message.as_deref().unwrap_or("no reason given").trim(),
            200,
        )
    }

    pub(super) fn is_version_problem(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some("NONEXISTENT_VERSION" | "VERSION_MISSING")
        )
    }

    /// The URN of the earlier post a `DUPLICATE_POST` refusal names.
    pub(super) fn duplicate_of(&self) -> Option<String> {
        let flagged = self
            .details
            .as_ref()
            .is_some_and(|d| d.to_string().contains("DUPLICATE_POST"))
            || self
                .message
                .as_deref()
                .is_some_and(|m| m.contains("duplicate of"));
        if !flagged {
            return None;
        }
        let message = self.message.as_deref()?;
        let (_, rest) = message.split_once("duplicate of ")?;
        let urn: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '"' && *c != ',')
            .collect();
        urn.starts_with("urn:li:").then_some(urn)
    }
}

#[derive(Deserialize)]
pub(super) struct PostPage {
    pub(super) elements: Vec<ListedPost>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListedPost {
    pub(super) id: String,
    #[serde(default)]
    pub(super) commentary: String,
    pub(super) created_at: i64,
    pub(super) last_modified_at: Option<i64>,
}

/// Plain text as little text: every reserved character escaped, so it shows as itself.
pub(super) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if RESERVED.contains(&c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

pub(super) fn unescape(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some(next)) if RESERVED.contains(&next) => {
                plain.push(next);
                chars.next();
            }
            (c, _) => plain.push(c),
        }
    }
    plain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn little_text_round_trips() {
        let text = r"50% off (today) #sale @team [x] \o/ a_b*c~d|e{f}<g>";
        let escaped = escape(text);
        assert!(escaped.contains(r"\(today\)") && escaped.contains(r"\\o/"));
        assert_eq!(unescape(&escaped), text);
        assert_eq!(unescape("plain"), "plain");
    }

    #[test]
    fn a_duplicate_refusal_names_the_earlier_post() {
        let body = ErrorBody {
            code: None,
            message: Some(
                "com.linkedin.content.common.exception.BadRequestResponseException: Content is \
                 a duplicate of urn:li:share:7141138937766391808"
                    .into(),
            ),
            details: Some(serde_json::json!({
                "inputErrors": [{ "code": "DUPLICATE_POST" }],
            })),
        };
        assert_eq!(
            body.duplicate_of().as_deref(),
            Some("urn:li:share:7141138937766391808")
        );
        assert_eq!(ErrorBody::default().duplicate_of(), None);
    }
}
