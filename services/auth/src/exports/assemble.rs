//! The export coordinator: the `auth-exports` consumer of `identity.export-requested`. It asks
//! every service for its part concurrently (page by page over NATS request/reply, each page
//! retried on a timeout), adds auth's own part, writes one `herald-export/1` JSON document,
//! gzips it and stores it with the `privacy.exported` audit event in one transaction.
//!
//! If a service cannot deliver its part, the whole message is retried later (a redelivery
//! with backoff, by whichever replica); at the last delivery the export is marked failed with
//! the service named, and nothing partial is ever stored or served. A replica that crashes
//! mid-way never acknowledges, so the message is delivered again and the export assembled
//! from scratch (assembly has no effect until the final transaction, which only moves a
//! pending export, so doing it twice is harmless).

use super::own;
use chrono::Utc;
use diesel_async::AsyncConnection;
use futures::future::BoxFuture;
use herald_contracts::Envelope;
use herald_contracts::messages::audit::{Actor, AuditEvent, Outcome, actions};
use herald_contracts::messages::export::ExportRequested;
use herald_contracts::rpc::privacy::{
    ARCHIVE_FORMAT, BillingExport, ExportItem, ExportPage, ExportPageRequest, InsightsExport,
    NotifierExport, PublisherExport, RendererExport,
};
use herald_contracts::rpc::{ErrorCode, Rpc, RpcError};
use herald_kit::db::Db;
use herald_kit::outbox::OutboxWaker;
use herald_kit::{Delivery, Handler, HandlerError};
use std::io::Write;
use std::time::Duration;

/// Deliveries of one export request before the export is marked failed; the backoff between
/// them gives a restarting service time to come back.
pub const MAX_DELIVER: i64 = 3;
pub const BACKOFF: [Duration; 2] = [Duration::from_secs(2), Duration::from_secs(10)];

/// Attempts per page within one delivery (a timed-out or unanswered request is retried).
const PAGE_ATTEMPTS: u32 = 3;

/// A bound on pages per service, against a cursor that never ends.
const MAX_PAGES: usize = 100_000;

#[derive(Clone)]
pub struct AssembleExport {
    pub db: Db,
    pub nats: herald_kit::async_nats::Client,
    pub outbox: OutboxWaker,
    /// Deadline of each page request.
    pub page_timeout: Duration,
}

/// Which service's part could not be collected.
#[derive(Debug)]
struct PartFailed {
    service: &'static str,
    error: RpcError,
}

impl Handler<ExportRequested> for AssembleExport {
    fn handle<'a>(
        &'a self,
        message: Envelope<ExportRequested>,
        delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move { self.run(message, delivery).await })
    }
}

impl AssembleExport {
    async fn run(
        &self,
        message: Envelope<ExportRequested>,
        delivery: &Delivery,
    ) -> Result<(), HandlerError> {
        let tenant = message.tenant_id;
        let export_id = message.data.export_id;
        let user = message.data.user_id;
        {
            let mut conn = self.db.tenant(tenant).await?;
            match super::status(&mut conn, export_id).await? {
                Some(status) if status == "pending" => {}
                // Done by an earlier delivery, or gone with its user: nothing to do.
                _ => return Ok(()),
            }
        }
        // A crash here (mid-assembly, before any effect) must not lose the export.
        herald_kit::failpoint::hit("export.started", &delivery.subject);
        let (owned, member) = own::tenants_of(&self.db, user)
            .await
            .map_err(|error| HandlerError::retry(error.message))?;
        let request = ExportPageRequest {
            export_id,
            user_id: user,
            owned_tenants: owned.clone(),
            member_tenants: member.clone(),
            cursor: None,
        };
        let request_id = format!("export-{export_id}");
        let (auth, publisher, renderer, insights, billing, notifier) = tokio::join!(
            async {
                own::section(&self.db, &request)
                    .await
                    .map_err(|error| PartFailed {
                        service: "auth",
                        error,
                    })
            },
            self.part::<PublisherExport>(&request, &request_id),
            self.part::<RendererExport>(&request, &request_id),
            self.part::<InsightsExport>(&request, &request_id),
            self.part::<BillingExport>(&request, &request_id),
            self.part::<NotifierExport>(&request, &request_id),
        );
        let parts = [auth, publisher, renderer, insights, billing, notifier];
        let mut sections = serde_json::Map::new();
        let mut failed = Vec::new();
        for (service, part) in [
            "auth",
            "publisher",
            "renderer",
            "insights",
            "billing",
            "notifier",
        ]
        .into_iter()
        .zip(parts)
        {
            match part {
                Ok(items) => {
                    sections.insert(service.into(), serde_json::json!({ "items": items }));
                }
                Err(failure) => failed.push(failure),
            }
        }
        if !failed.is_empty() {
            let names: Vec<&str> = failed.iter().map(|f| f.service).collect();
            for failure in &failed {
                tracing::warn!(
                    export.id = %export_id,
                    service = failure.service,
                    error = %failure.error,
                    delivered = delivery.delivered,
                    "export part not collected"
                );
            }
            if delivery.delivered < MAX_DELIVER {
                return Err(HandlerError::retry(format!(
                    "export parts not collected: {}",
                    names.join(", ")
                )));
            }
            let reason = format!(
                "could not collect the data of: {}; request a new export",
                names.join(", ")
            );
            return self.finish(&message, Finish::Failed(reason)).await;
        }
        let document = serde_json::json!({
            "format": ARCHIVE_FORMAT,
            "export_id": export_id,
            "user_id": user,
            "requested_in_tenant": tenant,
            "requested_at": message.occurred_at,
            "generated_at": Utc::now(),
            "owned_tenants": owned,
            "member_tenants": member,
            "sections": sections,
        });
        let archive = tokio::task::spawn_blocking(move || gzip_json(&document))
            .await
            .map_err(HandlerError::retry)?
            .map_err(HandlerError::retry)?;
        self.finish(&message, Finish::Complete(archive)).await
    }

