//! GDPR erasure, coordinated by auth (docs/adr/0009-gdpr-export-and-erasure.md).
//!
//! `DELETE /v1/me` and `DELETE /v1/tenant` record an erasure with one part per tenant it
//! touches (the whole tenant, or only the user's membership) and one confirmation row per part
//! and service, end the sessions at once, and put one `privacy.erasure-requested` per part in
//! the outbox, all in one transaction (`start`). Every service erases each part and answers
//! `privacy.erasure-confirmed`; auth erases its own part in `parts`. When the last row is
//! confirmed the erasure completes: a user's row goes, and the ids that named them in auth's
//! coordinator rows are replaced by the erasure's pseudonym.

pub mod parts;
pub mod start;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::messages::audit::{Actor, AuditEvent, Outcome, actions};
use herald_contracts::messages::privacy::ERASING_SERVICES;
use herald_contracts::rpc::erasure::{ErasureStatus, ErasureView, ServiceConfirmation};
use herald_contracts::{TenantId, UserId};
use herald_kit::Outgoing;

diesel::table! {
    erasures (id) {
        id -> Uuid,
        subject_type -> Text,
        subject_id -> Uuid,
        requested_by -> Uuid,
        pseudonym -> Uuid,
        status -> Text,
        requested_at -> Timestamptz,
        completed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    erasure_confirmations (erasure_id, part_tenant, service) {
        erasure_id -> Uuid,
        part_tenant -> Uuid,
        scope -> Text,
        service -> Text,
        confirmed_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(erasure_confirmations -> erasures (erasure_id));
diesel::allow_tables_to_appear_in_same_query!(erasures, erasure_confirmations);

/// Who is erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    User(UserId),
    Tenant(TenantId),
}

impl Subject {
    fn kind(&self) -> &'static str {
        match self {
            Subject::User(_) => "user",
            Subject::Tenant(_) => "tenant",
        }
    }

    fn id(&self) -> uuid::Uuid {
        match self {
            Subject::User(user) => user.as_uuid(),
            Subject::Tenant(tenant) => tenant.as_uuid(),
        }
    }
}

/// One tenant an erasure touches, and whether it goes whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub tenant: TenantId,
    /// The whole tenant (`tenant`), or only the erased user's rows in it (`member`).
    pub whole: bool,
}

impl Part {
    fn scope(&self) -> &'static str {
        if self.whole { "tenant" } else { "member" }
    }
}

/// A new erasure id: 128 random bits (it is also the capability that reads the status).
pub fn new_erasure_id() -> uuid::Uuid {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    uuid::Uuid::from_bytes(bytes)
}

/// The erasure of `subject` still running, if any, with when it was requested.
pub async fn pending_for(
    conn: &mut AsyncPgConnection,
    subject: Subject,
) -> QueryResult<Option<(uuid::Uuid, DateTime<Utc>)>> {
    erasures::table
        .filter(erasures::subject_type.eq(subject.kind()))
        .filter(erasures::subject_id.eq(subject.id()))
        .filter(erasures::status.eq("pending"))
        .select((erasures::id, erasures::requested_at))
        .first(conn)
        .await
        .optional()
}

/// Records a new erasure and a confirmation row per part and service.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    id: uuid::Uuid,
    subject: Subject,
    requested_by: UserId,
    parts: &[Part],
) -> QueryResult<()> {
    diesel::insert_into(erasures::table)
        .values((
            erasures::id.eq(id),
            erasures::subject_type.eq(subject.kind()),
            erasures::subject_id.eq(subject.id()),
            erasures::requested_by.eq(requested_by.as_uuid()),
            erasures::pseudonym.eq(uuid::Uuid::new_v4()),
        ))
        .execute(conn)
        .await?;
    let rows: Vec<_> = parts
        .iter()
        .flat_map(|part| {
            ERASING_SERVICES.iter().map(move |service| {
                (
                    erasure_confirmations::erasure_id.eq(id),
                    erasure_confirmations::part_tenant.eq(part.tenant.as_uuid()),
                    erasure_confirmations::scope.eq(part.scope()),
                    erasure_confirmations::service.eq(*service),
                )
            })
        })
        .collect();
    if !rows.is_empty() {
        diesel::insert_into(erasure_confirmations::table)
            .values(rows)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// The parts of an erasure, as recorded.
pub async fn parts_of(conn: &mut AsyncPgConnection, id: uuid::Uuid) -> QueryResult<Vec<Part>> {
    let rows: Vec<(uuid::Uuid, String)> = erasure_confirmations::table
        .filter(erasure_confirmations::erasure_id.eq(id))
        .select((
            erasure_confirmations::part_tenant,
            erasure_confirmations::scope,
        ))
        .distinct()
        .order(erasure_confirmations::part_tenant)
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(tenant, scope)| Part {
            tenant: TenantId::from_uuid(tenant),
            whole: scope == "tenant",
        })
        .collect())
}

