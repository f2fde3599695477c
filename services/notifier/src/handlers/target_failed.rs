//! `post.target.failed` → one notification (in-app and email) per failed target: the post did
//! not reach this account, or its outcome cannot be verified and a person must look.

use super::post_published::notify_tenant;
use crate::mail::MailWaker;
use diesel_async::AsyncPgConnection;
use herald_contracts::Envelope;
use herald_contracts::messages::PostTargetFailed;
use herald_kit::futures::future::BoxFuture;
use herald_kit::{Delivery, HandlerError, Outgoing, TxHandler};

pub const KIND: &str = "post.target.failed";
pub const KIND_ATTENTION: &str = "post.target.needs_attention";

pub struct NotifyTargetFailed {
    pub message_id_domain: String,
    pub mail: MailWaker,
}

fn texts(failed: &PostTargetFailed) -> (&'static str, &'static str, String) {
    if failed.needs_attention {
        (
            KIND_ATTENTION,
            "Post needs your attention",
            format!(
                "We could not confirm whether your post {} reached your {} account, so we did \
                 not try again (that could post it twice). Please check the account and publish \
                 it by hand if it is missing. Reason: {}",
                failed.post_id, failed.platform, failed.reason
            ),
        )
    } else {
        (
            KIND,
            "Post not published",
            format!(
                "Your post {} could not be published to your {} account after {} attempt{}: {}",
                failed.post_id,
                failed.platform,
                failed.attempts,
                if failed.attempts == 1 { "" } else { "s" },
                failed.reason
            ),
        )
    }
}

impl TxHandler<PostTargetFailed> for NotifyTargetFailed {
    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        message: &'a Envelope<PostTargetFailed>,
        _delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<Vec<Outgoing>, HandlerError>> {
        Box::pin(async move {
            let (kind, title, body) = texts(&message.data);
            let email = format!("{body}\n\n-- \nHerald\n");
            notify_tenant(
                conn,
                message.tenant_id,
                &message.id,
                kind,
                title,
                &body,
                &email,
                &self.message_id_domain,
            )
            .await?;
            Ok(Vec::new())
        })
    }

    fn after_commit(&self) {
        self.mail.wake();
    }
}
