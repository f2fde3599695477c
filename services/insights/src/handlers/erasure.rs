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
use herald_contracts::messages::privacy::ErasureRequested;
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
            let tenant = herald_kit::erasure::part_tenant(message)?;
            if herald_kit::erasure::begin_part(conn, message).await? {
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
            Ok(vec![herald_kit::erasure::confirmed(message, SERVICE)])
        })
    }

    fn handles_erased_tenants(&self) -> bool {
        true
    }
}
