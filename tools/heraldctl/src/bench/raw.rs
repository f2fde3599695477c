//! The baseline: what this machine's JetStream does with no Herald code in the way. Messages
//! the size of a Herald envelope, each with a `Nats-Msg-Id` (as the outbox relay sends them),
//! published with many PubAcks in flight into a file-backed stream with a duplicate window,
//! then consumed by a durable pull consumer with explicit acks, in batches.

use anyhow::{Context, Result};
use futures::StreamExt;
use herald_kit::async_nats::jetstream::{self, consumer::pull, stream};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

const STREAM: &str = "BENCH_RAW";
const IN_FLIGHT: usize = 512;
const BATCH: usize = 500;
const PAYLOAD: usize = 600;

pub struct Raw {
    pub messages: usize,
    pub publish: Duration,
    pub consume: Duration,
}

impl Raw {
    /// Messages through publish and consume, per second of both phases.
    pub fn msgs_per_s(&self) -> f64 {
        self.messages as f64 / (self.publish + self.consume).as_secs_f64().max(1e-9)
    }
}

pub async fn baseline(nats_url: &str, messages: usize) -> Result<Raw> {
    let client = herald_kit::async_nats::connect(nats_url).await?;
    let js = jetstream::new(client);
    let stream = js
        .create_stream(stream::Config {
            name: STREAM.into(),
            subjects: vec!["bench.raw.>".into()],
            storage: stream::StorageType::File,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .context("creating the baseline stream")?;
    let payload = bytes::Bytes::from(vec![b'x'; PAYLOAD]);

    let started = Instant::now();
    let mut acks = VecDeque::with_capacity(IN_FLIGHT);
    for i in 0..messages {
        let mut headers = herald_kit::async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("raw-{i}").as_str());
        let ack = js
            .publish_with_headers(format!("bench.raw.{}", i % 64), headers, payload.clone())
            .await?;
        acks.push_back(ack);
        if acks.len() >= IN_FLIGHT
            && let Some(ack) = acks.pop_front()
        {
            ack.await?;
        }
    }
    for ack in acks {
        ack.await?;
    }
    let publish = started.elapsed();

    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("bench-raw".into()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await?;
    let started = Instant::now();
    let mut seen = 0;
    while seen < messages {
        let mut batch = consumer
            .fetch()
            .max_messages(BATCH)
            .expires(Duration::from_secs(2))
            .messages()
            .await?;
        while let Some(message) = batch.next().await {
            let message = message.map_err(|e| anyhow::anyhow!("{e}"))?;
            message.ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            seen += 1;
        }
    }
    let consume = started.elapsed();
    js.delete_stream(STREAM).await.ok();
    Ok(Raw {
        messages,
        publish,
        consume,
    })
}
