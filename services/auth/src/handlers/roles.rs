//! `rpc.auth.members.role`: change a member's role in the caller's tenant.
//!
//! Rules (checked here, where the data is, whatever the gateway checked): admins and owners
//! manage admins, editors and viewers; only an owner grants `owner` or changes an owner's
//! role; the last owner cannot be demoted (409). Every owner row of the tenant is locked
//! first, so two owners demoting each other at once cannot leave the tenant without one.
//!
//! The member's access tokens must not keep the old role: `member.<tenant>.<user>` is put with
//! the *next* whole second, so every token of theirs for this tenant issued up to now is
//! refused on every gateway within a second (gateways compare whole seconds), while their
//! sessions live on: the refresh reads the role from the database, and tokens it mints carry
//! an `iat` no earlier than that second ([`super::refresh::issue_at`]).

use super::{Auth, internal, unavailable};
use crate::repo::{identity, tokens};
use crate::revocations::{self, Entry};
use chrono::{DurationRound, TimeDelta};
use diesel_async::AsyncConnection;
use herald_contracts::messages::audit::{Actor, AuditEvent, Outcome, actions};
use herald_contracts::rpc::auth::{Member, membership_revocation_key};
use herald_contracts::rpc::identity::ChangeRoleRequest;
use herald_contracts::rpc::{ErrorCode, Role, RpcError};
use herald_kit::RpcCtx;

pub const LAST_OWNER: &str = "the tenant's last owner cannot give up the owner role";
pub const OWNERS_ONLY: &str = "only an owner grants or changes the owner role";

enum Change {
    NotFound,
    Forbidden(&'static str),
    LastOwner,
    /// Already so; the recent revocation, if any, is put again (a retry after `Unavailable`).
    Unchanged(Member, Option<Entry>),
    /// Changed; the revocation to put and the API keys revoked with a demotion.
    Changed(Member, Role, Entry, Vec<uuid::Uuid>),
}

fn member_of(row: identity::MemberRow) -> Member {
    let (user_id, email, role, joined_at) = row;
    Member {
        user_id,
        email,
        role,
        joined_at,
    }
}

pub async fn change(
    auth: Auth,
    ctx: RpcCtx,
    request: ChangeRoleRequest,
) -> Result<Member, RpcError> {
    let identity = ctx.identity()?;
    if !identity.role.at_least(Role::Admin) || identity.api_key_id.is_some() {
        return Err(RpcError::new(ErrorCode::Forbidden, "not allowed"));
    }
    let (tenant, actor) = (identity.tenant_id, identity.user_id);
    let caller_role = identity.role;
    let (member, wanted) = (request.user_id, request.role);
    let now = revocations::now();
    // Whole seconds: the next one refuses every token issued up to now (see the module doc).
    let effective =
        now.duration_trunc(TimeDelta::seconds(1)).unwrap_or(now) + TimeDelta::seconds(1);
    let mut conn = auth.db.tenant(tenant).await.map_err(unavailable)?;
    let change = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let owners = identity::lock_owners(conn, tenant).await?;
            let Some(current) = identity::lock_membership(conn, tenant, member).await? else {
                return Ok(Change::NotFound);
            };
            // The caller's role is read again: it may have changed since their token.
            let caller = identity::membership_role(conn, tenant, actor)
                .await?
                .unwrap_or(caller_role);
            if !caller.at_least(Role::Admin) {
                return Ok(Change::Forbidden("not allowed"));
            }
            if (current == Role::Owner || wanted == Role::Owner) && caller != Role::Owner {
                return Ok(Change::Forbidden(OWNERS_ONLY));
            }
            if current == wanted {
                let key = membership_revocation_key(&tenant, &member);
                let recent = tokens::revocation(conn, &key, now - revocations::retention())
                    .await?
                    .map(|revoked_at| Entry { key, revoked_at });
                let row = identity::member(conn, tenant, member).await?;
                return Ok(row.map_or(Change::NotFound, |row| {
                    Change::Unchanged(member_of(row), recent)
                }));
            }
            if current == Role::Owner && owners.len() <= 1 {
                return Ok(Change::LastOwner);
            }
            identity::set_role(conn, tenant, member, wanted).await?;
            // A demoted member's keys could act with the old role's scopes: they go too.
            let keys = if wanted.at_least(current) {
                Vec::new()
            } else {
                super::api_keys::revoke_created_by(
                    conn,
                    tenant,
                    member,
                    Actor::User { id: actor },
                    &ctx.request_id,
                    now,
                    "its creator's role was lowered",
                )
                .await?
            };
            let entry = Entry {
                key: membership_revocation_key(&tenant, &member),
                revoked_at: effective,
            };
            revocations::record(conn, std::slice::from_ref(&entry)).await?;
            let event = AuditEvent::new(
                actions::MEMBER_ROLE_CHANGED,
                Actor::User { id: actor },
                Outcome::Success,
                &ctx.request_id,
            )
            .target("user", member)
            .reason(format!("{} -> {}", current.as_str(), wanted.as_str()));
            herald_kit::audit::record(conn, tenant, event).await?;
            let row = identity::member(conn, tenant, member).await?;
            Ok(match row {
                Some(row) => Change::Changed(member_of(row), current, entry, keys),
                None => Change::NotFound,
            })
        })
        .await
        .map_err(|e| internal("changing the role", e))?;
    match change {
        Change::NotFound => Err(RpcError::not_found(super::members::NOT_A_MEMBER)),
        Change::Forbidden(message) => Err(RpcError::new(ErrorCode::Forbidden, message)),
        Change::LastOwner => Err(RpcError::new(ErrorCode::Conflict, LAST_OWNER)),
        Change::Unchanged(view, recent) => {
            if let Some(entry) = recent {
                auth.revocations.publish(&[entry]).await?;
            }
            Ok(view)
        }
        Change::Changed(view, from, entry, keys) => {
            auth.outbox.wake();
            auth.revocations.publish(&[entry]).await?;
            auth.api_keys.delete(&keys).await?;
            tracing::info!(tenant.id = %tenant, user.id = %actor, member.id = %member, role.from = from.as_str(), role.to = view.role.as_str(), "member role changed");
            Ok(view)
        }
    }
}
