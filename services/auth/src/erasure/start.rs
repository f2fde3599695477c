//! `rpc.auth.erasure.me` (`DELETE /v1/me`), `rpc.auth.erasure.tenant` (`DELETE /v1/tenant`)
//! and `rpc.auth.erasure.status` (`GET /v1/erasures/{id}`).
//!
//! Starting an erasure is one transaction: the erasure and its confirmation rows, access cut
//! at once (memberships of what goes deleted, so no login or refresh lands there again;
//! sessions revoked and `user.` / `member.` entries recorded; API keys revoked), one
//! `privacy.erasure-requested` per part and a `privacy.erasure_requested` audit event per part
//! in the outbox. After the commit the revocations are put to the bucket every gateway
//! watches, and revoked API keys are withdrawn. Asking again while the erasure runs returns
//! the same erasure and puts its revocations again (so an `Unavailable` can be retried).

use super::{Part, Subject, confirm, insert, new_erasure_id, parts_of, pending_for, view};
use crate::handlers::Auth;
use crate::handlers::logout::end_every_session;
use crate::repo::{memberships, tokens};
use crate::revocations::{self, Entry};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use herald_contracts::messages::audit::{Actor, AuditEvent, Outcome, actions};
use herald_contracts::messages::privacy::{ErasureRequested, ErasureScope};
use herald_contracts::rpc::auth::membership_revocation_key;
use herald_contracts::rpc::erasure::{
    EraseRequest, ErasureStarted, ErasureStatus, ErasureStatusRequest, ErasureView,
};
use herald_contracts::rpc::{ErrorCode, Identity, Role, RpcError};
use herald_contracts::{Envelope, TenantId, UserId};
use herald_kit::{Outgoing, RpcCtx, outbox};

pub const OWNERS_ONLY: &str = "only an owner can delete the tenant";
pub const NO_SUCH_ERASURE: &str = "no such erasure";

fn internal(context: &str, cause: impl std::fmt::Display) -> RpcError {
    RpcError::new(ErrorCode::Internal, format!("{context}: {cause}"))
}

fn unavailable(cause: impl std::fmt::Display) -> RpcError {
    tracing::warn!(error = %cause, "database unavailable");
    RpcError::unavailable()
}

/// Erasure is for people, in a session: an API key may never start one.
fn person(ctx: &RpcCtx) -> Result<&Identity, RpcError> {
    let identity = ctx.identity()?;
    if identity.api_key_id.is_some() {
        return Err(RpcError::new(ErrorCode::Forbidden, "not allowed"));
    }
    Ok(identity)
}

/// What a started erasure must still do after its commit.
struct Started {
    id: uuid::Uuid,
    entries: Vec<Entry>,
    api_keys: Vec<uuid::Uuid>,
}

pub async fn erase_me(
    auth: Auth,
    ctx: RpcCtx,
    _request: EraseRequest,
) -> Result<ErasureStarted, RpcError> {
    let identity = person(&ctx)?.clone();
    let user = identity.user_id;
    let now = revocations::now();
    // A user's erasure spans every tenant they belong to.
    let mut conn = auth
        .db
        .system("a user's erasure spans every tenant they belong to")
        .await
        .map_err(unavailable)?;
    let started = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let subject = Subject::User(user);
            if let Some((id, requested_at)) = pending_for(conn, subject).await? {
                return again(conn, id, requested_at, Some(user), now).await;
            }
            let parts = user_parts(conn, user).await?;
            let id = new_erasure_id();
            insert(conn, id, subject, user, &parts).await?;
            let (entries, api_keys) = cut_access(conn, Some(user), &parts, now).await?;
            let out = requests(&ctx, id, &parts, Some(user), ("user", user.to_string()))?;
            outbox::enqueue(conn, &out).await?;
            if parts.is_empty() {
                // Nothing to ask anyone: the erasure completes here (the user row goes).
                let events = confirm(conn, id, identity.tenant_id, crate::SERVICE).await?;
                outbox::enqueue(conn, &events).await?;
            }
            Ok(Started {
                id,
                entries,
                api_keys,
            })
        })
        .await
        .map_err(|e| internal("starting the user's erasure", e))?;
    finish(&auth, started).await
}

