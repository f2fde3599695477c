//! Posts and their per-account targets, including the target state machine's transitions.
//! Every transition is one conditional UPDATE, so two workers can never both own a target.

use super::schema::{accounts, post_targets, posts};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::{AccountId, PostId, TenantId};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = posts)]
pub struct Post {
    pub id: uuid::Uuid,
    pub tenant_id: uuid::Uuid,
    pub text: String,
    pub status: String,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub generation: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = post_targets)]
pub struct Target {
    pub post_id: uuid::Uuid,
    pub account_id: uuid::Uuid,
    pub tenant_id: uuid::Uuid,
    pub state: String,
    pub attempts: i32,
    pub idempotency_key: String,
    pub lease_until: Option<DateTime<Utc>>,
    pub remote_id: Option<String>,
    pub remote_url: Option<String>,
    pub last_error: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub first_attempt_at: Option<DateTime<Utc>>,
    pub checkpoint: Option<String>,
    pub not_before: Option<DateTime<Utc>>,
}

/// A target with what its account needs for the platform call.
#[derive(Debug, Clone)]
pub struct TargetWithAccount {
    pub target: Target,
    pub platform: String,
    pub instance_url: String,
    pub access_token: String,
}

/// The idempotency key of a target: fixed before the first attempt, the same on every retry.
pub fn idempotency_key(post: PostId, account: AccountId) -> String {
    format!("herald-{post}-{account}")
}

pub async fn insert_post(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
    text: &str,
    scheduled_at: DateTime<Utc>,
    account_ids: &[AccountId],
) -> QueryResult<()> {
    diesel::insert_into(posts::table)
        .values((
            posts::id.eq(post.as_uuid()),
            posts::tenant_id.eq(tenant.as_uuid()),
            posts::text.eq(text),
            posts::status.eq("scheduled"),
            posts::scheduled_at.eq(scheduled_at),
        ))
        .execute(conn)
        .await?;
    let targets: Vec<_> = account_ids
        .iter()
        .map(|account| {
            (
                post_targets::post_id.eq(post.as_uuid()),
                post_targets::account_id.eq(account.as_uuid()),
                post_targets::tenant_id.eq(tenant.as_uuid()),
                post_targets::state.eq("pending"),
                post_targets::idempotency_key.eq(idempotency_key(post, *account)),
            )
        })
        .collect();
    diesel::insert_into(post_targets::table)
        .values(targets)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn find_post(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
) -> QueryResult<Option<(Post, Vec<(Target, String)>)>> {
    let found: Option<Post> = posts::table
        .filter(posts::tenant_id.eq(tenant.as_uuid()))
        .filter(posts::id.eq(post.as_uuid()))
        .select(Post::as_select())
        .first(conn)
        .await
        .optional()?;
    let Some(found) = found else {
        return Ok(None);
    };
    let targets = post_targets::table
        .inner_join(accounts::table)
        .filter(post_targets::tenant_id.eq(tenant.as_uuid()))
        .filter(post_targets::post_id.eq(post.as_uuid()))
        .select((Target::as_select(), accounts::platform))
        .order(post_targets::account_id)
        .load(conn)
        .await?;
    Ok(Some((found, targets)))
}

/// Targets still to be published, with their accounts.
pub async fn open_targets(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
) -> QueryResult<Vec<TargetWithAccount>> {
    let rows: Vec<(Target, String, String, String)> = post_targets::table
        .inner_join(accounts::table)
        .filter(post_targets::tenant_id.eq(tenant.as_uuid()))
        .filter(post_targets::post_id.eq(post.as_uuid()))
        .filter(post_targets::state.ne_all(["done", "failed"]))
        .select((
            Target::as_select(),
            accounts::platform,
            accounts::instance_url,
            accounts::access_token,
        ))
        .order(post_targets::account_id)
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(target, platform, instance_url, access_token)| TargetWithAccount {
                target,
                platform,
                instance_url,
                access_token,
            },
        )
        .collect())
}

