//! Replaying a dead letter: puts it back on its original subject with its original headers and
//! payload, so every consumer of that subject validates it and dedups it by envelope id in its
//! inbox as usual; a consumer that had handled it already acknowledges it without effect.
//! `heraldctl dlq replay` and the tests call this, so both go down one path.
//!
//! The copy gets `Nats-Msg-Id: replay-<dlq-seq>-<envelope id>`: new to the original stream (whose
//! duplicate window would swallow the envelope id) and the same on every attempt for that dead
//! letter, so two replays racing, or a retry after a crash, are stored once within the window.
//! After the PubAck a marker on `dlq.replayed.<stream>.<consumer>.<dlq-seq>` records the replay
//! (published only if that subject is empty); a replay finding the marker publishes nothing.
//! The dead letter itself stays, for `show` and for the record of what went wrong.

use async_nats::HeaderMap;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage as Publish;
use async_nats::jetstream::{self, stream::Stream};
use herald_contracts::streams::headers;

use super::DlqError;
use super::letters::{self, Letter, Replay};

/// The headers the mover (or a service writing a letter) adds; the rest are the original's.
pub const DLQ_HEADERS: [&str; 7] = [
    headers::DLQ_REASON,
    headers::DLQ_STREAM,
    headers::DLQ_CONSUMER,
    headers::DLQ_SEQUENCE,
    headers::DLQ_SUBJECT,
    headers::DLQ_DELIVERIES,
    headers::DLQ_ORIGIN,
];

#[derive(Debug, Clone)]
pub enum Outcome {
    Replayed(Replay),
    /// An earlier attempt had published the copy (the stream reported a duplicate) but not
    /// recorded it; now it is recorded.
    Recorded(Replay),
    /// A marker says it was replayed already: nothing was published.
    Already(Replay),
}

/// Replays `letter` at most once (see the module's comment).
pub async fn replay(
    js: &jetstream::Context,
    dlq: &Stream,
    letter: &Letter,
) -> Result<Outcome, DlqError> {
    // Read from the stream leader right before publishing: a marker written by anyone is seen.
    if let Some(replay) = letters::replay_of(dlq, letter).await? {
        return Ok(Outcome::Already(replay));
    }
    let Some(subject) = letter.subject() else {
        return Err(DlqError::NothingToReplay);
    };
    let msg_id = format!("replay-{}-{}", letter.dlq_sequence, letter.original_id());
    let mut original = HeaderMap::new();
    for (name, values) in letter.headers.iter() {
        let name: &str = name.as_ref();
        // `Nats-*` were the DLQ stream's (the mover dropped the original's), `Herald-Dlq-*` the
        // letter's own.
        if name.starts_with("Nats-") || DLQ_HEADERS.contains(&name) {
            continue;
        }
        for value in values {
            original.append(name, value.as_str());
        }
    }
    let publish = Publish::build()
        .headers(original)
        .payload(letter.payload.clone().into())
        .message_id(&msg_id)
        // Refused rather than stored elsewhere if the subject no longer belongs to that stream.
        .expected_stream(&letter.stream);
    let ack = js
        .send_publish(subject.to_owned(), publish)
        .await
        .map_err(|error| DlqError::nats(format!("cannot publish to {subject}"), error))?
        .await
        .map_err(|error| {
            DlqError::nats(
                format!("{} did not store the copy on {subject}", letter.stream),
                error,
            )
        })?;
    let replay = Replay {
        // The marker's own stream time is the replay's time.
        time: String::new(),
        stream: ack.stream,
        sequence: ack.sequence,
        subject: subject.to_owned(),
        msg_id,
    };
    record(js, letter, &replay).await?;
    Ok(if ack.duplicate {
        Outcome::Recorded(replay)
    } else {
        Outcome::Replayed(replay)
    })
}

/// Publishes the marker, only if none exists (expected last subject sequence 0).
async fn record(js: &jetstream::Context, letter: &Letter, replay: &Replay) -> Result<(), DlqError> {
    let subject = letters::marker_subject(&letter.stream, &letter.consumer, letter.dlq_sequence);
    let payload = serde_json::to_vec(&letters::marker_payload(letter, replay))
        .map_err(|error| DlqError::Other(error.to_string()))?;
    let publish = Publish::build()
        .payload(payload.into())
        .message_id(letters::marker_msg_id(letter.dlq_sequence))
        .expected_last_subject_sequence(0);
    let recorded = match js.send_publish(subject.clone(), publish).await {
        Ok(ack) => ack.await,
        Err(error) => Err(error),
    };
    match recorded {
        Ok(_) => Ok(()),
        // Another replay of the same dead letter recorded it first: the same copy, recorded.
        Err(error) if matches!(error.kind(), PublishErrorKind::WrongLastSequence) => Ok(()),
        Err(error) => Err(DlqError::nats(
            format!(
                "put on {} as {} seq {} but not recorded on {subject}; replaying it again \
                 within the stream's duplicate window stores no second copy",
                replay.subject, replay.stream, replay.sequence
            ),
            error,
        )),
    }
}
