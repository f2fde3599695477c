//! Throttling of attempts that guess a secret (logins now; password resets and the like
//! later): per key (an account, a client IP), at most `max_failures` failed attempts within
//! `window`; the failure that uses them up locks the key for `lock`, doubling with each lockout
//! in a row up to `lock_max`. A locked key is refused before any work (no password hash).
//!
//! The counters live in auth's database (`throttle_counters`), so every replica sees the same
//! ones: each attempt takes the key's row lock (an upsert) in one transaction, keys in a fixed
//! order, and decides on the row it holds. An admitted attempt is *pending* until it is
//! resolved as a failure or a success; while failures and pending attempts together reach the
//! limit, the next attempt waits instead of being tried. So a burst of concurrent guesses at
//! one account, across replicas, gets exactly `max_failures` tries, and concurrent correct
//! logins only wait for each other. Time is the database's clock, one for every replica, read
//! once the row lock is held (`clock_timestamp()`, not the transaction's start).
//!
//! [`login`] is the login-specific part: keys from the email and the IP, audit events.

mod counter;
pub mod login;

pub use counter::{ABANDONED_AFTER, Admission, Counter};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_kit::db::Db;
use sha2::{Digest, Sha256};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How many failures a key may have and how long it is locked after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max_failures: u32,
    pub window: Duration,
    pub lock: Duration,
    pub lock_max: Duration,
}

impl Limit {
    /// `lock` doubled once per earlier lockout in a row, at most `lock_max`.
    pub fn lock_period(&self, earlier_lockouts: u32) -> Duration {
        let factor = 1u32
            .checked_shl(earlier_lockouts.min(30))
            .unwrap_or(u32::MAX);
        self.lock.saturating_mul(factor).min(self.lock_max)
    }
}

/// One throttled thing: `scope` says what kind (`login.account`, `login.ip`), `key` which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub scope: &'static str,
    pub key: String,
    pub limit: Limit,
}

impl Key {
    /// A key from a value that may be personal data (an email): only its sha256 is stored.
    pub fn hashed(scope: &'static str, value: &str, limit: Limit) -> Self {
        Self {
            scope,
            key: URL_SAFE_NO_PAD.encode(Sha256::digest(value.as_bytes())),
            limit,
        }
    }
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Integer)]
    failures: i32,
    #[diesel(sql_type = Integer)]
    pending: i32,
    #[diesel(sql_type = Timestamptz)]
    window_started_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    locked_until: Option<DateTime<Utc>>,
    #[diesel(sql_type = Integer)]
    lockouts: i32,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_attempt_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    now: DateTime<Utc>,
}

fn count(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

fn column(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// The key's row, created if missing and locked until the end of the transaction, and the
/// database's clock once the lock is held (a transaction that waited for the lock must not
/// judge by the time it started).
async fn lock_row(
    conn: &mut AsyncPgConnection,
    key: &Key,
) -> diesel::QueryResult<(Counter, DateTime<Utc>)> {
    let row: Row = diesel::sql_query(
        "INSERT INTO throttle_counters AS t (scope, key) VALUES ($1, $2) \
         ON CONFLICT (scope, key) DO UPDATE SET scope = t.scope \
         RETURNING failures, pending, window_started_at, locked_until, lockouts, \
         last_attempt_at, clock_timestamp() AS now",
    )
    .bind::<Text, _>(key.scope)
    .bind::<Text, _>(&key.key)
    .get_result(conn)
    .await?;
    let counter = Counter {
        failures: count(row.failures),
        pending: count(row.pending),
        window_started_at: row.window_started_at,
        locked_until: row.locked_until,
        lockouts: count(row.lockouts),
        last_attempt_at: row.last_attempt_at,
    };
    Ok((counter, row.now))
}

async fn store(
    conn: &mut AsyncPgConnection,
    key: &Key,
    counter: &Counter,
) -> diesel::QueryResult<()> {
    diesel::sql_query(
        "UPDATE throttle_counters SET failures = $3, pending = $4, window_started_at = $5, \
         locked_until = $6, lockouts = $7, last_attempt_at = $8 WHERE scope = $1 AND key = $2",
    )
    .bind::<Text, _>(key.scope)
    .bind::<Text, _>(&key.key)
    .bind::<Integer, _>(column(counter.failures))
    .bind::<Integer, _>(column(counter.pending))
    .bind::<Timestamptz, _>(counter.window_started_at)
    .bind::<Nullable<Timestamptz>, _>(counter.locked_until)
    .bind::<Integer, _>(column(counter.lockouts))
    .bind::<Nullable<Timestamptz>, _>(counter.last_attempt_at)
    .execute(conn)
    .await
    .map(drop)
}

/// A lock on a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    pub scope: &'static str,
    pub until: DateTime<Utc>,
    /// Whether this attempt set the lock (once per lockout: what gets audited).
    pub new: bool,
}

/// The outcome of [`admit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Counted as pending on every key.
    Admitted,
    /// Not now: other attempts at a key are still being verified and could use up its
    /// allowance. Nothing was counted; ask again shortly.
    Busy,
    /// Refused by these keys (nothing was counted).
    Refused {
        locks: Vec<Lock>,
        now: DateTime<Utc>,
    },
}

