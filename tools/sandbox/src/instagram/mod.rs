//! Instagram's Graph API (content publishing) as an adapter sees it, served under `/instagram`
//! in place of `https://graph.facebook.com`.
//!
//! Publishing is two-step. `POST /{ver}/{ig-user-id}/media` {image_url, caption} creates a
//! container that processes for a moment (`IN_PROGRESS`, then `FINISHED`); `POST
//! /{ver}/{ig-user-id}/media_publish` {creation_id} publishes it, once: the container is then
//! `PUBLISHED` and a second publish is refused. `GET /{ver}/{container}?fields=status_code` is
//! what an adapter reconciles with; the media id is found among `GET /{ver}/{ig-user-id}/media`.
//!
//! Threads copied this API under other names, so the machinery lives in [`graph`] and
//! `crate::threads` is a second [`graph::Flavor`] of it.

pub(crate) mod graph;

use actix_web::web;

use crate::platform::Platform;
use crate::state::SandboxState;
use graph::{Flavor, Kind, Store};

/// Everything this platform remembers; part of the sandbox's one locked state.
#[derive(Debug, Default)]
pub(crate) struct InstagramState {
    pub(crate) store: Store,
}

impl InstagramState {
    /// Forgets what a test could observe; the id generator survives.
    pub(crate) fn reset(&mut self) {
        self.store.reset();
    }
}

fn store(state: &mut SandboxState) -> &mut Store {
    &mut state.instagram.store
}

pub(crate) static INSTAGRAM: Flavor = Flavor {
    kind: Kind::Instagram,
    platform: Platform::Instagram,
    create_edge: "media",
    publish_edge: "media_publish",
    limit_edge: "content_publishing_limit",
    refresh_grant: "ig_refresh_token",
    // "An Instagram professional account can only publish 50 posts within a 24 hour moving
    // period" (IG User Media Publish reference).
    quota_total: 50,
    metrics: &["views", "reach", "likes", "comments", "shares", "saved"],
    id_base: 17_889_455_560_000_000,
    user_id_base: 17_841_400_000_000_000,
    store,
};

/// The counts `GET /{ver}/{media-id}/insights` reports: deterministic and non-zero, so tests
/// can predict the metrics they collect.
pub fn insight_value(media_id: &str, metric: &str) -> u64 {
    graph::insight_value(media_id, metric)
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    graph::configure(cfg, "/instagram", &INSTAGRAM);
}
