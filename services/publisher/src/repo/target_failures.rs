//! Targets that failed for good, and re-opening one when its dead letter is replayed.
//!
//! Every failure of a target is numbered (1, 2, … for a target re-opened and failed again), so
//! the dead letter written with it has a deterministic id; the row also says whether the failed
//! attempt left the post's presence on the platform unsettled (then the re-opened target
//! reconciles before it publishes).

use super::schema::{accounts, post_targets, posts};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::{AccountId, PostId, TenantId};

diesel::table! {
    target_failures (post_id, account_id, failure) {
        post_id -> Uuid,
        account_id -> Uuid,
        failure -> Integer,
        tenant_id -> Uuid,
        attempts -> Integer,
        reason -> Text,
        reconcile_first -> Bool,
        failed_at -> Timestamptz,
        reopened_at -> Nullable<Timestamptz>,
    }
}

/// Post statuses from which a failed target may be re-opened (not cancelled, held or earlier).
pub const REOPENABLE_POSTS: [&str; 3] = ["publishing", "failed", "partially_published"];

/// Records a failure of a target that has just ended `failed` (the caller's transaction holds
/// the target's row, so its failures are numbered one at a time); returns its number.
pub async fn record_failure(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
    account: AccountId,
    attempts: i32,
    reason: &str,
    reconcile_first: bool,
) -> QueryResult<i32> {
    let last: Option<i32> = target_failures::table
        .filter(target_failures::tenant_id.eq(tenant.as_uuid()))
        .filter(target_failures::post_id.eq(post.as_uuid()))
        .filter(target_failures::account_id.eq(account.as_uuid()))
        .select(diesel::dsl::max(target_failures::failure))
        .first(conn)
        .await?;
    let failure = last.unwrap_or(0) + 1;
    diesel::insert_into(target_failures::table)
        .values((
            target_failures::post_id.eq(post.as_uuid()),
            target_failures::account_id.eq(account.as_uuid()),
            target_failures::failure.eq(failure),
            target_failures::tenant_id.eq(tenant.as_uuid()),
            target_failures::attempts.eq(attempts),
            target_failures::reason.eq(reason),
            target_failures::reconcile_first.eq(reconcile_first),
        ))
        .execute(conn)
        .await?;
    Ok(failure)
}

/// A target as re-opening sees it.
#[derive(Debug, Clone, Queryable)]
pub struct LockedTarget {
    pub state: String,
    pub first_attempt_at: Option<DateTime<Utc>>,
    pub disconnected_at: Option<DateTime<Utc>>,
}

/// The target and its account's state. Not locked: the caller holds the post's lock (which
/// serialises it with claims) and re-opening is a conditional update.
pub async fn find_target(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
    account: AccountId,
) -> QueryResult<Option<LockedTarget>> {
    post_targets::table
        .inner_join(accounts::table)
        .filter(post_targets::tenant_id.eq(tenant.as_uuid()))
        .filter(post_targets::post_id.eq(post.as_uuid()))
        .filter(post_targets::account_id.eq(account.as_uuid()))
        .select((
            post_targets::state,
            post_targets::first_attempt_at,
            accounts::disconnected_at,
        ))
        .first(conn)
        .await
        .optional()
}

/// Whether the target's latest failure left its outcome unsettled; `None` if none is recorded.
pub async fn last_reconcile_first(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
    account: AccountId,
) -> QueryResult<Option<bool>> {
    target_failures::table
        .filter(target_failures::tenant_id.eq(tenant.as_uuid()))
        .filter(target_failures::post_id.eq(post.as_uuid()))
        .filter(target_failures::account_id.eq(account.as_uuid()))
        .order(target_failures::failure.desc())
        .select(target_failures::reconcile_first)
        .first(conn)
        .await
        .optional()
}

/// Moves a `failed` target back to `state` (`pending`, or `unknown` to reconcile first) with a
/// fresh attempt budget, and marks its failures re-opened. Its idempotency key, first
/// attempt time and checkpoint stay, so the platform and reconciliation still recognise earlier
/// attempts. Returns whether the target was failed.
pub async fn reopen_target(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
    account: AccountId,
    state: &'static str,
) -> QueryResult<bool> {
    let changed = diesel::update(post_targets::table)
        .filter(post_targets::tenant_id.eq(tenant.as_uuid()))
        .filter(post_targets::post_id.eq(post.as_uuid()))
        .filter(post_targets::account_id.eq(account.as_uuid()))
        .filter(post_targets::state.eq("failed"))
        .set((
            post_targets::state.eq(state),
            post_targets::attempts.eq(0),
            post_targets::not_before.eq(None::<DateTime<Utc>>),
            post_targets::lease_until.eq(None::<DateTime<Utc>>),
            post_targets::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    if changed == 0 {
        return Ok(false);
    }
    diesel::update(target_failures::table)
        .filter(target_failures::tenant_id.eq(tenant.as_uuid()))
        .filter(target_failures::post_id.eq(post.as_uuid()))
        .filter(target_failures::account_id.eq(account.as_uuid()))
        .filter(target_failures::reopened_at.is_null())
        .set(target_failures::reopened_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?;
    Ok(true)
}

/// Puts a settled post (or one still publishing) back to `publishing`, so the next round
/// claims the re-opened target and settling sets its final status again.
pub async fn reopen_post(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
) -> QueryResult<usize> {
    diesel::update(posts::table)
        .filter(posts::tenant_id.eq(tenant.as_uuid()))
        .filter(posts::id.eq(post.as_uuid()))
        .filter(posts::status.eq_any(REOPENABLE_POSTS))
        .set((
            posts::status.eq("publishing"),
            posts::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}