impl Decision {
    /// Whole seconds until every refusing lock has ended (at least 1).
    pub fn retry_after_secs(&self) -> Option<u64> {
        let Decision::Refused { locks, now } = self else {
            return None;
        };
        let until = locks.iter().map(|lock| lock.until).max()?;
        let millis = (until - *now).num_milliseconds().max(0) as u64;
        Some(millis.div_ceil(1000).max(1))
    }
}

/// Admits one attempt against every key, or refuses it. Run it in a transaction (the row locks
/// last until it ends); `keys` are taken in the order given, which must be the same order for
/// every caller (account before IP), so two attempts never wait on each other in a cycle.
pub async fn admit(conn: &mut AsyncPgConnection, keys: &[Key]) -> diesel::QueryResult<Decision> {
    let mut admitted = Vec::with_capacity(keys.len());
    let mut locks = Vec::new();
    let mut busy = false;
    let mut now = Utc::now();
    for key in keys {
        let (counter, db_now) = lock_row(conn, key).await?;
        now = db_now;
        match counter.admit(&key.limit, now) {
            Admission::Admitted(counter) => admitted.push((key, counter)),
            Admission::Busy => busy = true,
            Admission::Locked { until, newly } => {
                if let Some(counter) = &newly {
                    store(conn, key, counter).await?;
                }
                locks.push(Lock {
                    scope: key.scope,
                    until,
                    new: newly.is_some(),
                });
            }
        }
    }
    if !locks.is_empty() {
        return Ok(Decision::Refused { locks, now });
    }
    if busy {
        return Ok(Decision::Busy);
    }
    for (key, counter) in admitted {
        store(conn, key, &counter).await?;
    }
    Ok(Decision::Admitted)
}

/// An admitted attempt failed: a failure on every key, and the locks this set.
pub async fn failed(conn: &mut AsyncPgConnection, keys: &[Key]) -> diesel::QueryResult<Vec<Lock>> {
    let mut locks = Vec::new();
    for key in keys {
        let (counter, now) = lock_row(conn, key).await?;
        let (next, locked) = counter.failed(&key.limit, now);
        store(conn, key, &next).await?;
        if let Some(until) = locked {
            locks.push(Lock {
                scope: key.scope,
                until,
                new: true,
            });
        }
    }
    Ok(locks)
}

/// An admitted attempt succeeded: `reset` keys (the account) forget their failures and run of
/// lockouts; `give_back` keys (the IP) only resolve the attempt, so many people succeeding
/// behind one address never lock it. A lock in force stays.
pub async fn succeeded(
    conn: &mut AsyncPgConnection,
    reset: &[Key],
    give_back: &[Key],
) -> diesel::QueryResult<()> {
    for key in reset {
        diesel::sql_query(
            "UPDATE throttle_counters SET pending = greatest(pending - 1, 0), failures = 0, \
             lockouts = 0 WHERE scope = $1 AND key = $2",
        )
        .bind::<Text, _>(key.scope)
        .bind::<Text, _>(&key.key)
        .execute(conn)
        .await?;
    }
    for key in give_back {
        diesel::sql_query(
            "UPDATE throttle_counters SET pending = greatest(pending - 1, 0) \
             WHERE scope = $1 AND key = $2",
        )
        .bind::<Text, _>(key.scope)
        .bind::<Text, _>(&key.key)
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// Deletes rows with nothing left to remember: no lock in force and no attempt for `idle`.
pub async fn sweep(conn: &mut AsyncPgConnection, idle: Duration) -> diesel::QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM throttle_counters \
         WHERE greatest(window_started_at, last_attempt_at, locked_until) \
         < now() - make_interval(secs => $1)",
    )
    .bind::<diesel::sql_types::Double, _>(idle.as_secs_f64())
    .execute(conn)
    .await
}

/// Sweeps every ten minutes until `stop`; a failed sweep is logged and tried again later.
pub async fn sweep_loop(db: Db, idle: Duration, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(600)) => {}
            _ = stop.cancelled() => return,
        }
        let swept = match db.conn().await {
            Ok(mut conn) => sweep(&mut conn, idle).await.map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        match swept {
            Ok(rows) => tracing::debug!(rows, "throttle counters swept"),
            Err(error) => tracing::warn!(error = %error, "throttle sweep failed; will retry"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn limit() -> Limit {
        Limit {
            max_failures: 3,
            window: Duration::from_secs(60),
            lock: Duration::from_secs(10),
            lock_max: Duration::from_secs(25),
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn retry_after_rounds_up() {
        let decision = Decision::Refused {
            locks: vec![Lock {
                scope: "login.account",
                until: at(10) + TimeDelta::milliseconds(1),
                new: false,
            }],
            now: at(0),
        };
        assert_eq!(decision.retry_after_secs(), Some(11));
        assert_eq!(Decision::Busy.retry_after_secs(), None);
    }

    #[test]
    fn lock_period_doubles_up_to_the_cap() {
        let limit = limit();
        let periods: Vec<u64> = (0..4).map(|n| limit.lock_period(n).as_secs()).collect();
        assert_eq!(periods, [10, 20, 25, 25]);
        assert_eq!(limit.lock_period(u32::MAX).as_secs(), 25);
    }
}