/// The erasure's pseudonym for its user, if the erasure exists.
pub async fn pseudonym_of(
    conn: &mut AsyncPgConnection,
    id: uuid::Uuid,
) -> QueryResult<Option<uuid::Uuid>> {
    erasures::table
        .find(id)
        .select(erasures::pseudonym)
        .first(conn)
        .await
        .optional()
}

/// What anyone holding the id may see; `None` for an unknown id.
pub async fn view(
    conn: &mut AsyncPgConnection,
    id: uuid::Uuid,
) -> QueryResult<Option<ErasureView>> {
    let Some((status, requested_at, completed_at)) = erasures::table
        .find(id)
        .select((
            erasures::status,
            erasures::requested_at,
            erasures::completed_at,
        ))
        .first::<(String, DateTime<Utc>, Option<DateTime<Utc>>)>(conn)
        .await
        .optional()?
    else {
        return Ok(None);
    };
    let rows: Vec<(String, Option<DateTime<Utc>>)> = erasure_confirmations::table
        .filter(erasure_confirmations::erasure_id.eq(id))
        .select((
            erasure_confirmations::service,
            erasure_confirmations::confirmed_at,
        ))
        .load(conn)
        .await?;
    let services = ERASING_SERVICES
        .iter()
        .map(|service| {
            let mine: Vec<Option<DateTime<Utc>>> = rows
                .iter()
                .filter(|(s, _)| s == service)
                .map(|(_, at)| *at)
                .collect();
            // Confirmed when every part is; the time of the last part's confirmation.
            let confirmed_at = if mine.iter().all(Option::is_some) {
                mine.into_iter().flatten().max().or(completed_at)
            } else {
                None
            };
            ServiceConfirmation {
                service: (*service).to_owned(),
                confirmed_at,
            }
        })
        .collect();
    Ok(Some(ErasureView {
        status: if status == "complete" {
            ErasureStatus::Complete
        } else {
            ErasureStatus::Pending
        },
        requested_at,
        completed_at,
        services,
    }))
}

