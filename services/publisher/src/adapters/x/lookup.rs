//! Finding a tweet we may have posted: the account's timeline since five minutes before the
//! first attempt, searched for the text we sent.

use super::{WEB_STATUS, problem};
use crate::adapters::util::{self, normalize, transport_reconciled};
use crate::adapters::{Creds, Publication, Reconciled, Reply};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde::Deserialize;

/// Pages of 100 tweets read before giving up on finding ours (500 tweets in a few minutes is
/// far beyond any account we post for).
const MAX_PAGES: usize = 5;

#[derive(Deserialize)]
struct Timeline {
    #[serde(default)]
    data: Vec<ListedTweet>,
    #[serde(default)]
    meta: Meta,
}

#[derive(Deserialize, Default)]
struct Meta {
    next_token: Option<String>,
}

#[derive(Deserialize)]
struct ListedTweet {
    id: String,
    text: String,
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    entities: Entities,
}

#[derive(Deserialize, Default)]
struct Entities {
    #[serde(default)]
    urls: Vec<UrlEntity>,
}

#[derive(Deserialize)]
struct UrlEntity {
    url: String,
    expanded_url: Option<String>,
}

/// The account's tweets since five minutes before the first attempt, newest first, searched
/// for our text.
pub(super) async fn find_by_text(
    http: &reqwest::Client,
    creds: &Creds,
    post: &Publication,
) -> Reply<Reconciled> {
    let since = post.lookup_since();
    // Whole seconds, rounded down so the bound stays inclusive; never in the future, which X
    // refuses (a clock ahead of X's must not turn into a failed lookup).
    let start_time = since
        .min(Utc::now() - chrono::Duration::seconds(10))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let wanted = normalize(&post.text);
    let mut page_token: Option<String> = None;
    let mut rate = None;
    for _ in 0..MAX_PAGES {
        let mut query = vec![
            ("start_time", start_time.clone()),
            ("max_results", "100".to_owned()),
            ("tweet.fields", "created_at,entities".to_owned()),
            ("exclude", "retweets".to_owned()),
        ];
        if let Some(token) = page_token.take() {
            query.push(("pagination_token", token));
        }
        let sent = http
            .get(format!(
                "{}/2/users/{}/tweets",
                creds.base_url, creds.remote_account_id
            ))
            .bearer_auth(creds.access_token.expose())
            .query(&query)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => return Reply::with_rate(transport_reconciled(&error), rate),
        };
        rate = util::rate_limit(response.headers()).or(rate);
        let status = response.status();
        if !status.is_success() {
            return Reply::with_rate(lookup_failed(response).await, rate);
        }
        let timeline: Timeline = match response.json().await {
            Ok(timeline) => timeline,
            Err(error) => return Reply::with_rate(transport_reconciled(&error), rate),
        };
        let found = timeline.data.iter().find(|tweet| {
            tweet.created_at.is_none_or(|at| at >= since) && normalize(&shown_text(tweet)) == wanted
        });
        if let Some(tweet) = found {
            let value = Reconciled::Found {
                remote_id: tweet.id.clone(),
                remote_url: Some(format!("{WEB_STATUS}/{}", tweet.id)),
            };
            return Reply::with_rate(value, rate);
        }
        match timeline.meta.next_token {
            Some(token) => page_token = Some(token),
            None => return Reply::with_rate(Reconciled::Absent, rate),
        }
    }
    let value = Reconciled::Unverifiable {
        reason: format!(
            "more than {} tweets since the first attempt; not all were checked",
            MAX_PAGES * 100
        ),
    };
    Reply::with_rate(value, rate)
}

async fn lookup_failed(response: reqwest::Response) -> Reconciled {
    let status = response.status();
    match status {
        // A token without `tweet.read`: no lookup is possible with it.
        StatusCode::FORBIDDEN => Reconciled::Unverifiable {
            reason: format!(
                "the platform refused the timeline lookup (403): {}",
                problem(response).await.describe()
            ),
        },
        StatusCode::BAD_REQUEST => Reconciled::Unverifiable {
            reason: format!(
                "the platform refused the timeline lookup (400): {}",
                problem(response).await.describe()
            ),
        },
        // Access tokens last two hours: after a refresh the lookup can work.
        StatusCode::UNAUTHORIZED => Reconciled::Unavailable {
            reason: "the platform refused the token for the timeline lookup (401)".into(),
            retry_after: None,
        },
        status => Reconciled::Unavailable {
            reason: format!("timeline lookup failed ({status})"),
            retry_after: util::throttled_for(response.headers()),
        },
    }
}

/// The text as we sent it: `t.co` links expanded, X's HTML entities decoded.
fn shown_text(tweet: &ListedTweet) -> String {
    let mut text = tweet.text.clone();
    for url in &tweet.entities.urls {
        if let Some(expanded) = &url.expanded_url {
            text = text.replace(&url.url, expanded);
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_text_compares_equal_to_what_was_sent() {
        let tweet: ListedTweet = serde_json::from_value(serde_json::json!({
            "id": "1",
            "text": "a &amp; &lt;b&gt; https://t.co/abcdefghij  end",
            "entities": { "urls": [{
                "url": "https://t.co/abcdefghij",
                "expanded_url": "https://example.com/x?y=1&z=2",
            }]},
        }))
        .unwrap();
        assert_eq!(
            normalize(&shown_text(&tweet)),
            normalize("a & <b> https://example.com/x?y=1&z=2 end")
        );
    }
}
