//! Rate limits that hold across gateway replicas: fixed-window counters in the
//! `gateway-ratelimits` JetStream KV bucket, updated by compare-and-set on the entry's
//! revision, so two replicas count one client together.
//!
//! One entry per scope and window (`ip.<addr>.<window>`, `tenant.<id>.<window>`) holds the
//! counts of every class keyed on that scope (an IP's entry counts all its requests and its
//! `/v1/auth/*` requests), so a request costs one KV round trip per scope. Each replica keeps
//! the last counts and revision it saw per entry: a write normally succeeds first time, and a
//! scope already over its limit is refused from that memo without asking the bucket (counts
//! only grow within a window). Requests of one scope on one replica queue for that scope's
//! entry instead of racing each other's revisions.
//!
//! If the bucket cannot be reached (or answers too slowly), requests are let through, counted
//! in `herald_gateway_ratelimit_unavailable_total`: losing the limits for a while is better
//! than losing the API. The bucket's `max_age` (two windows) drops old windows' entries.
//!
//! Requests made with an API key also count against that key's own limit (`key.<id>.<window>`).

use crate::config::RateLimits;
use herald_contracts::TenantId;
use herald_kit::async_nats::jetstream::{self, kv};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const BUCKET: &str = "gateway-ratelimits";
/// The most a request waits on the bucket before it is let through unlimited.
const KV_BUDGET: Duration = Duration::from_millis(500);
/// Revision conflicts tolerated (other replicas writing the same entry) before giving up.
const MAX_ATTEMPTS: usize = 8;
/// Memo entries kept before those not in use are dropped (a flood of distinct addresses).
const MAX_SLOTS: usize = 100_000;
/// After the bucket failed, requests go through unlimited for this long before it is opened
/// again (created anew if it was lost: memory storage does not survive a NATS restart).
const REOPEN_AFTER: Duration = Duration::from_secs(1);
/// At most one "bucket unavailable" warning per this many seconds.
const WARN_EVERY_SECS: u64 = 10;

/// What a limit counts; the label of `herald_gateway_rate_limited_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Every request from one client IP.
    Ip,
    /// `/v1/auth/*` requests from one client IP.
    AuthIp,
    /// Authenticated requests of one tenant.
    Tenant,
    /// Requests made with one API key.
    ApiKey,
}

impl Class {
    pub fn as_str(&self) -> &'static str {
        match self {
            Class::Ip => "ip",
            Class::AuthIp => "auth_ip",
            Class::Tenant => "tenant",
            Class::ApiKey => "api_key",
        }
    }
}

/// Whose requests one bucket entry counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Ip(IpAddr),
    Tenant(TenantId),
    ApiKey(uuid::Uuid),
}

impl Scope {
    fn key(&self, window: u64) -> String {
        match self {
            // KV keys allow `[-/_=.a-zA-Z0-9]`: IPv6 colons become underscores.
            Scope::Ip(ip) => format!("ip.{}.{window}", ip.to_string().replace(':', "_")),
            Scope::Tenant(tenant) => format!("tenant.{tenant}.{window}"),
            Scope::ApiKey(key) => format!("key.{}.{window}", key.simple()),
        }
    }
}

/// One entry's counts: all requests, and those on auth routes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    all: u64,
    auth: u64,
}

impl Counts {
    fn encode(&self) -> Vec<u8> {
        format!("{} {}", self.all, self.auth).into_bytes()
    }

    fn decode(raw: &[u8]) -> Counts {
        let text = std::str::from_utf8(raw).unwrap_or_default();
        let mut numbers = text.split(' ').map(|n| n.parse().unwrap_or(0));
        Counts {
            all: numbers.next().unwrap_or(0),
            auth: numbers.next().unwrap_or(0),
        }
    }
}

/// Where a caller stands against one limit, for the `RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until the window ends.
    pub reset_secs: u64,
}

