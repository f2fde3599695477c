//! Posts and their per-account targets, including the target state machine's transitions.
//!
//! Every transition is one conditional UPDATE, so two workers can never both own a target,
//! and every change of a post's lifecycle takes the post's row lock first, so a claim, a
//! cancel and a reschedule are serialised: whichever commits first decides.

use super::schema::{accounts, post_targets, posts};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Double, Integer, Nullable, Text, Timestamptz, Uuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::rpc::publisher::MediaView;
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
    pub round: i32,
    pub wake_at: Option<DateTime<Utc>>,
    /// The attached images: a JSON array of `MediaView`.
    pub media: serde_json::Value,
    pub max_late_secs: Option<i32>,
}

impl Post {
    /// The attached images; an unreadable column reads as none (it is only ever written from
    /// `MediaView`s).
    pub fn media(&self) -> Vec<MediaView> {
        serde_json::from_value(self.media.clone()).unwrap_or_default()
    }
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

/// States in which a target still has work to do.
pub const OPEN_STATES: [&str; 3] = ["pending", "in_flight", "unknown"];

/// Post states whose targets have not been attempted yet: edit, reschedule and cancel are free.
pub const EDITABLE: [&str; 3] = ["draft", "scheduled", "held"];

/// What a new post holds besides its text and targets.
pub struct NewPost<'a> {
    pub text: &'a str,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub media: &'a [MediaView],
    pub max_late_secs: Option<u32>,
}

fn media_json(media: &[MediaView]) -> serde_json::Value {
    serde_json::to_value(media).unwrap_or_else(|_| serde_json::Value::Array(Vec::new()))
}

/// The idempotency key of a target: fixed before the first attempt, the same on every retry.
pub fn idempotency_key(post: PostId, account: AccountId) -> String {
    format!("herald-{post}-{account}")
}

pub async fn insert_post(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
    new: NewPost<'_>,
    account_ids: &[AccountId],
) -> QueryResult<()> {
    diesel::insert_into(posts::table)
        .values((
            posts::id.eq(post.as_uuid()),
            posts::tenant_id.eq(tenant.as_uuid()),
            posts::text.eq(new.text),
            posts::status.eq(if new.scheduled_at.is_some() {
                "scheduled"
            } else {
                "draft"
            }),
            posts::scheduled_at.eq(new.scheduled_at),
            posts::wake_at.eq(new.scheduled_at),
            posts::media.eq(media_json(new.media)),
            posts::max_late_secs.eq(new.max_late_secs.map(|s| s.min(i32::MAX as u32) as i32)),
        ))
        .execute(conn)
        .await?;
    insert_targets(conn, tenant, post, account_ids).await
}

