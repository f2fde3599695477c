//! Consumer side of the exactly-once recipe: one handler stack around every durable pull
//! consumer. trace context → schema validation → inbox dedup (for transactional handlers) →
//! handler → ack layer: progress heartbeats while working, double ack after commit, nak with
//! backoff on retryable errors, terminate with the reason (→ dead-letter queue) on terminal
//! errors and at `max_deliver`. A semaphore bounds the handlers running at once.

mod handler;
mod validate;

pub use handler::{Delivery, Handler, HandlerError, TxHandler};
pub use validate::MessageValidator;

use crate::db::Db;
use crate::group::{GroupCommit, Work};
use crate::nats::ConsumerSpec;
use crate::outbox::{self, OutboxWaker};
use crate::trace::TraceContext;
use async_nats::jetstream::{self, AckKind, consumer::pull};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures::StreamExt;
use herald_contracts::{Envelope, Message};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// How long one pull waits for messages; bounds how long a stopping consumer waits for the
/// end of its last fetch.
const PULL_EXPIRES: Duration = Duration::from_secs(3);

diesel::table! {
    kit_inbox (consumer, message_id) {
        consumer -> Text,
        message_id -> Text,
        processed_at -> Timestamptz,
    }
}

diesel::table! {
    kit_erased_tenants (erased_tenant) {
        erased_tenant -> Uuid,
        erased_at -> Timestamptz,
    }
}

const INBOX_UNLESS_ERASED: &str = "INSERT INTO kit_inbox (consumer, message_id) \
     SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM kit_erased_tenants WHERE erased_tenant = $3) \
     ON CONFLICT DO NOTHING";

/// Records, in the caller's transaction, that `tenant` was erased in this service: from the
/// commit on, transactional consumers acknowledge its messages without effect (see
/// [`TxHandler::handles_erased_tenants`]). Idempotent.
pub async fn mark_tenant_erased(
    conn: &mut diesel_async::AsyncPgConnection,
    tenant: herald_contracts::TenantId,
) -> diesel::QueryResult<()> {
    diesel::insert_into(kit_erased_tenants::table)
        .values(kit_erased_tenants::erased_tenant.eq(tenant.as_uuid()))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// Serialises an erasure of `tenant` with everything the kit's consumers write for it: takes
/// the tenant's erasure lock exclusively until the transaction ends, so units of group commit
/// acting for the tenant finish first, and later ones wait and then find it erased. Call it
/// first in the erasing transaction.
pub async fn lock_tenant_for_erasure(
    conn: &mut diesel_async::AsyncPgConnection,
    tenant: herald_contracts::TenantId,
) -> diesel::QueryResult<()> {
    use diesel_async::SimpleAsyncConnection;
    conn.batch_execute(&crate::tenancy::erasure_lock_sql(tenant))
        .await
}

/// For a handler that writes a tenant's rows in its own transaction (not through group
/// commit): holds the tenant's erasure lock shared until the transaction ends and says
/// whether the tenant was erased, in which case it must write nothing.
pub async fn hold_tenant_unless_erased(
    conn: &mut diesel_async::AsyncPgConnection,
    tenant: herald_contracts::TenantId,
) -> diesel::QueryResult<bool> {
    use diesel_async::SimpleAsyncConnection;
    conn.batch_execute(&crate::tenancy::erasure_lock_shared_sql(tenant))
        .await?;
    tenant_erased(conn, tenant).await
}

/// Whether `tenant` was erased in this service, for handlers that run their own transaction.
pub async fn tenant_erased(
    conn: &mut diesel_async::AsyncPgConnection,
    tenant: herald_contracts::TenantId,
) -> diesel::QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        kit_erased_tenants::table.filter(kit_erased_tenants::erased_tenant.eq(tenant.as_uuid())),
    ))
    .get_result(conn)
    .await
}

pub(crate) enum Mode<M: Message> {
    /// Transactional handlers run in group commits: the messages being handled at once share
    /// a transaction, each with its inbox row and outbox rows.
    Tx(Arc<dyn TxHandler<M>>, GroupCommit<TxWork<M>>, OutboxWaker),
    Plain(Arc<dyn Handler<M>>),
}

impl<M: Message> Mode<M> {
    pub(crate) fn transactional(
        handler: Arc<dyn TxHandler<M>>,
        db: Db,
        waker: OutboxWaker,
        group: crate::group::GroupConfig,
    ) -> Self {
        let work = TxWork {
            handler: handler.clone(),
        };
        Mode::Tx(handler, GroupCommit::start(db, work, group), waker)
    }
}

/// One message of a transactional handler: inbox row, the handler's effects, outbox rows.
pub(crate) struct TxWork<M: Message> {
    handler: Arc<dyn TxHandler<M>>,
}

impl<M: Message> Work for TxWork<M> {
    type Item = (Envelope<M>, Delivery);
    /// `None` if the message had been processed already; else the outbox rows written.
    type Output = Option<usize>;
    type Error = HandlerError;

