//! Putting messages on streams and reading them back in tests, the way the services do.

use herald_contracts::{Envelope, Message};
use herald_kit::async_nats::jetstream::{self, consumer::pull, publish::PublishAck};
use herald_kit::async_nats::{self, HeaderMap};
use herald_kit::futures::StreamExt;
use std::time::Duration;

/// Publishes `envelope` as a relay would, with `Nats-Msg-Id` = `msg_id` (pass the envelope id,
/// or another id to act as a re-publish the stream cannot recognise).
pub async fn publish_envelope<M: Message>(
    client: &async_nats::Client,
    envelope: &Envelope<M>,
    msg_id: &str,
) -> anyhow::Result<PublishAck> {
    let js = jetstream::new(client.clone());
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", msg_id);
    headers.insert("Herald-Tenant", envelope.tenant_id.to_string().as_str());
    headers.insert(
        "Herald-Type",
        format!("{}.v{}", M::TYPE, M::VERSION).as_str(),
    );
    let payload = serde_json::to_vec(envelope)?;
    Ok(js
        .publish_with_headers(envelope.subject(), headers, payload.into())
        .await?
        .await?)
}

/// Every message on `filter` in `stream`, read with an ephemeral consumer.
pub async fn read_stream(
    client: &async_nats::Client,
    stream: &str,
    filter: &str,
) -> anyhow::Result<Vec<jetstream::Message>> {
    let js = jetstream::new(client.clone());
    let consumer = js
        .get_stream(stream)
        .await?
        .create_consumer(pull::Config {
            filter_subject: filter.to_owned(),
            ack_policy: jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await?;
    let pending = consumer.cached_info().num_pending as usize;
    let mut messages = Vec::with_capacity(pending);
    if pending == 0 {
        return Ok(messages);
    }
    let mut batch = consumer
        .fetch()
        .max_messages(pending)
        .expires(Duration::from_secs(2))
        .messages()
        .await?;
    while let Some(message) = batch.next().await {
        messages.push(message.map_err(|e| anyhow::anyhow!(e))?);
    }
    Ok(messages)
}

/// Whether durable consumer `durable` has acknowledged everything up to `sequence`.
pub async fn consumer_caught_up(
    client: &async_nats::Client,
    stream: &str,
    durable: &str,
    sequence: u64,
) -> bool {
    let js = jetstream::new(client.clone());
    let Ok(stream) = js.get_stream(stream).await else {
        return false;
    };
    match stream.consumer_info(durable).await {
        Ok(info) => info.ack_floor.stream_sequence >= sequence && info.num_ack_pending == 0,
        Err(_) => false,
    }
}
