//! Producer side of the exactly-once recipe: the transactional outbox and its relay.
//!
//! A state change and the messages it causes are committed in one transaction (`enqueue`).
//! The relay publishes unsent rows with `Nats-Msg-Id = message_id`, awaits the PubAcks and
//! marks the rows sent in one statement per batch. A crash between publish and mark means the
//! rows are published again, and the stream's duplicate window absorbs the second copy.
//! The relay never polls: it is woken in-process after a commit, by Postgres `NOTIFY` from
//! other replicas, and by a slow sweep that catches anything missed.

use crate::db::Db;
use crate::failpoint;
use crate::trace::TraceContext;
use async_nats::HeaderMap;
use async_nats::jetstream::{self, message::PublishMessage as Publish};
use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures::StreamExt;
use herald_contracts::streams::headers;
use herald_contracts::{Envelope, Message};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

diesel::table! {
    kit_outbox (id) {
        id -> BigInt,
        message_id -> Text,
        subject -> Text,
        headers -> Jsonb,
        payload -> Bytea,
        created_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
    }
}

/// A message to publish once its transaction commits.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub message_id: String,
    pub subject: String,
    pub headers: Vec<(String, String)>,
    pub payload: Vec<u8>,
}

fn envelope_headers<M: Message>(envelope: &Envelope<M>) -> Vec<(String, String)> {
    let mut pairs = vec![
        (headers::TENANT.to_owned(), envelope.tenant_id.to_string()),
        (
            headers::TYPE.to_owned(),
            format!("{}.v{}", M::TYPE, M::VERSION),
        ),
    ];
    pairs.extend(TraceContext::current().header_pairs());
    pairs
}

impl Outgoing {
    /// The envelope on its own subject, carrying the current trace context.
    pub fn message<M: Message>(envelope: &Envelope<M>) -> Self {
        Self {
            message_id: envelope.id.clone(),
            subject: envelope.subject(),
            headers: envelope_headers(envelope),
            payload: serde_json::to_vec(envelope).unwrap_or_default(),
        }
    }

    /// A JetStream scheduled message held on `schedule_subject` that publishes `envelope` to
    /// its own subject at `at`. The rollup replaces any earlier schedule on the subject, so a
    /// reschedule leaves exactly one pending schedule.
    pub fn schedule<M: Message>(
        envelope: &Envelope<M>,
        schedule_subject: String,
        at: DateTime<Utc>,
    ) -> Self {
        let mut pairs = envelope_headers(envelope);
        pairs.push((
            headers::SCHEDULE.to_owned(),
            format!(
                "@at {}",
                whole_second_at_or_after(at).to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
        ));
        pairs.push((headers::SCHEDULE_TARGET.to_owned(), envelope.subject()));
        pairs.push((headers::ROLLUP.to_owned(), "sub".to_owned()));
        Self {
            message_id: format!("schedule:{}", envelope.id),
            subject: schedule_subject,
            headers: pairs,
            payload: serde_json::to_vec(envelope).unwrap_or_default(),
        }
    }
}

/// `@at` takes whole seconds; rounding down would fire up to a second early.
fn whole_second_at_or_after(at: DateTime<Utc>) -> DateTime<Utc> {
    let floor = at.with_nanosecond(0).unwrap_or(at);
    if floor < at {
        floor + chrono::Duration::seconds(1)
    } else {
        floor
    }
}

/// Writes `items` in the caller's transaction (a message id already present is skipped) and
/// asks other replicas' relays to wake when the transaction commits.
pub async fn enqueue(conn: &mut AsyncPgConnection, items: &[Outgoing]) -> QueryResult<usize> {
    if items.is_empty() {
        return Ok(0);
    }
    let rows: Vec<_> = items
        .iter()
        .map(|item| {
            (
                kit_outbox::message_id.eq(&item.message_id),
                kit_outbox::subject.eq(&item.subject),
                kit_outbox::headers.eq(serde_json::json!(item.headers)),
                kit_outbox::payload.eq(&item.payload),
            )
        })
        .collect();
    let inserted = diesel::insert_into(kit_outbox::table)
        .values(rows)
        .on_conflict(kit_outbox::message_id)
        .do_nothing()
        .execute(conn)
        .await?;
    diesel::sql_query("SELECT pg_notify('herald_outbox_' || current_schema(), '')")
        .execute(conn)
        .await?;
    Ok(inserted)
}

/// Wakes the relay of this process after a commit that wrote outbox rows.
#[derive(Clone, Default)]
pub struct OutboxWaker(Arc<Notify>);

impl OutboxWaker {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

#[derive(Queryable)]
struct Row {
    id: i64,
    message_id: String,
    subject: String,
    headers: serde_json::Value,
    payload: Vec<u8>,
}

pub struct Relay {
    pub db: Db,
    pub js: jetstream::Context,
    pub waker: OutboxWaker,
    pub batch: i64,
    pub sweep: Duration,
    pub database_url: String,
}

impl Relay {
    /// Runs until `shutdown`, then publishes what is left once and returns.
    pub async fn run(self, shutdown: CancellationToken) {
        let listener = tokio::spawn(listen(
            self.database_url.clone(),
            self.db.schema,
            self.waker.clone(),
            shutdown.clone(),
        ));
        let mut last_cleanup = tokio::time::Instant::now();
        loop {
            self.drain().await;
            if last_cleanup.elapsed() > Duration::from_secs(60) {
                self.cleanup().await;
                last_cleanup = tokio::time::Instant::now();
            }
            tokio::select! {
                _ = self.waker.0.notified() => {}
                _ = tokio::time::sleep(self.sweep) => {}
                _ = shutdown.cancelled() => break,
            }
        }
        self.drain().await;
        listener.abort();
    }

