//! What the sandbox's X remembers: tweets by id and by author, refresh tokens already
//! exchanged, rate-limit counters and the id generator. Lives inside the sandbox's single
//! mutex; nothing here blocks or awaits.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use super::rate_limit::RateLimiter;
use crate::ledger::LedgerMedia;
use crate::upload::Image;

/// X refuses a text its author already posted recently. X does not document the window; the
/// sandbox uses 24 hours.
pub(crate) const DUPLICATE_WINDOW: Duration = Duration::hours(24);

/// Twitter's snowflake epoch (2010-11-04T01:42:54.657Z) in milliseconds.
const SNOWFLAKE_EPOCH_MS: i64 = 1_288_834_974_657;

#[derive(Debug, Clone)]
pub(crate) struct Tweet {
    pub(crate) id: u64,
    pub(crate) author_id: u64,
    /// The text as posted (answers render it: t.co links, escaped entities).
    pub(crate) text: String,
    pub(crate) media_ids: Vec<String>,
    pub(crate) created_at: DateTime<Utc>,
}

/// Snowflake ids: milliseconds since X's epoch shifted left 22 bits plus a sequence, so ids
/// sort by creation time and always increase.
#[derive(Debug, Default)]
struct SnowflakeIds {
    last: u64,
}

impl SnowflakeIds {
    fn next(&mut self, now: DateTime<Utc>) -> u64 {
        let millis = u64::try_from(now.timestamp_millis() - SNOWFLAKE_EPOCH_MS).unwrap_or(0);
        self.last = (millis << 22).max(self.last + 1);
        self.last
    }
}

/// An uploaded image: its owner, bytes and alt text (set by `/2/media/metadata`).
#[derive(Debug, Clone)]
pub(crate) struct Media {
    owner: u64,
    image: Image,
    alt_text: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct XState {
    media: HashMap<u64, Media>,
    tweets: BTreeMap<u64, Tweet>,
    /// Author → tweet ids, increasing.
    by_author: HashMap<u64, Vec<u64>>,
    /// Refresh tokens already exchanged (X's refresh tokens are single-use).
    spent_refresh_tokens: HashSet<String>,
    pub(crate) rate: RateLimiter,
    ids: SnowflakeIds,
}

impl XState {
    /// Stores an upload and returns its media id.
    pub(crate) fn upload(&mut self, owner: u64, image: Image, now: DateTime<Utc>) -> u64 {
        let id = self.ids.next(now);
        self.media.insert(
            id,
            Media {
                owner,
                image,
                alt_text: None,
            },
        );
        id
    }

    pub(crate) fn media_owner(&self, id: u64) -> Option<u64> {
        self.media.get(&id).map(|m| m.owner)
    }

    pub(crate) fn describe(&mut self, id: u64, alt_text: String) {
        if let Some(media) = self.media.get_mut(&id) {
            media.alt_text = Some(alt_text).filter(|t| !t.is_empty());
        }
    }

    /// The owner's media named by `ids`, for the ledger; the ids that are not theirs.
    pub(crate) fn attachable(
        &self,
        owner: u64,
        ids: &[String],
    ) -> Result<Vec<LedgerMedia>, Vec<String>> {
        let mut found = Vec::new();
        let mut invalid = Vec::new();
        for id in ids {
            match id.parse::<u64>().ok().and_then(|m| self.media.get(&m)) {
                Some(media) if media.owner == owner => {
                    found.push(media.image.ledger(media.alt_text.clone()));
                }
                _ => invalid.push(id.clone()),
            }
        }
        if invalid.is_empty() {
            Ok(found)
        } else {
            Err(invalid)
        }
    }

    /// Forgets what a test could observe; the id generator survives.
    pub(crate) fn reset(&mut self) {
        let ids = std::mem::take(&mut self.ids);
        *self = Self::default();
        self.ids = ids;
    }

    pub(crate) fn tweet(&self, id: u64) -> Option<&Tweet> {
        self.tweets.get(&id)
    }

    /// The author's recent tweet with exactly this text, if any.
    pub(crate) fn duplicate_of(&self, author_id: u64, text: &str, now: DateTime<Utc>) -> bool {
        self.by_author.get(&author_id).is_some_and(|ids| {
            ids.iter()
                .rev()
                .filter_map(|id| self.tweets.get(id))
                .take_while(|t| now - t.created_at < DUPLICATE_WINDOW)
                .any(|t| t.text.trim() == text.trim())
        })
    }

    pub(crate) fn create(
        &mut self,
        author_id: u64,
        text: String,
        media_ids: Vec<String>,
        now: DateTime<Utc>,
    ) -> Tweet {
        let id = self.ids.next(now);
        // Millisecond precision, as X prints it.
        let created_at = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
        let tweet = Tweet {
            id,
            author_id,
            text,
            media_ids,
            created_at,
        };
        self.tweets.insert(id, tweet.clone());
        self.by_author.entry(author_id).or_default().push(id);
        tweet
    }

    /// The author's tweets, newest first, created in `[start, end)` and older than `until_id`
    /// (exclusive, for pagination).
    pub(crate) fn timeline(
        &self,
        author_id: u64,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
        until_id: Option<u64>,
    ) -> Vec<&Tweet> {
        let Some(ids) = self.by_author.get(&author_id) else {
            return Vec::new();
        };
        ids.iter()
            .rev()
            .filter(|&&id| until_id.is_none_or(|until| id < until))
            .filter_map(|id| self.tweets.get(id))
            .filter(|t| start.is_none_or(|s| t.created_at >= s))
            .filter(|t| end.is_none_or(|e| t.created_at < e))
            .collect()
    }

    /// Marks a refresh token used; false if it already was.
    pub(crate) fn spend_refresh_token(&mut self, token: &str) -> bool {
        self.spent_refresh_tokens.insert(token.to_owned())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_and_duplicates_are_per_author() {
        let mut state = XState::default();
        let now = Utc::now();
        let a = state.create(1, "hello".into(), vec![], now);
        let b = state.create(1, "other".into(), vec![], now);
        assert!(b.id > a.id);
        assert!(state.duplicate_of(1, "hello", now));
        assert!(!state.duplicate_of(2, "hello", now));
        assert!(!state.duplicate_of(1, "hello", now + DUPLICATE_WINDOW));
        let listed: Vec<u64> = state
            .timeline(1, None, None, None)
            .iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(listed, vec![b.id, a.id]);
    }
}
