//! Metric samples: one per target and collection round.

use super::schema::metric_samples;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::messages::Platform;
use herald_contracts::rpc::insights::MetricSampleView;
use herald_contracts::{AccountId, PostId, TenantId};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSample {
    pub account_id: AccountId,
    pub platform: Platform,
    pub remote_id: String,
    pub likes: i64,
    pub reposts: i64,
    pub replies: i64,
}

/// Stores the round's samples; a sample of the same post, account and round is kept as is.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
    round: i32,
    collected_at: DateTime<Utc>,
    samples: &[NewSample],
) -> QueryResult<usize> {
    if samples.is_empty() {
        return Ok(0);
    }
    let rows: Vec<_> = samples
        .iter()
        .map(|sample| {
            (
                metric_samples::id.eq(Uuid::now_v7()),
                metric_samples::tenant_id.eq(tenant.as_uuid()),
                metric_samples::post_id.eq(post.as_uuid()),
                metric_samples::account_id.eq(sample.account_id.as_uuid()),
                metric_samples::platform.eq(sample.platform.as_str()),
                metric_samples::remote_id.eq(&sample.remote_id),
                metric_samples::round.eq(round),
                metric_samples::collected_at.eq(collected_at),
                metric_samples::likes.eq(sample.likes),
                metric_samples::reposts.eq(sample.reposts),
                metric_samples::replies.eq(sample.replies),
            )
        })
        .collect();
    diesel::insert_into(metric_samples::table)
        .values(rows)
        .on_conflict((
            metric_samples::post_id,
            metric_samples::account_id,
            metric_samples::round,
        ))
        .do_nothing()
        .execute(conn)
        .await
}

type SampleRow = (Uuid, String, String, DateTime<Utc>, i64, i64, i64);

/// The samples of the tenant's post, by round then account. Another tenant's post has none.
pub async fn of_post(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
) -> QueryResult<Vec<MetricSampleView>> {
    let rows: Vec<SampleRow> = metric_samples::table
        .filter(metric_samples::tenant_id.eq(tenant.as_uuid()))
        .filter(metric_samples::post_id.eq(post.as_uuid()))
        .order((metric_samples::round, metric_samples::account_id))
        .select((
            metric_samples::account_id,
            metric_samples::platform,
            metric_samples::remote_id,
            metric_samples::collected_at,
            metric_samples::likes,
            metric_samples::reposts,
            metric_samples::replies,
        ))
        .load(conn)
        .await?;
    let mut views = Vec::with_capacity(rows.len());
    for (account_id, platform, remote_id, collected_at, likes, reposts, replies) in rows {
        // Rows are only written from parsed platforms; an unknown one is a newer writer's.
        let Some(platform) = Platform::parse(&platform) else {
            tracing::warn!(platform = %platform, "sample of an unknown platform skipped");
            continue;
        };
        views.push(MetricSampleView {
            account_id: AccountId::from_uuid(account_id),
            platform,
            remote_id,
            collected_at,
            likes,
            reposts,
            replies,
        });
    }
    Ok(views)
}

/// How many samples the tenant's post has (operators and tests).
pub async fn count(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
) -> QueryResult<i64> {
    metric_samples::table
        .filter(metric_samples::tenant_id.eq(tenant.as_uuid()))
        .filter(metric_samples::post_id.eq(post.as_uuid()))
        .count()
        .get_result(conn)
        .await
}
