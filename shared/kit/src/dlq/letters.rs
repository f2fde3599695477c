//! What the DLQ stream holds and how it is read. Dead letters are on `dlq.<stream>.<consumer>`:
//! copies the mover made of messages a consumer gave up on, and letters a service wrote itself
//! through its outbox (a `Herald-Dlq-Origin` header names the service; see [`super::letter`]).
//! Replay markers, written by [`super::replay`], are on
//! `dlq.replayed.<stream>.<consumer>.<dlq-seq>` (five tokens, so `dlq.*.*` never matches one).
//! Nothing here consumes: listing uses an ordered consumer (ephemeral, in memory, no acks,
//! deleted afterwards, and removed by the server after 30 s idle anyway); single messages are
//! read from the stream leader, so a marker just written is always seen.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::stream::{RawMessageErrorKind, Stream};
use futures::StreamExt;
use herald_contracts::streams::{DLQ, dlq_subject, headers};
use serde_json::{Value, json};

use super::DlqError;

/// The token after `dlq.` that marks a replay marker rather than a dead letter. Stream names
/// are upper case, so no stream can be called this.
const REPLAYED: &str = "replayed";

/// How long listing waits for the next message before giving up on the server.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Who wrote a dead letter that has no `Herald-Dlq-Origin` header.
pub const MOVER_ORIGIN: &str = "dlq-mover";

/// One dead letter as the mover (or a service) stored it.
#[derive(Debug, Clone)]
pub struct Letter {
    pub dlq_sequence: u64,
    pub time: String,
    pub dlq_subject: String,
    /// The stream and consumer of `dlq.<stream>.<consumer>`.
    pub stream: String,
    pub consumer: String,
    pub headers: HeaderMap,
    pub payload: Vec<u8>,
}

/// A replay recorded by a marker.
#[derive(Debug, Clone)]
pub struct Replay {
    pub time: String,
    /// Where the replayed copy went: its stream, sequence there, subject and `Nats-Msg-Id`.
    pub stream: String,
    pub sequence: u64,
    pub subject: String,
    pub msg_id: String,
}

/// Everything the DLQ holds for a filter: dead letters oldest first, replays by DLQ sequence.
#[derive(Debug, Default)]
pub struct Contents {
    pub letters: Vec<Letter>,
    pub replays: HashMap<u64, Replay>,
}

enum Kind {
    Letter { stream: String, consumer: String },
    Marker { replayed: u64 },
    Other,
}

fn kind(subject: &str) -> Kind {
    let tokens: Vec<&str> = subject.split('.').collect();
    match tokens.as_slice() {
        [_, stream, consumer]
            if *stream != REPLAYED && dlq_subject(stream, consumer) == subject =>
        {
            Kind::Letter {
                stream: (*stream).to_owned(),
                consumer: (*consumer).to_owned(),
            }
        }
        [_, REPLAYED, stream, consumer, sequence] => match sequence.parse::<u64>() {
            Ok(replayed) if marker_subject(stream, consumer, replayed) == subject => {
                Kind::Marker { replayed }
            }
            _ => Kind::Other,
        },
        _ => Kind::Other,
    }
}

/// One subject token: no separators, wildcards or whitespace.
pub fn is_token(token: &str) -> bool {
    !token.is_empty()
        && !token
            .chars()
            .any(|c| matches!(c, '.' | '*' | '>') || c.is_whitespace() || c.is_control())
}

/// RFC 3339 in UTC to the second: async-nats hands out the server's times in UTC.
pub fn timestamp(time: &async_nats::datetime::DateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        time.year(),
        u8::from(time.month()),
        time.day(),
        time.hour(),
        time.minute(),
        time.second()
    )
}

/// Where the marker of the dead letter at `dlq_sequence` goes.
pub fn marker_subject(stream: &str, consumer: &str, dlq_sequence: u64) -> String {
    format!(
        "{}.{consumer}.{dlq_sequence}",
        dlq_subject(REPLAYED, stream)
    )
}

/// The marker's `Nats-Msg-Id`, so a marker sent twice within the window is stored once.
pub fn marker_msg_id(dlq_sequence: u64) -> String {
    format!("dlq-{REPLAYED}-{dlq_sequence}")
}