pub async fn mark_publishing(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
) -> QueryResult<usize> {
    diesel::update(posts::table)
        .filter(posts::tenant_id.eq(tenant.as_uuid()))
        .filter(posts::id.eq(post.as_uuid()))
        .filter(posts::status.eq("scheduled"))
        .set((
            posts::status.eq("publishing"),
            posts::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

/// Claims a target for one attempt: pending or unknown targets, or in-flight ones whose
/// holder's lease ran out (it died mid-call, so the outcome is unknown). Returns the new
/// attempt number and whether the previous attempt's outcome is unknown (reconcile first).
pub async fn claim_target(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
    account: AccountId,
    lease: chrono::Duration,
) -> QueryResult<Option<(i32, bool)>> {
    #[derive(QueryableByName)]
    struct Claimed {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        attempts: i32,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        ambiguous: bool,
    }
    let claimed: Option<Claimed> = diesel::sql_query(
        "UPDATE post_targets t SET state = 'in_flight', attempts = t.attempts + 1, \
         lease_until = now() + make_interval(secs => $4), updated_at = now() \
         FROM (SELECT state AS old_state FROM post_targets \
               WHERE tenant_id = $1 AND post_id = $2 AND account_id = $3 FOR UPDATE) old \
         WHERE t.tenant_id = $1 AND t.post_id = $2 AND t.account_id = $3 \
           AND (t.state IN ('pending', 'unknown') OR (t.state = 'in_flight' AND t.lease_until < now())) \
         RETURNING t.attempts, old.old_state <> 'pending' AS ambiguous",
    )
    .bind::<diesel::sql_types::Uuid, _>(tenant.as_uuid())
    .bind::<diesel::sql_types::Uuid, _>(post.as_uuid())
    .bind::<diesel::sql_types::Uuid, _>(account.as_uuid())
    .bind::<diesel::sql_types::Double, _>(lease.num_milliseconds() as f64 / 1000.0)
    .get_result(conn)
    .await
    .optional()?;
    Ok(claimed.map(|c| (c.attempts, c.ambiguous)))
}

/// Where an attempt ended.
pub enum AttemptEnd<'a> {
    Done {
        remote_id: &'a str,
        remote_url: Option<&'a str>,
    },
    /// Known not to have been created: try again later.
    NotCreated {
        error: &'a str,
    },
    /// May or may not have been created: reconcile before any retry.
    Unknown {
        error: &'a str,
    },
    Failed {
        error: &'a str,
    },
}

pub async fn finish_attempt(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
    account: AccountId,
    end: AttemptEnd<'_>,
) -> QueryResult<usize> {
    let target = post_targets::table
        .filter(post_targets::tenant_id.eq(tenant.as_uuid()))
        .filter(post_targets::post_id.eq(post.as_uuid()))
        .filter(post_targets::account_id.eq(account.as_uuid()))
        .filter(post_targets::state.eq("in_flight"));
    let now = Utc::now();
    match end {
        AttemptEnd::Done {
            remote_id,
            remote_url,
        } => {
            diesel::update(target)
                .set((
                    post_targets::state.eq("done"),
                    post_targets::remote_id.eq(remote_id),
                    post_targets::remote_url.eq(remote_url),
                    post_targets::published_at.eq(now),
                    post_targets::lease_until.eq(None::<DateTime<Utc>>),
                    post_targets::last_error.eq(None::<String>),
                    post_targets::updated_at.eq(now),
                ))
                .execute(conn)
                .await
        }
        AttemptEnd::NotCreated { error }
        | AttemptEnd::Unknown { error }
        | AttemptEnd::Failed { error } => {
            let state = match end {
                AttemptEnd::NotCreated { .. } => "pending",
                AttemptEnd::Unknown { .. } => "unknown",
                _ => "failed",
            };
            diesel::update(target)
                .set((
                    post_targets::state.eq(state),
                    post_targets::last_error.eq(error),
                    post_targets::lease_until.eq(None::<DateTime<Utc>>),
                    post_targets::updated_at.eq(now),
                ))
                .execute(conn)
                .await
        }
    }
}

/// Sets the post's final status once no target is open; returns the targets if it did.
pub async fn settle_post(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
) -> QueryResult<Option<Vec<(Target, String, String)>>> {
    let targets: Vec<(Target, String, String)> = post_targets::table
        .inner_join(accounts::table)
        .filter(post_targets::tenant_id.eq(tenant.as_uuid()))
        .filter(post_targets::post_id.eq(post.as_uuid()))
        .select((
            Target::as_select(),
            accounts::platform,
            accounts::instance_url,
        ))
        .order(post_targets::account_id)
        .for_update()
        .load(conn)
        .await?;
    if targets
        .iter()
        .any(|(t, _, _)| t.state != "done" && t.state != "failed")
    {
        return Ok(None);
    }
    let all_done = targets.iter().all(|(t, _, _)| t.state == "done");
    let status = if all_done { "published" } else { "failed" };
    let changed = diesel::update(posts::table)
        .filter(posts::tenant_id.eq(tenant.as_uuid()))
        .filter(posts::id.eq(post.as_uuid()))
        .filter(posts::status.eq_any(["scheduled", "publishing"]))
        .set((
            posts::status.eq(status),
            posts::published_at.eq(all_done.then(Utc::now)),
            posts::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok((changed == 1).then_some(targets))
}
