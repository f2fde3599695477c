//! The run's image: one design rendered by the renderer before the chaos starts and attached
//! to every Instagram post (Instagram cannot post without one), every other Threads post
//! (both are given its public URL) and every third post elsewhere (uploaded by the adapter).
//! The report checks that each of those reached its platform with the image.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use herald_contracts::design::{Design, Element, TextElement};
use herald_contracts::messages::Platform;
use herald_contracts::rpc::Identity;
use herald_contracts::rpc::publisher::MediaAttachment;
use herald_contracts::rpc::renderer::{
    CreateRender, CreateRenderRequest, GetRender, GetRenderRequest, RenderStatus,
};
use herald_kit::async_nats;

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
    let design = Design {
        width: 640,
        height: 360,
        background: "#0f766e".into(),
        elements: vec![Element::Text(TextElement {
            text: format!("chaos run {run_id}"),
            x: 32.0,
            y: 32.0,
            width: Some(576.0),
            font: "DejaVu Sans".into(),
            size: 40.0,
            weight: 700,
            color: "#ffffff".into(),
            align: Default::default(),
            opacity: None,
            rotation: None,
        })],
    };
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
    // A one-off wait for a job before the run starts (the render's completion event would do
    // as well; this keeps the tool independent of the stream's consumers).
    let hash = loop {
        let view = herald_kit::rpc::call::<GetRender>(
            client,
            &call_id("get"),
            Some(caller.clone()),
            GetRenderRequest {
                render_id: render.id,
            },
            RPC_TIMEOUT,
        )
        .await
        .context("reading the run's card")?;
        match view.status {
            RenderStatus::Completed => {
                break view
                    .content_hash
                    .context("a completed render without a content hash")?;
            }
            RenderStatus::Failed => bail!("the run's card failed to render: {:?}", view.error),
            RenderStatus::Pending if started.elapsed() > RENDER_LIMIT => {
                bail!("the run's card did not render within {RENDER_LIMIT:?}")
            }
            RenderStatus::Pending => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
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

/// Whether post `index` on `platform` carries the card.
pub fn carries_card(platform: Platform, index: usize) -> bool {
    match platform {
        Platform::Instagram => true,
        Platform::Threads => index.is_multiple_of(2),
        _ => index.is_multiple_of(3),
    }
}
