//! LinkedIn: `POST /rest/posts` (versioned by the configured `LinkedIn-Version`) as a member
//! (`urn:li:person:<sub>` from OpenID `userinfo`) or an organization (`account_ref`). LinkedIn
//! has no idempotency key, so after an ambiguous attempt the author's recent posts are listed
//! (`q=author`) and matched on their text; a token without `r_member_social` /
//! `r_organization_social` cannot list them, which leaves the decision to a person.
//!
//! LinkedIn refuses to repeat an author's recent post (`422 DUPLICATE_POST` naming the earlier
//! URN): a publish that gets that answer found the post already there, so it counts as
//! published under that URN. Refresh tokens are for approved partners only: not supported.
//! Images go through the Images API before the post references them (`images.rs`).

mod images;
mod wire;

use super::util::{self, transport_outcome, transport_reconciled, without_url};
use super::{
    ConnectError, ConnectInput, Connected, Creds, PlatformAdapter, PlatformConfig, Publication,
    PublishOutcome, RateLimit, Reconciled, RefreshError, Reply, Tokens,
};
use chrono::{DateTime, Days, Utc};
use herald_contracts::messages::Platform;
use herald_kit::Secret;
use herald_kit::futures::future::BoxFuture;
use reqwest::StatusCode;

use super::util::normalize;
use wire::{ErrorBody, Organization, PostPage, UserInfo, escape, unescape};

/// Posts per finder page, and how many pages a reconciliation reads at most.
const PAGE_SIZE: usize = 50;
/// 1,000 posts: far above what one author can publish in a reconciliation's window (LinkedIn
/// allows about 150 member posts a day).
const MAX_PAGES: usize = 20;

pub struct Linkedin {
    http: reqwest::Client,
    base_url: String,
    version: String,
}

impl Linkedin {
    pub fn new(http: reqwest::Client, config: &PlatformConfig) -> Self {
        Self {
            http,
            base_url: config.linkedin_url.clone(),
            version: config.linkedin_version.clone(),
        }
    }

    /// A versioned Rest.li 2.0 request.
    fn rest(&self, request: reqwest::RequestBuilder, token: &Secret) -> reqwest::RequestBuilder {
        request
            .bearer_auth(token.expose())
            .header("LinkedIn-Version", &self.version)
            .header("X-Restli-Protocol-Version", "2.0.0")
    }

    fn version_problem(&self) -> String {
        format!(
            "LinkedIn-Version {} is not active: update HERALD_PUBLISHER_LINKEDIN_VERSION",
            self.version
        )
    }
}

