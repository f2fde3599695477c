//! `privacy.erasure-requested` → notifier's part of a GDPR erasure. A tenant that goes loses
//! its recipients, notifications and email deliveries; when only a member goes, their
//! recipient row (email address, role) and every delivery addressed to them go. Either way the
//! part is confirmed (`privacy.erasure-confirmed`) in the same transaction. Runs in the part's
//! tenant scope (row-level security); a repeated request deletes nothing more and confirms
//! again. An email being written to the mailbox right now for a deleted delivery is not
//! marked sent (its row is gone), which is all the mail worker asks of it.

use crate::repo::schema::{email_deliveries, notifications, recipients};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::Envelope;
use herald_contracts::messages::privacy::{ErasureRequested, ErasureScope};
use herald_kit::futures::future::BoxFuture;
use herald_kit::{Delivery, HandlerError, Outgoing, TxHandler};

pub const SERVICE: &str = "notifier";

pub struct EraseNotifier;

impl TxHandler<ErasureRequested> for EraseNotifier {
    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        message: &'a Envelope<ErasureRequested>,
        _delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<Vec<Outgoing>, HandlerError>> {
        Box::pin(async move {
            let t = herald_kit::erasure::part_tenant(message)?.as_uuid();
            herald_kit::erasure::begin_part(conn, message).await?;
            match &message.data.scope {
                ErasureScope::Tenant => {
                    let deliveries = diesel::delete(
                        email_deliveries::table.filter(email_deliveries::tenant_id.eq(t)),
                    )
                    .execute(conn)
                    .await?;
                    let notes =
                        diesel::delete(notifications::table.filter(notifications::tenant_id.eq(t)))
                            .execute(conn)
                            .await?;
                    let people =
                        diesel::delete(recipients::table.filter(recipients::tenant_id.eq(t)))
                            .execute(conn)
                            .await?;
                    tracing::info!(
                        deliveries,
                        notifications = notes,
                        recipients = people,
                        "tenant's notifications erased"
                    );
                }
                ErasureScope::Member { user_id } => {
                    let emails: Vec<String> = diesel::delete(
                        recipients::table
                            .filter(recipients::tenant_id.eq(t))
                            .filter(recipients::user_id.eq(user_id.as_uuid())),
                    )
                    .returning(recipients::email)
                    .get_results(conn)
                    .await?;
                    let deliveries = diesel::delete(
                        email_deliveries::table
                            .filter(email_deliveries::tenant_id.eq(t))
                            .filter(email_deliveries::to_address.eq_any(&emails)),
                    )
                    .execute(conn)
                    .await?;
                    tracing::info!(
                        deliveries,
                        recipients = emails.len(),
                        "member's recipient rows erased"
                    );
                }
            }
            Ok(vec![herald_kit::erasure::confirmed(message, SERVICE)])
        })
    }

    fn handles_erased_tenants(&self) -> bool {
        true
    }
}
