//! Finding a post among the user's recent ones: the container does not say which post it
//! became, so the post is matched by its exact text (whitespace normalised) among posts made at
//! or after `first_attempt_at - 5 min`; also the publishing quota's next free slot.

use super::super::super::util::normalize;
use super::super::super::{Publication, Reconciled};
use super::super::graph::Failure;
use super::{Client, QUOTA_WINDOW};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::time::Duration;

/// Pages of recent posts read when looking for one.
const MAX_PAGES: usize = 5;

#[derive(Deserialize)]
struct Item {
    id: String,
    #[serde(alias = "caption")]
    text: Option<String>,
    timestamp: Option<String>,
    permalink: Option<String>,
}

#[derive(Deserialize)]
struct Cursors {
    after: Option<String>,
}

#[derive(Deserialize)]
struct Paging {
    cursors: Option<Cursors>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct Page {
    data: Vec<Item>,
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Permalink {
    permalink: Option<String>,
}

/// Graph timestamps (`2026-01-01T12:00:00+0000`), or RFC 3339.
fn parse_time(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(value))
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

impl Client<'_> {
    pub(super) async fn permalink(&mut self, media_id: &str) -> Option<String> {
        let url = format!("{}/{media_id}", self.root);
        let request = self.http.get(url).query(&[("fields", "permalink")]);
        // Best effort: the post exists whether or not its link can be read now.
        self.send::<Permalink>(request).await.ok()?.permalink
    }

    async fn page(
        &mut self,
        fields: &str,
        since: DateTime<Utc>,
        after: Option<&str>,
    ) -> Result<Page, Failure> {
        let url = format!("{}/{}/{}", self.root, self.user, self.api.create_edge);
        let mut query = vec![
            ("fields", fields.to_owned()),
            ("since", since.timestamp().to_string()),
            ("limit", "100".to_owned()),
        ];
        if let Some(after) = after {
            query.push(("after", after.to_owned()));
        }
        self.send(self.http.get(url).query(&query)).await
    }

    /// Recent posts, newest first, a page at a time, until `stop` says so.
    async fn scan(
        &mut self,
        fields: &str,
        since: DateTime<Utc>,
        mut stop: impl FnMut(&Item) -> bool,
    ) -> Result<Option<Item>, Failure> {
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = self.page(fields, since, after.as_deref()).await?;
            if let Some(item) = page.data.into_iter().find(|item| stop(item)) {
                return Ok(Some(item));
            }
            after = page
                .paging
                .filter(|p| p.next.is_some())
                .and_then(|p| p.cursors)
                .and_then(|c| c.after);
            if after.is_none() {
                break;
            }
        }
        Ok(None)
    }

    /// The post with exactly our text, created at or after `first_attempt_at - 5 min`.
    pub(super) async fn find(
        &mut self,
        post: &Publication,
    ) -> Result<Option<(String, Option<String>)>, Failure> {
        let since = post.lookup_since();
        let wanted = normalize(&post.text);
        let fields = format!("id,{},timestamp,permalink", self.api.text_field);
        let found = self
            .scan(&fields, since, |item| {
                let recent = item
                    .timestamp
                    .as_deref()
                    .and_then(parse_time)
                    .is_none_or(|at| at >= since);
                recent && normalize(item.text.as_deref().unwrap_or_default()) == wanted
            })
            .await?;
        Ok(found.map(|item| (item.id, item.permalink)))
    }

    /// Until the oldest publish of the last 24 hours leaves the moving window (an hour when
    /// that cannot be read).
    pub(super) async fn quota_frees_in(&mut self) -> Duration {
        let now = Utc::now();
        let mut oldest: Option<DateTime<Utc>> = None;
        let scanned = self
            .scan("id,timestamp", now - QUOTA_WINDOW, |item| {
                if let Some(at) = item.timestamp.as_deref().and_then(parse_time) {
                    oldest = Some(oldest.map_or(at, |o| o.min(at)));
                }
                false
            })
            .await;
        match (scanned, oldest) {
            (Ok(_), Some(oldest)) => (oldest + QUOTA_WINDOW - now)
                .to_std()
                .unwrap_or_default()
                .max(Duration::from_secs(60)),
            _ => Duration::from_secs(3600),
        }
    }
}

pub(super) fn found_as((remote_id, remote_url): (String, Option<String>)) -> Reconciled {
    Reconciled::Found {
        remote_id,
        remote_url,
    }
}

/// A lookup that failed: refusals of the token or its permissions need a person.
pub(super) fn lookup_failed(failure: &Failure) -> Reconciled {
    if failure.is_token() {
        Reconciled::Unverifiable {
            reason: format!(
                "the token was refused; connect the account again: {}",
                failure.reason()
            ),
        }
    } else if failure.is_permission() {
        Reconciled::Unverifiable {
            reason: format!(
                "the token may not read posts or containers: {}",
                failure.reason()
            ),
        }
    } else {
        Reconciled::Unavailable {
            reason: format!("the lookup failed: {}", failure.reason()),
            retry_after: failure.is_throttle().then(|| failure.wait()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_graph_and_rfc3339_times() {
        let graph = parse_time("2026-01-01T12:00:00+0000").unwrap();
        let rfc = parse_time("2026-01-01T12:00:00Z").unwrap();
        assert_eq!(graph, rfc);
        assert!(parse_time("yesterday").is_none());
        assert_eq!(normalize(" a \n b  "), "a b");
    }
}
