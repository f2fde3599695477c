//! The service kit: everything the seven services share, implemented once: configuration,
//! telemetry, the ops port, NATS and JetStream set-up, the exactly-once recipe (transactional
//! outbox + relay, inbox dedup, double ack, dead letters), request/reply, Postgres pools and
//! migrations, trace context and graceful shutdown.

pub mod app;
pub mod audit;
pub mod config;
pub mod consumer;
pub mod db;
pub mod dlq;
pub mod erasure;
pub mod error;
pub mod failpoint;
pub mod group;
pub mod http;
pub mod nats;
pub mod ops;
pub mod outbox;
pub mod privacy_export;
pub mod rpc;
pub mod telemetry;
pub mod tenancy;
pub mod trace;

pub use app::{App, ServiceInfo, main};
pub use config::{CommonConfig, ConfigError, Env, Secret};
pub use consumer::{Delivery, Handler, HandlerError, TxHandler};
pub use error::KitError;
pub use nats::ConsumerSpec;
pub use outbox::Outgoing;
pub use rpc::{RpcCtx, RpcHandler};
pub use trace::TraceContext;

// Re-exported so services share the kit's versions.
pub use async_nats;
pub use diesel;
pub use diesel_async;
pub use diesel_migrations;
pub use futures;
pub use herald_contracts as contracts;
