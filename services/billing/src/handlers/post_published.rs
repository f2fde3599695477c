//! `post.published` → one usage row (`published_targets` = number of targets reached).

use crate::repo;
use diesel_async::AsyncPgConnection;
use herald_contracts::Envelope;
use herald_contracts::messages::PostPublished;
use herald_kit::futures::future::BoxFuture;
use herald_kit::{Delivery, HandlerError, Outgoing, TxHandler};

pub const PUBLISHED_TARGETS: &str = "published_targets";

pub struct MeterPublished;

impl TxHandler<PostPublished> for MeterPublished {
    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        message: &'a Envelope<PostPublished>,
        _delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<Vec<Outgoing>, HandlerError>> {
        Box::pin(async move {
            let quantity = i64::try_from(message.data.targets.len())
                .map_err(|_| HandlerError::terminal("too many targets"))?;
            repo::record_usage(
                conn,
                message.tenant_id,
                PUBLISHED_TARGETS,
                quantity,
                &message.id,
                message.occurred_at,
            )
            .await?;
            tracing::info!(post.id = %message.data.post_id, quantity, "usage recorded");
            Ok(Vec::new())
        })
    }
}
