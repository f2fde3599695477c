//! The frame every service's part of a GDPR erasure shares (ADR 0009): a part
//! (`privacy.erasure-requested`) names one tenant, the envelope's; it takes the tenant's
//! erasure lock, marks a whole-tenant part erased (so late messages of the tenant are
//! acknowledged without effect, see `consumer::mark_tenant_erased`), deletes the service's
//! rows, and confirms (`privacy.erasure-confirmed`) through the outbox in the same transaction.

use crate::{HandlerError, Outgoing};
use diesel_async::AsyncPgConnection;
use herald_contracts::messages::privacy::{ErasureConfirmed, ErasureRequested, ErasureScope};
use herald_contracts::{Envelope, TenantId};

/// The part's tenant, which must be the envelope's: the connection acts for that tenant, and
/// a part never reaches into another.
pub fn part_tenant(message: &Envelope<ErasureRequested>) -> Result<TenantId, HandlerError> {
    if message.data.tenant_id == message.tenant_id {
        Ok(message.tenant_id)
    } else {
        Err(HandlerError::terminal(
            "the part's tenant is not the envelope's",
        ))
    }
}

/// Starts the part in the caller's transaction: the tenant's erasure lock (exclusive, so
/// consumers' units for the tenant finish first) and, when the whole tenant goes, its erased
/// mark. Returns whether the whole tenant goes. Call [`part_tenant`] first.
pub async fn begin_part(
    conn: &mut AsyncPgConnection,
    message: &Envelope<ErasureRequested>,
) -> diesel::QueryResult<bool> {
    let tenant = message.tenant_id;
    crate::consumer::lock_tenant_for_erasure(conn, tenant).await?;
    let whole = message.data.scope == ErasureScope::Tenant;
    if whole {
        crate::consumer::mark_tenant_erased(conn, tenant).await?;
    }
    Ok(whole)
}

/// The confirmation of `service`'s part, caused by the request.
pub fn confirmed(message: &Envelope<ErasureRequested>, service: &str) -> Outgoing {
    Outgoing::message(&message.caused(ErasureConfirmed {
        erasure_id: message.data.erasure_id,
        tenant_id: message.tenant_id,
        service: service.to_owned(),
    }))
}
