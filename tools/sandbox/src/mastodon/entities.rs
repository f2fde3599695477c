//! Mastodon's JSON entities (Account, Status, MediaAttachment) and the HTML it renders
//! status text into.

use actix_web::HttpRequest;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::media::MediaJson;
use super::store::{Account, MastodonState, Status};
use crate::time;

/// Engagement counts of a status. The sandbox has no other users, so these are derived from
/// the status id: deterministic and non-zero, so tests can predict the metrics they collect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Engagement {
    pub replies: u64,
    pub reblogs: u64,
    pub favourites: u64,
}

/// The counts `GET /api/v1/statuses/:id` reports for `status_id`. A status that was just
/// created reports zeros in the create answer, as a real new post would.
pub fn engagement_for(status_id: u64) -> Engagement {
    Engagement {
        replies: 1 + status_id % 3,
        reblogs: 1 + status_id % 5,
        favourites: 1 + status_id % 7,
    }
}

/// `scheme://host` as the client addressed us, so URLs in answers point back at the sandbox.
pub(crate) fn origin(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

#[derive(Debug, Serialize)]
pub(crate) struct AccountJson {
    id: String,
    username: String,
    acct: String,
    display_name: String,
    locked: bool,
    bot: bool,
    #[serde(serialize_with = "crate::time::serialize_millis")]
    created_at: DateTime<Utc>,
    note: String,
    url: String,
    avatar: String,
    followers_count: u64,
    following_count: u64,
    statuses_count: usize,
}

/// verify_credentials adds the account's own settings (`source`).
#[derive(Debug, Serialize)]
pub(crate) struct CredentialAccountJson {
    #[serde(flatten)]
    account: AccountJson,
    source: Value,
}

#[derive(Debug, Serialize)]
pub(crate) struct StatusJson {
    id: String,
    created_at: String,
    in_reply_to_id: Option<String>,
    in_reply_to_account_id: Option<String>,
    sensitive: bool,
    spoiler_text: String,
    visibility: &'static str,
    language: Option<String>,
    uri: String,
    url: String,
    replies_count: u64,
    reblogs_count: u64,
    favourites_count: u64,
    edited_at: Option<String>,
    content: String,
    reblog: Option<Value>,
    media_attachments: Vec<MediaJson>,
    mentions: Vec<Value>,
    tags: Vec<Value>,
    emojis: Vec<Value>,
    card: Option<Value>,
    poll: Option<Value>,
    account: AccountJson,
}

pub(crate) fn account_json(state: &MastodonState, account: &Account, origin: &str) -> AccountJson {
    let (created_at, statuses_count) = state
        .account(account.id)
        .map(|(_, created_at, count)| (created_at, count))
        .unwrap_or_else(|| (Utc::now(), 0));
    AccountJson {
        id: account.id.to_string(),
        username: account.username.clone(),
        // Local accounts have no domain part in `acct`.
        acct: account.username.clone(),
        display_name: account.username.clone(),
        locked: false,
        bot: false,
        created_at,
        note: String::new(),
        url: format!("{origin}/@{}", account.username),
        avatar: format!("{origin}/avatars/original/missing.png"),
        followers_count: 0,
        following_count: 0,
        statuses_count,
    }
}

pub(crate) fn credential_account_json(
    state: &MastodonState,
    account: &Account,
    origin: &str,
) -> CredentialAccountJson {
    CredentialAccountJson {
        account: account_json(state, account, origin),
        source: serde_json::json!({
            "privacy": "public",
            "sensitive": false,
            "language": null,
            "note": "",
            "fields": [],
        }),
    }
}

pub(crate) fn status_json(
    state: &MastodonState,
    status: &Status,
    origin: &str,
    counts: Engagement,
) -> StatusJson {
    let body = &status.body;
    let username = &status.account.username;
    StatusJson {
        id: status.id.to_string(),
        created_at: time::millis(&status.created_at),
        in_reply_to_id: None,
        in_reply_to_account_id: None,
        sensitive: body.sensitive,
        spoiler_text: body.spoiler_text.clone(),
        visibility: body.visibility.as_str(),
        language: body.language.clone(),
        uri: format!("{origin}/users/{username}/statuses/{}", status.id),
        url: format!("{origin}/@{username}/{}", status.id),
        replies_count: counts.replies,
        reblogs_count: counts.reblogs,
        favourites_count: counts.favourites,
        edited_at: None,
        content: html_content(&body.text),
        reblog: None,
        media_attachments: body
            .media_ids
            .iter()
            .filter_map(|id| state.media(id))
            .map(|m| super::media::media_json(m, origin))
            .collect(),
        mentions: Vec::new(),
        tags: Vec::new(),
        emojis: Vec::new(),
        card: None,
        poll: None,
        account: account_json(state, &status.account, origin),
    }
}

/// Plain text as Mastodon's formatter renders it: escaped, blank lines split paragraphs,
/// single newlines become `<br />`. (Links, mentions and hashtags are not linkified here.)
pub(crate) fn html_content(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let lines: Vec<String> = p.split('\n').map(escape_html).collect();
            format!("<p>{}</p>", lines.join("<br />"))
        })
        .collect()
}

fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_and_splits_paragraphs() {
        assert_eq!(
            html_content("a <b> & 'c'\nnext\n\nsecond"),
            "<p>a &lt;b&gt; &amp; &#39;c&#39;<br />next</p><p>second</p>"
        );
        assert_eq!(html_content("   "), "");
    }

    #[test]
    fn engagement_is_never_zero() {
        for id in [0, 1, 6, 105, u64::MAX] {
            let e = engagement_for(id);
            assert!(e.replies > 0 && e.reblogs > 0 && e.favourites > 0);
        }
    }
}
