//! LinkedIn's in-memory data: posts by id, in creation order. Lives inside the sandbox's
//! single mutex; methods here never block or await.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};

use crate::upload::Image;

/// How far back an identical commentary by the same author is refused as a duplicate
/// (*unverified*: reports speak of a day or two).
const DUPLICATE_WINDOW: Duration = Duration::hours(24);

#[derive(Debug, Clone)]
pub(crate) struct Post {
    pub(crate) id: u64,
    pub(crate) author: String,
    /// As sent: little text, escapes included.
    pub(crate) commentary: String,
    pub(crate) visibility: String,
    pub(crate) feed_distribution: String,
    pub(crate) reshare_disabled: bool,
    pub(crate) created_at: DateTime<Utc>,
}

impl Post {
    pub(crate) fn urn(&self) -> String {
        share_urn(self.id)
    }
}

pub(crate) fn share_urn(id: u64) -> String {
    format!("urn:li:share:{id}")
}

/// A post as the create call asked for it.
#[derive(Debug, Clone)]
pub(crate) struct NewPost {
    pub(crate) author: String,
    pub(crate) commentary: String,
    pub(crate) visibility: String,
    pub(crate) feed_distribution: String,
    pub(crate) reshare_disabled: bool,
}

/// Activity ids as LinkedIn makes them: the creation time in milliseconds in the high bits
/// (shifted left 22) plus a sequence, so ids sort by creation time and always increase.
#[derive(Debug, Default)]
struct ActivityIds {
    last: u64,
}

impl ActivityIds {
    fn next(&mut self, now: DateTime<Utc>) -> u64 {
        let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0);
        self.last = (millis << 22).max(self.last + 1);
        self.last
    }
}

/// A registered image: its owner, and its bytes once `PUT` (then it is AVAILABLE).
#[derive(Debug, Clone)]
struct RegisteredImage {
    owner: String,
    image: Option<Image>,
}

#[derive(Debug, Default)]
pub(crate) struct LinkedinState {
    posts: BTreeMap<u64, Post>,
    images: HashMap<u64, RegisteredImage>,
    ids: ActivityIds,
}

impl LinkedinState {
    /// Forgets every post; the id generator survives so no id is handed out twice.
    pub(crate) fn reset(&mut self) {
        self.posts.clear();
        self.images.clear();
    }

    /// The author's recent post with exactly this commentary, which LinkedIn refuses to repeat.
    pub(crate) fn duplicate_of(
        &self,
        author: &str,
        commentary: &str,
        now: DateTime<Utc>,
    ) -> Option<&Post> {
        self.posts.values().rev().find(|p| {
            p.author == author
                && p.commentary == commentary
                && now - p.created_at < DUPLICATE_WINDOW
        })
    }

    /// Registers an image for `owner` (WAITING_UPLOAD) and returns its id.
    pub(crate) fn register_image(&mut self, owner: &str, now: DateTime<Utc>) -> u64 {
        let id = self.ids.next(now);
        self.images.insert(
            id,
            RegisteredImage {
                owner: owner.to_owned(),
                image: None,
            },
        );
        id
    }

    /// Stores the bytes of a registered image; false for an unknown id.
    pub(crate) fn upload_image(&mut self, id: u64, image: Image) -> bool {
        match self.images.get_mut(&id) {
            Some(registered) => {
                registered.image = Some(image);
                true
            }
            None => false,
        }
    }

    /// An uploaded image of `owner`.
    pub(crate) fn available_image(&self, id: u64, owner: &str) -> Option<&Image> {
        self.images
            .get(&id)
            .filter(|r| r.owner == owner)
            .and_then(|r| r.image.as_ref())
    }

    pub(crate) fn create(&mut self, new: NewPost, now: DateTime<Utc>) -> Post {
        let id = self.ids.next(now);
        // Millisecond precision: LinkedIn reports epoch milliseconds.
        let created_at = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
        let post = Post {
            id,
            author: new.author,
            commentary: new.commentary,
            visibility: new.visibility,
            feed_distribution: new.feed_distribution,
            reshare_disabled: new.reshare_disabled,
            created_at,
        };
        self.posts.insert(id, post.clone());
        post
    }

    /// The author's posts, newest first (nothing is ever edited, so last-modified order is
    /// creation order).
    pub(crate) fn by_author<'a>(&'a self, author: &'a str) -> impl Iterator<Item = &'a Post> {
        self.posts
            .values()
            .rev()
            .filter(move |p| p.author == author)
    }

    pub(crate) fn post(&self, id: u64) -> Option<&Post> {
        self.posts.get(&id)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn new_post(author: &str, commentary: &str) -> NewPost {
        NewPost {
            author: author.to_owned(),
            commentary: commentary.to_owned(),
            visibility: "PUBLIC".to_owned(),
            feed_distribution: "MAIN_FEED".to_owned(),
            reshare_disabled: false,
        }
    }

    #[test]
    fn ids_carry_the_creation_time_and_increase() {
        let mut ids = ActivityIds::default();
        let now = Utc::now();
        let a = ids.next(now);
        let b = ids.next(now);
        assert!(b > a);
        assert_eq!(a >> 22, u64::try_from(now.timestamp_millis()).unwrap());
    }

    #[test]
    fn duplicates_are_per_author_and_expire() {
        let mut state = LinkedinState::default();
        let now = Utc::now();
        let post = state.create(new_post("urn:li:person:a", "hi"), now);
        assert_eq!(
            state.duplicate_of("urn:li:person:a", "hi", now).unwrap().id,
            post.id
        );
        assert!(state.duplicate_of("urn:li:person:b", "hi", now).is_none());
        assert!(state.duplicate_of("urn:li:person:a", "hi!", now).is_none());
        let later = now + Duration::hours(25);
        assert!(state.duplicate_of("urn:li:person:a", "hi", later).is_none());
    }
}
