//! Mastodon's in-memory data: accounts, statuses, idempotency keys and rate-limit counters.
//! Lives inside the sandbox's single mutex; methods here never block or await.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};

use super::error::ApiError;
use super::params::NewStatus;
use super::rate_limit::{self, RateLimiter, Window};
use crate::upload::Image;

/// Mastodon keeps an `Idempotency-Key` for one hour after the create that stored it.
const IDEMPOTENCY_TTL: Duration = Duration::hours(1);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Account {
    pub(crate) id: u64,
    pub(crate) username: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Visibility {
    Public,
    Unlisted,
    Private,
    Direct,
}

impl Visibility {
    pub(crate) fn parse(s: &str) -> Option<Visibility> {
        match s {
            "public" => Some(Visibility::Public),
            "unlisted" => Some(Visibility::Unlisted),
            "private" => Some(Visibility::Private),
            "direct" => Some(Visibility::Direct),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Private => "private",
            Visibility::Direct => "direct",
        }
    }

    /// Whether someone other than the author may see it (we model no followers).
    pub(crate) fn is_open(self) -> bool {
        matches!(self, Visibility::Public | Visibility::Unlisted)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Status {
    pub(crate) id: u64,
    pub(crate) account: Account,
    pub(crate) body: NewStatus,
    pub(crate) created_at: DateTime<Utc>,
}

/// An uploaded MediaAttachment; `status_id` once a status carries it (then it cannot be
/// attached again).
#[derive(Debug, Clone)]
pub(crate) struct Media {
    pub(crate) id: u64,
    pub(crate) account_id: u64,
    pub(crate) image: Image,
    pub(crate) description: Option<String>,
    pub(crate) status_id: Option<u64>,
}

struct StoredKey {
    status_id: u64,
    stored_at: DateTime<Utc>,
}

/// Snowflake-like ids as Mastodon makes them: milliseconds since the epoch shifted left 16
/// bits plus a sequence, so ids sort by creation time and always increase.
#[derive(Debug, Default)]
struct SnowflakeIds {
    last: u64,
}

impl SnowflakeIds {
    fn next(&mut self, now: DateTime<Utc>) -> u64 {
        let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0);
        self.last = (millis << 16).max(self.last + 1);
        self.last
    }
}

#[derive(Default)]
pub(crate) struct MastodonState {
    accounts: HashMap<u64, AccountRecord>,
    statuses: BTreeMap<u64, Status>,
    idempotency: HashMap<(u64, String), StoredKey>,
    media: HashMap<u64, Media>,
    pub(crate) rate: RateLimiter,
    ids: SnowflakeIds,
}

struct AccountRecord {
    account: Account,
    created_at: DateTime<Utc>,
    /// Increasing, because status ids are.
    status_ids: Vec<u64>,
}

/// What an account listing should return; ids bound the page exclusively.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Page {
    pub(crate) limit: usize,
    pub(crate) max_id: Option<u64>,
    pub(crate) since_id: Option<u64>,
    pub(crate) min_id: Option<u64>,
}

impl MastodonState {
    /// Empties everything but the id generator (see `SandboxState::reset`).
    pub(crate) fn reset(self) -> MastodonState {
        MastodonState {
            ids: self.ids,
            ..MastodonState::default()
        }
    }

    /// Registers the caller's account on first sight and counts the request against the
    /// per-account API limit.
    pub(crate) fn enter(
        &mut self,
        account: &Account,
        now: DateTime<Utc>,
    ) -> Result<Window, ApiError> {
        self.accounts
            .entry(account.id)
            .or_insert_with(|| AccountRecord {
                account: account.clone(),
                created_at: now,
                status_ids: Vec::new(),
            });
        self.rate
            .hit(account.id, rate_limit::API, now)
            .map_err(ApiError::RateLimited)
    }

    pub(crate) fn account(&self, id: u64) -> Option<(&Account, DateTime<Utc>, usize)> {
        self.accounts
            .get(&id)
            .map(|r| (&r.account, r.created_at, r.status_ids.len()))
    }

    pub(crate) fn status(&self, id: u64) -> Option<&Status> {
        self.statuses.get(&id)
    }

    pub(crate) fn media(&self, id: &str) -> Option<&Media> {
        id.parse::<u64>().ok().and_then(|id| self.media.get(&id))
    }

    pub(crate) fn upload(
        &mut self,
        account: &Account,
        image: Image,
        description: Option<String>,
        now: DateTime<Utc>,
    ) -> Media {
        let media = Media {
            id: self.ids.next(now),
            account_id: account.id,
            image,
            description,
            status_id: None,
        };
        self.media.insert(media.id, media.clone());
        media
    }

    /// The account's unattached uploads named by `ids`, in order, as `PostStatusService`
    /// checks them: any id unknown, someone else's or already attached refuses the status.
    pub(crate) fn attachable(
        &self,
        account_id: u64,
        ids: &[String],
    ) -> Result<Vec<Media>, ApiError> {
        let mut found = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        for id in ids {
            match self.media(id) {
                Some(m) if m.account_id == account_id && m.status_id.is_none() => {
                    found.push(m.clone());
                }
                _ => missing.push(id.as_str()),
            }
        }
        if !missing.is_empty() {
            return Err(ApiError::Unprocessable(format!(
                "Media {} not found or already attached to another post",
                missing.join(", ")
            )));
        }
        Ok(found)
    }

    /// The status a still-valid `Idempotency-Key` of this account points to.
    pub(crate) fn replay(
        &mut self,
        account_id: u64,
        key: &str,
        now: DateTime<Utc>,
    ) -> Option<Status> {
        // Expired keys are dropped here rather than by a timer: the map is small.
        self.idempotency
            .retain(|_, stored| now - stored.stored_at < IDEMPOTENCY_TTL);
        let stored = self.idempotency.get(&(account_id, key.to_owned()))?;
        self.statuses.get(&stored.status_id).cloned()
    }

    /// Creates a status, counting it against the statuses limit, and remembers `key`.
    pub(crate) fn create(
        &mut self,
        account: &Account,
        body: NewStatus,
        key: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Status, ApiError> {
        self.rate
            .hit(account.id, rate_limit::STATUSES, now)
            .map_err(ApiError::RateLimited)?;
        let id = self.ids.next(now);
        // Millisecond precision, as Mastodon stores and prints it.
        let created_at = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
        let status = Status {
            id,
            account: account.clone(),
            body,
            created_at,
        };
        for media_id in &status.body.media_ids {
            if let Some(media) = media_id
                .parse::<u64>()
                .ok()
                .and_then(|m| self.media.get_mut(&m))
            {
                media.status_id = Some(id);
            }
        }
        self.statuses.insert(id, status.clone());
        if let Some(record) = self.accounts.get_mut(&account.id) {
            record.status_ids.push(id);
        }
        if let Some(key) = key {
            self.idempotency.insert(
                (account.id, key.to_owned()),
                StoredKey {
                    status_id: id,
                    stored_at: now,
                },
            );
        }
        Ok(status)
    }

    /// An account's statuses visible to the viewer, newest first; `None` for an unknown account.
    pub(crate) fn account_statuses(
        &self,
        account_id: u64,
        page: Page,
        owner: bool,
    ) -> Option<Vec<&Status>> {
        let record = self.accounts.get(&account_id)?;
        let candidates = record
            .status_ids
            .iter()
            .filter(|&&id| page.max_id.is_none_or(|max| id < max))
            .filter(|&&id| page.since_id.is_none_or(|since| id > since))
            .filter(|&&id| page.min_id.is_none_or(|min| id > min))
            .filter_map(|id| self.statuses.get(id))
            .filter(|s| owner || s.body.visibility.is_open());
        let statuses = if page.min_id.is_some() {
            // min_id pages forward in time: the oldest statuses just after it, shown newest first.
            let mut forward: Vec<&Status> = candidates.take(page.limit).collect();
            forward.reverse();
            forward
        } else {
            let mut newest: Vec<&Status> = candidates.collect();
            newest.reverse();
            newest.truncate(page.limit);
            newest
        };
        Some(statuses)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_even_within_one_millisecond() {
        let mut ids = SnowflakeIds::default();
        let now = Utc::now();
        let a = ids.next(now);
        let b = ids.next(now);
        assert!(b > a);
        assert_eq!(a >> 16, u64::try_from(now.timestamp_millis()).unwrap());
    }
}
