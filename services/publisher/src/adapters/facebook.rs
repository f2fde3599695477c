//! Facebook Pages: `POST /{ver}/{page-id}/feed` with a Page token (the page id is the
//! account's `account_ref`). Graph has no idempotency key, so after an ambiguous attempt the
//! page's posts since the first attempt are listed and matched on their message. Errors are
//! classified by Graph error code (throttling codes are refusals, so retryable), usage is read
//! from Meta's usage headers, and Page tokens do not expire, so there is nothing to refresh.
//! Images are uploaded as unpublished photos and attached to the post (`photos.rs`).

mod graph;
mod photos;

use super::util::{normalize, transport_outcome, transport_reconciled, without_url};
use super::{
    ConnectError, ConnectInput, Connected, Creds, PlatformAdapter, PlatformConfig, Publication,
    PublishOutcome, Reconciled, RefreshError, Reply, Tokens,
};
use chrono::Utc;
use herald_contracts::messages::Platform;
use herald_kit::Secret;
use herald_kit::futures::future::BoxFuture;
use reqwest::StatusCode;

use graph::{
    Created, DEFAULT_THROTTLE, ErrorKind, GraphError, Page, PostList, Usage, parse_graph_time,
};

/// Posts per listing page, and how many pages a reconciliation reads at most.
const PAGE_SIZE: usize = 100;
const MAX_PAGES: usize = 5;

pub struct Facebook {
    http: reqwest::Client,
    base_url: String,
    version: String,
}

impl Facebook {
    pub fn new(http: reqwest::Client, config: &PlatformConfig) -> Self {
        Self {
            http,
            base_url: config.facebook_url.clone(),
            version: config.graph_version.clone(),
        }
    }

    fn url(&self, base: &str, path: &str) -> String {
        format!("{base}/{}/{path}", self.version)
    }
}

impl PlatformAdapter for Facebook {
    fn platform(&self) -> Platform {
        Platform::Facebook
    }

    fn connect<'a>(
        &'a self,
        input: &'a ConnectInput,
    ) -> BoxFuture<'a, Result<Connected, ConnectError>> {
        Box::pin(async move {
            let token = input
                .access_token
                .as_ref()
                .ok_or_else(|| ConnectError::Rejected("access_token: required".into()))?;
            let page_id = input
                .account_ref
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .ok_or_else(|| {
                    ConnectError::Rejected(
                        "account_ref: required (the id of the Facebook page to post as)".into(),
                    )
                })?;
            if !page_id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ConnectError::Rejected(
                    "account_ref: must be a numeric Facebook page id".into(),
                ));
            }
            let base = match input.base_url.trim_end_matches('/') {
                "" => self.base_url.as_str(),
                given => given,
            };
            let page = self.page(base, token, page_id).await?;
            Ok(Connected {
                handle: page.name.unwrap_or_else(|| page.id.clone()),
                remote_account_id: page.id,
                tokens: Tokens {
                    access_token: token.clone(),
                    refresh_token: None,
                    // Page tokens from a long-lived user token do not expire.
                    expires_at: input
                        .expires_in
                        .map(|secs| Utc::now() + chrono::Duration::seconds(secs)),
                },
            })
        })
    }

    fn refresh<'a>(
        &'a self,
        _creds: &'a Creds,
        _refresh_token: &'a Secret,
    ) -> BoxFuture<'a, Result<Tokens, RefreshError>> {
        Box::pin(async { Err(RefreshError::Unsupported) })
    }

    fn publish<'a>(
        &'a self,
        creds: &'a Creds,
        post: &'a Publication,
    ) -> BoxFuture<'a, Reply<PublishOutcome>> {
        Box::pin(self.publish_post(creds, post))
    }

    fn reconcile<'a>(
        &'a self,
        creds: &'a Creds,
        post: &'a Publication,
    ) -> BoxFuture<'a, Reply<Reconciled>> {
        Box::pin(self.find_by_message(creds, post))
    }
}

impl Facebook {
    async fn page(&self, base: &str, token: &Secret, page_id: &str) -> Result<Page, ConnectError> {
        let response = self
            .http
            .get(self.url(base, page_id))
            .bearer_auth(token.expose())
            .query(&[("fields", "id,name")])
            .send()
            .await
            .map_err(|error| ConnectError::Unreachable(without_url(&error)))?;
        let status = response.status();
        if status.is_success() {
            return response.json().await.map_err(|error| {
                ConnectError::Unreachable(format!("unreadable page: {}", without_url(&error)))
            });
        }
        let error = GraphError::read(response).await;
        Err(match (error.kind(), error.code) {
            (ErrorKind::Token, _) => {
                ConnectError::Rejected("access_token: the platform refused it".into())
            }
            (ErrorKind::Permission, _) => ConnectError::Rejected(
                "access_token: lacks the permissions to manage this page".into(),
            ),
            (_, Some(100 | 803)) => ConnectError::Rejected(
                "account_ref: no such page, or the token cannot see it".into(),
            ),
            (ErrorKind::Throttled, _) => ConnectError::Unreachable("rate limited".into()),
            _ => ConnectError::Unreachable(format!("unexpected status {status}: {}", error.text())),
        })
    }

