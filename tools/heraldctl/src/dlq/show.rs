//! `dlq list` and `dlq show`: what is in the DLQ, for people (a table) and scripts (`--json`).

use std::process::ExitCode;

use anyhow::{Result, anyhow};
use herald_kit::async_nats::jetstream::stream::Stream;
use herald_kit::dlq::DlqError;
use herald_kit::dlq::letters::{self, Letter, Replay};
use serde_json::Value;

use super::Filter;

/// The reason column is cut to this many characters; `show` prints it whole.
const REASON_WIDTH: usize = 60;

pub async fn list(dlq: &Stream, filter: &Filter, limit: usize, json: bool) -> Result<ExitCode> {
    let contents = letters::read(dlq, filter.stream.as_deref(), filter.consumer.as_deref()).await?;
    let total = contents.letters.len();
    let shown = &contents.letters[total.saturating_sub(limit)..];
    if json {
        let rows: Vec<Value> = shown
            .iter()
            .map(|letter| letter.to_json(contents.replays.get(&letter.dlq_sequence)))
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else if shown.is_empty() {
        println!("no dead letters");
    } else {
        let mut rows = vec![
            [
                "DLQ-SEQ", "TIME", "STREAM", "CONSUMER", "SUBJECT", "SEQ", "TYPE", "TENANT",
                "STATUS", "REASON",
            ]
            .map(str::to_owned),
        ];
        rows.extend(
            shown
                .iter()
                .map(|letter| row(letter, contents.replays.get(&letter.dlq_sequence))),
        );
        print_table(&rows);
    }
    if shown.len() < total {
        eprintln!(
            "showing the newest {} of {total} dead letters; use --limit to see more",
            shown.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn row(letter: &Letter, replay: Option<&Replay>) -> [String; 10] {
    let or_dash = |value: Option<&str>| value.unwrap_or("-").to_owned();
    let reason = letter.reason().replace(['\n', '\r', '\t'], " ");
    let reason = if reason.chars().count() > REASON_WIDTH {
        let cut: String = reason.chars().take(REASON_WIDTH - 1).collect();
        format!("{cut}…")
    } else {
        reason
    };
    [
        letter.dlq_sequence.to_string(),
        letter.time.clone(),
        letter.stream.clone(),
        letter.consumer.clone(),
        or_dash(letter.subject()),
        letter
            .sequence()
            .map_or_else(|| "-".to_owned(), |seq| seq.to_string()),
        or_dash(letter.message_type()),
        or_dash(letter.tenant()),
        match replay {
            Some(_) => "replayed".to_owned(),
            None => "dead".to_owned(),
        },
        reason,
    ]
}

fn print_table(rows: &[[String; 10]]) {
    let mut widths = [0usize; 10];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in rows {
        let mut line = String::new();
        for (index, (cell, width)) in row.iter().zip(widths).enumerate() {
            if index + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = width - cell.chars().count();
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        println!("{}", line.trim_end());
    }
}

/// The dead letter at `sequence`, with a hint when there is none.
pub async fn get(dlq: &Stream, sequence: u64) -> Result<Letter> {
    letters::get(dlq, sequence)
        .await
        .map_err(|error| match error {
            DlqError::NoMessage(_) => anyhow!("{error} (see `heraldctl dlq list`)"),
            error => error.into(),
        })
}

pub async fn show(dlq: &Stream, sequence: u64) -> Result<ExitCode> {
    let letter = get(dlq, sequence).await?;
    let replay = letters::replay_of(dlq, &letter).await?;
    println!("dlq-sequence: {}", letter.dlq_sequence);
    println!("dlq-subject:  {}", letter.dlq_subject);
    println!("time:         {}", letter.time);
    match letter.sequence() {
        Some(sequence) => println!(
            "origin:       {} (copied from {} seq {sequence})",
            letter.origin(),
            letter.stream
        ),
        None if letter.origin() != letters::MOVER_ORIGIN => println!(
            "origin:       written by {} (work it gave up on; replay sends the payload to {})",
            letter.origin(),
            letter.subject().unwrap_or("-")
        ),
        None => println!("origin:       {}", letter.origin()),
    }
    match &replay {
        Some(replay) => println!(
            "status:       replayed at {} to {} as {} seq {} (Nats-Msg-Id {})",
            replay.time, replay.subject, replay.stream, replay.sequence, replay.msg_id
        ),
        None => println!("status:       dead (not replayed)"),
    }
    println!();
    println!("headers:");
    let mut headers: Vec<(String, String)> = letter
        .headers
        .iter()
        .flat_map(|(name, values)| {
            let name: &str = name.as_ref();
            values
                .iter()
                .map(move |value| (name.to_owned(), value.as_str().to_owned()))
        })
        .collect();
    headers.sort();
    for (name, value) in headers {
        println!("  {name}: {value}");
    }
    println!();
    println!("payload:");
    if letter.payload.is_empty() {
        println!("  (empty: the original had left its stream before it was dead-lettered)");
    } else if let Ok(json) = serde_json::from_slice::<Value>(&letter.payload) {
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        match std::str::from_utf8(&letter.payload) {
            Ok(text) => println!("(not JSON)\n{text}"),
            Err(_) => println!("  ({} bytes, not text)", letter.payload.len()),
        }
    }
    Ok(ExitCode::SUCCESS)
}