    /// The handler acts for the message's tenant: its envelope says whose event it is.
    fn tenant(&self, item: &Self::Item) -> herald_contracts::TenantId {
        item.0.tenant_id
    }

    fn run<'a>(
        &'a self,
        conn: &'a mut diesel_async::AsyncPgConnection,
        item: &'a Self::Item,
    ) -> futures::future::BoxFuture<'a, Result<Option<usize>, HandlerError>> {
        let (envelope, delivery) = item;
        Box::pin(async move {
            let fresh = if self.handler.handles_erased_tenants() {
                diesel::insert_into(kit_inbox::table)
                    .values((
                        kit_inbox::consumer.eq(&delivery.consumer),
                        kit_inbox::message_id.eq(&envelope.id),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)
                    .await?
            } else {
                // One statement: the inbox row is written only if the tenant was not erased,
                // so a late event of an erased tenant is acknowledged without effect.
                diesel::sql_query(INBOX_UNLESS_ERASED)
                    .bind::<diesel::sql_types::Text, _>(&delivery.consumer)
                    .bind::<diesel::sql_types::Text, _>(&envelope.id)
                    .bind::<diesel::sql_types::Uuid, _>(envelope.tenant_id.as_uuid())
                    .execute(conn)
                    .await?
            };
            if fresh == 0 {
                return Ok(None);
            }
            let outgoing = self.handler.handle(conn, envelope, delivery).await?;
            Ok(Some(outbox::enqueue(conn, &outgoing).await?))
        })
    }

    fn group_failed(&self, reason: String) -> HandlerError {
        HandlerError::Retry(format!("database: {reason}"))
    }
}

enum Outcome {
    Done,
    Duplicate,
    Failed(HandlerError),
}

pub(crate) struct Runner<M: Message> {
    pub spec: ConsumerSpec,
    pub consumer: jetstream::consumer::Consumer<pull::Config>,
    pub client: async_nats::Client,
    pub validator: MessageValidator,
    pub mode: Mode<M>,
}

