//! Containers, published media and per-user call counts of one platform. Lives inside the
//! sandbox's single mutex; nothing here blocks or awaits.
//!
//! A container's status is computed from time: `IN_PROGRESS` until its processing delay has
//! passed, then `FINISHED` (or `ERROR` for an image URL containing `sandbox-fail`), `EXPIRED`
//! 24 hours after creation (or when a test expires it), `PUBLISHED` once published — which
//! happens at most once per container.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::auth::Account;

/// How long a new container stays `IN_PROGRESS` unless a test changes it.
pub(crate) const DEFAULT_PROCESSING_MS: u64 = 400;
/// "The container was not published within 24 hours and has expired."
const CONTAINER_TTL: Duration = Duration::hours(24);
/// The publishing quota counts publishes in a moving window of this length.
pub(crate) const QUOTA_WINDOW: Duration = Duration::hours(24);
/// An image URL containing this makes the container's processing fail.
pub(crate) const FAIL_MARKER: &str = "sandbox-fail";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MediaType {
    Text,
    Image,
}

/// What a container was created with.
#[derive(Debug, Clone)]
pub(crate) struct Body {
    pub(crate) media_type: MediaType,
    /// Instagram's caption or Threads' text (may be empty).
    pub(crate) text: String,
    pub(crate) image_url: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Container {
    pub(crate) id: String,
    pub(crate) owner: Account,
    pub(crate) body: Body,
    pub(crate) created_at: DateTime<Utc>,
    ready_at: DateTime<Utc>,
    fails: bool,
    expired: bool,
    pub(crate) media_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    InProgress,
    Finished,
    Error,
    Expired,
    Published,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::InProgress => "IN_PROGRESS",
            Status::Finished => "FINISHED",
            Status::Error => "ERROR",
            Status::Expired => "EXPIRED",
            Status::Published => "PUBLISHED",
        }
    }
}

impl Container {
    pub(crate) fn status(&self, now: DateTime<Utc>) -> Status {
        if self.media_id.is_some() {
            Status::Published
        } else if self.expired || now - self.created_at >= CONTAINER_TTL {
            Status::Expired
        } else if now < self.ready_at {
            Status::InProgress
        } else if self.fails {
            Status::Error
        } else {
            Status::Finished
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Media {
    pub(crate) id: String,
    pub(crate) owner: Account,
    pub(crate) body: Body,
    pub(crate) container_id: String,
    pub(crate) created_at: DateTime<Utc>,
}

/// Why a publish was refused; nothing was published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No such container for this user.
    NotFound,
    NotReady,
    Failed,
    /// Already published or expired.
    Gone,
    QuotaReached,
}

#[derive(Debug)]
pub(crate) struct Store {
    last_id: u64,
    processing: Duration,
    containers: HashMap<String, Container>,
    /// In publish order, so oldest first.
    media: Vec<Media>,
    /// user id → (hour index, calls counted in that hour)
    calls: HashMap<String, (i64, u32)>,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            last_id: 0,
            processing: Duration::milliseconds(DEFAULT_PROCESSING_MS as i64),
            containers: HashMap::new(),
            media: Vec::new(),
            calls: HashMap::new(),
        }
    }
}

impl Store {
    /// Empties everything but the id generator, so an id is never handed out twice.
    pub(crate) fn reset(&mut self) {
        let last_id = self.last_id;
        *self = Self::default();
        self.last_id = last_id;
    }

    fn next_id(&mut self, base: u64) -> String {
        self.last_id = self.last_id.max(base) + 1;
        self.last_id.to_string()
    }

    pub(crate) fn set_processing(&mut self, millis: u64) {
        self.processing = Duration::milliseconds(i64::try_from(millis).unwrap_or(i64::MAX));
    }

    pub(crate) fn create(
        &mut self,
        id_base: u64,
        owner: &Account,
        body: Body,
        now: DateTime<Utc>,
    ) -> Container {
        let id = self.next_id(id_base);
        let fails = body
            .image_url
            .as_deref()
            .is_some_and(|url| url.contains(FAIL_MARKER));
        let container = Container {
            id: id.clone(),
            owner: owner.clone(),
            body,
            created_at: now,
            ready_at: now + self.processing,
            fails,
            expired: false,
            media_id: None,
        };
        self.containers.insert(id, container.clone());
        container
    }

    pub(crate) fn container(&self, id: &str) -> Option<&Container> {
        self.containers.get(id)
    }

    pub(crate) fn media(&self, id: &str) -> Option<&Media> {
        self.media.iter().find(|m| m.id == id)
    }