pub async fn erase_tenant(
    auth: Auth,
    ctx: RpcCtx,
    _request: EraseRequest,
) -> Result<ErasureStarted, RpcError> {
    let identity = person(&ctx)?.clone();
    // The gateway's policy asks for owner; checked again here, where the data is.
    if identity.role != Role::Owner {
        return Err(RpcError::new(ErrorCode::Forbidden, OWNERS_ONLY));
    }
    let (tenant, user) = (identity.tenant_id, identity.user_id);
    let now = revocations::now();
    let mut conn = auth.db.tenant(tenant).await.map_err(unavailable)?;
    let started = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let subject = Subject::Tenant(tenant);
            if let Some((id, requested_at)) = pending_for(conn, subject).await? {
                return again(conn, id, requested_at, None, now).await;
            }
            let parts = [Part {
                tenant,
                whole: true,
            }];
            let id = new_erasure_id();
            insert(conn, id, subject, user, &parts).await?;
            let (entries, api_keys) = cut_access(conn, None, &parts, now).await?;
            let out = requests(&ctx, id, &parts, None, ("tenant", tenant.to_string()))?;
            outbox::enqueue(conn, &out).await?;
            Ok(Started {
                id,
                entries,
                api_keys,
            })
        })
        .await
        .map_err(|e| internal("starting the tenant's erasure", e))?;
    finish(&auth, started).await
}

/// Status by erasure id: the id is the capability (see docs/security.md).
pub async fn status(
    auth: Auth,
    _ctx: RpcCtx,
    request: ErasureStatusRequest,
) -> Result<ErasureView, RpcError> {
    let Ok(id) = uuid::Uuid::parse_str(request.erasure_id.trim()) else {
        return Err(RpcError::not_found(NO_SUCH_ERASURE));
    };
    let mut conn = auth.db.conn().await.map_err(unavailable)?;
    view(&mut conn, id)
        .await
        .map_err(|e| internal("reading the erasure", e))?
        .ok_or_else(|| RpcError::not_found(NO_SUCH_ERASURE))
}

async fn finish(auth: &Auth, started: Started) -> Result<ErasureStarted, RpcError> {
    auth.outbox.wake();
    auth.revocations.publish(&started.entries).await?;
    auth.api_keys.delete(&started.api_keys).await?;
    tracing::info!(revocations = started.entries.len(), "erasure started");
    Ok(ErasureStarted {
        erasure_id: started.id.simple().to_string(),
        status: ErasureStatus::Pending,
    })
}

/// The same erasure asked for again (a retry after `Unavailable`): its revocations and API
/// keys are put and withdrawn again; nothing else changes.
async fn again(
    conn: &mut AsyncPgConnection,
    id: uuid::Uuid,
    requested_at: DateTime<Utc>,
    user: Option<UserId>,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Started> {
    let parts = parts_of(conn, id).await?;
    let (mut entries, api_keys) = cut_access(conn, user, &parts, now).await?;
    entries.extend(
        tokens::revocations_since(conn, requested_at)
            .await?
            .into_iter()
            .map(|(key, revoked_at)| Entry { key, revoked_at }),
    );
    Ok(Started {
        id,
        entries,
        api_keys,
    })
}

#[derive(QueryableByName)]
struct MembershipRow {
    #[diesel(sql_type = SqlUuid)]
    tenant_id: uuid::Uuid,
    #[diesel(sql_type = Text)]
    role: String,
    #[diesel(sql_type = BigInt)]
    other_owners: i64,
}

/// A tenant the user solely owns goes whole; elsewhere only their membership goes.
async fn user_parts(conn: &mut AsyncPgConnection, user: UserId) -> diesel::QueryResult<Vec<Part>> {
    let rows: Vec<MembershipRow> = diesel::sql_query(
        "SELECT m.tenant_id, m.role, \
           (SELECT count(*) FROM memberships o WHERE o.tenant_id = m.tenant_id \
              AND o.role = 'owner' AND o.user_id <> m.user_id) AS other_owners \
         FROM memberships m WHERE m.user_id = $1 ORDER BY m.tenant_id",
    )
    .bind::<SqlUuid, _>(user.as_uuid())
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| Part {
            tenant: TenantId::from_uuid(row.tenant_id),
            whole: row.role == Role::Owner.as_str() && row.other_owners == 0,
        })
        .collect())
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = SqlUuid)]
    id: uuid::Uuid,
}

#[derive(QueryableByName)]
struct Present {
    #[diesel(sql_type = Bool)]
    present: bool,
}

