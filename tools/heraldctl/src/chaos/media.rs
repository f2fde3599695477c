//! The run's image: one design rendered by the renderer before the chaos starts and attached
//! to every Instagram post (Instagram cannot post without one), every other Threads post
//! (both are given its public URL) and every third post elsewhere (uploaded by the adapter).
//! The report checks that each of those reached its platform with the image.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use herald_contracts::messages::Platform;
use herald_contracts::messages::{RenderCompleted, RenderFailed};
use herald_contracts::rpc::Identity;
use herald_contracts::rpc::publisher::MediaAttachment;
use herald_contracts::rpc::renderer::{CreateRender, CreateRenderRequest};
use herald_contracts::streams::RENDERS;
use herald_contracts::{Envelope, RenderId, TenantId};
use herald_kit::async_nats;
use herald_kit::async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
use herald_kit::futures::StreamExt;

use crate::up::log::say;

const RPC_TIMEOUT: Duration = Duration::from_secs(15);
const RENDER_LIMIT: Duration = Duration::from_secs(60);

/// The run's rendered card.
pub struct Card {
    pub attachment: MediaAttachment,
    /// SHA-256 of the PNG, hex: what an upload's bytes hash to and what the public URL names.
    pub content_hash: String,
}

/// Renders the run's card.
pub async fn render_card(
    client: &async_nats::Client,
    caller: &Identity,
    run_id: &str,
) -> Result<Card> {
    let design = herald_testkit::text_card(&format!("chaos run {run_id}"), 640, 360, "#0f766e");
    let call_id = |step: &str| format!("chaos-{run_id}-render-{step}");
    let render = herald_kit::rpc::call::<CreateRender>(
        client,
        &call_id("create"),
        Some(caller.clone()),
        CreateRenderRequest { design },
        RPC_TIMEOUT,
    )
    .await
    .context("asking the renderer for the run's card")?;
    let started = Instant::now();
    let hash = outcome(client, caller.tenant_id, render.id).await?;
    say(format!(
        "card rendered in {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    Ok(Card {
        attachment: MediaAttachment {
            render_id: render.id,
            alt_text: Some(format!("Chaos run {run_id}")),
        },
        content_hash: hash,
    })
}

/// Waits for the render's `render.completed` or `render.failed` event on the RENDERS stream
/// (an ordered consumer from the stream's start, so an event published before it existed
/// counts): the content hash, or why it failed.
async fn outcome(
    client: &async_nats::Client,
    tenant: TenantId,
    render: RenderId,
) -> Result<String> {
    let js = async_nats::jetstream::new(client.clone());
    let config = OrderedConfig {
        filter_subjects: vec![
            format!("renders.completed.{tenant}.{render}"),
            format!("renders.failed.{tenant}.{render}"),
        ],
        deliver_policy: DeliverPolicy::All,
        ..Default::default()
    };
    let consumer = js
        .create_consumer_on_stream(config, RENDERS)
        .await
        .context("following the run's card on the RENDERS stream")?;
    let mut messages = consumer
        .messages()
        .await
        .context("following the run's card on the RENDERS stream")?;
    let message = tokio::time::timeout(RENDER_LIMIT, messages.next())
        .await
        .map_err(|_| anyhow::anyhow!("the run's card did not render within {RENDER_LIMIT:?}"))?
        .context("the RENDERS stream ended")?
        .context("reading the run's card's outcome")?;
    if message.subject.starts_with("renders.failed.") {
        let failed: Envelope<RenderFailed> = serde_json::from_slice(&message.payload)?;
        bail!("the run's card failed to render: {}", failed.data.reason);
    }
    let completed: Envelope<RenderCompleted> = serde_json::from_slice(&message.payload)?;
    Ok(completed.data.content_hash)
}

/// Whether post `index` on `platform` carries the card.
pub fn carries_card(platform: Platform, index: usize) -> bool {
    match platform {
        Platform::Instagram => true,
        Platform::Threads => index.is_multiple_of(2),
        _ => index.is_multiple_of(3),
    }
}
