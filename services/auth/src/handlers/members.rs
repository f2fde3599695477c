//! `rpc.auth.members.list` and `rpc.auth.members.remove`: a tenant's members, and removing
//! one. Removal deletes the membership, revokes the member's refresh families in this tenant
//! and puts `member.<tenant>.<user>` (their tokens for this tenant issued before this second
//! are refused) plus each family's `sid`, and revokes the API keys the member created; it is
//! audited (`member.removed`). Only an owner removes an owner (403) and the last owner stays
//! (409); a user who is not a member of the caller's tenant is "not found", whatever other
//! tenant they belong to.

use super::{Auth, internal, unavailable};
use crate::repo::{identity, tokens};
use crate::revocations::{self, Entry};
use diesel_async::AsyncConnection;
use herald_contracts::messages::audit::{Actor, AuditEvent, Outcome, actions};
use herald_contracts::rpc::auth::{
    Done, Member, MemberList, NoParams, RemoveMemberRequest, membership_revocation_key,
};
use herald_contracts::rpc::{ErrorCode, Role, RpcError};
use herald_kit::RpcCtx;

pub const OWNER_NOT_REMOVABLE: &str = "only an owner removes an owner";
pub const LAST_OWNER_NOT_REMOVABLE: &str = "the tenant's last owner cannot be removed";
pub const NOT_A_MEMBER: &str = "no such member";

pub async fn list(auth: Auth, ctx: RpcCtx, _request: NoParams) -> Result<MemberList, RpcError> {
    let tenant = ctx.tenant()?;
    let mut conn = auth.db.tenant(tenant).await.map_err(unavailable)?;
    let rows = identity::members(&mut conn, tenant)
        .await
        .map_err(|e| internal("listing members", e))?;
    Ok(MemberList {
        members: rows
            .into_iter()
            .map(|(user_id, email, role, joined_at)| Member {
                user_id,
                email,
                role,
                joined_at,
            })
            .collect(),
    })
}

enum Removal {
    /// Not a member; `Some` if they were removed recently (a retry after `Unavailable`):
    /// their entry is put again, so a lost write heals without waiting for a restart.
    NotFound(Option<Entry>),
    /// An owner, and the caller is not one (403).
    Owner,
    /// The tenant's only owner (409).
    LastOwner,
    /// The revocations to put, and the API keys the member created (revoked with them).
    Removed(Vec<Entry>, Vec<uuid::Uuid>),
}

pub async fn remove(
    auth: Auth,
    ctx: RpcCtx,
    request: RemoveMemberRequest,
) -> Result<Done, RpcError> {
    let identity = ctx.identity()?;
    // The gateway's policy asks for admin; checked again here, where the data is.
    if !identity.role.at_least(Role::Admin) {
        return Err(RpcError::new(ErrorCode::Forbidden, "not allowed"));
    }
    let tenant = identity.tenant_id;
    let member = request.user_id;
    let now = revocations::now();
    let mut conn = auth.db.tenant(tenant).await.map_err(unavailable)?;
    let removal = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            // Owners first, in the order `roles::change` takes them: the last owner stays.
            let owners = identity::lock_owners(conn, tenant).await?;
            match identity::lock_membership(conn, tenant, member).await? {
                None => {
                    let key = membership_revocation_key(&tenant, &member);
                    let since = now - revocations::retention();
                    let recent = tokens::revocation(conn, &key, since).await?;
                    return Ok(Removal::NotFound(
                        recent.map(|revoked_at| Entry { key, revoked_at }),
                    ));
                }
                Some(Role::Owner) if identity.role != Role::Owner => {
                    return Ok(Removal::Owner);
                }
                Some(Role::Owner) if owners.len() <= 1 => return Ok(Removal::LastOwner),
                Some(_) => {}
            }
            identity::delete_membership(conn, tenant, member).await?;
            let families = tokens::revoke_member_sessions(conn, tenant, member, now).await?;
            let mut entries = revocations::sessions(&families, now);
            entries.push(Entry {
                key: membership_revocation_key(&tenant, &member),
                revoked_at: now,
            });
            revocations::record(conn, &entries).await?;
            // Keys the member created stop working with them.
            let actor = herald_contracts::messages::audit::Actor::User {
                id: identity.user_id,
            };
            let keys = super::api_keys::revoke_created_by(
                conn,
                tenant,
                member,
                actor,
                &ctx.request_id,
                now,
                "its creator left the tenant",
            )
            .await?;
            let event = AuditEvent::new(
                actions::MEMBER_REMOVED,
                Actor::User {
                    id: identity.user_id,
                },
                Outcome::Success,
                &ctx.request_id,
            )
            .target("user", member);
            herald_kit::audit::record(conn, tenant, event).await?;
            Ok(Removal::Removed(entries, keys))
        })
        .await
        .map_err(|e| internal("removing the member", e))?;
    match removal {
        Removal::NotFound(recent) => {
            if let Some(entry) = recent {
                auth.revocations.publish(&[entry]).await?;
            }
            Err(RpcError::not_found(NOT_A_MEMBER))
        }
        Removal::Owner => Err(RpcError::new(ErrorCode::Forbidden, OWNER_NOT_REMOVABLE)),
        Removal::LastOwner => Err(RpcError::new(ErrorCode::Conflict, LAST_OWNER_NOT_REMOVABLE)),
        Removal::Removed(entries, keys) => {
            auth.outbox.wake();
            auth.revocations.publish(&entries).await?;
            auth.api_keys.delete(&keys).await?;
            tracing::info!(tenant.id = %tenant, user.id = %identity.user_id, member.id = %member, "member removed");
            Ok(Done {})
        }
    }
}
