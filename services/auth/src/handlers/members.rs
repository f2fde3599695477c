//! `rpc.auth.members.list` and `rpc.auth.members.remove`: a tenant's members, and removing
//! one. Removal deletes the membership, revokes the member's refresh families in this tenant
//! and puts `member.<tenant>.<user>` (their tokens for this tenant issued before this second
//! are refused) plus each family's `sid`. The owner cannot be removed; a user who is not a
//! member of the caller's tenant is "not found", whatever other tenant they belong to.

use super::{Auth, internal, unavailable};
use crate::repo::{identity, tokens};
use crate::revocations::{self, Entry};
use diesel_async::AsyncConnection;
use herald_contracts::rpc::auth::{
    Done, Member, MemberList, NoParams, RemoveMemberRequest, membership_revocation_key,
};
use herald_contracts::rpc::{ErrorCode, Role, RpcError};
use herald_kit::RpcCtx;

pub const OWNER_NOT_REMOVABLE: &str = "the tenant's owner cannot be removed";
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
    Owner,
    Removed(Vec<Entry>),
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
            match identity::lock_membership(conn, tenant, member).await? {
                None => {
                    let key = membership_revocation_key(&tenant, &member);
                    let since = now - revocations::retention();
                    let recent = tokens::revocation(conn, &key, since).await?;
                    return Ok(Removal::NotFound(
                        recent.map(|revoked_at| Entry { key, revoked_at }),
                    ));
                }
                Some(Role::Owner) => return Ok(Removal::Owner),
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
            Ok(Removal::Removed(entries))
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
        Removal::Removed(entries) => {
            auth.revocations.publish(&entries).await?;
            // audit: member removed (tenant, actor = identity.user_id, member).
            tracing::info!(tenant.id = %tenant, user.id = %identity.user_id, member.id = %member, "member removed");
            Ok(Done {})
        }
    }
}
