//! What a message handler is, and how its errors are classified.

use crate::outbox::Outgoing;
use diesel_async::AsyncPgConnection;
use futures::future::BoxFuture;
use herald_contracts::{Envelope, Message};

/// Every handler error is either worth retrying (nak with backoff, dead-lettered at
/// `max_deliver`) or terminal (terminated and dead-lettered now). Never "log and ack".
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("retryable: {0}")]
    Retry(String),
    #[error("terminal: {0}")]
    Terminal(String),
}

impl HandlerError {
    pub fn retry(reason: impl std::fmt::Display) -> Self {
        HandlerError::Retry(reason.to_string())
    }
    pub fn terminal(reason: impl std::fmt::Display) -> Self {
        HandlerError::Terminal(reason.to_string())
    }
    pub fn reason(&self) -> &str {
        match self {
            HandlerError::Retry(reason) | HandlerError::Terminal(reason) => reason,
        }
    }
}

/// Database trouble is transient from a handler's point of view.
impl From<diesel::result::Error> for HandlerError {
    fn from(error: diesel::result::Error) -> Self {
        HandlerError::Retry(format!("database: {error}"))
    }
}

impl From<crate::KitError> for HandlerError {
    fn from(error: crate::KitError) -> Self {
        HandlerError::Retry(error.to_string())
    }
}

/// Facts about the delivery a handler may want (attempt number, ids).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub consumer: String,
    pub subject: String,
    pub stream_sequence: u64,
    pub delivered: i64,
}

/// A handler whose effects are database writes: the kit runs it inside one transaction with
/// the inbox row (so a message already processed has no effect) and the outbox rows it returns.
/// That transaction is shared with the other messages being handled at once (group commit),
/// and is run again for this message alone if any of them failed: `handle` must do nothing
/// but database work (anything else belongs in `after_commit`).
pub trait TxHandler<M: Message>: Send + Sync + 'static {
    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        message: &'a Envelope<M>,
        delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<Vec<Outgoing>, HandlerError>>;

    /// Called once the transaction of a message that was not already processed has committed,
    /// e.g. to wake a worker that acts on the rows just written (inside `handle` they are not
    /// yet visible to other connections).
    fn after_commit(&self) {}

    /// Whether messages of a tenant erased in this service (`consumer::mark_tenant_erased`)
    /// are still handled. By default they are acknowledged without effect, so nothing of an
    /// erased tenant is written again; the erasure handlers themselves answer `true`, so a
    /// repeated request confirms again.
    fn handles_erased_tenants(&self) -> bool {
        false
    }
}

/// A handler that guards its own effects (e.g. a per-effect state machine around a call to a
/// third party that cannot share a database transaction). It must be idempotent.
pub trait Handler<M: Message>: Send + Sync + 'static {
    fn handle<'a>(
        &'a self,
        message: Envelope<M>,
        delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<(), HandlerError>>;
}