impl PlatformAdapter for Linkedin {
    fn platform(&self) -> Platform {
        Platform::Linkedin
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
            let base = match input.base_url.trim_end_matches('/') {
                "" => self.base_url.as_str(),
                given => given,
            };
            let organization = input
                .account_ref
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty());
            let (remote_account_id, handle) = match organization {
                Some(urn) => self.organization(base, token, urn).await?,
                None => self.member(base, token).await?,
            };
            Ok(Connected {
                remote_account_id,
                handle,
                tokens: Tokens {
                    access_token: token.clone(),
                    // Kept for the partner refresh flow, which this adapter does not run.
                    refresh_token: input.refresh_token.clone(),
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
        // Programmatic refresh is granted to approved partners only; members reconnect.
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
        Box::pin(self.find_by_text(creds, post))
    }
}

impl Linkedin {
    async fn member(&self, base: &str, token: &Secret) -> Result<(String, String), ConnectError> {
        let response = self
            .http
            .get(format!("{base}/v2/userinfo"))
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(|error| ConnectError::Unreachable(without_url(&error)))?;
        match response.status() {
            status if status.is_success() => {
                let info: UserInfo = response.json().await.map_err(|error| {
                    ConnectError::Unreachable(format!(
                        "unreadable userinfo: {}",
                        without_url(&error)
                    ))
                })?;
                let urn = format!("urn:li:person:{}", info.sub);
                Ok((urn.clone(), info.name.unwrap_or(urn)))
            }
            StatusCode::UNAUTHORIZED => Err(ConnectError::Rejected(
                "access_token: the platform refused it".into(),
            )),
            StatusCode::FORBIDDEN => Err(ConnectError::Rejected(
                "access_token: lacks the openid and profile scopes".into(),
            )),
            status => Err(ConnectError::Unreachable(format!(
                "unexpected status {status}"
            ))),
        }
    }

    async fn organization(
        &self,
        base: &str,
        token: &Secret,
        urn: &str,
    ) -> Result<(String, String), ConnectError> {
        let id = urn
            .strip_prefix("urn:li:organization:")
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                ConnectError::Rejected(
                    "account_ref: must be an organization URN (urn:li:organization:<id>)".into(),
                )
            })?;
        let response = self
            .rest(
                self.http.get(format!("{base}/rest/organizations/{id}")),
                token,
            )
            .send()
            .await
            .map_err(|error| ConnectError::Unreachable(without_url(&error)))?;
        let status = response.status();
        if status.is_success() {
            let org: Organization = response.json().await.map_err(|error| {
                ConnectError::Unreachable(format!(
                    "unreadable organization: {}",
                    without_url(&error)
                ))
            })?;
            let handle = org
                .localized_name
                .or(org.vanity_name)
                .unwrap_or_else(|| urn.into());
            return Ok((urn.to_owned(), handle));
        }
        let body = ErrorBody::read(response).await;
        Err(match status {
            _ if body.is_version_problem() => ConnectError::Unreachable(self.version_problem()),
            StatusCode::UNAUTHORIZED => {
                ConnectError::Rejected("access_token: the platform refused it".into())
            }
            StatusCode::FORBIDDEN => ConnectError::Rejected(
                "account_ref: the token may not act for this organization".into(),
            ),
            StatusCode::NOT_FOUND => {
                ConnectError::Rejected("account_ref: no such organization".into())
            }
            status => ConnectError::Unreachable(format!("unexpected status {status}")),
        })
    }

    async fn publish_post(&self, creds: &Creds, post: &Publication) -> Reply<PublishOutcome> {
        let content = match self.image_content(creds, &post.media).await {
            Ok(content) => content,
            Err(stop) => return stop,
        };
        let mut body = serde_json::json!({
            "author": creds.remote_account_id,
            "commentary": escape(&post.text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": false,
        });
        if let Some(content) = content {
            body["content"] = content;
        }
        let sent = self
            .rest(
                self.http.post(format!("{}/rest/posts", creds.base_url)),
                &creds.access_token,
            )
            .json(&body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => return Reply::new(transport_outcome(&error)),
        };
        let status = response.status();
        if status.is_success() {
            let urn = response
                .headers()
                .get("x-restli-id")
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty());
            let value = match urn {
                Some(urn) => published(urn),
                // Accepted, yet we cannot tell which post it is: let reconciliation find it.
                None => PublishOutcome::Ambiguous {
                    reason: format!("accepted ({status}) without a post id"),
                },
            };
            return Reply::new(value);
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            // Daily limits come without headers: the budget is spent until midnight UTC. A
            // throttle that says when to come back (`Retry-After`) is honoured instead.
            if let Some(wait) = util::retry_after(response.headers()) {
                return Reply::with_rate(
                    PublishOutcome::Retryable {
                        reason: "rate limited (429)".into(),
                        retry_after: Some(wait),
                    },
                    Some(RateLimit {
                        remaining: 0,
                        reset_at: Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default(),
                    }),
                );
            }
            let reset_at = next_midnight(Utc::now());
            return Reply::with_rate(
                PublishOutcome::Retryable {
                    reason: "rate limited (429, daily limit)".into(),
                    retry_after: None,
                },
                Some(RateLimit {
                    remaining: 0,
                    reset_at,
                }),
            );
        }
        if status.is_server_error() {
            return Reply::new(PublishOutcome::Ambiguous {
                reason: format!("platform error ({status})"),
            });
        }
        let body = ErrorBody::read(response).await;
        if status == StatusCode::UNPROCESSABLE_ENTITY
            && let Some(urn) = body.duplicate_of()
        {
            // The same text is already on the author's feed: that post is this one.
            return Reply::new(published(&urn));
        }
        let value = match status {
            _ if body.is_version_problem() => PublishOutcome::Terminal {
                reason: self.version_problem(),
            },
            StatusCode::UNAUTHORIZED => PublishOutcome::Terminal {
                reason: "the platform refused the token (401): reconnect the account".into(),
            },
            StatusCode::FORBIDDEN => PublishOutcome::Terminal {
                reason: format!(
                    "the token may not post as this author (403): {}",
                    body.text()
                ),
            },
            status => PublishOutcome::Terminal {
                reason: format!("the platform refused the post ({status}): {}", body.text()),
            },
        };
        Reply::new(value)
    }

