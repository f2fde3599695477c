//! GDPR exports (docs/adr/0009-gdpr-export-and-erasure.md, "Export"): the `exports` table,
//! the coordinator that assembles an archive from every service ([`assemble`]), auth's own
//! part of it ([`own`]), and the sweep that deletes archives once they expire.
//!
//! The request (`rpc.auth.exports.create`) records a pending export and writes an
//! `identity.export-requested` message in one transaction; the `auth-exports` consumer of any
//! auth replica assembles it. Nothing about an export lives in process memory between steps.

pub mod assemble;
pub mod own;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::rpc::privacy::{ExportStatus, ExportView};
use herald_contracts::{TenantId, UserId};
use herald_kit::db::Db;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long an archive can be downloaded after it is complete.
pub const ARCHIVE_TTL: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// How often expired archives are deleted.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

diesel::table! {
    exports (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        user_id -> Uuid,
        status -> Text,
        error -> Nullable<Text>,
        archive -> Nullable<Bytea>,
        archive_bytes -> Nullable<BigInt>,
        created_at -> Timestamptz,
        completed_at -> Nullable<Timestamptz>,
        expires_at -> Nullable<Timestamptz>,
    }
}

type ViewRow = (
    uuid::Uuid,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<i64>,
    Option<String>,
);

fn view_columns() -> (
    exports::id,
    exports::status,
    exports::created_at,
    exports::completed_at,
    exports::expires_at,
    exports::archive_bytes,
    exports::error,
) {
    (
        exports::id,
        exports::status,
        exports::created_at,
        exports::completed_at,
        exports::expires_at,
        exports::archive_bytes,
        exports::error,
    )
}

pub fn parse_status(status: &str) -> ExportStatus {
    match status {
        "complete" => ExportStatus::Complete,
        "failed" => ExportStatus::Failed,
        "expired" => ExportStatus::Expired,
        _ => ExportStatus::Pending,
    }
}

fn to_view(row: ViewRow) -> ExportView {
    let (export_id, status, created_at, completed_at, expires_at, archive_bytes, error) = row;
    ExportView {
        export_id,
        status: parse_status(&status),
        created_at,
        completed_at,
        expires_at,
        archive_bytes,
        error,
    }
}

