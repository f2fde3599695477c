//! `post.published` → track every target, and ask for collection round 1. The request goes
//! through the outbox, so the fetch happens after this transaction commits.

use crate::repo::tracked;
use diesel_async::AsyncPgConnection;
use herald_contracts::Envelope;
use herald_contracts::messages::{CollectMetrics, PostPublished};
use herald_kit::futures::future::BoxFuture;
use herald_kit::{Delivery, HandlerError, Outgoing, TxHandler};

pub struct TrackPublished;

impl TxHandler<PostPublished> for TrackPublished {
    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        message: &'a Envelope<PostPublished>,
        _delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<Vec<Outgoing>, HandlerError>> {
        Box::pin(async move {
            let post = &message.data;
            if post.targets.is_empty() {
                tracing::info!(post.id = %post.post_id, "published post without targets; nothing to track");
                return Ok(Vec::new());
            }
            let tracked =
                tracked::track(conn, message.tenant_id, post.post_id, &post.targets).await?;
            tracing::info!(post.id = %post.post_id, tracked, "post tracked");
            let collect = message.caused(CollectMetrics {
                post_id: post.post_id,
                round: 1,
            });
            Ok(vec![Outgoing::message(&collect)])
        })
    }
}