    /// The author's recent posts, matched on their text (LinkedIn hands back the escaped
    /// little text we sent).
    async fn find_by_text(&self, creds: &Creds, post: &Publication) -> Reply<Reconciled> {
        let wanted = normalize(&post.text);
        let since = (post.first_attempt_at - chrono::Duration::minutes(5)).timestamp_millis();
        for page in 0..MAX_PAGES {
            let start = (page * PAGE_SIZE).to_string();
            let count = PAGE_SIZE.to_string();
            let sent = self
                .rest(
                    self.http.get(format!("{}/rest/posts", creds.base_url)),
                    &creds.access_token,
                )
                .header("X-RestLi-Method", "FINDER")
                .query(&[
                    ("q", "author"),
                    ("author", creds.remote_account_id.as_str()),
                    ("count", count.as_str()),
                    ("start", start.as_str()),
                    ("sortBy", "LAST_MODIFIED"),
                ])
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(error) => return Reply::new(transport_reconciled(&error)),
            };
            let status = response.status();
            if !status.is_success() {
                return Reply::new(self.lookup_failed(status, response).await);
            }
            let listed: PostPage = match response.json().await {
                Ok(listed) => listed,
                Err(error) => return Reply::new(transport_reconciled(&error)),
            };
            let full_page = listed.elements.len() >= PAGE_SIZE;
            let mut older_seen = false;
            for element in listed.elements {
                // Sorted by last modification: once one was last modified before the window,
                // so were all that follow, and none of them can be ours.
                if element.last_modified_at.unwrap_or(element.created_at) < since {
                    older_seen = true;
                }
                if element.created_at < since {
                    continue;
                }
                if normalize(&unescape(&element.commentary)) == wanted
                    || normalize(&element.commentary) == wanted
                {
                    return Reply::new(Reconciled::Found {
                        remote_url: Some(post_url(&element.id)),
                        remote_id: element.id,
                    });
                }
            }
            if !full_page || older_seen {
                return Reply::new(Reconciled::Absent);
            }
        }
        Reply::new(Reconciled::Unavailable {
            reason: format!(
                "more than {} posts since the first attempt; cannot rule one out",
                PAGE_SIZE * MAX_PAGES
            ),
            retry_after: None,
        })
    }

    async fn lookup_failed(&self, status: StatusCode, response: reqwest::Response) -> Reconciled {
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Reconciled::Unavailable {
                reason: "post lookup rate limited (429, daily limit)".into(),
                retry_after: None,
            };
        }
        if status.is_server_error() {
            return Reconciled::Unavailable {
                reason: format!("post lookup failed ({status})"),
                retry_after: None,
            };
        }
        let body = ErrorBody::read(response).await;
        if body.is_version_problem() {
            return Reconciled::Unverifiable {
                reason: self.version_problem(),
            };
        }
        match status {
            StatusCode::UNAUTHORIZED => Reconciled::Unverifiable {
                reason: "post lookup refused the token (401): reconnect the account".into(),
            },
            StatusCode::FORBIDDEN => Reconciled::Unverifiable {
                reason: "the token may not list this author's posts (403: needs \
                         r_member_social or r_organization_social)"
                    .into(),
            },
            status => Reconciled::Unavailable {
                reason: format!("post lookup failed ({status}): {}", body.text()),
                retry_after: None,
            },
        }
    }
}

fn published(urn: &str) -> PublishOutcome {
    PublishOutcome::Published {
        remote_id: urn.to_owned(),
        remote_url: Some(post_url(urn)),
    }
}

fn post_url(urn: &str) -> String {
    format!("https://www.linkedin.com/feed/update/{urn}/")
}

fn next_midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive()
        .checked_add_days(Days::new(1))
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map_or(now, |midnight| midnight.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_limits_reset_at_midnight_utc() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T13:35:00Z")
            .map(|at| at.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(next_midnight(now).to_rfc3339(), "2026-11-24T00:00:00+00:00");
    }
}
