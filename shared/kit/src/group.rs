//! Group commit: concurrent units of database work share one transaction, so N messages
//! handled at once cost one commit (one WAL flush) instead of N.
//!
//! Callers [`GroupCommit::submit`] a unit and wait for its result. A worker takes every unit
//! queued at that moment (up to `max_group`), runs them one after the other in one
//! transaction, commits, and answers each caller. Under light load a group is one unit and
//! nothing waits; under heavy load the units that queue while a transaction commits form the
//! next group, so the group size follows the load with no timer.
//!
//! If any unit fails (or the commit does), the group is rolled back and each of its units runs
//! again in a transaction of its own, so a bad unit fails alone and costs the others one more
//! try (units are database work only, so running one again is safe). A unit that cannot run
//! gets its own error, or [`Work::group_failed`] when the database failed it.
//!
//! The units of a group may belong to different tenants: each runs acting for its own
//! ([`Work::tenant`]), set for the rest of the shared transaction just before it runs (one
//! statement per unit), so row-level security holds for every unit as it would alone.

use crate::db::Db;
use crate::trace::TraceContext;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures::future::BoxFuture;
use herald_contracts::TenantId;
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc, oneshot};
use tracing::Instrument;

/// How units are grouped (`HERALD_GROUP_MAX`, `HERALD_GROUP_WORKERS`).
#[derive(Debug, Clone, Copy)]
pub struct GroupConfig {
    /// Units per transaction at most.
    pub max: usize,
    /// Transactions in flight at once: while one commits, the next forms.
    pub workers: usize,
}

/// One kind of unit of work.
pub trait Work: Send + Sync + 'static {
    type Item: Send + Sync + 'static;
    type Output: Send + 'static;
    type Error: Send + 'static + From<diesel::result::Error>;

    /// The tenant the unit acts for (its message envelope's): tenant-owned tables show and
    /// accept only that tenant's rows while it runs.
    fn tenant(&self, item: &Self::Item) -> TenantId;

    /// Runs one unit inside the group's transaction (database work only: it may run twice).
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
    pub fn start(db: Db, work: W, config: GroupConfig) -> Self {
        let (max_group, workers) = (config.max, config.workers);
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
    // All together first; if anything fails, each unit again on its own, so one bad unit
    // costs its group a second try and never fails the others.
    match together(&mut conn, work, &items).await {
        Ok(outputs) => {
            for (reply, output) in replies.into_iter().zip(outputs) {
                let _ = reply.send(Ok(output));
            }
        }
        Err(error) if items.len() == 1 => {
            let _ = replies
                .into_iter()
                .next()
                .map(|reply| reply.send(Err(error.into_unit_error(work))));
        }
        Err(_) => {
            metrics::counter!("herald_group_commit_split_total").increment(1);
            for (item, reply) in items.iter().zip(replies) {
                let result = together(&mut conn, work, std::slice::from_ref(item))
                    .await
                    .map_err(|error| error.into_unit_error(work))
                    .and_then(|mut outputs| {
                        outputs
                            .pop()
                            .ok_or_else(|| work.group_failed("no output".into()))
                    });
                let _ = reply.send(result);
            }
        }
    }
}

enum Failed<E> {
    Unit(E),
    Db(diesel::result::Error),
}

impl<E> From<diesel::result::Error> for Failed<E> {
    fn from(error: diesel::result::Error) -> Self {
        Failed::Db(error)
    }
}

impl<E> Failed<E> {
    fn into_unit_error<W: Work<Error = E>>(self, work: &W) -> E {
        match self {
            Failed::Unit(error) => error,
            Failed::Db(error) => work.group_failed(error.to_string()),
        }
    }
}

type Item<W> = (<W as Work>::Item, TraceContext, tracing::Span);

/// Runs `items` in one transaction; the first failing unit rolls back all of them.
async fn together<W: Work>(
    conn: &mut AsyncPgConnection,
    work: &W,
    items: &[Item<W>],
) -> Result<Vec<W::Output>, Failed<W::Error>> {
    conn.transaction::<_, Failed<W::Error>, _>(async |conn| {
        let mut outputs = Vec::with_capacity(items.len());
        for (item, trace, span) in items {
            conn.batch_execute(&crate::tenancy::transaction_tenant_sql(work.tenant(item)))
                .await?;
            let output = trace
                .clone()
                .scope(work.run(conn, item).instrument(span.clone()))
                .await
                .map_err(Failed::Unit)?;
            outputs.push(output);
        }
        Ok(outputs)
    })
    .await
}
