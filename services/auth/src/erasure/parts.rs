//! auth's side of each erasure part, and the coordinator's record of every service's
//! confirmation. Both are transactional consumers (inbox + effects in one transaction, in the
//! part's tenant scope); both still run for a tenant auth has erased, so a repeated request
//! or a late confirmation is handled (it changes nothing and confirms again).

use super::{confirm, pseudonym_of, pseudonymise_audit};
use diesel::sql_types::Uuid as SqlUuid;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::Envelope;
use herald_contracts::messages::privacy::{ErasureConfirmed, ErasureRequested, ErasureScope};
use herald_kit::futures::future::BoxFuture;
use herald_kit::{Delivery, HandlerError, Outgoing, TxHandler};

/// The durable consumer of confirmations.
pub const CONFIRMATIONS_CONSUMER: &str = "auth-erasure-confirmations";

/// Erases auth's rows of one part and confirms it.
pub struct EraseAuthPart;

impl TxHandler<ErasureRequested> for EraseAuthPart {
    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        message: &'a Envelope<ErasureRequested>,
        _delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<Vec<Outgoing>, HandlerError>> {
        Box::pin(async move {
            let part = &message.data;
            let tenant = message.tenant_id;
            if part.tenant_id != tenant {
                return Err(HandlerError::terminal(
                    "the part's tenant is not the envelope's",
                ));
            }
            herald_kit::consumer::lock_tenant_for_erasure(conn, tenant).await?;
            match &part.scope {
                ErasureScope::Tenant => {
                    herald_kit::consumer::mark_tenant_erased(conn, tenant).await?;
                    diesel::sql_query("SELECT erase_audit_events($1)")
                        .bind::<SqlUuid, _>(tenant.as_uuid())
                        .execute(conn)
                        .await?;
                    diesel::sql_query("SELECT erase_tenant_rows($1)")
                        .bind::<SqlUuid, _>(tenant.as_uuid())
                        .execute(conn)
                        .await?;
                }
                ErasureScope::Member { user_id } => {
                    let pseudonym =
                        pseudonym_of(conn, part.erasure_id).await?.ok_or_else(|| {
                            HandlerError::terminal(
                                "member part of an erasure auth has no record of",
                            )
                        })?;
                    diesel::sql_query("SELECT erase_member_rows($1, $2)")
                        .bind::<SqlUuid, _>(tenant.as_uuid())
                        .bind::<SqlUuid, _>(user_id.as_uuid())
                        .execute(conn)
                        .await?;
                    pseudonymise_audit(conn, tenant, *user_id, pseudonym).await?;
                }
            }
            tracing::info!(erasure.scope = ?scope_name(&part.scope), "auth's part of the erasure done");
            Ok(confirm(conn, part.erasure_id, tenant, crate::SERVICE).await?)
        })
    }

    fn handles_erased_tenants(&self) -> bool {
        true
    }
}

fn scope_name(scope: &ErasureScope) -> &'static str {
    match scope {
        ErasureScope::Tenant => "tenant",
        ErasureScope::Member { .. } => "member",
    }
}

/// Records a service's confirmation; the last one completes the erasure.
pub struct RecordConfirmation;

impl TxHandler<ErasureConfirmed> for RecordConfirmation {
    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        message: &'a Envelope<ErasureConfirmed>,
        _delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<Vec<Outgoing>, HandlerError>> {
        Box::pin(async move {
            let confirmed = &message.data;
            if confirmed.tenant_id != message.tenant_id {
                return Err(HandlerError::terminal(
                    "the part's tenant is not the envelope's",
                ));
            }
            if !herald_contracts::messages::privacy::ERASING_SERVICES
                .contains(&confirmed.service.as_str())
            {
                return Err(HandlerError::terminal(format!(
                    "confirmation from {:?}, which takes no part in erasures",
                    confirmed.service
                )));
            }
            tracing::info!(service = %confirmed.service, "erasure part confirmed");
            Ok(confirm(
                conn,
                confirmed.erasure_id,
                message.tenant_id,
                &confirmed.service,
            )
            .await?)
        })
    }

    fn handles_erased_tenants(&self) -> bool {
        true
    }
}
