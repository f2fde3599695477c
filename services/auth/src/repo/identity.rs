//! Tenants, users and memberships.

use super::{memberships, tenants, users};
use crate::domain::{Email, TenantName};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::rpc::Role;
use herald_contracts::{TenantId, UserId};

/// The unique index on `lower(email)`; its violation means "email already registered".
pub const EMAIL_UNIQUE: &str = "users_email_unique";

/// Whether `error` is a second user with the same email.
pub fn is_duplicate_email(error: &Error) -> bool {
    matches!(
        error,
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
            if info.constraint_name() == Some(EMAIL_UNIQUE)
    )
}

pub async fn insert_tenant(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    name: &TenantName,
) -> QueryResult<usize> {
    diesel::insert_into(tenants::table)
        .values((
            tenants::id.eq(tenant.as_uuid()),
            tenants::name.eq(name.as_str()),
        ))
        .execute(conn)
        .await
}

pub async fn insert_user(
    conn: &mut AsyncPgConnection,
    user: UserId,
    email: &Email,
    password_hash: &str,
) -> QueryResult<usize> {
    diesel::insert_into(users::table)
        .values((
            users::id.eq(user.as_uuid()),
            users::email.eq(email.as_str()),
            users::password_hash.eq(password_hash),
        ))
        .execute(conn)
        .await
}

pub async fn insert_membership(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    user: UserId,
    role: Role,
) -> QueryResult<usize> {
    diesel::insert_into(memberships::table)
        .values((
            memberships::tenant_id.eq(tenant.as_uuid()),
            memberships::user_id.eq(user.as_uuid()),
            memberships::role.eq(role.as_str()),
        ))
        .execute(conn)
        .await
}

pub async fn email_registered(conn: &mut AsyncPgConnection, email: &Email) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(users::email.eq(email.as_str())),
    ))
    .get_result(conn)
    .await
}

/// The user with `email` and their password hash, if there is one.
pub async fn credentials(
    conn: &mut AsyncPgConnection,
    email: &Email,
) -> QueryResult<Option<(UserId, String)>> {
    let row: Option<(uuid::Uuid, String)> = users::table
        .filter(users::email.eq(email.as_str()))
        .select((users::id, users::password_hash))
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(|(id, hash)| (UserId::from_uuid(id), hash)))
}

/// The membership a login lands in: the tenant the user owns, otherwise the one they
/// joined first (ties broken by tenant id so the choice is stable). Choosing a tenant at
/// login (or switching later) is future work; until then this rule is the contract.
pub async fn login_membership(
    conn: &mut AsyncPgConnection,
    user: UserId,
) -> QueryResult<Option<(TenantId, Role)>> {
    let row: Option<(uuid::Uuid, String)> = memberships::table
        .filter(memberships::user_id.eq(user.as_uuid()))
        .select((memberships::tenant_id, memberships::role))
        .order((
            diesel::dsl::sql::<diesel::sql_types::Bool>("role <> 'owner'"),
            memberships::created_at,
            memberships::tenant_id,
        ))
        .first(conn)
        .await
        .optional()?;
    row.map(|(tenant, role)| {
        Role::parse(&role)
            .map(|role| (TenantId::from_uuid(tenant), role))
            .ok_or_else(|| Error::DeserializationError(format!("unknown role {role:?}").into()))
    })
    .transpose()
}

fn parse_role(role: &str) -> Result<Role, Error> {
    Role::parse(role)
        .ok_or_else(|| Error::DeserializationError(format!("unknown role {role:?}").into()))
}

/// The user's role in `tenant`, if they are a member.
pub async fn membership_role(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    user: UserId,
) -> QueryResult<Option<Role>> {
    let role: Option<String> = memberships::table
        .filter(memberships::tenant_id.eq(tenant.as_uuid()))
        .filter(memberships::user_id.eq(user.as_uuid()))
        .select(memberships::role)
        .first(conn)
        .await
        .optional()?;
    role.as_deref().map(parse_role).transpose()
}

/// Like `membership_role`, holding the row until the transaction ends.
pub async fn lock_membership(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    user: UserId,
) -> QueryResult<Option<Role>> {
    let role: Option<String> = memberships::table
        .filter(memberships::tenant_id.eq(tenant.as_uuid()))
        .filter(memberships::user_id.eq(user.as_uuid()))
        .select(memberships::role)
        .for_update()
        .first(conn)
        .await
        .optional()?;
    role.as_deref().map(parse_role).transpose()
}

pub async fn delete_membership(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    user: UserId,
) -> QueryResult<usize> {
    diesel::delete(
        memberships::table
            .filter(memberships::tenant_id.eq(tenant.as_uuid()))
            .filter(memberships::user_id.eq(user.as_uuid())),
    )
    .execute(conn)
    .await
}

/// A member as listed to the tenant: user, email, role, joined.
pub type MemberRow = (UserId, String, Role, chrono::DateTime<chrono::Utc>);

/// The tenant's members, in the order they joined.
pub async fn members(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
) -> QueryResult<Vec<MemberRow>> {
    let rows: Vec<(uuid::Uuid, String, String, chrono::DateTime<chrono::Utc>)> = memberships::table
        .inner_join(users::table)
        .filter(memberships::tenant_id.eq(tenant.as_uuid()))
        .select((
            users::id,
            users::email,
            memberships::role,
            memberships::created_at,
        ))
        .order((memberships::created_at, users::id))
        .load(conn)
        .await?;
    rows.into_iter()
        .map(|(user, email, role, joined)| {
            Ok((UserId::from_uuid(user), email, parse_role(&role)?, joined))
        })
        .collect()
}

