//! `post.published` → one in-app notification and one queued email per recipient of the
//! tenant, in the handler's transaction. The emails are sent by the delivery worker
//! (`crate::mail`) after commit.

use crate::mail::{MailWaker, mbox};
use crate::repo::deliveries::{self, NewDelivery};
use crate::repo::notifications::{self, NewNotification};
use crate::repo::recipients;
use diesel_async::AsyncPgConnection;
use herald_contracts::Envelope;
use herald_contracts::messages::PostPublished;
use herald_kit::futures::future::BoxFuture;
use herald_kit::{Delivery, HandlerError, Outgoing, TxHandler};

pub const KIND: &str = "post.published";
const TITLE: &str = "Post published";

pub struct NotifyPublished {
    /// The domain of Message-IDs (the sender address's domain).
    pub message_id_domain: String,
    /// Wakes the delivery worker once the queued emails are committed.
    pub mail: MailWaker,
}

fn summary(post: &PostPublished) -> String {
    let accounts = post.targets.len();
    format!(
        "Your post {} was published to {accounts} account{}.",
        post.post_id,
        if accounts == 1 { "" } else { "s" }
    )
}

fn email_body(post: &PostPublished) -> String {
    let mut body = summary(post);
    body.push_str("\n\n");
    for target in &post.targets {
        let place = target.remote_url.as_deref().unwrap_or(&target.remote_id);
        body.push_str(&format!("- {}: {place}\n", target.platform.as_str()));
    }
    body.push_str("\n-- \nHerald\n");
    body
}

impl TxHandler<PostPublished> for NotifyPublished {
    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        message: &'a Envelope<PostPublished>,
        _delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<Vec<Outgoing>, HandlerError>> {
        Box::pin(async move {
            let post = &message.data;
            let body = summary(post);
            let email_body = email_body(post);
            notify_tenant(
                conn,
                message.tenant_id,
                &message.id,
                KIND,
                TITLE,
                &body,
                &email_body,
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

/// One in-app notification and one queued email per recipient of the tenant, keyed by the
/// source message so a redelivery adds nothing. Returns whether it was new.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn notify_tenant(
    conn: &mut AsyncPgConnection,
    tenant: herald_contracts::TenantId,
    source_message_id: &str,
    kind: &str,
    title: &str,
    body: &str,
    email_body: &str,
    message_id_domain: &str,
) -> Result<bool, HandlerError> {
    let new = NewNotification {
        kind,
        title,
        body,
        source_message_id,
    };
    let Some(notification_id) = notifications::insert(conn, tenant, &new).await? else {
        tracing::info!(source = source_message_id, "notification exists already");
        return Ok(false);
    };
    let queued: Vec<NewDelivery> = recipients::of_tenant(conn, tenant)
        .await?
        .into_iter()
        .map(|recipient| NewDelivery {
            message_id: mbox::message_id_for(
                source_message_id,
                recipient.user_id,
                message_id_domain,
            ),
            to_address: recipient.email,
            subject: title.to_owned(),
            body: email_body.to_owned(),
        })
        .collect();
    let emails = deliveries::insert(conn, tenant, notification_id, &queued).await?;
    tracing::info!(kind, notification.id = %notification_id, emails, "notification created");
    Ok(true)
}
