//! notifier's integration tests: the service in-process against a private nats-server and a
//! fresh database per test; emails are read back from the mailbox file.

// A failed unwrap is a failed test, with the value in the message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod delivery;
mod post_published;
mod process;
mod rls;
mod support;
mod target_failed;
