//! End-to-end tests: all seven services running against one nats-server and one database,
//! driven only through the gateway's public HTTP API, with the sandbox standing in for
//! Mastodon; `heraldctl dlq` run as a binary against a bare nats-server; and `heraldctl chaos`
//! run as a binary with its own fleet.

mod audit_log;
mod chaos;
mod dlq;
mod erasure;
mod errors;
mod export;
mod fleet;
mod flow;
mod identity;
mod lockout;
mod secrets;
mod sessions;
mod tenancy;