    /// Every page of service `R`'s part.
    async fn part<R>(
        &self,
        request: &ExportPageRequest,
        request_id: &str,
    ) -> Result<Vec<ExportItem>, PartFailed>
    where
        R: Rpc<Request = ExportPageRequest, Response = ExportPage>,
    {
        let mut items = Vec::new();
        let mut page_request = request.clone();
        for _ in 0..MAX_PAGES {
            let page = self
                .page::<R>(&page_request, request_id)
                .await
                .map_err(|error| PartFailed {
                    service: R::SERVICE,
                    error,
                })?;
            items.extend(page.items);
            match page.next_cursor {
                Some(cursor) if Some(&cursor) != page_request.cursor.as_ref() => {
                    page_request.cursor = Some(cursor)
                }
                Some(_) => {
                    return Err(PartFailed {
                        service: R::SERVICE,
                        error: RpcError::internal(),
                    });
                }
                None => return Ok(items),
            }
        }
        Err(PartFailed {
            service: R::SERVICE,
            error: RpcError::internal(),
        })
    }

    /// One page, retried when the service did not answer in time or failed internally.
    async fn page<R>(
        &self,
        request: &ExportPageRequest,
        request_id: &str,
    ) -> Result<ExportPage, RpcError>
    where
        R: Rpc<Request = ExportPageRequest, Response = ExportPage>,
    {
        let mut delay = Duration::from_millis(250);
        let mut attempt = 1;
        loop {
            // No identity: these endpoints refuse callers that carry one (gateway traffic).
            match herald_kit::rpc::call::<R>(
                &self.nats,
                request_id,
                None,
                request.clone(),
                self.page_timeout,
            )
            .await
            {
                Ok(page) => return Ok(page),
                Err(error)
                    if attempt < PAGE_ATTEMPTS
                        && matches!(error.code, ErrorCode::Unavailable | ErrorCode::Internal) =>
                {
                    tokio::time::sleep(delay).await;
                    delay *= 4;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Stores the outcome and its audit event in one transaction (only a pending export moves).
    async fn finish(
        &self,
        message: &Envelope<ExportRequested>,
        finish: Finish,
    ) -> Result<(), HandlerError> {
        let tenant = message.tenant_id;
        let export_id = message.data.export_id;
        let now = Utc::now();
        let (outcome, reason) = match &finish {
            Finish::Complete(_) => (Outcome::Success, None),
            Finish::Failed(reason) => (Outcome::Failure, Some(reason.clone())),
        };
        let mut event = AuditEvent::new(
            actions::PRIVACY_EXPORTED,
            Actor::User {
                id: message.data.user_id,
            },
            outcome,
            &message.correlation_id,
        )
        .target("export", export_id);
        event.reason = reason;
        let mut conn = self.db.tenant(tenant).await?;
        let moved = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                let moved = match &finish {
                    Finish::Complete(archive) => {
                        super::complete(conn, export_id, archive, now).await?
                    }
                    Finish::Failed(reason) => super::fail(conn, export_id, reason, now).await?,
                };
                if moved == 1 {
                    herald_kit::audit::record(conn, tenant, event).await?;
                }
                Ok(moved)
            })
            .await?;
        if moved == 1 {
            self.outbox.wake();
            match finish {
                Finish::Complete(archive) => tracing::info!(
                    export.id = %export_id,
                    archive_bytes = archive.len(),
                    "export complete"
                ),
                Finish::Failed(_) => tracing::warn!(export.id = %export_id, "export failed"),
            }
        }
        Ok(())
    }
}

enum Finish {
    Complete(Vec<u8>),
    Failed(String),
}

/// The document as gzip-compressed JSON.
fn gzip_json(document: &serde_json::Value) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    serde_json::to_writer(&mut encoder, document)?;
    encoder.flush()?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_archive_is_gzipped_json() {
        let document = serde_json::json!({"format": ARCHIVE_FORMAT, "sections": {}});
        let archive = gzip_json(&document).unwrap();
        assert_eq!(&archive[..2], &[0x1f, 0x8b]);
        let mut text = String::new();
        flate2::read::GzDecoder::new(&archive[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            document
        );
    }
}
