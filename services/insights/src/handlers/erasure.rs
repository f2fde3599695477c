//! `privacy.erasure-requested` → insights' part of a GDPR erasure: a tenant that goes loses
//! its tracked posts and metric samples; a member's erasure holds nothing personal here.
//! Either way the part is confirmed (`privacy.erasure-confirmed`) in the same transaction.
//! Runs in the part's tenant scope (row-level security); a repeated request deletes nothing
//! more and confirms again. Collection rounds still on their way for an erased tenant find no
//! targets and are acknowledged (see `collect_metrics`).

use crate::repo::schema::{metric_samples, tracked_posts};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::Envelope;
use herald_contracts::messages::privacy::{ErasureConfirmed, ErasureRequested, ErasureScope};
use herald_kit::futures::future::BoxFuture;
use herald_kit::{Delivery, HandlerError, Outgoing, TxHandler};

pub const SERVICE: &str = "insights";

pub struct EraseInsights;

impl TxHandler<ErasureRequested> for EraseInsights {
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
                let samples = diesel::delete(
                    metric_samples::table.filter(metric_samples::tenant_id.eq(tenant.as_uuid())),
                )
                .execute(conn)
                .await?;
                let tracked = diesel::delete(
                    tracked_posts::table.filter(tracked_posts::tenant_id.eq(tenant.as_uuid())),
                )
                .execute(conn)
                .await?;
                tracing::info!(samples, tracked, "tenant's metrics erased");
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
