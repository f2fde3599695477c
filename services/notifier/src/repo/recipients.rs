//! People a tenant's notifications go to.

use super::schema::recipients;
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::rpc::Role;
use herald_contracts::{TenantId, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub user_id: UserId,
    pub email: String,
}

/// Inserts the recipient or refreshes its address and role (a later registration event wins).
pub async fn upsert(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    user: UserId,
    email: &str,
    role: Role,
) -> QueryResult<usize> {
    diesel::insert_into(recipients::table)
        .values((
            recipients::tenant_id.eq(tenant.as_uuid()),
            recipients::user_id.eq(user.as_uuid()),
            recipients::email.eq(email),
            recipients::role.eq(role.as_str()),
        ))
        .on_conflict((recipients::tenant_id, recipients::user_id))
        .do_update()
        .set((
            recipients::email.eq(excluded(recipients::email)),
            recipients::role.eq(excluded(recipients::role)),
            recipients::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

/// Everyone in the tenant who receives email, in a stable order.
pub async fn of_tenant(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
) -> QueryResult<Vec<Recipient>> {
    let rows: Vec<(uuid::Uuid, String)> = recipients::table
        .filter(recipients::tenant_id.eq(tenant.as_uuid()))
        .select((recipients::user_id, recipients::email))
        .order(recipients::user_id)
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(user_id, email)| Recipient {
            user_id: UserId::from_uuid(user_id),
            email,
        })
        .collect())
}