/// Ends access to what goes, at once: the memberships (so no login or refresh lands there
/// again), their sessions and `member.` entries, the user's every session and `user.` entry,
/// pending invitations to a tenant that goes, and the API keys of a tenant that goes or that
/// the user created. Records the revocations; returns them and the revoked keys.
async fn cut_access(
    conn: &mut AsyncPgConnection,
    user: Option<UserId>,
    parts: &[Part],
    now: DateTime<Utc>,
) -> diesel::QueryResult<(Vec<Entry>, Vec<uuid::Uuid>)> {
    let mut entries = Vec::new();
    if let Some(user) = user {
        entries.extend(end_every_session(conn, user, now).await?);
    }
    let invitations: Vec<Present> =
        diesel::sql_query("SELECT to_regclass('invitations') IS NOT NULL AS present")
            .load(conn)
            .await?;
    let invitations = invitations.iter().any(|row| row.present);
    let mut api_keys = Vec::new();
    for part in parts {
        let members: Vec<uuid::Uuid> = if part.whole {
            memberships::table
                .filter(memberships::tenant_id.eq(part.tenant.as_uuid()))
                .select(memberships::user_id)
                .load(conn)
                .await?
        } else {
            user.map(|u| u.as_uuid()).into_iter().collect()
        };
        for member in members {
            let member = UserId::from_uuid(member);
            let families = tokens::revoke_member_sessions(conn, part.tenant, member, now).await?;
            entries.extend(revocations::sessions(&families, now));
            entries.push(Entry {
                key: membership_revocation_key(&part.tenant, &member),
                revoked_at: now,
            });
            crate::repo::identity::delete_membership(conn, part.tenant, member).await?;
        }
        let keys: Vec<Id> = match (part.whole, user) {
            (true, _) => {
                if invitations {
                    diesel::sql_query("DELETE FROM invitations WHERE tenant_id = $1")
                        .bind::<SqlUuid, _>(part.tenant.as_uuid())
                        .execute(conn)
                        .await?;
                }
                diesel::sql_query(
                    "UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) \
                     WHERE tenant_id = $1 RETURNING id",
                )
                .bind::<SqlUuid, _>(part.tenant.as_uuid())
                .bind::<Timestamptz, _>(now)
                .load(conn)
                .await?
            }
            (false, Some(user)) => {
                diesel::sql_query(
                    "UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) \
                     WHERE tenant_id = $1 AND created_by = $3 RETURNING id",
                )
                .bind::<SqlUuid, _>(part.tenant.as_uuid())
                .bind::<Timestamptz, _>(now)
                .bind::<SqlUuid, _>(user.as_uuid())
                .load(conn)
                .await?
            }
            (false, None) => Vec::new(),
        };
        api_keys.extend(keys.into_iter().map(|row| row.id));
    }
    revocations::record(conn, &entries).await?;
    Ok((entries, api_keys))
}

/// One request per part, and its audit event (in the part's tenant: the AUDIT stream keeps
/// it even where the tenant's stored log is erased).
fn requests(
    ctx: &RpcCtx,
    id: uuid::Uuid,
    parts: &[Part],
    user: Option<UserId>,
    target: (&str, String),
) -> diesel::QueryResult<Vec<Outgoing>> {
    let actor = ctx.identity.as_ref().map(|identity| identity.user_id);
    let mut out = Vec::new();
    for part in parts {
        let scope = match (part.whole, user) {
            (true, _) => ErasureScope::Tenant,
            (false, Some(user_id)) => ErasureScope::Member { user_id },
            (false, None) => continue,
        };
        let request = Envelope::new(
            part.tenant,
            ctx.request_id.clone(),
            Some(format!("request:{}", ctx.request_id)),
            ErasureRequested {
                erasure_id: id,
                tenant_id: part.tenant,
                scope,
            },
        );
        out.push(Outgoing::message(&request));
        if let Some(actor) = actor {
            let event = AuditEvent::new(
                actions::ERASURE_REQUESTED,
                Actor::User { id: actor },
                Outcome::Success,
                &ctx.request_id,
            )
            .target(target.0, &target.1)
            .reason(if part.whole {
                "the tenant is erased"
            } else {
                "the user's membership is erased"
            });
            out.push(herald_kit::audit::outgoing(part.tenant, event)?);
        }
    }
    Ok(out)
}
