//! Meta's two-step publishing (Instagram, and Threads which copied it): create a container,
//! save its id, publish it. A container publishes at most once, and its status says where it
//! stands, so the container id is what makes the publish step safe to repeat.
//!
//! `publish` without a checkpoint creates the container and answers `Checkpoint` (nothing is
//! published yet, so every failure of that step is retryable: an unsaved container is invisible
//! and expires). With the checkpoint it reads the container's status first:
//! `IN_PROGRESS` → `Pending`; `FINISHED` → publish it; `PUBLISHED` (a crash between publishing
//! and saving) → find the post's id → `Published`; `EXPIRED` (or a processing error Meta calls
//! transient) → a fresh container, answered as `Checkpoint` with the NEW id, which the caller
//! stores in place of the old one; `ERROR` → `Terminal` (the content's fault).
//!
//! `reconcile` with a checkpoint reads the status: `PUBLISHED` → `Found`; any other status →
//! `Absent` (publishing the container is the very step, and it can happen only once); without
//! a checkpoint → `Absent`. The post's id is found among the user's recent posts by its exact
//! text (the container does not say it), at or after `first_attempt_at - 5 min`.

mod lookup;

use super::super::{Creds, Publication, PublishOutcome, RateLimit, Reconciled, Reply};
use super::graph::{self, Failure};
use lookup::{found_as, lookup_failed};
use serde::Deserialize;
use std::time::Duration;

/// When to look again at a container that is still processing.
const PROCESSING_POLL: Duration = Duration::from_secs(5);
const QUOTA_WINDOW: chrono::Duration = chrono::Duration::hours(24);

/// One platform's names for the same API.
pub(crate) struct Api {
    pub(crate) name: &'static str,
    /// `POST` creates containers here; `GET` lists the user's posts.
    pub(crate) create_edge: &'static str,
    pub(crate) publish_edge: &'static str,
    /// The post text's field: `caption` or `text`.
    pub(crate) text_field: &'static str,
    /// `fields=` of a container status read.
    pub(crate) status_fields: &'static str,
    /// `ERROR` subcodes (in Instagram's status text) that a fresh container may get past.
    pub(crate) transient_errors: &'static [&'static str],
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

/// A container status read, as either platform words it.
#[derive(Deserialize)]
struct RawStatus {
    /// Instagram's code (its `status` is then a human text).
    status_code: Option<String>,
    /// Threads' code, or Instagram's text (with the error subcode when ERROR).
    status: Option<String>,
    /// Threads' reason when ERROR.
    error_message: Option<String>,
}

struct ContainerStatus {
    code: Option<String>,
    detail: Option<String>,
}

impl RawStatus {
    fn interpret(self) -> ContainerStatus {
        match self.status_code {
            Some(code) => ContainerStatus {
                code: Some(code),
                detail: self.status,
            },
            None => ContainerStatus {
                code: self.status,
                detail: self.error_message,
            },
        }
    }
}

/// One call's worth of context; remembers the last usage Meta reported.
pub(crate) struct Client<'a> {
    pub(crate) http: &'a reqwest::Client,
    pub(crate) api: &'static Api,
    /// `{base}/{version}`.
    pub(crate) root: String,
    /// The user path segment (`me` where the platform allows it).
    pub(crate) user: &'a str,
    pub(crate) creds: &'a Creds,
    rate: Option<RateLimit>,
}

