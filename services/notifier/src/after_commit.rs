//! Runs a transactional handler exactly as the kit's `consume_tx` does — the inbox row, the
//! handler's writes and its outbox rows commit together, a message already in the inbox has
//! no effect — and then wakes a worker once the transaction has committed.
//!
//! The kit wakes its own outbox relay after commit but has no hook for a service's workers;
//! waking from inside the handler would run before the commit, when the new rows are not yet
//! visible to the worker. (Candidate for the kit: an after-commit hook on `consume_tx`.)

use crate::mail::MailWaker;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use herald_contracts::{Envelope, Message};
use herald_kit::consumer::kit_inbox;
use herald_kit::db::Db;
use herald_kit::futures::future::BoxFuture;
use herald_kit::outbox::{self, OutboxWaker};
use herald_kit::{Delivery, Handler, HandlerError, TxHandler};

pub struct WakeAfterCommit<H> {
    pub handler: H,
    pub db: Db,
    pub outbox: OutboxWaker,
    pub waker: MailWaker,
}

impl<M, H> Handler<M> for WakeAfterCommit<H>
where
    M: Message,
    H: TxHandler<M>,
{
    fn handle<'a>(
        &'a self,
        message: Envelope<M>,
        delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let mut conn = self.db.conn().await?;
            let handler = &self.handler;
            let message = &message;
            let written = conn
                .transaction::<_, HandlerError, _>(async move |conn| {
                    let fresh = diesel::insert_into(kit_inbox::table)
                        .values((
                            kit_inbox::consumer.eq(&delivery.consumer),
                            kit_inbox::message_id.eq(&message.id),
                        ))
                        .on_conflict_do_nothing()
                        .execute(conn)
                        .await?;
                    if fresh == 0 {
                        return Ok(None);
                    }
                    let outgoing = handler.handle(conn, message, delivery).await?;
                    Ok(Some(outbox::enqueue(conn, &outgoing).await?))
                })
                .await?;
            match written {
                None => tracing::info!("already processed; acknowledged without effect"),
                Some(outbox_rows) => {
                    if outbox_rows > 0 {
                        self.outbox.wake();
                    }
                    self.waker.wake();
                }
            }
            Ok(())
        })
    }
}
