//! Threads's API as an adapter sees it, served under `/threads`.

use actix_web::web;

/// Everything this platform remembers; part of the sandbox's one locked state.
#[derive(Debug, Default)]
pub(crate) struct ThreadsState {}

impl ThreadsState {
    /// Forgets what a test could observe (keep id generators if the platform has any).
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::scope("/threads"));
}