impl<'a> Client<'a> {
    pub(crate) fn new(
        http: &'a reqwest::Client,
        api: &'static Api,
        root: String,
        user: &'a str,
        creds: &'a Creds,
    ) -> Self {
        Self {
            http,
            api,
            root,
            user,
            creds,
            rate: None,
        }
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &mut self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, Failure> {
        let request = request.bearer_auth(self.creds.access_token.expose());
        let (result, rate) = graph::send(request).await;
        if rate.is_some() {
            self.rate = rate;
        }
        result
    }

    fn reply<T>(&self, value: T) -> Reply<T> {
        Reply::with_rate(value, self.rate)
    }

    /// `container` is what a new container is created with, or why one cannot be.
    pub(crate) async fn publish(
        mut self,
        post: &Publication,
        container: Result<Vec<(&'static str, String)>, String>,
    ) -> Reply<PublishOutcome> {
        let value = match post.checkpoint.as_deref() {
            None => self.create(&container).await,
            Some(id) => self.advance(id, post, &container).await,
        };
        self.reply(value)
    }

    pub(crate) async fn reconcile(mut self, post: &Publication) -> Reply<Reconciled> {
        let Some(id) = post.checkpoint.as_deref() else {
            // A container created but never saved is invisible and expires: nothing to find.
            return self.reply(Reconciled::Absent);
        };
        let value = match self.status(id).await {
            Ok(status) if status.code.as_deref() == Some("PUBLISHED") => {
                match self.find(post).await {
                    Ok(Some(found)) => found_as(found),
                    Ok(None) => Reconciled::Unverifiable {
                        reason: format!(
                            "the {} container is published but its post is not among the \
                             recent posts",
                            self.api.name
                        ),
                    },
                    Err(failure) => lookup_failed(&failure),
                }
            }
            Ok(status) => match status.code.as_deref() {
                Some("FINISHED" | "IN_PROGRESS" | "ERROR" | "EXPIRED") => Reconciled::Absent,
                other => Reconciled::Unavailable {
                    reason: format!("unexpected container status {}", other.unwrap_or("(none)")),
                    retry_after: Some(PROCESSING_POLL),
                },
            },
            // The platform forgot the container: only the posts themselves can tell.
            Err(failure) if failure.is_not_found() => match self.find(post).await {
                Ok(Some(found)) => found_as(found),
                Ok(None) => Reconciled::Absent,
                Err(failure) => lookup_failed(&failure),
            },
            Err(failure) => lookup_failed(&failure),
        };
        self.reply(value)
    }

    async fn create(
        &mut self,
        container: &Result<Vec<(&'static str, String)>, String>,
    ) -> PublishOutcome {
        let params = match container {
            Ok(params) => params,
            Err(reason) => {
                return PublishOutcome::Terminal {
                    reason: reason.clone(),
                };
            }
        };
        let url = format!("{}/{}/{}", self.root, self.user, self.api.create_edge);
        let request = self.http.post(url).form(params);
        match self.send::<Created>(request).await {
            Ok(created) => PublishOutcome::Checkpoint {
                reference: created.id,
            },
            Err(failure) => self.container_failed(&failure),
        }
    }

    /// Creating a container publishes nothing, so only a refusal of the content is final.
    fn container_failed(&self, failure: &Failure) -> PublishOutcome {
        let name = self.api.name;
        if failure.is_token() {
            return PublishOutcome::Terminal {
                reason: format!("{name} refused the token: {}", failure.reason()),
            };
        }
        if failure.is_permission() {
            return PublishOutcome::Terminal {
                reason: format!("the token may not publish to {name}: {}", failure.reason()),
            };
        }
        let retry_after = failure.is_throttle().then(|| failure.wait());
        match failure {
            Failure::Refused { .. } if !failure.is_throttle() && !failure.is_server_side() => {
                PublishOutcome::Terminal {
                    reason: format!("{name} refused the post: {}", failure.reason()),
                }
            }
            _ => PublishOutcome::Retryable {
                reason: format!(
                    "the {name} container was not created ({}); nothing was published",
                    failure.reason()
                ),
                retry_after,
            },
        }
    }

    async fn status(&mut self, id: &str) -> Result<ContainerStatus, Failure> {
        let url = format!("{}/{id}", self.root);
        let request = self
            .http
            .get(url)
            .query(&[("fields", self.api.status_fields)]);
        self.send::<RawStatus>(request)
            .await
            .map(RawStatus::interpret)
    }

    async fn advance(
        &mut self,
        id: &str,
        post: &Publication,
        container: &Result<Vec<(&'static str, String)>, String>,
    ) -> PublishOutcome {
        let status = match self.status(id).await {
            Ok(status) => status,
            Err(failure) if failure.is_not_found() => {
                return self.recover_missing(post, container).await;
            }
            Err(failure) => return self.status_unreadable(&failure),
        };
        match status.code.as_deref() {
            Some("IN_PROGRESS") => PublishOutcome::Pending {
                reason: format!("{} is still processing the media", self.api.name),
                retry_after: Some(PROCESSING_POLL),
            },
            Some("FINISHED") => self.publish_container(id, post, container).await,
            Some("PUBLISHED") => self.published(post).await,
            Some("EXPIRED") => self.create(container).await,
            Some("ERROR") => {
                let detail = status.detail.unwrap_or_default();
                if self
                    .api
                    .transient_errors
                    .iter()
                    .any(|code| detail.contains(code))
                {
                    self.create(container).await
                } else {
                    PublishOutcome::Terminal {
                        reason: format!(
                            "{} could not process the media: {}",
                            self.api.name,
                            super::super::util::short(&detail, 200)
                        ),
                    }
                }
            }
            other => PublishOutcome::Pending {
                reason: format!("unexpected container status {}", other.unwrap_or("(none)")),
                retry_after: Some(PROCESSING_POLL),
            },
        }
    }

    /// Reading the status failed; nothing was published by this call.
    fn status_unreadable(&self, failure: &Failure) -> PublishOutcome {
        if failure.is_token() {
            PublishOutcome::Terminal {
                reason: format!("{} refused the token: {}", self.api.name, failure.reason()),
            }
        } else if failure.is_permission() {
            PublishOutcome::Terminal {
                reason: format!(
                    "the token may not read {} container status: {}",
                    self.api.name,
                    failure.reason()
                ),
            }
        } else {
            PublishOutcome::Retryable {
                reason: format!(
                    "the container status could not be read: {}",
                    failure.reason()
                ),
                retry_after: failure.is_throttle().then(|| failure.wait()),
            }
        }
    }

    async fn publish_container(
        &mut self,
        id: &str,
        post: &Publication,
        container: &Result<Vec<(&'static str, String)>, String>,
    ) -> PublishOutcome {
        let url = format!("{}/{}/{}", self.root, self.user, self.api.publish_edge);
        let request = self.http.post(url).form(&[("creation_id", id)]);
        let failure = match self.send::<Created>(request).await {
            Ok(media) => {
                let remote_url = self.permalink(&media.id).await;
                return PublishOutcome::Published {
                    remote_id: media.id,
                    remote_url,
                };
            }
            Err(failure) => failure,
        };
        let name = self.api.name;
        match &failure {
            Failure::Connect(_) => PublishOutcome::Retryable {
                reason: failure.reason(),
                retry_after: None,
            },
            Failure::Lost(_) => PublishOutcome::Ambiguous {
                reason: format!("the publish answer was lost: {}", failure.reason()),
            },
            _ if failure.is_throttle() => PublishOutcome::Retryable {
                reason: format!("{name} throttled the publish: {}", failure.reason()),
                retry_after: Some(failure.wait()),
            },
            _ if failure.is_publish_limit() => PublishOutcome::Retryable {
                reason: format!(
                    "the {name} publishing limit is reached: {}",
                    failure.reason()
                ),
                retry_after: Some(self.quota_frees_in().await),
            },
            _ if failure.is_token() => PublishOutcome::Terminal {
                reason: format!("{name} refused the token: {}", failure.reason()),
            },
            _ if failure.is_permission() => PublishOutcome::Terminal {
                reason: format!("the token may not publish to {name}: {}", failure.reason()),
            },
            _ if failure.is_not_ready() => PublishOutcome::Pending {
                reason: format!("{name} is still processing the media"),
                retry_after: Some(PROCESSING_POLL),
            },
            _ if failure.is_server_side() => PublishOutcome::Ambiguous {
                reason: format!("{name} failed while publishing: {}", failure.reason()),
            },
            _ => self.after_refusal(id, post, container, &failure).await,
        }
    }

    /// A refused publish: the container may have been published already (by us, before a
    /// crash), so its status decides.
    async fn after_refusal(
        &mut self,
        id: &str,
        post: &Publication,
        container: &Result<Vec<(&'static str, String)>, String>,
        refusal: &Failure,
    ) -> PublishOutcome {
        match self.status(id).await {
            Ok(status) => match status.code.as_deref() {
                Some("PUBLISHED") => self.published(post).await,
                Some("EXPIRED") => self.create(container).await,
                Some("IN_PROGRESS") => PublishOutcome::Pending {
                    reason: format!("{} is still processing the media", self.api.name),
                    retry_after: Some(PROCESSING_POLL),
                },
                _ => PublishOutcome::Terminal {
                    reason: format!("{} refused to publish: {}", self.api.name, refusal.reason()),
                },
            },
            Err(failure) if failure.is_not_found() => self.recover_missing(post, container).await,
            Err(failure) => PublishOutcome::Ambiguous {
                reason: format!(
                    "the publish was refused ({}) and the container status could not be read ({})",
                    refusal.reason(),
                    failure.reason()
                ),
            },
        }
    }

    /// The container is published: the post exists, its id is among the recent posts.
    async fn published(&mut self, post: &Publication) -> PublishOutcome {
        match self.find(post).await {
            Ok(Some((remote_id, remote_url))) => PublishOutcome::Published {
                remote_id,
                remote_url,
            },
            Ok(None) => PublishOutcome::Ambiguous {
                reason: format!(
                    "the {} container is published but its post was not found yet",
                    self.api.name
                ),
            },
            Err(failure) => PublishOutcome::Ambiguous {
                reason: format!(
                    "the {} container is published; finding its post failed: {}",
                    self.api.name,
                    failure.reason()
                ),
            },
        }
    }

    /// The platform no longer knows the container: publish anew unless the post is there.
    async fn recover_missing(
        &mut self,
        post: &Publication,
        container: &Result<Vec<(&'static str, String)>, String>,
    ) -> PublishOutcome {
        match self.find(post).await {
            Ok(Some((remote_id, remote_url))) => PublishOutcome::Published {
                remote_id,
                remote_url,
            },
            Ok(None) => self.create(container).await,
            Err(failure) => PublishOutcome::Ambiguous {
                reason: format!(
                    "the container is unknown and recent posts could not be checked: {}",
                    failure.reason()
                ),
            },
        }
    }
}
