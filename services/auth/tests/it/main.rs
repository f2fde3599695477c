//! auth against a real nats-server and Postgres: each test has its own nats-server (the
//! endpoints, the IDENTITY stream and the `auth-keys` bucket have fixed names) and its own
//! database.

mod audit;
mod config;
mod helpers;
mod login;
mod process;
mod register;
mod rotation;
mod sessions;
mod signing_keys;
mod throttle;
