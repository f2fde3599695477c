//! `dlq replay`: puts dead letters back on their original subjects (`herald_kit::dlq::replay`,
//! the path the services' tests take too) and says what happened to each. Every consumer of that
//! subject validates the copy and dedups it by envelope id in its inbox as usual; a consumer that
//! had handled it already acknowledges it without effect.
//!
//! The copy gets `Nats-Msg-Id: replay-<dlq-seq>-<envelope id>`: new to the original stream (whose
//! duplicate window would swallow the envelope id) and the same on every attempt for that dead
//! letter, so two replays racing, or a retry after a crash, are stored once within the window.
//! After the PubAck a marker on `dlq.replayed.<stream>.<consumer>.<dlq-seq>` records the replay
//! (published only if that subject is empty); a replay finding the marker publishes nothing.
//! The dead letter itself stays, for `show` and for the record of what went wrong.

use std::process::ExitCode;

use anyhow::{Result, bail};
use herald_kit::async_nats::jetstream::{self, stream::Stream};
use herald_kit::dlq::letters::{self, Letter};
use herald_kit::dlq::replay::{Outcome, replay};

use super::Filter;

pub enum Targets {
    Sequences(Vec<u64>),
    /// Every dead letter matching the filter that has not been replayed.
    All(Filter),
}

pub async fn run(js: &jetstream::Context, dlq: &Stream, targets: Targets) -> Result<ExitCode> {
    let mut attempted = 0usize;
    let mut failed = 0usize;
    match targets {
        Targets::Sequences(sequences) => {
            for sequence in sequences {
                attempted += 1;
                let outcome = match super::show::get(dlq, sequence).await {
                    Ok(letter) => replay(js, dlq, &letter).await.map_err(Into::into),
                    Err(error) => Err(error),
                };
                failed += usize::from(!report(sequence, outcome));
            }
        }
        Targets::All(filter) => {
            let contents =
                letters::read(dlq, filter.stream.as_deref(), filter.consumer.as_deref()).await?;
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
                let outcome = replay(js, dlq, letter).await.map_err(Into::into);
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
