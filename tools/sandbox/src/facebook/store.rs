//! Facebook's in-memory data: the pages' posts and the usage counters. Lives inside the
//! sandbox's single mutex; methods here never block or await.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::usage::UsageCounter;
use crate::ledger::LedgerMedia;
use crate::upload::Image;

#[derive(Debug, Clone)]
pub(crate) struct Post {
    pub(crate) page_id: u64,
    pub(crate) number: u64,
    pub(crate) message: String,
    pub(crate) created_at: DateTime<Utc>,
}

impl Post {
    /// `<page>_<post>`, as Graph names page posts.
    pub(crate) fn id(&self) -> String {
        format!("{}_{}", self.page_id, self.number)
    }

    /// Graph's time format: `2026-01-01T12:00:00+0000`.
    pub(crate) fn created_time(&self) -> String {
        self.created_at.format("%Y-%m-%dT%H:%M:%S%z").to_string()
    }

    pub(crate) fn permalink_url(&self) -> String {
        format!(
            "https://www.facebook.com/{}/posts/{}",
            self.page_id, self.number
        )
    }
}

/// Engagement counts of a post. The sandbox has no audience, so they derive from the post
/// number: deterministic and non-zero, so tests can predict the metrics they read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Engagement {
    pub reactions: u64,
    pub comments: u64,
    pub shares: u64,
}

/// The counts reported for the post `<page>_<post_number>`.
pub fn engagement_for(post_number: u64) -> Engagement {
    Engagement {
        reactions: 1 + post_number % 13,
        comments: 1 + post_number % 7,
        shares: 1 + post_number % 3,
    }
}

/// Post numbers that sort by creation time: milliseconds shifted left 12 bits plus a sequence.
#[derive(Debug, Default)]
struct PostNumbers {
    last: u64,
}

impl PostNumbers {
    fn next(&mut self, now: DateTime<Utc>) -> u64 {
        let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0);
        self.last = (millis << 12).max(self.last + 1);
        self.last
    }
}

/// An unpublished photo, waiting to be attached to a post (once).
#[derive(Debug, Clone)]
struct Photo {
    page_id: u64,
    image: Image,
    alt_text: Option<String>,
    attached: bool,
}

#[derive(Debug, Default)]
pub(crate) struct FacebookState {
    /// By post number, which increases with creation time.
    posts: BTreeMap<u64, Post>,
    /// Unpublished photos by id (ids from the post numbers, so never equal to a post's).
    photos: HashMap<u64, Photo>,
    numbers: PostNumbers,
    pub(crate) usage: UsageCounter,
}

impl FacebookState {
    /// Forgets posts and usage; the number generator survives so no id is handed out twice.
    pub(crate) fn reset(&mut self) {
        self.posts.clear();
        self.photos.clear();
        self.usage = UsageCounter::default();
    }

    pub(crate) fn upload_photo(
        &mut self,
        page_id: u64,
        image: Image,
        alt_text: Option<String>,
        now: DateTime<Utc>,
    ) -> u64 {
        let id = self.numbers.next(now);
        self.photos.insert(
            id,
            Photo {
                page_id,
                image,
                alt_text,
                attached: false,
            },
        );
        id
    }

    /// Marks the page's unattached photos `ids` attached and describes them for the ledger;
    /// the first id that is not one leaves everything as it was.
    pub(crate) fn attach_photos(
        &mut self,
        page_id: u64,
        ids: &[String],
    ) -> Result<Vec<LedgerMedia>, String> {
        let mut numbers = Vec::with_capacity(ids.len());
        for id in ids {
            let number = id
                .parse::<u64>()
                .ok()
                .filter(|n| {
                    self.photos
                        .get(n)
                        .is_some_and(|p| p.page_id == page_id && !p.attached)
                })
                .filter(|n| !numbers.contains(n))
                .ok_or_else(|| id.clone())?;
            numbers.push(number);
        }
        let mut carried = Vec::with_capacity(numbers.len());
        for number in numbers {
            if let Some(photo) = self.photos.get_mut(&number) {
                photo.attached = true;
                carried.push(photo.image.ledger(photo.alt_text.clone()));
            }
        }
        Ok(carried)
    }

    /// The page's latest post, which Graph refuses to repeat word for word.
    pub(crate) fn latest(&self, page_id: u64) -> Option<&Post> {
        self.posts.values().rev().find(|p| p.page_id == page_id)
    }

    pub(crate) fn create(&mut self, page_id: u64, message: String, now: DateTime<Utc>) -> Post {
        let number = self.numbers.next(now);
        // Graph reports whole seconds.
        let created_at = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        let post = Post {
            page_id,
            number,
            message,
            created_at,
        };
        self.posts.insert(number, post.clone());
        post
    }

    pub(crate) fn post(&self, page_id: u64, number: u64) -> Option<&Post> {
        self.posts.get(&number).filter(|p| p.page_id == page_id)
    }

    /// The page's posts, newest first.
    pub(crate) fn page_posts(&self, page_id: u64) -> impl Iterator<Item = &Post> {
        self.posts
            .values()
            .rev()
            .filter(move |p| p.page_id == page_id)
    }
}

/// For log lines.
pub(crate) fn rfc3339(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn posts_are_listed_per_page_newest_first() {
        let mut state = FacebookState::default();
        let now = Utc::now();
        let a = state.create(1, "a".into(), now);
        let b = state.create(1, "b".into(), now);
        state.create(2, "other page".into(), now);
        let listed: Vec<String> = state.page_posts(1).map(Post::id).collect();
        assert_eq!(listed, vec![b.id(), a.id()]);
        assert_eq!(state.latest(1).unwrap().message, "b");
        assert!(state.post(2, a.number).is_none());
        assert!(b.created_time().ends_with("+0000"));
    }

    #[test]
    fn engagement_is_never_zero() {
        for n in [0, 1, 12, u64::MAX] {
            let e = engagement_for(n);
            assert!(e.reactions > 0 && e.comments > 0 && e.shares > 0);
        }
    }
}
