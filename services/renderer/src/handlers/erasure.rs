//! `privacy.erasure-requested` → renderer's part of a GDPR erasure. A tenant that goes loses
//! its render jobs (designs, texts) and the stored images only it uses; a member's erasure
//! holds nothing personal here (renders are the tenant's) and is confirmed at once.
//!
//! Images are stored content-addressed by the design's hash (`renders/<design hash>.png`): two
//! tenants who render the same design share one object. So an object is deleted only when no
//! other tenant's render refers to it (looked up across tenants: the one cross-tenant read
//! here), and kept otherwise: the bytes are then equally the other tenant's, and nothing links
//! them to the erased tenant once its render rows are gone.
//!
//! Order: the images first, then one transaction in the tenant's scope that deletes the rows,
//! marks the tenant erased and confirms the part (outbox). A crash between the two repeats
//! both on redelivery (objects already gone are not an error), so it is idempotent without an
//! inbox; a plain consumer because object storage is not part of the transaction.

use crate::State;
use crate::repo::renders;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use herald_contracts::Envelope;
use herald_contracts::messages::privacy::{ErasureRequested, ErasureScope};
use herald_kit::futures::future::BoxFuture;
use herald_kit::{Delivery, Handler, HandlerError, outbox};
use object_store::ObjectStoreExt;
use object_store::path::Path;
use std::sync::Arc;

pub const SERVICE: &str = "renderer";

pub struct EraseRenderer(pub Arc<State>);

impl Handler<ErasureRequested> for EraseRenderer {
    fn handle<'a>(
        &'a self,
        message: Envelope<ErasureRequested>,
        _delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(erase(self.0.clone(), message))
    }
}

async fn erase(state: Arc<State>, message: Envelope<ErasureRequested>) -> Result<(), HandlerError> {
    let tenant = herald_kit::erasure::part_tenant(&message)?;
    let whole = message.data.scope == ErasureScope::Tenant;
    let t = tenant.as_uuid();
    let mut objects = 0;
    if whole {
        let keys: Vec<String> = {
            let mut conn = state.db.tenant(tenant).await?;
            renders::table
                .filter(renders::tenant_id.eq(t))
                .filter(renders::object_key.is_not_null())
                .select(renders::object_key.assume_not_null())
                .distinct()
                .load(&mut conn)
                .await?
        };
        for key in keys {
            let shared: bool = {
                // Whether another tenant's render uses the same object: content addressing
                // spans tenants, so this look-up cannot be tenant-scoped.
                let mut conn = state
                    .db
                    .system("an erased tenant's image may be shared by content hash")
                    .await?;
                diesel::select(diesel::dsl::exists(
                    renders::table
                        .filter(renders::object_key.eq(&key))
                        .filter(renders::tenant_id.ne(t)),
                ))
                .get_result(&mut conn)
                .await?
            };
            if shared {
                continue;
            }
            match state.store.delete(&Path::from(key.as_str())).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => objects += 1,
                Err(error) => return Err(HandlerError::retry(format!("object storage: {error}"))),
            }
        }
    }
    let confirmed = herald_kit::erasure::confirmed(&message, SERVICE);
    let mut conn = state.db.tenant(tenant).await?;
    let rows = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let mut rows = 0;
            if herald_kit::erasure::begin_part(conn, &message).await? {
                rows = diesel::delete(renders::table.filter(renders::tenant_id.eq(t)))
                    .execute(conn)
                    .await?;
            }
            outbox::enqueue(conn, std::slice::from_ref(&confirmed)).await?;
            Ok(rows)
        })
        .await?;
    state.outbox.wake();
    tracing::info!(rows, objects, whole, "renderer's part of the erasure done");
    Ok(())
}