    /// Publishes batches until none is left (or an error stops this round).
    pub async fn drain(&self) {
        loop {
            match self.publish_batch().await {
                Ok(n) if n as i64 >= self.batch => continue,
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(error = %error, "outbox relay batch failed; will retry");
                    break;
                }
            }
        }
        self.record_depth().await;
    }

    async fn publish_batch(&self) -> Result<usize, crate::KitError> {
        let mut conn = self
            .db
            .system("outbox relay: publishes every tenant's messages")
            .await?;
        let js = &self.js;
        let batch = self.batch;
        conn.transaction::<_, crate::KitError, _>(async move |conn| {
            let rows: Vec<Row> = kit_outbox::table
                .select((
                    kit_outbox::id,
                    kit_outbox::message_id,
                    kit_outbox::subject,
                    kit_outbox::headers,
                    kit_outbox::payload,
                ))
                .filter(kit_outbox::sent_at.is_null())
                .order(kit_outbox::id)
                .limit(batch)
                .for_update()
                .skip_locked()
                .load(conn)
                .await
                .map_err(crate::db::db_error)?;
            if rows.is_empty() {
                return Ok(0);
            }
            let sent = publish_rows(js, &rows).await;
            for row in &rows {
                failpoint::hit("outbox.after_publish", &row.subject);
            }
            if !sent.is_empty() {
                diesel::sql_query("UPDATE kit_outbox SET sent_at = now() WHERE id = ANY($1)")
                    .bind::<Array<BigInt>, _>(&sent)
                    .execute(conn)
                    .await
                    .map_err(crate::db::db_error)?;
            }
            metrics::counter!("herald_outbox_published_total").increment(sent.len() as u64);
            Ok(sent.len())
        })
        .await
    }

    async fn record_depth(&self) {
        #[derive(QueryableByName)]
        struct Depth {
            #[diesel(sql_type = BigInt)]
            pending: i64,
            #[diesel(sql_type = diesel::sql_types::Double)]
            oldest_age_seconds: f64,
        }
        let Ok(mut conn) = self
            .db
            .system("outbox relay: depth of every tenant's rows")
            .await
        else {
            return;
        };
        let depth: Result<Depth, _> = diesel::sql_query(
            "SELECT count(*) AS pending, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS oldest_age_seconds FROM kit_outbox WHERE sent_at IS NULL",
        )
        .get_result(&mut conn)
        .await;
        if let Ok(depth) = depth {
            metrics::gauge!("herald_outbox_pending").set(depth.pending as f64);
            metrics::gauge!("herald_outbox_oldest_age_seconds").set(depth.oldest_age_seconds);
        }
    }

    /// Sent rows are kept for an hour (well past the duplicate window) for debugging; inbox rows
    /// are kept longer than any stream keeps a message that could be redelivered.
    async fn cleanup(&self) {
        let Ok(mut conn) = self
            .db
            .system("outbox relay: cleans up every tenant's rows")
            .await
        else {
            return;
        };
        let _ =
            diesel::sql_query("DELETE FROM kit_outbox WHERE sent_at < now() - interval '1 hour'")
                .execute(&mut conn)
                .await;
        let _ = diesel::sql_query(
            "DELETE FROM kit_inbox WHERE processed_at < now() - interval '35 days'",
        )
        .execute(&mut conn)
        .await;
    }
}

/// Publishes every row with many PubAcks in flight; returns the ids the server acknowledged.
async fn publish_rows(js: &jetstream::Context, rows: &[Row]) -> Vec<i64> {
    let mut pending = Vec::with_capacity(rows.len());
    for row in rows {
        let mut header_map = HeaderMap::new();
        if let Some(pairs) = row.headers.as_array() {
            for pair in pairs {
                if let (Some(name), Some(value)) = (pair[0].as_str(), pair[1].as_str()) {
                    header_map.insert(name, value);
                }
            }
        }
        header_map.insert(headers::MSG_ID, row.message_id.as_str());
        let publish = Publish::build()
            .headers(header_map)
            .payload(row.payload.clone().into());
        match js.send_publish(row.subject.clone(), publish).await {
            Ok(ack) => pending.push((row.id, ack)),
            Err(error) => {
                tracing::warn!(error = %error, message.id = %row.message_id, "outbox publish failed");
                break;
            }
        }
    }
    let mut sent = Vec::with_capacity(pending.len());
    for (id, ack) in pending {
        match ack.await {
            Ok(_) => sent.push(id),
            Err(error) => tracing::warn!(error = %error, "outbox publish not acknowledged"),
        }
    }
    sent
}

/// Forwards `NOTIFY herald_outbox_<schema>` from other replicas to the relay's waker.
async fn listen(
    url: String,
    schema: &'static str,
    waker: OutboxWaker,
    shutdown: CancellationToken,
) {
    while !shutdown.is_cancelled() {
        match AsyncPgConnection::establish(&url).await {
            Ok(mut conn) => {
                let listen = format!("LISTEN herald_outbox_{schema}");
                if diesel::sql_query(listen).execute(&mut conn).await.is_ok() {
                    let mut notifications = std::pin::pin!(conn.notifications_stream());
                    while let Some(Ok(_)) = notifications.next().await {
                        waker.wake();
                    }
                }
            }
            Err(error) => tracing::debug!(error = %error, "outbox listener cannot connect"),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