    async fn publish_post(&self, creds: &Creds, post: &Publication) -> Reply<PublishOutcome> {
        let mut form = vec![("message", post.text.clone())];
        match self.attached_media(creds, &post.media).await {
            Ok(Some(attached)) => form.push(("attached_media", attached)),
            Ok(None) => {}
            Err(stop) => return stop,
        }
        let sent = self
            .http
            .post(self.url(
                &creds.base_url,
                &format!("{}/feed", creds.remote_account_id),
            ))
            .bearer_auth(creds.access_token.expose())
            .form(&form)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => return Reply::new(transport_outcome(&error)),
        };
        let status = response.status();
        let usage = Usage::read(response.headers());
        if status.is_success() {
            let value = match response.json::<Created>().await {
                Ok(created) => PublishOutcome::Published {
                    remote_url: Some(post_url(&created.id)),
                    remote_id: created.id,
                },
                Err(error) => PublishOutcome::Ambiguous {
                    reason: format!("unreadable response: {}", without_url(&error)),
                },
            };
            return Reply::with_rate(value, usage.rate());
        }
        let error = GraphError::read(response).await;
        let value = match error.kind() {
            ErrorKind::Throttled => {
                return Reply::with_rate(
                    PublishOutcome::Retryable {
                        reason: format!("rate limited (Graph error {})", error.code.unwrap_or(0)),
                        retry_after: Some(usage.regain.unwrap_or(DEFAULT_THROTTLE)),
                    },
                    Some(usage.exhausted()),
                );
            }
            ErrorKind::Token => PublishOutcome::Terminal {
                reason: "the platform refused the page token: reconnect the page".into(),
            },
            ErrorKind::Permission => PublishOutcome::Terminal {
                reason: format!("the token may not post to this page: {}", error.text()),
            },
            ErrorKind::Temporary => PublishOutcome::Ambiguous {
                reason: format!("platform error ({status}): {}", error.text()),
            },
            _ if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT => {
                PublishOutcome::Ambiguous {
                    reason: format!("platform error ({status})"),
                }
            }
            _ if error.code == Some(506) => PublishOutcome::Terminal {
                reason: "the page's latest post already has this exact text (Graph error 506)"
                    .into(),
            },
            _ => PublishOutcome::Terminal {
                reason: format!("the platform refused the post ({status}): {}", error.text()),
            },
        };
        Reply::with_rate(value, usage.rate())
    }

    /// The page's posts since shortly before the first attempt, matched on their message.
    async fn find_by_message(&self, creds: &Creds, post: &Publication) -> Reply<Reconciled> {
        let wanted = normalize(&post.text);
        let since_at = post.lookup_since();
        let since = since_at.timestamp().to_string();
        let limit = PAGE_SIZE.to_string();
        let mut after: Option<String> = None;
        let mut rate = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![
                ("fields", "id,message,created_time"),
                ("since", since.as_str()),
                ("limit", limit.as_str()),
            ];
            if let Some(cursor) = after.as_deref() {
                query.push(("after", cursor));
            }
            let sent = self
                .http
                .get(self.url(
                    &creds.base_url,
                    &format!("{}/posts", creds.remote_account_id),
                ))
                .bearer_auth(creds.access_token.expose())
                .query(&query)
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(error) => return Reply::new(transport_reconciled(&error)),
            };
            let status = response.status();
            let usage = Usage::read(response.headers());
            rate = usage.rate();
            if !status.is_success() {
                let error = GraphError::read(response).await;
                return Reply::with_rate(lookup_failed(status, &error, &usage), rate);
            }
            let listed: PostList = match response.json().await {
                Ok(listed) => listed,
                Err(error) => return Reply::with_rate(transport_reconciled(&error), rate),
            };
            let found = listed.data.into_iter().find(|p| {
                let recent = p
                    .created_time
                    .as_deref()
                    .and_then(parse_graph_time)
                    .is_none_or(|at| at >= since_at);
                recent && p.message.as_deref().is_some_and(|m| normalize(m) == wanted)
            });
            if let Some(found) = found {
                let value = Reconciled::Found {
                    remote_url: Some(post_url(&found.id)),
                    remote_id: found.id,
                };
                return Reply::with_rate(value, rate);
            }
            after = listed
                .paging
                .filter(|p| p.next.is_some())
                .and_then(|p| p.cursors)
                .and_then(|c| c.after);
            if after.is_none() {
                return Reply::with_rate(Reconciled::Absent, rate);
            }
        }
        let value = Reconciled::Unavailable {
            reason: format!(
                "more than {} posts since the first attempt; cannot rule one out",
                PAGE_SIZE * MAX_PAGES
            ),
            retry_after: None,
        };
        Reply::with_rate(value, rate)
    }
}

fn lookup_failed(status: StatusCode, error: &GraphError, usage: &Usage) -> Reconciled {
    match error.kind() {
        ErrorKind::Token => Reconciled::Unverifiable {
            reason: "post lookup refused the page token: reconnect the page".into(),
        },
        ErrorKind::Permission => Reconciled::Unverifiable {
            reason: format!(
                "the token may not read the page's posts (needs pages_read_engagement): {}",
                error.text()
            ),
        },
        ErrorKind::Throttled => Reconciled::Unavailable {
            reason: "post lookup rate limited".into(),
            retry_after: Some(usage.regain.unwrap_or(DEFAULT_THROTTLE)),
        },
        _ => Reconciled::Unavailable {
            reason: format!("post lookup failed ({status}): {}", error.text()),
            retry_after: None,
        },
    }
}

/// `https://www.facebook.com/<page>/posts/<post>` for a `<page>_<post>` id.
fn post_url(id: &str) -> String {
    match id.split_once('_') {
        Some((page, post)) => format!("https://www.facebook.com/{page}/posts/{post}"),
        None => format!("https://www.facebook.com/{id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_urls_name_the_page_and_the_post() {
        assert_eq!(post_url("1_2"), "https://www.facebook.com/1/posts/2");
        assert_eq!(post_url("7"), "https://www.facebook.com/7");
    }
}
