//! `dlq replay`: puts a dead letter back on its original subject with its original headers and
//! payload, so every consumer of that subject validates it and dedups it by envelope id in its
//! inbox as usual; a consumer that had handled it already acknowledges it without effect.
//!
//! The copy gets `Nats-Msg-Id: replay-<dlq-seq>-<envelope id>`: new to the original stream (whose
//! duplicate window would swallow the envelope id) and the same on every attempt for that dead
//! letter, so two replays racing, or a retry after a crash, are stored once within the window.
//! After the PubAck a marker on `dlq.replayed.<stream>.<consumer>.<dlq-seq>` records the replay
//! (published only if that subject is empty); a replay finding the marker publishes nothing.
//! The dead letter itself stays, for `show` and for the record of what went wrong.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use herald_contracts::streams::headers;
use herald_kit::async_nats::HeaderMap;
use herald_kit::async_nats::jetstream::context::PublishErrorKind;
use herald_kit::async_nats::jetstream::message::PublishMessage as Publish;
use herald_kit::async_nats::jetstream::{self, stream::Stream};

use super::Filter;
use super::letters::{self, Letter, Replay};

/// The headers the mover adds; the rest are the original's.
const DLQ_HEADERS: [&str; 6] = [
    headers::DLQ_REASON,
    headers::DLQ_STREAM,
    headers::DLQ_CONSUMER,
    headers::DLQ_SEQUENCE,
    headers::DLQ_SUBJECT,
    headers::DLQ_DELIVERIES,
];

pub enum Targets {
    Sequences(Vec<u64>),
    /// Every dead letter matching the filter that has not been replayed.
    All(Filter),
}

enum Outcome {
    Replayed(Replay),
    /// An earlier attempt had published the copy (the stream reported a duplicate) but not
    /// recorded it; now it is recorded.
    Recorded(Replay),
    Already(Replay),
}

pub async fn run(js: &jetstream::Context, dlq: &Stream, targets: Targets) -> Result<ExitCode> {
    let mut attempted = 0usize;
    let mut failed = 0usize;
    match targets {
        Targets::Sequences(sequences) => {
            for sequence in sequences {
                attempted += 1;
                let outcome = match letters::get(dlq, sequence).await {
                    Ok(letter) => replay(js, dlq, &letter).await,
                    Err(error) => Err(error),
                };
                failed += usize::from(!report(sequence, outcome));
            }
        }
        Targets::All(filter) => {
            let contents = letters::read(dlq, &filter).await?;
            let pending: Vec<&Letter> = contents
                .letters
                .iter()
                .filter(|letter| !contents.replays.contains_key(&letter.dlq_sequence))
                .collect();
            if pending.is_empty() {
                println!("nothing to replay");
            }
            for letter in pending {
                if letter.subject().is_none() {
                    println!(
                        "skipped DLQ {}: the original had left its stream before it was \
                         dead-lettered, so there is nothing to replay",
                        letter.dlq_sequence
                    );
                    continue;
                }
                attempted += 1;
                let outcome = replay(js, dlq, letter).await;
                failed += usize::from(!report(letter.dlq_sequence, outcome));
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {attempted} dead letter(s) not replayed");
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the outcome; false if it failed.
fn report(sequence: u64, outcome: Result<Outcome>) -> bool {
    match outcome {
        Ok(Outcome::Replayed(replay)) => println!(
            "replayed DLQ {sequence} to {} as {} seq {} (Nats-Msg-Id {})",
            replay.subject, replay.stream, replay.sequence, replay.msg_id
        ),
        Ok(Outcome::Recorded(replay)) => println!(
            "replayed DLQ {sequence}: an earlier attempt had already put it on {} as {} seq {} \
             (Nats-Msg-Id {}); now recorded",
            replay.subject, replay.stream, replay.sequence, replay.msg_id
        ),
        Ok(Outcome::Already(replay)) => println!(
            "DLQ {sequence} was already replayed at {} to {} as {} seq {}; nothing published",
            replay.time, replay.subject, replay.stream, replay.sequence
        ),
        Err(error) => {
            eprintln!("heraldctl: DLQ {sequence}: {error:#}");
            return false;
        }
    }
    true
}

async fn replay(js: &jetstream::Context, dlq: &Stream, letter: &Letter) -> Result<Outcome> {
    // Read from the stream leader right before publishing: a marker written by anyone is seen.
    if let Some(replay) = letters::replay_of(dlq, letter).await? {
        return Ok(Outcome::Already(replay));
    }
    let Some(subject) = letter.subject() else {
        bail!(
            "the original had left its stream before it was dead-lettered, so there is nothing \
             to replay"
        );
    };
    let msg_id = format!("replay-{}-{}", letter.dlq_sequence, letter.original_id());
    let mut original = HeaderMap::new();
    for (name, values) in letter.headers.iter() {
        let name: &str = name.as_ref();
        // `Nats-*` were the stream's (the mover dropped the original's), `Herald-Dlq-*` the mover's.
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
        .with_context(|| format!("cannot publish to {subject}"))?
        .await
        .with_context(|| format!("{} did not store the copy on {subject}", letter.stream))?;
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
async fn record(js: &jetstream::Context, letter: &Letter, replay: &Replay) -> Result<()> {
    let subject = letters::marker_subject(&letter.stream, &letter.consumer, letter.dlq_sequence);
    let payload = serde_json::to_vec(&letters::marker_payload(letter, replay))?;
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
        Err(error) => Err(error).with_context(|| {
            format!(
                "put on {} as {} seq {} but not recorded on {subject}; replaying it again \
                 within the stream's duplicate window stores no second copy",
                replay.subject, replay.stream, replay.sequence
            )
        }),
    }
}
