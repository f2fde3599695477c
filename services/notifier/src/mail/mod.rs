//! Email delivery, the notifier's external effect, exactly once per delivery row.
//!
//! A background worker claims pending `email_deliveries` rows (`FOR UPDATE SKIP LOCKED`, so
//! replicas never hold the same row), appends them to the mailbox and marks them sent in the
//! same transaction. It is woken in-process right after a commit that queued emails, and a
//! slow sweep catches anything else (rows queued by another replica, earlier failures); it
//! never polls in a tight loop.
//!
//! Exactly once across crashes: a crash after appending and before the commit leaves the row
//! pending, so the next round reconciles first — an email whose Message-ID is already in the
//! mailbox is marked sent without appending it again.
//!
//! The mailbox file stands in for SMTP during development. Real SMTP comes later; it will keep
//! this state machine and reconcile through the relay's own record (the Message-ID it accepted)
//! instead of reading the mailbox, with an `unknown` state for a send whose answer was lost.

pub mod mbox;

use crate::repo::deliveries::{self, PendingDelivery};
use diesel_async::AsyncConnection;
use herald_kit::KitError;
use herald_kit::db::Db;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Rows claimed per transaction.
const BATCH: i64 = 50;

/// Serializes writers inside this process; the advisory file lock does it across processes.
static WRITER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Kit(#[from] KitError),
    #[error("mailbox: {0}")]
    Mailbox(#[from] std::io::Error),
    #[error("mailbox writer stopped: {0}")]
    Writer(String),
}

/// Wakes the delivery worker of this process.
#[derive(Clone, Default)]
pub struct MailWaker(Arc<Notify>);

impl MailWaker {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

pub struct Mailer {
    pub db: Db,
    pub mailbox: PathBuf,
    pub from: String,
    pub waker: MailWaker,
    pub sweep: Duration,
}

impl Mailer {
    /// Delivers until `stop` is cancelled (the app's intake token).
    pub async fn run(self, stop: CancellationToken) {
        tracing::info!(mailbox = %self.mailbox.display(), sweep_ms = self.sweep.as_millis() as u64, "email delivery started");
        loop {
            if let Err(error) = self.deliver_pending().await {
                tracing::warn!(error = %error, "email delivery round failed; will retry");
            }
            tokio::select! {
                _ = self.waker.0.notified() => {}
                _ = tokio::time::sleep(self.sweep) => {}
                _ = stop.cancelled() => break,
            }
        }
        tracing::info!("email delivery stopped");
    }

    /// Delivers every pending email; returns how many were marked sent.
    pub async fn deliver_pending(&self) -> Result<usize, MailError> {
        let mut total = 0;
        loop {
            let (claimed, sent) = self.deliver_batch().await?;
            total += sent;
            if claimed < BATCH as usize {
                return Ok(total);
            }
        }
    }

    /// One transaction: claim, reconcile-and-append, mark. Returns (claimed, sent).
    async fn deliver_batch(&self) -> Result<(usize, usize), MailError> {
        // Cross-tenant by nature: one worker delivers every tenant's queued emails, claiming
        // them oldest first and addressing them by their own ids afterwards.
        let mut conn = self
            .db
            .system("email delivery worker: delivers every tenant's queued emails")
            .await?;
        let mailbox = self.mailbox.clone();
        let from = self.from.clone();
        let (claimed, outcome) = conn
            .transaction::<_, MailError, _>(async move |conn| {
                let rows = deliveries::claim_pending(conn, BATCH).await?;
                if rows.is_empty() {
                    return Ok((0, Ok(mbox::AppendOutcome::default())));
                }
                let ids: Vec<uuid::Uuid> = rows.iter().map(|row| row.id).collect();
                let emails: Vec<mbox::Email> =
                    rows.iter().map(|row| email_of(row, &from)).collect();
                let written = {
                    let _writer = WRITER.lock().await;
                    tokio::task::spawn_blocking(move || mbox::append_missing(&mailbox, &emails))
                        .await
                        .map_err(|error| MailError::Writer(error.to_string()))?
                };
                match written {
                    Ok(outcome) => {
                        deliveries::mark_sent(conn, &ids).await?;
                        for row in &rows {
                            tracing::info!(delivery.id = %row.id, tenant_id = %row.tenant_id, email.message_id = %row.message_id, attempts = row.attempts + 1, "email delivered");
                        }
                        Ok((rows.len(), Ok(outcome)))
                    }
                    Err(error) => {
                        // Committed with the rows still pending: the next round reconciles.
                        deliveries::record_failed_attempt(conn, &ids).await?;
                        Ok((rows.len(), Err(error)))
                    }
                }
            })
            .await?;
        let outcome = outcome.inspect_err(|_| {
            metrics::counter!("herald_notifier_emails_total", "outcome" => "failed")
                .increment(claimed as u64);
        })?;
        metrics::counter!("herald_notifier_emails_total", "outcome" => "appended")
            .increment(outcome.appended as u64);
        metrics::counter!("herald_notifier_emails_total", "outcome" => "reconciled")
            .increment(outcome.reconciled as u64);
        if outcome.reconciled > 0 {
            tracing::warn!(
                reconciled = outcome.reconciled,
                "emails found in the mailbox from an interrupted round; marked sent without resending"
            );
        }
        Ok((claimed, outcome.appended + outcome.reconciled))
    }
}

fn email_of(row: &PendingDelivery, from: &str) -> mbox::Email {
    mbox::Email {
        message_id: row.message_id.clone(),
        from: from.to_owned(),
        to: row.to_address.clone(),
        subject: row.subject.clone(),
        body: row.body.clone(),
        date: row.created_at,
    }
}
