//! `render.requested`: render once, store content-addressed, then complete the job and emit
//! `render.completed` in one transaction. Idempotent: the image key is the design's hash (an
//! existing object is reused, not rendered again) and the job's transition happens once.

use crate::State;
use crate::render::{self, RenderError};
use crate::repo;
use diesel_async::AsyncConnection;
use herald_contracts::Envelope;
use herald_contracts::messages::{RenderCompleted, RenderFailed, RenderRequested};
use herald_kit::futures::future::BoxFuture;
use herald_kit::{Delivery, Handler, HandlerError, Outgoing, outbox};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};
use std::sync::Arc;

pub struct RenderDesign(pub Arc<State>);

impl Handler<RenderRequested> for RenderDesign {
    fn handle<'a>(
        &'a self,
        message: Envelope<RenderRequested>,
        _delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(render_requested(self.0.clone(), message))
    }
}

pub fn object_key(design_hash: &str) -> Path {
    Path::from(format!("renders/{design_hash}.png"))
}

enum Produced {
    Image {
        key: Path,
        content_hash: String,
        bytes: i64,
    },
    Refused(String),
}

async fn render_requested(
    state: Arc<State>,
    message: Envelope<RenderRequested>,
) -> Result<(), HandlerError> {
    let tenant = message.tenant_id;
    let render_id = message.data.render_id;
    let mut conn = state.db.tenant(tenant).await?;
    let Some(job) = repo::find(&mut conn, tenant, render_id).await? else {
        tracing::warn!(render.id = %render_id, "render job does not exist");
        return Ok(());
    };
    if job.status != "pending" {
        return Ok(());
    }
    drop(conn);
    let produced = produce(&state, &message.data, &job.design_hash).await?;
    let mut conn = state.db.tenant(tenant).await?;
    let wrote = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| match &produced {
            Produced::Image {
                key,
                content_hash,
                bytes,
            } => {
                if !repo::complete(conn, tenant, render_id, key.as_ref(), content_hash, *bytes)
                    .await?
                {
                    return Ok(false);
                }
                let event = message.caused(RenderCompleted {
                    render_id,
                    object_key: key.to_string(),
                    content_hash: content_hash.clone(),
                    width: message.data.design.width,
                    height: message.data.design.height,
                    bytes: (*bytes).max(0) as u64,
                });
                outbox::enqueue(conn, &[Outgoing::message(&event)]).await?;
                Ok(true)
            }
            Produced::Refused(reason) => {
                if !repo::fail(conn, tenant, render_id, reason).await? {
                    return Ok(false);
                }
                let event = message.caused(RenderFailed {
                    render_id,
                    reason: reason.clone(),
                });
                outbox::enqueue(conn, &[Outgoing::message(&event)]).await?;
                Ok(true)
            }
        })
        .await?;
    if wrote {
        state.outbox.wake();
    }
    Ok(())
}

/// The image for `design_hash`: reused when already stored, else rendered on the bounded pool.
async fn produce(
    state: &State,
    request: &RenderRequested,
    design_hash: &str,
) -> Result<Produced, HandlerError> {
    let key = object_key(design_hash);
    match state.store.get(&key).await {
        Ok(found) => {
            let bytes = found.bytes().await.map_err(HandlerError::retry)?;
            metrics::counter!("herald_renders_total", "outcome" => "reused").increment(1);
            return Ok(Produced::Image {
                content_hash: hex::encode(Sha256::digest(&bytes)),
                bytes: bytes.len() as i64,
                key,
            });
        }
        Err(object_store::Error::NotFound { .. }) => {}
        Err(error) => return Err(HandlerError::retry(format!("object store: {error}"))),
    }
    let permit = state
        .workers
        .clone()
        .acquire_owned()
        .await
        .map_err(HandlerError::retry)?;
    let design = request.design.clone();
    let started = std::time::Instant::now();
    let rendered = tokio::task::spawn_blocking(move || {
        let result = render::render_png(&design);
        drop(permit);
        result
    })
    .await
    .map_err(HandlerError::retry)?;
    metrics::histogram!("herald_render_seconds").record(started.elapsed().as_secs_f64());
    let rendered = match rendered {
        Ok(rendered) => rendered,
        Err(error @ RenderError::Design(_)) => {
            metrics::counter!("herald_renders_total", "outcome" => "refused").increment(1);
            return Ok(Produced::Refused(error.to_string()));
        }
        Err(error) => return Err(HandlerError::terminal(format!("render failed: {error}"))),
    };
    let bytes = rendered.png.len() as i64;
    // LocalFileSystem writes through a temporary file and renames: readers never see half a file.
    state
        .store
        .put(&key, PutPayload::from(rendered.png))
        .await
        .map_err(|error| HandlerError::retry(format!("object store: {error}")))?;
    metrics::counter!("herald_renders_total", "outcome" => "rendered").increment(1);
    Ok(Produced::Image {
        key,
        content_hash: rendered.content_hash,
        bytes,
    })
}