/// The marker's payload.
pub fn marker_payload(letter: &Letter, replay: &Replay) -> Value {
    json!({
        "dlq_sequence": letter.dlq_sequence,
        "stream": replay.stream,
        "sequence": replay.sequence,
        "subject": replay.subject,
        "msg_id": replay.msg_id,
    })
}

fn replay_from_marker(payload: &[u8], time: String) -> Replay {
    let value: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    let text = |field: &str| value[field].as_str().unwrap_or_default().to_owned();
    Replay {
        time,
        stream: text("stream"),
        sequence: value["sequence"].as_u64().unwrap_or_default(),
        subject: text("subject"),
        msg_id: text("msg_id"),
    }
}

impl Letter {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|value| value.as_str())
            .filter(|value| !value.is_empty())
    }

    /// The subject to replay to: the one the message was on (or, for a service's letter, the
    /// command subject it is meant for); `None` when the original had already gone from its
    /// stream when the mover copied it (the payload is then empty too).
    pub fn subject(&self) -> Option<&str> {
        self.header(headers::DLQ_SUBJECT)
    }
    /// Its sequence in the original stream; `None` for a service's letter, which was never in
    /// that stream.
    pub fn sequence(&self) -> Option<u64> {
        self.header(headers::DLQ_SEQUENCE)?.parse().ok()
    }
    pub fn message_type(&self) -> Option<&str> {
        self.header(headers::TYPE)
    }
    pub fn tenant(&self) -> Option<&str> {
        self.header(headers::TENANT)
    }
    pub fn reason(&self) -> &str {
        self.header(headers::DLQ_REASON).unwrap_or_default()
    }
    /// Deliveries of the original (for a service's letter: the attempts it made).
    pub fn deliveries(&self) -> Option<u64> {
        self.header(headers::DLQ_DELIVERIES)?.parse().ok()
    }
    /// Who wrote the letter: a service's name, or [`MOVER_ORIGIN`].
    pub fn origin(&self) -> &str {
        self.header(headers::DLQ_ORIGIN).unwrap_or(MOVER_ORIGIN)
    }

    /// The envelope id, which was the original's `Nats-Msg-Id` (the mover does not keep that
    /// header); else the id the letter was stored under.
    pub fn original_id(&self) -> String {
        serde_json::from_slice::<Value>(&self.payload)
            .ok()
            .and_then(|envelope| envelope["id"].as_str().map(str::to_owned))
            .filter(|id| !id.is_empty())
            .or_else(|| self.header(headers::MSG_ID).map(str::to_owned))
            .unwrap_or_else(|| format!("{}-{}", self.stream, self.dlq_sequence))
    }

    pub fn to_json(&self, replay: Option<&Replay>) -> Value {
        json!({
            "dlq_sequence": self.dlq_sequence,
            "time": self.time,
            "stream": self.stream,
            "consumer": self.consumer,
            "subject": self.subject(),
            "sequence": self.sequence(),
            "type": self.message_type(),
            "tenant": self.tenant(),
            "reason": self.reason(),
            "deliveries": self.deliveries(),
            "origin": self.origin(),
            "replayed": replay.map(|replay| json!({
                "time": replay.time,
                "stream": replay.stream,
                "sequence": replay.sequence,
                "subject": replay.subject,
                "msg_id": replay.msg_id,
            })),
        })
    }
}

/// Every dead letter and replay marker of `stream` and `consumer` (`None`: any), read without
/// consuming anything.
pub async fn read(
    dlq: &Stream,
    stream: Option<&str>,
    consumer: Option<&str>,
) -> Result<Contents, DlqError> {
    let stream = stream.unwrap_or("*");
    let consumer = consumer.unwrap_or("*");
    let cannot_read = |error: &dyn std::fmt::Display| {
        DlqError::nats(format!("cannot read the {DLQ} stream"), error)
    };
    let reader = dlq
        .create_consumer(OrderedConfig {
            filter_subjects: vec![
                dlq_subject(stream, consumer),
                format!("{}.{consumer}.*", dlq_subject(REPLAYED, stream)),
            ],
            ..Default::default()
        })
        .await
        .map_err(|error| cannot_read(&error))?;
    let mut contents = Contents::default();
    let name = reader.cached_info().name.clone();
    let read = if reader.cached_info().num_pending == 0 {
        Ok(())
    } else {
        read_all(reader, &mut contents).await
    };
    // Best effort: the server drops the idle ephemeral consumer by itself anyway.
    let _ = dlq.delete_consumer(&name).await;
    read.map(|()| contents)
}