/// Records a pending export; `false` if the user already has one pending in this tenant.
pub async fn insert_pending(
    conn: &mut AsyncPgConnection,
    id: uuid::Uuid,
    tenant: TenantId,
    user: UserId,
) -> QueryResult<bool> {
    let inserted = diesel::insert_into(exports::table)
        .values((
            exports::id.eq(id),
            exports::tenant_id.eq(tenant.as_uuid()),
            exports::user_id.eq(user.as_uuid()),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// The user's pending export in this tenant, if any.
pub async fn pending(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    user: UserId,
) -> QueryResult<Option<ExportView>> {
    exports::table
        .filter(exports::tenant_id.eq(tenant.as_uuid()))
        .filter(exports::user_id.eq(user.as_uuid()))
        .filter(exports::status.eq("pending"))
        .select(view_columns())
        .first::<ViewRow>(conn)
        .await
        .optional()
        .map(|row| row.map(to_view))
}

/// Export `id` if it is `user`'s in `tenant`.
pub async fn find(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    user: UserId,
    id: uuid::Uuid,
) -> QueryResult<Option<ExportView>> {
    exports::table
        .filter(exports::id.eq(id))
        .filter(exports::tenant_id.eq(tenant.as_uuid()))
        .filter(exports::user_id.eq(user.as_uuid()))
        .select(view_columns())
        .first::<ViewRow>(conn)
        .await
        .optional()
        .map(|row| row.map(to_view))
}

#[derive(diesel::QueryableByName)]
struct Chunk {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    total: i64,
    #[diesel(sql_type = diesel::sql_types::Bytea)]
    data: Vec<u8>,
}

/// `len` bytes of the archive of `user`'s complete, unexpired export `id` from `offset`, and
/// the archive's size; `None` if there is no such archive. Only the slice leaves Postgres.
pub async fn archive_chunk(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    user: UserId,
    id: uuid::Uuid,
    offset: i64,
    len: i64,
) -> QueryResult<Option<(i64, Vec<u8>)>> {
    let chunk: Option<Chunk> = diesel::sql_query(
        "SELECT length(archive)::bigint AS total, substring(archive FROM ($5 + 1)::int FOR $6::int) AS data \
         FROM exports WHERE id = $1 AND tenant_id = $2 AND user_id = $3 AND status = 'complete' \
           AND expires_at > $4",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .bind::<diesel::sql_types::Uuid, _>(tenant.as_uuid())
    .bind::<diesel::sql_types::Uuid, _>(user.as_uuid())
    .bind::<diesel::sql_types::Timestamptz, _>(Utc::now())
    .bind::<diesel::sql_types::BigInt, _>(offset)
    .bind::<diesel::sql_types::BigInt, _>(len)
    .get_result(conn)
    .await
    .optional()?;
    Ok(chunk.map(|chunk| (chunk.total, chunk.data)))
}

/// The export's status, for the coordinator (`None`: no such export).
pub async fn status(conn: &mut AsyncPgConnection, id: uuid::Uuid) -> QueryResult<Option<String>> {
    exports::table
        .filter(exports::id.eq(id))
        .select(exports::status)
        .first(conn)
        .await
        .optional()
}

/// Stores the archive of a pending export; 0 if it was no longer pending.
pub async fn complete(
    conn: &mut AsyncPgConnection,
    id: uuid::Uuid,
    archive: &[u8],
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(exports::table)
        .filter(exports::id.eq(id))
        .filter(exports::status.eq("pending"))
        .set((
            exports::status.eq("complete"),
            exports::archive.eq(archive),
            exports::archive_bytes.eq(archive.len() as i64),
            exports::completed_at.eq(now),
            exports::expires_at.eq(now + ARCHIVE_TTL),
        ))
        .execute(conn)
        .await
}

/// Marks a pending export failed with a reason safe to show; 0 if it was no longer pending.
pub async fn fail(
    conn: &mut AsyncPgConnection,
    id: uuid::Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(exports::table)
        .filter(exports::id.eq(id))
        .filter(exports::status.eq("pending"))
        .set((
            exports::status.eq("failed"),
            exports::error.eq(reason),
            exports::completed_at.eq(now),
        ))
        .execute(conn)
        .await
}

/// Deletes the archives of every tenant's exports past `expires_at` (they stay listed as
/// `expired`); returns how many.
pub async fn expire(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(exports::table)
        .filter(exports::status.eq("complete"))
        .filter(exports::expires_at.le(now))
        .set((
            exports::status.eq("expired"),
            exports::archive.eq(None::<Vec<u8>>),
        ))
        .execute(conn)
        .await
}

/// Deletes expired archives at start and then hourly, until `stop`. Every replica runs it;
/// the update is idempotent, so running it twice at once is harmless.
pub async fn sweep_loop(db: Db, stop: CancellationToken) {
    loop {
        // The expiry sweep covers every tenant's exports: cross-tenant by nature.
        match db.system("export expiry sweep").await {
            Ok(mut conn) => match expire(&mut conn, Utc::now()).await {
                Ok(0) => {}
                Ok(expired) => tracing::info!(expired, "expired export archives deleted"),
                Err(error) => tracing::warn!(error = %error, "export expiry sweep failed"),
            },
            Err(error) => tracing::warn!(error = %error, "export expiry sweep: no connection"),
        }
        tokio::select! {
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
            _ = stop.cancelled() => return,
        }
    }
}

/// Registers everything about exports: the three endpoints, the coordinator's consumer and
/// the expiry sweep.
pub async fn serve(
    app: &mut herald_kit::App,
    auth: &crate::handlers::Auth,
) -> Result<(), herald_kit::KitError> {
    use crate::handlers::exports as rpc;
    use herald_contracts::messages::export::{EXPORT_CONSUMER, EXPORT_REQUESTED_FILTER};
    use herald_contracts::rpc::privacy::{GetArchiveChunk, GetExport, RequestExport};
    use herald_contracts::streams::IDENTITY;
    let state = auth.clone();
    app.serve::<RequestExport>(move |ctx, request| rpc::create(state.clone(), ctx, request))
        .await?;
    let state = auth.clone();
    app.serve::<GetExport>(move |ctx, request| rpc::get(state.clone(), ctx, request))
        .await?;
    let state = auth.clone();
    app.serve::<GetArchiveChunk>(move |ctx, request| rpc::archive(state.clone(), ctx, request))
        .await?;
    let mut spec =
        herald_kit::ConsumerSpec::new(IDENTITY, EXPORT_CONSUMER, EXPORT_REQUESTED_FILTER);
    spec.max_deliver = assemble::MAX_DELIVER;
    spec.backoff = assemble::BACKOFF.to_vec();
    // Each export holds its archive in memory while it is assembled: few at once per replica.
    spec.concurrency = 2;
    app.consume(
        spec,
        assemble::AssembleExport {
            db: auth.db.clone(),
            nats: app.nats.clone(),
            outbox: app.outbox.clone(),
            page_timeout: app.config.rpc_timeout,
        },
    )
    .await?;
    app.spawn(sweep_loop(auth.db.clone(), app.intake_token()));
    Ok(())
}
