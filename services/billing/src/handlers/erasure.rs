//! `privacy.erasure-requested` → billing's part of a GDPR erasure: a tenant that goes loses
//! its usage ledger; a member's erasure holds nothing personal here (usage is the tenant's).
//! Either way the part is confirmed (`privacy.erasure-confirmed`) in the same transaction.
//! Runs in the part's tenant scope (row-level security); a repeated request deletes nothing
//! more and confirms again.

use crate::repo::usage_ledger;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::Envelope;
use herald_contracts::messages::privacy::ErasureRequested;
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
            let tenant = herald_kit::erasure::part_tenant(message)?;
            if herald_kit::erasure::begin_part(conn, message).await? {
                let rows = diesel::delete(
                    usage_ledger::table.filter(usage_ledger::tenant_id.eq(tenant.as_uuid())),
                )
                .execute(conn)
                .await?;
                tracing::info!(rows, "tenant's usage erased");
            }
            Ok(vec![herald_kit::erasure::confirmed(message, SERVICE)])
        })
    }

    fn handles_erased_tenants(&self) -> bool {
        true
    }
}
