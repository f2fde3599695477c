//! Threads' API as an adapter sees it, served under `/threads` in place of
//! `https://graph.threads.net`.
//!
//! The same two-step publishing as Instagram (Threads was built from it): `POST
//! /{ver}/{user}/threads` {media_type: TEXT|IMAGE, text ≤ 500, image_url?} creates a container,
//! `POST /{ver}/{user}/threads_publish` {creation_id} publishes it once, `GET
//! /{ver}/{container}?fields=status,error_message` says where it stands. The machinery is
//! shared: see `crate::instagram::graph`; this module is Threads' [`Flavor`] of it.

use actix_web::web;

use crate::instagram::graph::{self, Flavor, Kind, Store};
use crate::platform::Platform;
use crate::state::SandboxState;

/// Everything this platform remembers; part of the sandbox's one locked state.
#[derive(Debug, Default)]
pub(crate) struct ThreadsState {
    pub(crate) store: Store,
}

impl ThreadsState {
    /// Forgets what a test could observe; the id generator survives.
    pub(crate) fn reset(&mut self) {
        self.store.reset();
    }
}

fn store(state: &mut SandboxState) -> &mut Store {
    &mut state.threads.store
}

pub(crate) static THREADS: Flavor = Flavor {
    kind: Kind::Threads,
    platform: Platform::Threads,
    create_edge: "threads",
    publish_edge: "threads_publish",
    limit_edge: "threads_publishing_limit",
    refresh_grant: "th_refresh_token",
    // "Threads profiles are limited to 250 API-published posts within a 24-hour moving period."
    quota_total: 250,
    metrics: &["views", "likes", "replies", "reposts", "quotes", "shares"],
    id_base: 18_039_430_466_000_000,
    user_id_base: 25_000_000_000_000_000,
    store,
};

/// The counts `GET /{ver}/{media-id}/insights` reports: deterministic and non-zero.
pub fn insight_value(media_id: &str, metric: &str) -> u64 {
    graph::insight_value(media_id, metric)
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    graph::configure(cfg, "/threads", &THREADS);
}
