//! Infrastructure for Herald's tests: a real nats-server and a real PostgreSQL, private to the
//! test binary, with a fresh database per test. Nothing is mocked, and nothing outlives the
//! test binary: servers die with it (parent-death signal) and temp dirs go at exit.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use herald_testkit::{Template, postgres, shared_nats};
//! static TEMPLATE: Template = Template {
//!     name: "publisher",
//!     migrate: |url| Box::pin(async move { /* run migrations on `url` */ Ok(()) }),
//! };
//! let db = postgres().await?.fresh_db(&TEMPLATE).await?;
//! let nats_url = shared_nats()?.url();
//! # let _ = (db.url(), nats_url); Ok(()) }
//! ```

mod database;
mod design;
mod jetstream;
mod nats;
mod postgres;
mod process;
mod procs;
pub mod rls;
mod service;

pub use database::{Postgres, Template, TestDb, postgres};
pub use design::text_card;
pub use jetstream::{consumer_caught_up, publish_envelope, read_stream};
pub use nats::{NatsServer, Version, find_nats_server, nats_server_version, shared_nats};
pub use postgres::PgCluster;
pub use process::free_port;
pub use procs::{ServiceProcess, check_readiness_follows_nats, check_sigterm_mid_work};
pub use service::{Running, TEST_TOKEN_KEYS, identity, service_env, time_until, wait_for};
