//! Tweets as X's API v2 prints them: URLs replaced by 23-character `t.co` links (with the
//! originals in `entities.urls`), `&`, `<` and `>` escaped as HTML entities, and the tweet
//! object's optional fields chosen by `tweet.fields`.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::store::Tweet;
use crate::time;

/// Every URL counts as this many characters, the length of a `t.co` link.
const TCO_LENGTH: usize = 23;
const TCO_ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn is_url(word: &str) -> bool {
    word.starts_with("http://") || word.starts_with("https://")
}

/// Length as X weighs it, simplified: characters, with every URL counted as 23.
pub(crate) fn weighted_length(text: &str) -> usize {
    text.split_whitespace()
        .filter(|w| is_url(w))
        .fold(text.chars().count(), |length, url| {
            length - url.chars().count() + TCO_LENGTH
        })
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UrlEntity {
    start: usize,
    end: usize,
    url: String,
    expanded_url: String,
    display_url: String,
}

/// The text X shows for a tweet and the URL entities in it (indices in characters of the
/// shown text).
pub(crate) fn render(tweet_id: u64, text: &str) -> (String, Vec<UrlEntity>) {
    let mut shown = String::with_capacity(text.len());
    let mut urls = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, shown: &mut String, urls: &mut Vec<UrlEntity>| {
        if word.is_empty() {
            return;
        }
        if is_url(word) {
            let start = shown.chars().count();
            let url = tco(tweet_id, urls.len(), word);
            shown.push_str(&url);
            let display_url = word
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .to_owned();
            urls.push(UrlEntity {
                start,
                end: start + TCO_LENGTH,
                url,
                expanded_url: word.clone(),
                display_url,
            });
        } else {
            shown.push_str(&escape(word));
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_whitespace() {
            flush(&mut word, &mut shown, &mut urls);
            shown.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut shown, &mut urls);
    (shown, urls)
}

/// A stable `https://t.co/<10 characters>` for the `index`th URL of a tweet.
fn tco(tweet_id: u64, index: usize, url: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(tweet_id.to_be_bytes());
    hasher.update(index.to_be_bytes());
    hasher.update(url.as_bytes());
    let digest = hasher.finalize();
    let code: String = digest[..10]
        .iter()
        .map(|b| TCO_ALPHABET[usize::from(*b) % TCO_ALPHABET.len()] as char)
        .collect();
    format!("https://t.co/{code}")
}

/// X escapes only these three in tweet text.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `public_metrics` of a tweet. The sandbox has no other users, so these are derived from
/// the tweet id: deterministic and non-zero, so tests can predict the metrics they collect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PublicMetrics {
    pub retweet_count: u64,
    pub reply_count: u64,
    pub like_count: u64,
    pub quote_count: u64,
    pub bookmark_count: u64,
    pub impression_count: u64,
}

/// The metrics `GET /2/tweets?tweet.fields=public_metrics` reports for `tweet_id`.
pub fn public_metrics_for(tweet_id: u64) -> PublicMetrics {
    PublicMetrics {
        retweet_count: 1 + tweet_id % 5,
        reply_count: 1 + tweet_id % 3,
        like_count: 1 + tweet_id % 11,
        quote_count: 1 + tweet_id % 2,
        bookmark_count: 1 + tweet_id % 4,
        impression_count: 100 + tweet_id % 900,
    }
}

/// The tweet object with the default fields (`id`, `text`, `edit_history_tweet_ids`) and
/// those of `fields` the sandbox knows.
pub(crate) fn tweet_json(tweet: &Tweet, fields: &[&str]) -> Value {
    let (text, urls) = render(tweet.id, &tweet.text);
    let id = tweet.id.to_string();
    let mut object = json!({
        "id": id,
        "text": text,
        "edit_history_tweet_ids": [id],
    });
    for field in fields {
        match *field {
            "created_at" => object["created_at"] = json!(time::millis(&tweet.created_at)),
            "author_id" => object["author_id"] = json!(tweet.author_id.to_string()),
            "public_metrics" => object["public_metrics"] = json!(public_metrics_for(tweet.id)),
            "entities" if !urls.is_empty() => {
                let urls: Vec<Value> = urls
                    .iter()
                    .map(|u| {
                        json!({
                            "start": u.start,
                            "end": u.end,
                            "url": u.url,
                            "expanded_url": u.expanded_url,
                            "display_url": u.display_url,
                        })
                    })
                    .collect();
                object["entities"] = json!({ "urls": urls });
            }
            "attachments" if !tweet.media_ids.is_empty() => {
                object["attachments"] = json!({ "media_keys": tweet.media_ids.iter().map(|m| format!("3_{m}")).collect::<Vec<_>>() });
            }
            _ => {}
        }
    }
    object
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_become_tco_links_and_entities_are_escaped() {
        let (shown, urls) = render(7, "a & b <c> https://example.com/x?y=1 end");
        assert!(
            shown.starts_with("a &amp; b &lt;c&gt; https://t.co/"),
            "{shown}"
        );
        assert!(shown.ends_with(" end"));
        assert_eq!(urls.len(), 1);
        assert_eq!(urls[0].expanded_url, "https://example.com/x?y=1");
        assert_eq!(urls[0].url.len(), TCO_LENGTH);
        let chars: Vec<char> = shown.chars().collect();
        let linked: String = chars[urls[0].start..urls[0].end].iter().collect();
        assert_eq!(linked, urls[0].url);
        assert_eq!(
            render(7, "a & b <c> https://example.com/x?y=1 end").0,
            shown
        );
    }

    #[test]
    fn urls_weigh_23_characters() {
        let url = format!("https://example.com/{}", "a".repeat(100));
        assert_eq!(weighted_length(&format!("hi {url}")), 3 + TCO_LENGTH);
    }
}