impl Quota {
    /// The tighter of two quotas.
    pub fn tighter(self, other: Option<Quota>) -> Quota {
        match other {
            Some(other) if other.remaining < self.remaining => other,
            _ => self,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Counted; `None` when no limit applies (classes off, or the bucket unavailable).
    Allowed(Option<Quota>),
    /// Over `class`'s limit until the window ends.
    Limited(Class, Quota),
}

/// A limit that applies to a request: its class, its limit and the count it reads.
type Applicable = (Class, u64, fn(&Counts) -> u64);

/// The bucket once opened, or when to try opening it again.
#[derive(Default)]
struct Bucket {
    store: Option<kv::Store>,
    retry_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct Slot {
    window: u64,
    counts: Counts,
    /// The entry's revision as last seen; 0: no entry yet.
    revision: u64,
}

pub struct RateLimiter {
    js: jetstream::Context,
    limits: RateLimits,
    replicas: usize,
    bucket: Mutex<Bucket>,
    slots: Mutex<HashMap<Scope, Arc<tokio::sync::Mutex<Slot>>>>,
    last_warning: AtomicU64,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl RateLimiter {
    pub fn new(js: jetstream::Context, limits: RateLimits, replicas: usize) -> Self {
        Self {
            js,
            limits,
            replicas,
            bucket: Mutex::new(Bucket::default()),
            slots: Mutex::new(HashMap::new()),
            last_warning: AtomicU64::new(0),
        }
    }

    /// Counts one request from `ip` (`auth_route`: also against the auth-route limit).
    pub async fn charge_ip(&self, ip: IpAddr, auth_route: bool) -> Outcome {
        self.charge(Scope::Ip(ip), auth_route).await
    }

    /// Counts one authenticated request of `tenant`.
    pub async fn charge_tenant(&self, tenant: TenantId) -> Outcome {
        self.charge(Scope::Tenant(tenant), false).await
    }

    /// Counts one request made with API key `key`.
    pub async fn charge_api_key(&self, key: uuid::Uuid) -> Outcome {
        self.charge(Scope::ApiKey(key), false).await
    }

    /// The limits that apply to a request on `scope`: (class, limit, the count it reads).
    fn applicable(&self, scope: &Scope, auth: bool) -> Vec<Applicable> {
        let mut classes: Vec<Applicable> = Vec::with_capacity(2);
        match scope {
            Scope::Ip(_) => {
                classes.push((Class::Ip, self.limits.ip, |c| c.all));
                if auth {
                    classes.push((Class::AuthIp, self.limits.auth_ip, |c| c.auth));
                }
            }
            Scope::Tenant(_) => classes.push((Class::Tenant, self.limits.tenant, |c| c.all)),
            Scope::ApiKey(_) => classes.push((Class::ApiKey, self.limits.api_key, |c| c.all)),
        }
        classes.retain(|(_, limit, _)| *limit > 0);
        classes
    }

    async fn charge(&self, scope: Scope, auth: bool) -> Outcome {
        let classes = self.applicable(&scope, auth);
        if classes.is_empty() {
            return Outcome::Allowed(None);
        }
        let window_secs = self.limits.window.as_secs().max(1);
        let now = now_secs();
        let window = now / window_secs;
        let reset_secs = ((window + 1) * window_secs).saturating_sub(now).max(1);
        let quota = |counts: &Counts| {
            classes
                .iter()
                .map(|(_, limit, count)| Quota {
                    limit: *limit,
                    remaining: limit.saturating_sub(count(counts)),
                    reset_secs,
                })
                .min_by_key(|q| q.remaining)
        };
        let over = |counts: &Counts| {
            classes
                .iter()
                .find(|(_, limit, count)| count(counts) >= *limit)
                .map(|(class, limit, _)| {
                    let quota = Quota {
                        limit: *limit,
                        remaining: 0,
                        reset_secs,
                    };
                    Outcome::Limited(*class, quota)
                })
        };

        let slot = self.slot(scope);
        let mut slot = slot.lock().await;
        if slot.window != window {
            *slot = Slot {
                window,
                ..Slot::default()
            };
        }
        if let Some(limited) = over(&slot.counts) {
            return limited;
        }
        let key = scope.key(window);
        let exchange = async {
            let store = self.store().await?;
            for _ in 0..MAX_ATTEMPTS {
                if let Some(limited) = over(&slot.counts) {
                    return Ok(limited);
                }
                let next = Counts {
                    all: slot.counts.all + 1,
                    auth: slot.counts.auth + u64::from(auth),
                };
                match store
                    .update(&key, next.encode().into(), slot.revision)
                    .await
                {
                    Ok(revision) => {
                        slot.counts = next;
                        slot.revision = revision;
                        return Ok(Outcome::Allowed(quota(&next)));
                    }
                    Err(error) if error.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                        // Another replica counted first: read its counts and try again.
                        let entry = store.entry(key.clone()).await.map_err(|e| e.to_string())?;
                        (slot.counts, slot.revision) = match entry {
                            Some(entry) if entry.operation == kv::Operation::Put => {
                                (Counts::decode(&entry.value), entry.revision)
                            }
                            Some(entry) => (Counts::default(), entry.revision),
                            None => (Counts::default(), 0),
                        };
                    }
                    Err(error) => return Err(error.to_string()),
                }
            }
            Err(format!("{MAX_ATTEMPTS} revision conflicts in a row"))
        };
        let failure = match tokio::time::timeout(KV_BUDGET, exchange).await {
            Ok(Ok(outcome)) => return outcome,
            Ok(Err(error)) => error,
            Err(_) => "timed out".to_owned(),
        };
        self.forget_bucket();
        self.unavailable(&failure)
    }

    /// Lets a request through uncounted, and says so.
    fn unavailable(&self, error: &str) -> Outcome {
        metrics::counter!("herald_gateway_ratelimit_unavailable_total").increment(1);
        let now = now_secs();
        let last = self.last_warning.load(Ordering::Relaxed);
        if now >= last + WARN_EVERY_SECS
            && self
                .last_warning
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(bucket = BUCKET, error = %error, "rate limits unavailable; letting requests through");
        }
        Outcome::Allowed(None)
    }

    fn slot(&self, scope: Scope) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.len() >= MAX_SLOTS && !slots.contains_key(&scope) {
            // Forgetting a memo costs one extra read later, never a wrong count.
            slots.retain(|_, slot| Arc::strong_count(slot) > 1);
        }
        slots.entry(scope).or_default().clone()
    }

    fn bucket(&self) -> std::sync::MutexGuard<'_, Bucket> {
        self.bucket.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops the open bucket, so it is opened (or created) again after `REOPEN_AFTER`.
    fn forget_bucket(&self) {
        let mut bucket = self.bucket();
        let now = Instant::now();
        // A pause already running is not extended, or steady traffic would never retry.
        if bucket.store.take().is_some() || bucket.retry_at.is_none_or(|at| now >= at) {
            bucket.retry_at = Some(now + REOPEN_AFTER);
        }
    }

    /// The bucket, created (or its window updated) when first needed.
    async fn store(&self) -> Result<kv::Store, String> {
        {
            let bucket = self.bucket();
            if let Some(store) = &bucket.store {
                return Ok(store.clone());
            }
            if bucket.retry_at.is_some_and(|at| Instant::now() < at) {
                return Err("bucket failed recently; not retried yet".to_owned());
            }
        }
        let opened = self
            .js
            .create_or_update_key_value(kv::Config {
                bucket: BUCKET.to_owned(),
                description: "gateway rate-limit counters, one entry per scope and window"
                    .to_owned(),
                history: 1,
                max_age: self.limits.window * 2,
                storage: jetstream::stream::StorageType::Memory,
                num_replicas: self.replicas.max(1),
                ..Default::default()
            })
            .await
            .map_err(|error| format!("cannot open bucket {BUCKET}: {error}"))?;
        let mut bucket = self.bucket();
        bucket.store = Some(opened.clone());
        bucket.retry_at = None;
        Ok(opened)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_round_trip_and_tolerate_garbage() {
        let counts = Counts { all: 12, auth: 3 };
        assert_eq!(Counts::decode(&counts.encode()), counts);
        assert_eq!(Counts::decode(b"garbage"), Counts::default());
    }

    #[test]
    fn keys_are_valid_kv_keys() {
        let v6 = Scope::Ip("2001:db8::1".parse().unwrap()).key(7);
        assert_eq!(v6, "ip.2001_db8__1.7");
        let v4 = Scope::Ip("10.1.2.3".parse().unwrap()).key(7);
        assert_eq!(v4, "ip.10.1.2.3.7");
    }

    #[test]
    fn the_tighter_quota_wins() {
        let a = Quota {
            limit: 10,
            remaining: 5,
            reset_secs: 3,
        };
        let b = Quota {
            limit: 100,
            remaining: 2,
            reset_secs: 3,
        };
        assert_eq!(a.tighter(Some(b)), b);
        assert_eq!(b.tighter(Some(a)), b);
        assert_eq!(a.tighter(None), a);
    }
}