/// Acts for `tenant` until the end of the transaction (as the kit's group commit does per
/// unit): completion touches the audit events of every part's tenant, not only the tenant of
/// the confirmation that completed it.
async fn act_for(conn: &mut AsyncPgConnection, tenant: TenantId) -> QueryResult<()> {
    diesel::sql_query("SELECT set_config('herald.tenant_id', $1, true)")
        .bind::<Text, _>(tenant.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Replaces `user` by `pseudonym` in `tenant`'s audit events (the explicit erasure path of the
/// append-only table).
pub async fn pseudonymise_audit(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    user: UserId,
    pseudonym: uuid::Uuid,
) -> QueryResult<()> {
    diesel::sql_query("SELECT pseudonymise_audit_user($1, $2, $3)")
        .bind::<SqlUuid, _>(tenant.as_uuid())
        .bind::<Text, _>(user.to_string())
        .bind::<Text, _>(pseudonym.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks `service`'s part `tenant` of `erasure` confirmed (again: harmless) and completes the
/// erasure when it was the last. Runs in the confirming unit's tenant scope (`tenant`).
/// Returns the audit events to publish.
pub async fn confirm(
    conn: &mut AsyncPgConnection,
    erasure: uuid::Uuid,
    tenant: TenantId,
    service: &str,
) -> QueryResult<Vec<Outgoing>> {
    // The row lock serialises confirmations of one erasure, so exactly one sees the last.
    let Some((status, subject_type, subject_id, pseudonym)) = erasures::table
        .find(erasure)
        .select((
            erasures::status,
            erasures::subject_type,
            erasures::subject_id,
            erasures::pseudonym,
        ))
        .for_update()
        .first::<(String, String, uuid::Uuid, uuid::Uuid)>(conn)
        .await
        .optional()?
    else {
        tracing::warn!(service, "confirmation of an unknown erasure; ignored");
        return Ok(Vec::new());
    };
    diesel::update(
        erasure_confirmations::table
            .filter(erasure_confirmations::erasure_id.eq(erasure))
            .filter(erasure_confirmations::part_tenant.eq(tenant.as_uuid()))
            .filter(erasure_confirmations::service.eq(service))
            .filter(erasure_confirmations::confirmed_at.is_null()),
    )
    .set(erasure_confirmations::confirmed_at.eq(diesel::dsl::now))
    .execute(conn)
    .await?;
    if status == "complete" {
        return Ok(Vec::new());
    }
    let open: i64 = erasure_confirmations::table
        .filter(erasure_confirmations::erasure_id.eq(erasure))
        .filter(erasure_confirmations::confirmed_at.is_null())
        .count()
        .get_result(conn)
        .await?;
    if open > 0 {
        return Ok(Vec::new());
    }
    let parts = parts_of(conn, erasure).await?;
    if subject_type == "user" {
        let user = UserId::from_uuid(subject_id);
        // Audit events stored after the user's own part ran (the AUDIT consumer is not
        // ordered with this one) are pseudonymised now, in each tenant that survives.
        for part in parts.iter().filter(|part| !part.whole) {
            act_for(conn, part.tenant).await?;
            pseudonymise_audit(conn, part.tenant, user, pseudonym).await?;
        }
        act_for(conn, tenant).await?;
        erase_user_row(conn, user, pseudonym).await?;
    }
    diesel::update(erasures::table.find(erasure))
        .set((
            erasures::status.eq("complete"),
            erasures::completed_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    tracing::info!(erasure.subject = %subject_type, parts = parts.len(), "erasure complete");
    parts
        .iter()
        .map(|part| {
            let event = AuditEvent::new(
                actions::ERASURE_COMPLETED,
                Actor::System {
                    service: "auth".into(),
                },
                Outcome::Success,
                &format!("erasure-completed:{}", part.tenant),
            )
            .target(part.scope(), part.tenant);
            herald_kit::audit::outgoing(part.tenant, event)
        })
        .collect()
}

/// The last step of a user's erasure: their row (every membership and session went with the
/// parts), and their id in auth's coordinator rows, replaced by the pseudonym.
async fn erase_user_row(
    conn: &mut AsyncPgConnection,
    user: UserId,
    pseudonym: uuid::Uuid,
) -> QueryResult<()> {
    diesel::delete(crate::repo::users::table.find(user.as_uuid()))
        .execute(conn)
        .await?;
    diesel::update(erasures::table.filter(erasures::requested_by.eq(user.as_uuid())))
        .set(erasures::requested_by.eq(pseudonym))
        .execute(conn)
        .await?;
    diesel::update(
        erasures::table
            .filter(erasures::subject_type.eq("user"))
            .filter(erasures::subject_id.eq(user.as_uuid())),
    )
    .set(erasures::subject_id.eq(pseudonym))
    .execute(conn)
    .await?;
    Ok(())
}

/// Registers the erasure endpoints and consumers.
pub async fn serve(
    app: &mut herald_kit::App,
    auth: &crate::handlers::Auth,
) -> Result<(), herald_kit::KitError> {
    use herald_contracts::messages::privacy::{
        ERASURE_CONFIRMED_FILTER, ERASURE_REQUESTED_FILTER, erasure_consumer,
    };
    use herald_contracts::rpc::erasure::{EraseMe, EraseTenant, GetErasure};
    use herald_contracts::streams::PRIVACY;
    use herald_kit::ConsumerSpec;
    app.consume_tx(
        ConsumerSpec::new(
            PRIVACY,
            erasure_consumer(crate::SERVICE),
            ERASURE_REQUESTED_FILTER,
        ),
        parts::EraseAuthPart,
    )
    .await?;
    app.consume_tx(
        ConsumerSpec::new(
            PRIVACY,
            parts::CONFIRMATIONS_CONSUMER,
            ERASURE_CONFIRMED_FILTER,
        ),
        parts::RecordConfirmation,
    )
    .await?;
    let state = auth.clone();
    app.serve::<EraseMe>(move |ctx, request| start::erase_me(state.clone(), ctx, request))
        .await?;
    let state = auth.clone();
    app.serve::<EraseTenant>(move |ctx, request| start::erase_tenant(state.clone(), ctx, request))
        .await?;
    let state = auth.clone();
    app.serve::<GetErasure>(move |ctx, request| start::status(state.clone(), ctx, request))
        .await?;
    Ok(())
}
