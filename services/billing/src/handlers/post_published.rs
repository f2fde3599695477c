//! `post.target.published` → one usage row of one `published_targets`. Metered per target
//! as each one reaches its platform, so a post cancelled or failed after some of its targets
//! were published is still billed for those.

use crate::repo;
use diesel_async::AsyncPgConnection;
use herald_contracts::Envelope;
use herald_contracts::messages::PostTargetPublished;
use herald_kit::futures::future::BoxFuture;
use herald_kit::{Delivery, HandlerError, Outgoing, TxHandler};

pub const PUBLISHED_TARGETS: &str = "published_targets";

pub struct MeterPublished;

impl TxHandler<PostTargetPublished> for MeterPublished {
    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        message: &'a Envelope<PostTargetPublished>,
        _delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<Vec<Outgoing>, HandlerError>> {
        Box::pin(async move {
            let quantity = 1;
            repo::record_usage(
                conn,
                message.tenant_id,
                PUBLISHED_TARGETS,
                quantity,
                &message.id,
                message.occurred_at,
            )
            .await?;
            tracing::info!(post.id = %message.data.post_id, account.id = %message.data.target.account_id, "usage recorded");
            Ok(Vec::new())
        })
    }
}