/// The user's password hash, if the user exists.
pub async fn password_hash(
    conn: &mut AsyncPgConnection,
    user: UserId,
) -> QueryResult<Option<String>> {
    users::table
        .filter(users::id.eq(user.as_uuid()))
        .select(users::password_hash)
        .first(conn)
        .await
        .optional()
}

pub async fn update_password(
    conn: &mut AsyncPgConnection,
    user: UserId,
    password_hash: &str,
) -> QueryResult<usize> {
    diesel::update(users::table.filter(users::id.eq(user.as_uuid())))
        .set(users::password_hash.eq(password_hash))
        .execute(conn)
        .await
}

/// Changes a member's role (the caller holds the row lock).
pub async fn set_role(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    user: UserId,
    role: Role,
) -> QueryResult<usize> {
    diesel::update(
        memberships::table
            .filter(memberships::tenant_id.eq(tenant.as_uuid()))
            .filter(memberships::user_id.eq(user.as_uuid())),
    )
    .set(memberships::role.eq(role.as_str()))
    .execute(conn)
    .await
}

/// The tenant's owners, locked until the transaction ends: two owners demoting (or removing)
/// each other at once are decided one after the other, so the last owner always stays.
pub async fn lock_owners(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
) -> QueryResult<Vec<UserId>> {
    let owners: Vec<uuid::Uuid> = memberships::table
        .filter(memberships::tenant_id.eq(tenant.as_uuid()))
        .filter(memberships::role.eq(Role::Owner.as_str()))
        .select(memberships::user_id)
        .order(memberships::user_id)
        .for_update()
        .load(conn)
        .await?;
    Ok(owners.into_iter().map(UserId::from_uuid).collect())
}

/// One member as listed to the tenant.
pub async fn member(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    user: UserId,
) -> QueryResult<Option<MemberRow>> {
    let row: Option<(uuid::Uuid, String, String, chrono::DateTime<chrono::Utc>)> =
        memberships::table
            .inner_join(users::table)
            .filter(memberships::tenant_id.eq(tenant.as_uuid()))
            .filter(memberships::user_id.eq(user.as_uuid()))
            .select((
                users::id,
                users::email,
                memberships::role,
                memberships::created_at,
            ))
            .first(conn)
            .await
            .optional()?;
    row.map(|(user, email, role, joined)| {
        Ok((UserId::from_uuid(user), email, parse_role(&role)?, joined))
    })
    .transpose()
}

/// Whether someone with `email` is a member of `tenant`.
pub async fn is_member_email(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    email: &Email,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        memberships::table
            .inner_join(users::table)
            .filter(memberships::tenant_id.eq(tenant.as_uuid()))
            .filter(users::email.eq(email.as_str())),
    ))
    .get_result(conn)
    .await
}

/// A user's address and whether it is verified.
pub async fn profile(
    conn: &mut AsyncPgConnection,
    user: UserId,
) -> QueryResult<Option<(String, Option<chrono::DateTime<chrono::Utc>>)>> {
    users::table
        .filter(users::id.eq(user.as_uuid()))
        .select((users::email, users::email_verified_at))
        .first(conn)
        .await
        .optional()
}

/// Marks the user's address verified, if it is still `email` (a token sent to an earlier
/// address verifies nothing). Returns whether a row changed.
pub async fn mark_email_verified(
    conn: &mut AsyncPgConnection,
    user: UserId,
    email: &str,
) -> QueryResult<bool> {
    let changed = diesel::update(
        users::table
            .filter(users::id.eq(user.as_uuid()))
            .filter(users::email.eq(email))
            .filter(users::email_verified_at.is_null()),
    )
    .set(users::email_verified_at.eq(diesel::dsl::now))
    .execute(conn)
    .await?;
    Ok(changed == 1)
}

/// A new user whose address is already verified (an accepted invitation proves it).
pub async fn insert_verified_user(
    conn: &mut AsyncPgConnection,
    user: UserId,
    email: &Email,
    password_hash: &str,
) -> QueryResult<usize> {
    diesel::insert_into(users::table)
        .values((
            users::id.eq(user.as_uuid()),
            users::email.eq(email.as_str()),
            users::password_hash.eq(password_hash),
            users::email_verified_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

/// Every tenant the user belongs to, with its name and the role (needs a system scope or
/// gives only the scope's tenant), in the order the user joined.
pub async fn memberships_of(
    conn: &mut AsyncPgConnection,
    user: UserId,
) -> QueryResult<Vec<(TenantId, String, Role)>> {
    let rows: Vec<(uuid::Uuid, String, String)> = memberships::table
        .inner_join(tenants::table)
        .filter(memberships::user_id.eq(user.as_uuid()))
        .select((tenants::id, tenants::name, memberships::role))
        .order((memberships::created_at, tenants::id))
        .load(conn)
        .await?;
    rows.into_iter()
        .map(|(tenant, name, role)| Ok((TenantId::from_uuid(tenant), name, parse_role(&role)?)))
        .collect()
}

pub async fn tenant_name(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
) -> QueryResult<Option<String>> {
    tenants::table
        .filter(tenants::id.eq(tenant.as_uuid()))
        .select(tenants::name)
        .first(conn)
        .await
        .optional()
}
