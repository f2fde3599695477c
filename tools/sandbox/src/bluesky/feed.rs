//! `app.bsky.feed.getPosts`: post views with engagement counts, for metrics collection.
//! (On the network this is the AppView's, proxied by the PDS; the sandbox answers it itself.)

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::auth;
use super::error::XrpcError;
use super::input;
use super::repo::POST_COLLECTION;
use super::store::{INVALID_HANDLE, Record};
use crate::state::Shared;
use crate::time;

const MAX_URIS: usize = 25;

/// Engagement counts of a post. The sandbox has no other users, so these are derived from the
/// post's URI: deterministic and non-zero, so tests can predict the metrics they collect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Engagement {
    pub likes: u64,
    pub reposts: u64,
    pub replies: u64,
    pub quotes: u64,
}

/// The counts `app.bsky.feed.getPosts` reports for the post at `uri` (`at://did/...`).
pub fn engagement_for(uri: &str) -> Engagement {
    let digest = Sha256::digest(uri.as_bytes());
    Engagement {
        likes: 1 + u64::from(digest[0]) % 50,
        reposts: 1 + u64::from(digest[1]) % 20,
        replies: 1 + u64::from(digest[2]) % 10,
        quotes: 1 + u64::from(digest[3]) % 5,
    }
}

pub(crate) async fn get_posts(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    let result = auth::optional_access(&req, Utc::now())
        .and_then(|_| input::params(&req))
        .and_then(|params| {
            let uris: Vec<String> = params
                .into_iter()
                .filter(|(k, _)| k == "uris" || k == "uris[]")
                .map(|(_, v)| v)
                .collect();
            if uris.is_empty() {
                return Err(XrpcError::invalid("Params must have the property \"uris\""));
            }
            if uris.len() > MAX_URIS {
                return Err(XrpcError::invalid(format!(
                    "Params/uris must not have more than {MAX_URIS} elements"
                )));
            }
            let state = shared.lock();
            // Posts that do not exist are left out, as the AppView does.
            let posts: Vec<Value> = uris
                .iter()
                .filter_map(|uri| {
                    let rest = uri.strip_prefix("at://")?;
                    let mut parts = rest.splitn(3, '/');
                    let (actor, collection, rkey) = (parts.next()?, parts.next()?, parts.next()?);
                    if collection != POST_COLLECTION {
                        return None;
                    }
                    let did = state.bluesky.resolve(actor)?;
                    let record = state.bluesky.record(&did, collection, rkey)?;
                    let handle = state.bluesky.handle(&did).unwrap_or(INVALID_HANDLE);
                    Some(post_view(record, handle))
                })
                .collect();
            Ok(json!({ "posts": posts }))
        });
    match result {
        Ok(body) => HttpResponse::Ok().json(body),
        Err(error) => error.error_response(),
    }
}

fn post_view(record: &Record, handle: &str) -> Value {
    let uri = record.uri();
    let counts = engagement_for(&uri);
    json!({
        "uri": uri,
        "cid": record.cid,
        "author": {
            "did": record.did,
            "handle": handle,
            "displayName": "",
            "labels": [],
        },
        "record": record.value,
        "replyCount": counts.replies,
        "repostCount": counts.reposts,
        "likeCount": counts.likes,
        "quoteCount": counts.quotes,
        "indexedAt": time::millis(&record.indexed_at),
        "labels": [],
    })
}