async fn insert_targets(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
    account_ids: &[AccountId],
) -> QueryResult<()> {
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
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// The post, locked for the rest of the transaction.
pub async fn lock_post(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
) -> QueryResult<Option<Post>> {
    posts::table
        .filter(posts::tenant_id.eq(tenant.as_uuid()))
        .filter(posts::id.eq(post.as_uuid()))
        .select(Post::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
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
    let targets = targets_of(conn, tenant, &[post]).await?;
    Ok(Some((found, targets)))
}

/// Targets of `posts` with their account's platform, in a stable order.
pub async fn targets_of(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    posts: &[PostId],
) -> QueryResult<Vec<(Target, String)>> {
    let ids: Vec<uuid::Uuid> = posts.iter().map(PostId::as_uuid).collect();
    post_targets::table
        .inner_join(accounts::table)
        .filter(post_targets::tenant_id.eq(tenant.as_uuid()))
        .filter(post_targets::post_id.eq_any(ids))
        .select((Target::as_select(), accounts::platform))
        .order((post_targets::post_id, post_targets::account_id))
        .load(conn)
        .await
}

/// A page of the tenant's posts, newest first (ids are UUIDv7, so id order is time order).
pub async fn list_posts(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    status: Option<&str>,
    before: Option<PostId>,
    limit: i64,
) -> QueryResult<Vec<Post>> {
    let mut query = posts::table
        .filter(posts::tenant_id.eq(tenant.as_uuid()))
        .select(Post::as_select())
        .order(posts::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(posts::status.eq(status.to_owned()));
    }
    if let Some(before) = before {
        query = query.filter(posts::id.lt(before.as_uuid()));
    }
    query.load(conn).await
}

/// Edits a post that has not started publishing (the caller holds its lock).
pub async fn update_post(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
    text: Option<&str>,
    account_ids: Option<&[AccountId]>,
    media: Option<&[MediaView]>,
) -> QueryResult<()> {
    if let Some(media) = media {
        diesel::update(posts::table)
            .filter(posts::tenant_id.eq(tenant.as_uuid()))
            .filter(posts::id.eq(post.as_uuid()))
            .set((
                posts::media.eq(media_json(media)),
                posts::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?;
    }
    if let Some(text) = text {
        diesel::update(posts::table)
            .filter(posts::tenant_id.eq(tenant.as_uuid()))
            .filter(posts::id.eq(post.as_uuid()))
            .set((posts::text.eq(text), posts::updated_at.eq(diesel::dsl::now)))
            .execute(conn)
            .await?;
    }
    if let Some(account_ids) = account_ids {
        let keep: Vec<uuid::Uuid> = account_ids.iter().map(AccountId::as_uuid).collect();
        diesel::delete(post_targets::table)
            .filter(post_targets::tenant_id.eq(tenant.as_uuid()))
            .filter(post_targets::post_id.eq(post.as_uuid()))
            .filter(post_targets::account_id.ne_all(keep))
            .execute(conn)
            .await?;
        insert_targets(conn, tenant, post, account_ids).await?;
    }
    Ok(())
}

/// Moves a draft or scheduled post to `at` under a new generation; returns the generation.
pub async fn reschedule(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
    at: DateTime<Utc>,
) -> QueryResult<i32> {
    diesel::update(posts::table)
        .filter(posts::tenant_id.eq(tenant.as_uuid()))
        .filter(posts::id.eq(post.as_uuid()))
        .filter(posts::status.eq_any(EDITABLE))
        .set((
            posts::status.eq("scheduled"),
            posts::scheduled_at.eq(at),
            posts::wake_at.eq(at),
            posts::generation.eq(posts::generation + 1),
            posts::round.eq(0),
            posts::updated_at.eq(diesel::dsl::now),
        ))
        .returning(posts::generation)
        .get_result(conn)
        .await
}

/// Cancels a post whose targets are all settled or not started (the caller holds its lock and
/// has checked that none is in flight or unknown). Returns how many targets were published.
pub async fn cancel(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
) -> QueryResult<i64> {
    diesel::update(post_targets::table)
        .filter(post_targets::tenant_id.eq(tenant.as_uuid()))
        .filter(post_targets::post_id.eq(post.as_uuid()))
        .filter(post_targets::state.eq("pending"))
        .set((
            post_targets::state.eq("cancelled"),
            post_targets::not_before.eq(None::<DateTime<Utc>>),
            post_targets::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    diesel::update(posts::table)
        .filter(posts::tenant_id.eq(tenant.as_uuid()))
        .filter(posts::id.eq(post.as_uuid()))
        .set((
            posts::status.eq("cancelled"),
            posts::cancelled_at.eq(diesel::dsl::now),
            posts::wake_at.eq(None::<DateTime<Utc>>),
            posts::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    post_targets::table
        .filter(post_targets::tenant_id.eq(tenant.as_uuid()))
        .filter(post_targets::post_id.eq(post.as_uuid()))
        .filter(post_targets::state.eq("done"))
        .count()
        .get_result(conn)
        .await
}

/// A scheduled post that came due too late: held for a person, nothing armed.
pub async fn hold(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
) -> QueryResult<usize> {
    diesel::update(posts::table)
        .filter(posts::tenant_id.eq(tenant.as_uuid()))
        .filter(posts::id.eq(post.as_uuid()))
        .filter(posts::status.eq("scheduled"))
        .set((
            posts::status.eq("held"),
            posts::wake_at.eq(None::<DateTime<Utc>>),
            posts::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
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

/// A target claimed for one attempt, with what its account needs for the platform call.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = Uuid)]
    pub account_id: uuid::Uuid,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    /// The state before this claim: anything but `pending` means the previous attempt's
    /// outcome is unknown, so reconcile before publishing.
    #[diesel(sql_type = Text)]
    pub old_state: String,
    #[diesel(sql_type = Text)]
    pub idempotency_key: String,
    #[diesel(sql_type = Timestamptz)]
    pub first_attempt_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Text>)]
    pub checkpoint: Option<String>,
    #[diesel(sql_type = Text)]
    pub platform: String,
    #[diesel(sql_type = Text)]
    pub instance_url: String,
    #[diesel(sql_type = Text)]
    pub remote_account_id: String,
    #[diesel(sql_type = Text)]
    pub access_token: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub refresh_token: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub token_expires_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub disconnected_at: Option<DateTime<Utc>>,
}

impl Claimed {
    pub fn ambiguous(&self) -> bool {
        self.old_state != "pending"
    }
}

/// Claims every target of the post that may be attempted now, in one statement: pending or
/// unknown targets whose wait is over, and in-flight ones whose holder's lease ran out (it died
/// mid-call). Targets of accounts over their rate limit and of platforms in `paused` (open
/// circuit) are left alone, so waiting does not burn attempts.
pub async fn claim_targets(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
    lease: chrono::Duration,
    paused: &[String],
) -> QueryResult<Vec<Claimed>> {
    diesel::sql_query(
        "UPDATE post_targets t SET state = 'in_flight', attempts = t.attempts + 1, \
           lease_until = now() + make_interval(secs => $3), \
           first_attempt_at = COALESCE(t.first_attempt_at, now()), \
           not_before = NULL, updated_at = now() \
         FROM (SELECT account_id, state AS old_state FROM post_targets \
               WHERE tenant_id = $1 AND post_id = $2 FOR UPDATE) old, accounts a \
         WHERE t.tenant_id = $1 AND t.post_id = $2 \
           AND old.account_id = t.account_id AND a.id = t.account_id \
           AND (t.state IN ('pending', 'unknown') \
                OR (t.state = 'in_flight' AND t.lease_until < now())) \
           AND (t.not_before IS NULL OR t.not_before <= now()) \
           AND (a.disconnected_at IS NOT NULL \
                OR ((a.rate_limited_until IS NULL OR a.rate_limited_until <= now()) \
                    AND NOT (a.platform = ANY($4)))) \
         RETURNING t.account_id, t.attempts, old.old_state, t.idempotency_key, \
           t.first_attempt_at, t.checkpoint, a.platform, a.instance_url, \
           a.remote_account_id, a.access_token, a.refresh_token, a.token_expires_at, \
           a.disconnected_at",
    )
    .bind::<Uuid, _>(tenant.as_uuid())
    .bind::<Uuid, _>(post.as_uuid())
    .bind::<Double, _>(lease.num_milliseconds() as f64 / 1000.0)
    .bind::<Array<Text>, _>(paused)
    .load(conn)
    .await
}

/// Saves a platform reference between two steps of one attempt (a container id).
pub async fn save_checkpoint(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
    account: AccountId,
    attempt: i32,
    checkpoint: &str,
) -> QueryResult<usize> {
    diesel::update(post_targets::table)
        .filter(post_targets::tenant_id.eq(tenant.as_uuid()))
        .filter(post_targets::post_id.eq(post.as_uuid()))
        .filter(post_targets::account_id.eq(account.as_uuid()))
        .filter(post_targets::state.eq("in_flight"))
        .filter(post_targets::attempts.eq(attempt))
        .set((
            post_targets::checkpoint.eq(checkpoint),
            post_targets::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

/// Where an attempt ended.
#[derive(Debug, Clone)]
pub enum AttemptEnd {
    Done {
        remote_id: String,
        remote_url: Option<String>,
    },
    /// Known not to have been created (or still processing): try again after `not_before`.
    Pending {
        error: String,
        not_before: DateTime<Utc>,
    },
    /// May or may not have been created: reconcile before any retry.
    Unknown {
        error: String,
        not_before: DateTime<Utc>,
    },
    Failed {
        error: String,
    },
    /// Cannot be verified and must not be retried blindly: a person decides.
    NeedsAttention {
        error: String,
    },
}

impl AttemptEnd {
    pub fn label(&self) -> &'static str {
        match self {
            AttemptEnd::Done { .. } => "done",
            AttemptEnd::Pending { .. } => "retry",
            AttemptEnd::Unknown { .. } => "unknown",
            AttemptEnd::Failed { .. } => "failed",
            AttemptEnd::NeedsAttention { .. } => "needs_attention",
        }
    }
}

/// Records an attempt's end, if this attempt still owns the target (a holder whose lease ran
/// out and was taken over records nothing). Returns whether it did.
pub async fn finish_attempt(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
    account: AccountId,
    attempt: i32,
    end: &AttemptEnd,
) -> QueryResult<bool> {
    let target = post_targets::table
        .filter(post_targets::tenant_id.eq(tenant.as_uuid()))
        .filter(post_targets::post_id.eq(post.as_uuid()))
        .filter(post_targets::account_id.eq(account.as_uuid()))
        .filter(post_targets::state.eq("in_flight"))
        .filter(post_targets::attempts.eq(attempt));
    let now = Utc::now();
    let changed = match end {
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
                .await?
        }
        AttemptEnd::Pending { error, not_before } | AttemptEnd::Unknown { error, not_before } => {
            let state = if matches!(end, AttemptEnd::Pending { .. }) {
                "pending"
            } else {
                "unknown"
            };
            diesel::update(target)
                .set((
                    post_targets::state.eq(state),
                    post_targets::last_error.eq(error),
                    post_targets::not_before.eq(not_before),
                    post_targets::lease_until.eq(None::<DateTime<Utc>>),
                    post_targets::updated_at.eq(now),
                ))
                .execute(conn)
                .await?
        }
        AttemptEnd::Failed { error } | AttemptEnd::NeedsAttention { error } => {
            let state = if matches!(end, AttemptEnd::Failed { .. }) {
                "failed"
            } else {
                "needs_attention"
            };
            diesel::update(target)
                .set((
                    post_targets::state.eq(state),
                    post_targets::last_error.eq(error),
                    post_targets::lease_until.eq(None::<DateTime<Utc>>),
                    post_targets::updated_at.eq(now),
                ))
                .execute(conn)
                .await?
        }
    };
    Ok(changed == 1)
}

/// A target as settling sees it.
#[derive(Debug, Clone)]
pub struct SettleRow {
    pub target: Target,
    pub platform: String,
    pub instance_url: String,
    pub rate_limited_until: Option<DateTime<Utc>>,
}

/// Where a post stands after an attempt round.
pub enum Settled {
    /// Every target settled just now; the post took `status`.
    Final {
        status: &'static str,
        targets: Vec<SettleRow>,
    },
    /// Someone else settled it already, or it is not publishing.
    Nothing,
    /// Targets are still open.
    Open { targets: Vec<SettleRow> },
}

/// Sets the post's final status once no target is open.
pub async fn settle_post(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
) -> QueryResult<Settled> {
    let rows: Vec<(Target, String, String, Option<DateTime<Utc>>)> = post_targets::table
        .inner_join(accounts::table)
        .filter(post_targets::tenant_id.eq(tenant.as_uuid()))
        .filter(post_targets::post_id.eq(post.as_uuid()))
        .select((
            Target::as_select(),
            accounts::platform,
            accounts::instance_url,
            accounts::rate_limited_until,
        ))
        .order(post_targets::account_id)
        .load(conn)
        .await?;
    let targets: Vec<SettleRow> = rows
        .into_iter()
        .map(
            |(target, platform, instance_url, rate_limited_until)| SettleRow {
                target,
                platform,
                instance_url,
                rate_limited_until,
            },
        )
        .collect();
    if targets
        .iter()
        .any(|t| OPEN_STATES.contains(&t.target.state.as_str()))
    {
        return Ok(Settled::Open { targets });
    }
    let done = targets.iter().filter(|t| t.target.state == "done").count();
    let status = if done == targets.len() {
        "published"
    } else if done > 0 {
        "partially_published"
    } else {
        "failed"
    };
    let changed = diesel::update(posts::table)
        .filter(posts::tenant_id.eq(tenant.as_uuid()))
        .filter(posts::id.eq(post.as_uuid()))
        .filter(posts::status.eq("publishing"))
        .set((
            posts::status.eq(status),
            posts::published_at.eq((done > 0).then(Utc::now)),
            posts::wake_at.eq(None::<DateTime<Utc>>),
            posts::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(if changed == 1 {
        Settled::Final { status, targets }
    } else {
        Settled::Nothing
    })
}

/// Arms the post's next round at `wake_at`; returns the new round.
pub async fn next_round(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
    wake_at: DateTime<Utc>,
) -> QueryResult<i32> {
    diesel::update(posts::table)
        .filter(posts::tenant_id.eq(tenant.as_uuid()))
        .filter(posts::id.eq(post.as_uuid()))
        .set((
            posts::round.eq(posts::round + 1),
            posts::wake_at.eq(wake_at),
            posts::updated_at.eq(diesel::dsl::now),
        ))
        .returning(posts::round)
        .get_result(conn)
        .await
}
