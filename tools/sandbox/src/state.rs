//! The sandbox's whole state, behind one mutex shared by every route.
//!
//! One lock (a std mutex, never held across an `.await`) makes each request's
//! check-then-write atomic, e.g. an idempotency-key lookup and the insert of the new post.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::bluesky::BlueskyState;
use crate::facebook::FacebookState;
use crate::faults::FaultTable;
use crate::instagram::InstagramState;
use crate::ledger::Ledger;
use crate::linkedin::LinkedinState;
use crate::mastodon::MastodonState;
use crate::threads::ThreadsState;
use crate::x::XState;

#[derive(Default)]
pub(crate) struct SandboxState {
    pub(crate) mastodon: MastodonState,
    pub(crate) bluesky: BlueskyState,
    pub(crate) x: XState,
    pub(crate) linkedin: LinkedinState,
    pub(crate) facebook: FacebookState,
    pub(crate) instagram: InstagramState,
    pub(crate) threads: ThreadsState,
    pub(crate) ledger: Ledger,
    pub(crate) faults: FaultTable,
}

impl SandboxState {
    /// Forgets everything a test could observe. Id generators survive, so an id handed out
    /// before a reset is never handed out again for a different post.
    pub(crate) fn reset(&mut self) {
        let mastodon = std::mem::take(&mut self.mastodon).reset();
        self.mastodon = mastodon;
        self.bluesky.reset();
        self.x.reset();
        self.linkedin.reset();
        self.facebook.reset();
        self.instagram.reset();
        self.threads.reset();
        self.ledger = Ledger::default();
        self.faults = FaultTable::default();
    }
}

#[derive(Clone, Default)]
pub(crate) struct Shared(Arc<Mutex<SandboxState>>);

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, SandboxState> {
        // A panic while holding the lock leaves plain data behind, still usable by a stand-in.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