impl<M: Message> Runner<M> {
    /// Pulls until `stop` is cancelled; handlers already running are tracked by `tracker`.
    ///
    /// Each pull is an explicit fetch of as many messages as there are free handler slots,
    /// and every message a fetch delivers is read to the end of that fetch, even after `stop`:
    /// those not started are handed back at once, so nothing delivered to a stopping process
    /// waits out `ack_wait` (a pre-fetching stream could not promise that).
    pub async fn run(self, stop: CancellationToken, tracker: TaskTracker) {
        let this = Arc::new(self);
        let permits = Arc::new(Semaphore::new(this.spec.concurrency));
        while !stop.is_cancelled() {
            let first = tokio::select! {
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return,
                },
                _ = stop.cancelled() => return,
            };
            let wanted = permits.available_permits() + 1;
            let fetched = this
                .consumer
                .fetch()
                .max_messages(wanted)
                .expires(PULL_EXPIRES)
                .messages()
                .await;
            let mut batch = match fetched {
                Ok(batch) => batch,
                Err(error) => {
                    drop(first);
                    tracing::warn!(consumer = %this.spec.durable, error = %error, "cannot pull; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        _ = stop.cancelled() => return,
                    }
                }
            };
            let mut held = Some(first);
            let mut handed_back = 0u64;
            while let Some(next) = batch.next().await {
                let message = match next {
                    Ok(message) => message,
                    Err(error) => {
                        tracing::debug!(consumer = %this.spec.durable, error = %error, "pull interrupted");
                        break;
                    }
                };
                if stop.is_cancelled() {
                    // The short delay keeps it from coming straight back to this process.
                    let _ = message
                        .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                        .await;
                    handed_back += 1;
                    continue;
                }
                let permit = match held.take() {
                    Some(permit) => permit,
                    None => match permits.clone().acquire_owned().await {
                        Ok(permit) => permit,
                        Err(_) => return,
                    },
                };
                let this = this.clone();
                tracker.spawn(async move {
                    this.process(message).await;
                    drop(permit);
                });
            }
            if handed_back > 0 {
                tracing::info!(
                    handed_back,
                    "handed back messages not started before shutdown"
                );
            }
        }
    }

    async fn process(&self, message: jetstream::Message) {
        let started = Instant::now();
        let (stream_sequence, delivered) = match message.info() {
            Ok(info) => (info.stream_sequence, info.delivered),
            Err(_) => (0, 1),
        };
        let delivery = Delivery {
            consumer: self.spec.durable.clone(),
            subject: message.subject.to_string(),
            stream_sequence,
            delivered,
        };
        let trace = TraceContext::from_headers(message.headers.as_ref());
        let span = tracing::info_span!(
            "consume",
            consumer = %self.spec.durable,
            messaging.subject = %message.subject,
            stream.sequence = stream_sequence,
            delivered,
            trace_id = %trace.trace_id,
            message.id = tracing::field::Empty,
            tenant_id = tracing::field::Empty,
            correlation_id = tracing::field::Empty,
        );
        let message = Arc::new(message);
        let heartbeat = tokio::spawn(progress_heartbeats(message.clone(), self.spec.ack_wait / 3));
        let outcome = trace
            .scope(self.handle(&message, &delivery).instrument(span.clone()))
            .await;
        heartbeat.abort();
        let label = self
            .settle(&message, &delivery, outcome)
            .instrument(span)
            .await;
        metrics::counter!("herald_consumer_messages_total", "consumer" => self.spec.durable.clone(), "outcome" => label).increment(1);
        metrics::histogram!("herald_consumer_handler_seconds", "consumer" => self.spec.durable.clone())
            .record(started.elapsed().as_secs_f64());
    }

    async fn handle(&self, message: &jetstream::Message, delivery: &Delivery) -> Outcome {
        let envelope: Envelope<M> = match self.validator.parse(&message.payload) {
            Ok(envelope) => envelope,
            Err(reason) => return Outcome::Failed(HandlerError::Terminal(reason)),
        };
        let span = tracing::Span::current();
        span.record("message.id", envelope.id.as_str());
        span.record("tenant_id", envelope.tenant_id.to_string());
        span.record("correlation_id", envelope.correlation_id.as_str());
        match &self.mode {
            Mode::Plain(handler) => match handler.handle(envelope, delivery).await {
                Ok(()) => Outcome::Done,
                Err(error) => Outcome::Failed(error),
            },
            Mode::Tx(handler, group, waker) => {
                run_in_transaction(handler.as_ref(), group, waker, envelope, delivery).await
            }
        }
    }

    /// Acknowledges according to the outcome; returns the metric label.
    async fn settle(
        &self,
        message: &jetstream::Message,
        delivery: &Delivery,
        outcome: Outcome,
    ) -> &'static str {
        match outcome {
            Outcome::Done | Outcome::Duplicate => {
                crate::failpoint::hit("consumer.before_ack", &delivery.subject);
                if let Err(error) = message.double_ack().await {
                    // The effects are committed and the inbox makes a redelivery harmless.
                    tracing::warn!(error = %error, "ack not confirmed; a redelivery will be deduplicated");
                }
                if matches!(outcome, Outcome::Duplicate) {
                    "duplicate"
                } else {
                    "acked"
                }
            }
            Outcome::Failed(HandlerError::Retry(reason))
                if delivery.delivered < self.spec.max_deliver =>
            {
                let delay = self.spec.nak_delay(delivery.delivered);
                tracing::warn!(reason = %reason, retry_in_ms = delay.as_millis() as u64, "handler failed; will retry");
                let _ = message.ack_with(AckKind::Nak(Some(delay))).await;
                "nacked"
            }
            Outcome::Failed(error) => {
                let reason = match &error {
                    HandlerError::Retry(reason) => {
                        format!("max deliveries ({}) reached: {reason}", delivery.delivered)
                    }
                    HandlerError::Terminal(reason) => reason.clone(),
                };
                tracing::error!(reason = %reason, "message terminated; it goes to the dead-letter queue");
                terminate(&self.client, message, &reason).await;
                "terminated"
            }
        }
    }
}

async fn run_in_transaction<M: Message>(
    handler: &dyn TxHandler<M>,
    group: &GroupCommit<TxWork<M>>,
    waker: &OutboxWaker,
    envelope: Envelope<M>,
    delivery: &Delivery,
) -> Outcome {
    let result = group.submit((envelope, delivery.clone())).await;
    match result {
        Ok(None) => {
            tracing::info!(
                "already processed, or its tenant was erased; acknowledged without effect"
            );
            Outcome::Duplicate
        }
        Ok(Some(written)) => {
            if written > 0 {
                waker.wake();
            }
            handler.after_commit();
            Outcome::Done
        }
        Err(error) => Outcome::Failed(error),
    }
}

/// Tells the server the work goes on, so it does not redeliver a slow message elsewhere.
async fn progress_heartbeats(message: Arc<jetstream::Message>, every: Duration) {
    let every = every.max(Duration::from_millis(500));
    loop {
        tokio::time::sleep(every).await;
        let _ = message.ack_with(AckKind::Progress).await;
    }
}

/// `+TERM <reason>`: the server's MSG_TERMINATED advisory carries the reason to the DLQ mover.
/// async-nats has no term-with-reason, so the ack is sent by hand and its confirmation awaited.
pub(crate) async fn terminate(
    client: &async_nats::Client,
    message: &jetstream::Message,
    reason: &str,
) {
    let Some(reply) = message.reply.clone() else {
        return;
    };
    let reason: String = reason
        .replace(['\n', '\r'], " ")
        .chars()
        .take(256)
        .collect();
    let payload = bytes::Bytes::from(format!("+TERM {reason}"));
    let confirm =
        tokio::time::timeout(Duration::from_secs(5), client.request(reply, payload)).await;
    if !matches!(confirm, Ok(Ok(_))) {
        tracing::warn!("terminate not confirmed by the server");
    }
}
