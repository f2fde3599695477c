//! `privacy.erasure-requested` → billing's part of a GDPR erasure: a tenant that goes loses
//! its usage ledger; a member's erasure holds nothing personal here (usage is the tenant's).
//! Either way the part is confirmed (`privacy.erasure-confirmed`) in the same transaction.
//! Runs in the part's tenant scope (row-level security); a repeated request deletes nothing
//! more and confirms again.

use crate::repo::usage_ledger;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::Envelope;
use herald_contracts::messages::privacy::{ErasureConfirmed, ErasureRequested, ErasureScope};
use herald_kit::futures::future::BoxFuture;
use herald_kit::{Delivery, HandlerError, Outgoing, TxHandler};

pub const SERVICE: &str = "billing";

pub struct EraseBilling;

impl TxHandler<ErasureRequested> for EraseBilling {
    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        message: &'a Envelope<ErasureRequested>,
        _delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<Vec<Outgoing>, HandlerError>> {
        Box::pin(async move {
            let tenant = message.tenant_id;
            if message.data.tenant_id != tenant {
                return Err(HandlerError::terminal(
                    "the part's tenant is not the envelope's",
                ));
            }
            herald_kit::consumer::lock_tenant_for_erasure(conn, tenant).await?;
            if message.data.scope == ErasureScope::Tenant {
                herald_kit::consumer::mark_tenant_erased(conn, tenant).await?;
                let rows = diesel::delete(
                    usage_ledger::table.filter(usage_ledger::tenant_id.eq(tenant.as_uuid())),
                )
                .execute(conn)
                .await?;
                tracing::info!(rows, "tenant's usage erased");
            }
            Ok(vec![Outgoing::message(&message.caused(ErasureConfirmed {
                erasure_id: message.data.erasure_id,
                tenant_id: tenant,
                service: SERVICE.to_owned(),
            }))])
        })
    }

    fn handles_erased_tenants(&self) -> bool {
        true
    }
}
