//! auth against a real nats-server and Postgres: each test has its own nats-server (the
//! endpoints, the IDENTITY stream and the `auth-keys` bucket have fixed names) and its own
//! database.

mod api_keys;
mod audit;
mod audit_actions;
mod config;
mod erasure;
mod exports;
mod helpers;
mod identity;
mod login;
mod process;
mod register;
mod rls;
mod rotation;
mod sessions;
mod signing_keys;
mod throttle;
