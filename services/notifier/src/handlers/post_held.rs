//! `post.held` → one notification (in-app and email): the post came due later than its
//! lateness policy allows, so nothing was published and a person decides.

use super::post_published::notify_tenant;
use crate::mail::MailWaker;
use diesel_async::AsyncPgConnection;
use herald_contracts::Envelope;
use herald_contracts::messages::PostHeld;
use herald_kit::futures::future::BoxFuture;
use herald_kit::{Delivery, HandlerError, Outgoing, TxHandler};

pub const KIND: &str = "post.held";

pub struct NotifyHeld {
    pub message_id_domain: String,
    pub mail: MailWaker,
}

fn body(held: &PostHeld) -> String {
    let minutes = |secs: i64| (secs + 59) / 60;
    format!(
        "Your post {} was due at {} but could only go out {} minute{} late, more than the {} \
         minute{} you allowed, so we held it. Reschedule it (to now, to publish it anyway) or \
         cancel it.",
        held.post_id,
        held.scheduled_at.format("%Y-%m-%d %H:%M UTC"),
        minutes(held.late_by_secs),
        if minutes(held.late_by_secs) == 1 {
            ""
        } else {
            "s"
        },
        minutes(i64::from(held.max_late_secs)),
        if minutes(i64::from(held.max_late_secs)) == 1 {
            ""
        } else {
            "s"
        },
    )
}

impl TxHandler<PostHeld> for NotifyHeld {
    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        message: &'a Envelope<PostHeld>,
        _delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<Vec<Outgoing>, HandlerError>> {
        Box::pin(async move {
            let body = body(&message.data);
            let email = format!("{body}\n\n-- \nHerald\n");
            notify_tenant(
                conn,
                message.tenant_id,
                &message.id,
                KIND,
                "Post held: it would have gone out late",
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
