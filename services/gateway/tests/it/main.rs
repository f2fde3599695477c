//! The gateway in-process against a private nats-server, no other services: errors, request
//! ids, security headers, token verification and the route policy, seen over real HTTP.

// Test helpers outside #[test] functions unwrap too; clippy.toml only covers the latter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod api_keys;
mod errors;
mod events;
mod jwt_attacks;
mod lifecycle;
mod limits;
mod policy;
mod process;
mod tokens;
