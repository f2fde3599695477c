//! The dead-letter path. JetStream has no DLQ: the server publishes an advisory when a
//! consumer terminates a message (`+TERM <reason>`) or exhausts `max_deliver`. The ADVISORIES
//! stream captures them (core-NATS advisories are lost if nobody listens); this mover, run by
//! every service on one shared durable consumer, copies the original message from its stream
//! into `dlq.<stream>.<consumer>` with the reason, promptly, before retention can delete it.

//!
//! A service that gives up on a piece of work (not a message), e.g. a post target that failed
//! for good, writes its own dead letter with [`letter`] through its outbox, in the transaction
//! that records the failure. [`letters`] reads both kinds and [`replay`] puts one back on its
//! subject, at most once; `heraldctl dlq` is built on them.

pub mod letters;
pub mod replay;

use crate::nats::{ConsumerSpec, ensure_consumer};
use crate::outbox::Outgoing;
use async_nats::HeaderMap;
use async_nats::jetstream::{self, AckKind, message::PublishMessage as Publish};
use futures::StreamExt;
use herald_contracts::streams::{ADVISORIES, DLQ, dlq_subject, headers};
use herald_contracts::{Envelope, Message};
use serde::Deserialize;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const MOVER_DURABLE: &str = "kit-dlq-mover";

/// Why reading or replaying dead letters failed.
#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    #[error("no message {0} in the DLQ stream")]
    NoMessage(u64),
    #[error(
        "the original had left its stream before it was dead-lettered, so there is nothing to replay"
    )]
    NothingToReplay,
    #[error("{context}: {cause}")]
    Nats { context: String, cause: String },
    #[error("{0}")]
    Other(String),
}

impl DlqError {
    pub(crate) fn nats(context: impl Into<String>, cause: impl std::fmt::Display) -> Self {
        DlqError::Nats {
            context: context.into(),
            cause: cause.to_string(),
        }
    }
}

/// A dead letter written by `origin` (a service's name) itself, to be enqueued in the
/// transaction that records why it gave up: `envelope` is what a replay puts back on
/// `envelope.subject()`, which must be in `stream` and is consumed by durable `consumer`, so the
/// letter lands on `dlq.<stream>.<consumer>` next to the mover's letters for that consumer.
/// `message_id` must be deterministic, so that recording the same failure twice stores one
/// letter. It carries the envelope's headers and the mover's `Herald-Dlq-*` headers except the
/// original stream sequence (it never was in that stream); `attempts` goes where the mover puts
/// the deliveries.
pub fn letter<M: Message>(
    envelope: &Envelope<M>,
    message_id: String,
    origin: &str,
    stream: &str,
    consumer: &str,
    reason: &str,
    attempts: u64,
) -> Outgoing {
    let mut outgoing = Outgoing::message(envelope);
    // Header values cannot hold line breaks; the reason is cut as `+TERM` reasons are.
    let reason: String = reason
        .replace(['\n', '\r'], " ")
        .chars()
        .take(256)
        .collect();
    outgoing.headers.extend(
        [
            (headers::DLQ_REASON, reason),
            (headers::DLQ_STREAM, stream.to_owned()),
            (headers::DLQ_CONSUMER, consumer.to_owned()),
            (headers::DLQ_SUBJECT, envelope.subject()),
            (headers::DLQ_DELIVERIES, attempts.to_string()),
            (headers::DLQ_ORIGIN, origin.to_owned()),
        ]
        .map(|(name, value)| (name.to_owned(), value)),
    );
    outgoing.message_id = message_id;
    outgoing.subject = dlq_subject(stream, consumer);
    outgoing
}

#[derive(Debug, Deserialize)]
struct Advisory {
    #[serde(rename = "type")]
    kind: String,
    stream: String,
    consumer: String,
    stream_seq: u64,
    #[serde(default)]
    deliveries: u64,
    #[serde(default)]
    reason: Option<String>,
}

pub fn mover_spec() -> ConsumerSpec {
    let mut spec = ConsumerSpec::new(ADVISORIES, MOVER_DURABLE, "$JS.EVENT.ADVISORY.CONSUMER.>");
    spec.concurrency = 1;
    spec.max_deliver = 20;
    spec
}

