//! insights' integration tests: the service in-process against a private nats-server, a fresh
//! database per test and the sandbox standing in for Mastodon.

// A failed unwrap is a failed test, with the value in the message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod collect;
mod process;
mod rls;
mod support;