async fn read_all(
    reader: async_nats::jetstream::consumer::Consumer<OrderedConfig>,
    contents: &mut Contents,
) -> Result<(), DlqError> {
    let mut messages = reader
        .messages()
        .await
        .map_err(|error| DlqError::nats(format!("cannot read the {DLQ} stream"), error))?;
    loop {
        let next = tokio::time::timeout(READ_TIMEOUT, messages.next())
            .await
            .map_err(|_| DlqError::Other(format!("the {DLQ} stream stopped sending messages")))?;
        let Some(message) = next else {
            return Err(DlqError::Other(format!("the {DLQ} stream ended early")));
        };
        let message =
            message.map_err(|error| DlqError::nats(format!("reading the {DLQ} stream"), error))?;
        let info = message
            .info()
            .map_err(|error| DlqError::nats(format!("reading the {DLQ} stream"), error))?;
        let (sequence, pending, time) = (
            info.stream_sequence,
            info.pending,
            timestamp(&info.published),
        );
        match kind(&message.subject) {
            Kind::Letter { stream, consumer } => contents.letters.push(Letter {
                dlq_sequence: sequence,
                time,
                dlq_subject: message.subject.to_string(),
                stream,
                consumer,
                headers: message.headers.clone().unwrap_or_default(),
                payload: message.payload.to_vec(),
            }),
            Kind::Marker { replayed } => {
                contents
                    .replays
                    .insert(replayed, replay_from_marker(&message.payload, time));
            }
            Kind::Other => {}
        }
        if pending == 0 {
            return Ok(());
        }
    }
}

/// The dead letter at `sequence` in the DLQ stream.
pub async fn get(dlq: &Stream, sequence: u64) -> Result<Letter, DlqError> {
    let message = match dlq.get_raw_message(sequence).await {
        Ok(message) => message,
        Err(error) if matches!(error.kind(), RawMessageErrorKind::NoMessageFound) => {
            return Err(DlqError::NoMessage(sequence));
        }
        Err(error) => {
            return Err(DlqError::nats(
                format!("cannot read {DLQ} message {sequence}"),
                error,
            ));
        }
    };
    match kind(&message.subject) {
        Kind::Letter { stream, consumer } => Ok(Letter {
            dlq_sequence: message.sequence,
            time: timestamp(&message.time),
            dlq_subject: message.subject.to_string(),
            stream,
            consumer,
            headers: message.headers,
            payload: message.payload.to_vec(),
        }),
        Kind::Marker { replayed } => Err(DlqError::Other(format!(
            "{DLQ} message {sequence} is the replay marker of dead letter {replayed}, not a dead letter"
        ))),
        Kind::Other => Err(DlqError::Other(format!(
            "{DLQ} message {sequence} on {} is not a dead letter",
            message.subject
        ))),
    }
}

/// The replay recorded for `letter`, if any.
pub async fn replay_of(dlq: &Stream, letter: &Letter) -> Result<Option<Replay>, DlqError> {
    if !is_token(&letter.stream) || !is_token(&letter.consumer) {
        return Err(DlqError::Other(format!(
            "dead letter {} has an unusable subject",
            letter.dlq_sequence
        )));
    }
    let subject = marker_subject(&letter.stream, &letter.consumer, letter.dlq_sequence);
    match dlq.get_last_raw_message_by_subject(&subject).await {
        Ok(marker) => Ok(Some(replay_from_marker(
            &marker.payload,
            timestamp(&marker.time),
        ))),
        Err(error) if matches!(error.kind(), RawMessageErrorKind::NoMessageFound) => Ok(None),
        Err(error) => Err(DlqError::nats(format!("cannot read {subject}"), error)),
    }
}
