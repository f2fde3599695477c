//! Group commit: concurrent units of database work share one transaction, so N messages
//! handled at once cost one commit (one WAL flush) instead of N.
//!
//! Callers [`GroupCommit::submit`] a unit and wait for its result. A worker takes every unit
//! queued at that moment (up to `max_group`), runs each inside its own savepoint of one
//! transaction, commits, and answers each caller. Under light load a group is one unit and
//! nothing waits; under heavy load the units that queue while a transaction commits form the
//! next group, so the group size follows the load with no timer.
//!
//! A unit's error rolls back that unit only (its savepoint); the others commit. If the group's
//! transaction cannot begin or commit, every unit of the group gets [`Work::group_failed`]
//! and nothing of it was written, so each caller can retry as it would after its own failed
//! transaction.

use crate::db::Db;
use crate::trace::TraceContext;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use futures::future::BoxFuture;
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc, oneshot};
use tracing::Instrument;

/// One kind of unit of work.
pub trait Work: Send + Sync + 'static {
    type Item: Send + Sync + 'static;
    type Output: Send + 'static;
    type Error: Send + 'static + From<diesel::result::Error>;

    /// Runs one unit inside its savepoint of the group's transaction.
    fn run<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        item: &'a Self::Item,
    ) -> BoxFuture<'a, Result<Self::Output, Self::Error>>;

    /// The error each unit gets when its group's transaction did not commit.
    fn group_failed(&self, reason: String) -> Self::Error;
}

type Reply<W> = oneshot::Sender<Result<<W as Work>::Output, <W as Work>::Error>>;

/// A queued unit with its caller's trace context and span, so what it writes (outbox rows
/// carry the trace) and logs belongs to the caller's trace, not the worker's.
struct Unit<W: Work> {
    item: W::Item,
    reply: Reply<W>,
    trace: TraceContext,
    span: tracing::Span,
}

type Queue<W> = mpsc::UnboundedReceiver<Unit<W>>;

pub struct GroupCommit<W: Work> {
    work: Arc<W>,
    queue: mpsc::UnboundedSender<Unit<W>>,
}

impl<W: Work> GroupCommit<W> {
    /// Starts `workers` workers (transactions in flight at once). They stop when this is
    /// dropped and the queue is empty.
    pub fn start(db: Db, work: W, max_group: usize, workers: usize) -> Self {
        let work = Arc::new(work);
        let (queue, receiver) = mpsc::unbounded_channel();
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..workers.max(1) {
            tokio::spawn(worker(
                db.clone(),
                work.clone(),
                receiver.clone(),
                max_group.max(1),
            ));
        }
        Self { work, queue }
    }

    /// Runs `item` in the next group; its result once the group has committed.
    pub async fn submit(&self, item: W::Item) -> Result<W::Output, W::Error> {
        let (reply, answer) = oneshot::channel();
        let unit = Unit {
            item,
            reply,
            trace: TraceContext::current(),
            span: tracing::Span::current(),
        };
        if self.queue.send(unit).is_err() {
            return Err(self.work.group_failed("group commit has stopped".into()));
        }
        answer.await.unwrap_or_else(|_| {
            Err(self
                .work
                .group_failed("the group's worker stopped before answering".into()))
        })
    }
}

async fn worker<W: Work>(db: Db, work: Arc<W>, queue: Arc<Mutex<Queue<W>>>, max_group: usize) {
    loop {
        let mut group = Vec::new();
        {
            let mut queue = queue.lock().await;
            match queue.recv().await {
                Some(first) => group.push(first),
                None => return,
            }
            while group.len() < max_group {
                match queue.try_recv() {
                    Ok(next) => group.push(next),
                    Err(_) => break,
                }
            }
        }
        metrics::histogram!("herald_group_commit_size").record(group.len() as f64);
        run_group(&db, work.as_ref(), group).await;
    }
}

async fn run_group<W: Work>(db: &Db, work: &W, group: Vec<Unit<W>>) {
    let mut items = Vec::with_capacity(group.len());
    let mut replies = Vec::with_capacity(group.len());
    for unit in group {
        items.push((unit.item, unit.trace, unit.span));
        replies.push(unit.reply);
    }
    let mut conn = match db.conn().await {
        Ok(conn) => conn,
        Err(error) => {
            for reply in replies {
                let _ = reply.send(Err(work.group_failed(error.to_string())));
            }
            return;
        }
    };
    let committed = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let mut outputs = Vec::with_capacity(items.len());
            for (item, trace, span) in &items {
                // A nested transaction is a savepoint: a failed unit is rolled back alone.
                let unit = conn.transaction::<_, W::Error, _>(async |conn| {
                    trace
                        .clone()
                        .scope(work.run(conn, item).instrument(span.clone()))
                        .await
                });
                outputs.push(unit.await);
            }
            Ok(outputs)
        })
        .await;
    match committed {
        Ok(outputs) => {
            for (reply, output) in replies.into_iter().zip(outputs) {
                let _ = reply.send(output);
            }
        }
        Err(error) => {
            tracing::warn!(error = %error, units = replies.len(), "group transaction failed; every unit will be retried");
            for reply in replies {
                let _ = reply.send(Err(work.group_failed(error.to_string())));
            }
        }
    }
}
