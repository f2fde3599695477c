//! What the chaos run reads straight from the services' tables, as an operator would: it owns
//! the database, and these reads must work while nats-server is down (progress) or cover more
//! rows than an RPC page (every target, every notification). Each call opens its own
//! connection, so a Postgres restart costs one failed read, never a broken pool.

use std::time::Duration;

use anyhow::{Context, Result};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Double, Integer, Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use herald_contracts::{PostId, TenantId};

const CONNECT_LIMIT: Duration = Duration::from_secs(5);

async fn connect(url: &str) -> Result<AsyncPgConnection> {
    tokio::time::timeout(CONNECT_LIMIT, AsyncPgConnection::establish(url))
        .await
        .context("connecting to Postgres timed out")?
        .context("connecting to Postgres")
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = Text)]
    id: String,
}

/// The tenant's post with exactly this text, if one was created (a create whose answer was
/// lost may still have committed).
pub async fn post_with_text(url: &str, tenant: TenantId, text: &str) -> Result<Option<PostId>> {
    let mut conn = connect(url).await?;
    let rows: Vec<IdRow> = diesel::sql_query(
        "SELECT id::text AS id FROM publisher.posts WHERE tenant_id = $1::uuid AND text = $2",
    )
    .bind::<Text, _>(tenant.to_string())
    .bind::<Text, _>(text)
    .load(&mut conn)
    .await?;
    rows.into_iter()
        .next()
        .map(|row| PostId::parse(&row.id).context("a post id that is not a UUID"))
        .transpose()
}

#[derive(QueryableByName, Debug, Clone)]
pub struct Count {
    #[diesel(sql_type = Text)]
    pub key: String,
    #[diesel(sql_type = BigInt)]
    pub count: i64,
}

/// How many of the tenant's posts are in each status.
pub async fn post_statuses(url: &str, tenant: TenantId) -> Result<Vec<Count>> {
    let mut conn = connect(url).await?;
    Ok(diesel::sql_query(
        "SELECT status AS key, count(*) AS count FROM publisher.posts \
         WHERE tenant_id = $1::uuid GROUP BY status ORDER BY status",
    )
    .bind::<Text, _>(tenant.to_string())
    .load(&mut conn)
    .await?)
}

/// How many in-app notifications of each kind the tenant has.
pub async fn notification_kinds(url: &str, tenant: TenantId) -> Result<Vec<Count>> {
    let mut conn = connect(url).await?;
    Ok(diesel::sql_query(
        "SELECT kind AS key, count(*) AS count FROM notifier.notifications \
         WHERE tenant_id = $1::uuid GROUP BY kind ORDER BY kind",
    )
    .bind::<Text, _>(tenant.to_string())
    .load(&mut conn)
    .await?)
}

/// One target as the publisher left it.
#[derive(QueryableByName, Debug, Clone)]
pub struct TargetRow {
    #[diesel(sql_type = Text)]
    pub text: String,
    #[diesel(sql_type = Text)]
    pub post_status: String,
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    pub remote_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub last_error: Option<String>,
    /// Seconds from the post's time to the target's publication.
    #[diesel(sql_type = Nullable<Double>)]
    pub lateness_secs: Option<f64>,
    /// Seconds until the target may be tried again (backoff), if that is still ahead.
    #[diesel(sql_type = Nullable<Double>)]
    pub retry_in_secs: Option<f64>,
    /// Seconds until the account's rate limit lets it post again, if that is still ahead.
    #[diesel(sql_type = Nullable<Double>)]
    pub account_paused_secs: Option<f64>,
}

/// Every target of the tenant's posts.
pub async fn targets(url: &str, tenant: TenantId) -> Result<Vec<TargetRow>> {
    let mut conn = connect(url).await?;
    Ok(diesel::sql_query(
        "SELECT p.text, p.status AS post_status, t.state, t.attempts, t.remote_id, \
           t.last_error, \
           EXTRACT(EPOCH FROM (t.published_at - p.scheduled_at))::float8 AS lateness_secs, \
           EXTRACT(EPOCH FROM (t.not_before - now()))::float8 AS retry_in_secs, \
           EXTRACT(EPOCH FROM (a.rate_limited_until - now()))::float8 AS account_paused_secs \
         FROM publisher.post_targets t \
         JOIN publisher.posts p ON p.id = t.post_id \
         JOIN publisher.accounts a ON a.id = t.account_id \
         WHERE t.tenant_id = $1::uuid",
    )
    .bind::<Text, _>(tenant.to_string())
    .load(&mut conn)
    .await?)
}