    /// A user's media, oldest first.
    pub(crate) fn media_of<'a>(
        &'a self,
        owner_id: &'a str,
    ) -> impl DoubleEndedIterator<Item = &'a Media> {
        self.media.iter().filter(move |m| m.owner.id == owner_id)
    }

    /// Publishes counted in the moving quota window.
    pub(crate) fn quota_usage(&self, owner_id: &str, now: DateTime<Utc>) -> usize {
        self.media_of(owner_id)
            .filter(|m| now - m.created_at < QUOTA_WINDOW)
            .count()
    }

    /// Publishes `creation_id` for `owner`: at most once per container, within the quota.
    pub(crate) fn publish(
        &mut self,
        id_base: u64,
        owner: &Account,
        creation_id: &str,
        quota: usize,
        now: DateTime<Utc>,
    ) -> Result<Media, Refusal> {
        let container = self
            .containers
            .get(creation_id)
            .filter(|c| c.owner.id == owner.id)
            .ok_or(Refusal::NotFound)?;
        match container.status(now) {
            Status::InProgress => return Err(Refusal::NotReady),
            Status::Error => return Err(Refusal::Failed),
            Status::Expired | Status::Published => return Err(Refusal::Gone),
            Status::Finished => {}
        }
        if self.quota_usage(&owner.id, now) >= quota {
            return Err(Refusal::QuotaReached);
        }
        let body = container.body.clone();
        let id = self.next_id(id_base);
        if let Some(container) = self.containers.get_mut(creation_id) {
            container.media_id = Some(id.clone());
        }
        let media = Media {
            id,
            owner: owner.clone(),
            body,
            container_id: creation_id.to_owned(),
            created_at: now,
        };
        self.media.push(media.clone());
        Ok(media)
    }

    /// Expires an unpublished container now, as 24 hours would. False if unknown or published.
    pub(crate) fn expire(&mut self, id: &str) -> bool {
        match self.containers.get_mut(id) {
            Some(container) if container.media_id.is_none() => {
                container.expired = true;
                true
            }
            _ => false,
        }
    }

    /// Counts one call of `user_id` in the current hour; returns the hour's count.
    pub(crate) fn count_call(&mut self, user_id: &str, now: DateTime<Utc>) -> u32 {
        let hour = now.timestamp().div_euclid(3600);
        let entry = self.calls.entry(user_id.to_owned()).or_insert((hour, 0));
        if entry.0 != hour {
            *entry = (hour, 0);
        }
        entry.1 += 1;
        entry.1
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn account(id: &str) -> Account {
        Account {
            id: id.into(),
            username: "u".into(),
        }
    }

    fn body(url: &str) -> Body {
        Body {
            media_type: MediaType::Image,
            text: "t".into(),
            image_url: Some(url.into()),
        }
    }

    #[test]
    fn a_container_processes_then_publishes_once() {
        let mut store = Store::default();
        let now = Utc::now();
        let me = account("1");
        let c = store.create(100, &me, body("https://x/a.jpg"), now);
        assert_eq!(c.status(now), Status::InProgress);
        assert_eq!(
            store.publish(100, &me, &c.id, 50, now).unwrap_err(),
            Refusal::NotReady
        );
        let later = now + Duration::seconds(1);
        assert_eq!(
            store.container(&c.id).unwrap().status(later),
            Status::Finished
        );
        assert_eq!(
            store
                .publish(100, &account("2"), &c.id, 50, later)
                .unwrap_err(),
            Refusal::NotFound
        );
        let media = store.publish(100, &me, &c.id, 50, later).unwrap();
        assert_ne!(media.id, c.id);
        assert_eq!(
            store.container(&c.id).unwrap().status(later),
            Status::Published
        );
        assert_eq!(
            store.publish(100, &me, &c.id, 50, later).unwrap_err(),
            Refusal::Gone
        );
    }

    #[test]
    fn failing_and_expiring_containers() {
        let mut store = Store::default();
        let now = Utc::now();
        let me = account("1");
        let failing = store.create(100, &me, body("https://x/sandbox-fail.jpg"), now);
        let later = now + Duration::seconds(1);
        assert_eq!(failing.status(later), Status::Error);
        let c = store.create(100, &me, body("https://x/a.jpg"), now);
        assert_eq!(c.status(now + Duration::hours(25)), Status::Expired);
        assert!(store.expire(&c.id));
        assert_eq!(
            store.container(&c.id).unwrap().status(later),
            Status::Expired
        );
    }

    #[test]
    fn the_quota_counts_a_moving_day() {
        let mut store = Store::default();
        store.set_processing(0);
        let now = Utc::now();
        let me = account("1");
        for _ in 0..2 {
            let c = store.create(100, &me, body("https://x/a.jpg"), now);
            store.publish(100, &me, &c.id, 2, now).unwrap();
        }
        let c = store.create(100, &me, body("https://x/a.jpg"), now);
        assert_eq!(
            store.publish(100, &me, &c.id, 2, now).unwrap_err(),
            Refusal::QuotaReached
        );
        let tomorrow = now + Duration::hours(24);
        let c = store.create(100, &me, body("https://x/a.jpg"), tomorrow);
        assert!(store.publish(100, &me, &c.id, 2, tomorrow).is_ok());
    }
}