/// Runs the mover until `stop`.
pub async fn run_mover(js: jetstream::Context, stop: CancellationToken) {
    let consumer = loop {
        match ensure_consumer(&js, &mover_spec()).await {
            Ok(consumer) => break consumer,
            Err(error) => {
                tracing::warn!(error = %error, "dead-letter mover cannot start; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    _ = stop.cancelled() => return,
                }
            }
        }
    };
    while !stop.is_cancelled() {
        let mut messages = match consumer.messages().await {
            Ok(messages) => messages,
            Err(_) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        loop {
            let next = tokio::select! {
                next = messages.next() => next,
                _ = stop.cancelled() => return,
            };
            match next {
                None => break,
                Some(Err(_)) => tokio::time::sleep(Duration::from_millis(200)).await,
                Some(Ok(message)) => match move_one(&js, &message.payload).await {
                    Ok(()) => {
                        let _ = message.double_ack().await;
                    }
                    Err(error) => {
                        tracing::warn!(error = %error, "dead letter not moved yet; will retry");
                        let _ = message
                            .ack_with(AckKind::Nak(Some(Duration::from_secs(2))))
                            .await;
                    }
                },
            }
        }
    }
}

async fn move_one(js: &jetstream::Context, payload: &[u8]) -> Result<(), String> {
    let advisory: Advisory = match serde_json::from_slice(payload) {
        Ok(advisory) => advisory,
        Err(error) => {
            tracing::warn!(error = %error, "unreadable advisory skipped");
            return Ok(());
        }
    };
    if advisory.stream == ADVISORIES || advisory.stream == DLQ {
        return Ok(());
    }
    let reason = advisory.reason.clone().unwrap_or_else(|| {
        if advisory.kind.ends_with("max_deliver") {
            format!(
                "max deliveries ({}) reached without an ack",
                advisory.deliveries
            )
        } else {
            "terminated".to_owned()
        }
    });
    let original = match js.get_stream(&advisory.stream).await {
        Ok(stream) => stream.get_raw_message(advisory.stream_seq).await.ok(),
        Err(error) => return Err(format!("stream {}: {error}", advisory.stream)),
    };
    let mut header_map = HeaderMap::new();
    let (payload, subject, reason) = match original {
        Some(message) => {
            for (name, values) in message.headers.iter() {
                let name: &str = name.as_ref();
                if name == headers::MSG_ID || name.starts_with("Nats-") {
                    continue;
                }
                for value in values {
                    header_map.append(name, value.as_str());
                }
            }
            (message.payload, message.subject.to_string(), reason)
        }
        None => (
            bytes::Bytes::new(),
            String::new(),
            format!("{reason} (original no longer in the stream)"),
        ),
    };
    let sequence = advisory.stream_seq.to_string();
    header_map.insert(
        headers::MSG_ID,
        format!("dlq-{}-{}-{}", advisory.stream, advisory.consumer, sequence).as_str(),
    );
    header_map.insert(headers::DLQ_REASON, reason.as_str());
    header_map.insert(headers::DLQ_STREAM, advisory.stream.as_str());
    header_map.insert(headers::DLQ_CONSUMER, advisory.consumer.as_str());
    header_map.insert(headers::DLQ_SEQUENCE, sequence.as_str());
    header_map.insert(headers::DLQ_SUBJECT, subject.as_str());
    header_map.insert(
        headers::DLQ_DELIVERIES,
        advisory.deliveries.to_string().as_str(),
    );
    let publish = Publish::build().headers(header_map).payload(payload);
    js.send_publish(dlq_subject(&advisory.stream, &advisory.consumer), publish)
        .await
        .map_err(|error| error.to_string())?
        .await
        .map_err(|error| error.to_string())?;
    metrics::counter!("herald_dlq_messages_total", "stream" => advisory.stream.clone(), "consumer" => advisory.consumer.clone()).increment(1);
    tracing::warn!(stream = %advisory.stream, consumer = %advisory.consumer, stream.sequence = advisory.stream_seq, reason = %reason, "message dead-lettered");
    Ok(())
}
