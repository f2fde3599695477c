//! The sandbox's integration tests: each starts its own sandbox on port 0 and talks to it
//! over HTTP, as the adapters will.

// A failed unwrap is a failed test, with the value in the message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod bluesky;
mod facebook;
mod faults;
mod helpers;
mod idempotency;
mod instagram;
mod linkedin;
mod media;
mod reads;
mod statuses;
mod threads;
mod x;
