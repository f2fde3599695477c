//! Published targets whose metrics are collected.

use super::schema::tracked_posts;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::messages::PublishedTarget;
use herald_contracts::{AccountId, PostId, TenantId};

/// A target as the collector needs it; `platform` is parsed by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedTarget {
    pub account_id: AccountId,
    pub platform: String,
    pub instance_url: String,
    pub remote_id: String,
}

/// Starts tracking every target of a post; targets tracked already are left as they are.
pub async fn track(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
    targets: &[PublishedTarget],
) -> QueryResult<usize> {
    if targets.is_empty() {
        return Ok(0);
    }
    let rows: Vec<_> = targets
        .iter()
        .map(|target| {
            (
                tracked_posts::tenant_id.eq(tenant.as_uuid()),
                tracked_posts::post_id.eq(post.as_uuid()),
                tracked_posts::account_id.eq(target.account_id.as_uuid()),
                tracked_posts::platform.eq(target.platform.as_str()),
                tracked_posts::instance_url.eq(&target.instance_url),
                tracked_posts::remote_id.eq(&target.remote_id),
                tracked_posts::published_at.eq(target.published_at),
            )
        })
        .collect();
    diesel::insert_into(tracked_posts::table)
        .values(rows)
        .on_conflict((tracked_posts::post_id, tracked_posts::account_id))
        .do_nothing()
        .execute(conn)
        .await
}

/// The tracked targets of the tenant's post, in a stable order.
pub async fn targets_of(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
) -> QueryResult<Vec<TrackedTarget>> {
    let rows: Vec<(uuid::Uuid, String, String, String)> = tracked_posts::table
        .filter(tracked_posts::tenant_id.eq(tenant.as_uuid()))
        .filter(tracked_posts::post_id.eq(post.as_uuid()))
        .order(tracked_posts::account_id)
        .select((
            tracked_posts::account_id,
            tracked_posts::platform,
            tracked_posts::instance_url,
            tracked_posts::remote_id,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(account_id, platform, instance_url, remote_id)| TrackedTarget {
                account_id: AccountId::from_uuid(account_id),
                platform,
                instance_url,
                remote_id,
            },
        )
        .collect())
}

/// How many targets of the tenant's post are tracked (operators and tests).
pub async fn count(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
) -> QueryResult<i64> {
    tracked_posts::table
        .filter(tracked_posts::tenant_id.eq(tenant.as_uuid()))
        .filter(tracked_posts::post_id.eq(post.as_uuid()))
        .count()
        .get_result(conn)
        .await
}
