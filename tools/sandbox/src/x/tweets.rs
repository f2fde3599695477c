//! `POST /2/tweets` (with the injected faults and the duplicate-content refusal) and
//! `GET /2/tweets?ids=` (the lookup metrics are read from).

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::auth::{self, Caller};
use super::error::{DUPLICATE_CONTENT, XError};
use super::rate_limit::{self, CREATE_TWEET, TWEETS_LOOKUP, Window};
use super::render::{self, tweet_json};
use super::store::Tweet;
use crate::conn;
use crate::faults;
use crate::ledger::LedgerEntry;
use crate::platform::Platform;
use crate::state::{SandboxState, Shared};

const MAX_TWEET_LENGTH: usize = 280;
const MAX_LOOKUP_IDS: usize = 100;

/// The body of `POST /2/tweets` once read.
struct NewTweet {
    text: String,
    media_ids: Vec<String>,
}

fn parse(body: &[u8]) -> Result<NewTweet, XError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| XError::invalid("Request body is not valid JSON."))?;
    let Value::Object(map) = value else {
        return Err(XError::invalid("Request body must be a JSON object."));
    };
    let text = match map.get("text") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(_) => return Err(XError::invalid("$.text: expected a string")),
    };
    let media_ids: Vec<String> = map
        .get("media")
        .and_then(|m| m.get("media_ids"))
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter()
                .filter_map(|id| id.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if text.trim().is_empty() && media_ids.is_empty() {
        return Err(XError::invalid(
            "$.text: Tweet text must not be empty when no media is attached.",
        ));
    }
    if render::weighted_length(&text) > MAX_TWEET_LENGTH {
        return Err(XError::invalid(
            "Your Tweet text is too long. For more information on how Twitter determines text \
             length see https://github.com/twitter/twitter-text.",
        ));
    }
    Ok(NewTweet { text, media_ids })
}

pub(crate) async fn create(
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let faults = faults::delayed(&shared, Platform::X).await;
    // An outage answers before the API sees the request: no auth, no headers.
    if faults::roll(faults.error_rate) {
        tracing::info!(fault = "error", "x create failed by injected fault");
        return XError::Unavailable.error_response();
    }
    let now = Utc::now();
    let caller = match auth::caller(&req, now) {
        Ok(caller) => caller,
        Err(error) => return error.error_response(),
    };
    let parsed = parse(&body);
    let (outcome, window) = {
        // One guard from the duplicate check to the insert, so two concurrent identical
        // tweets cannot both be created.
        let mut state = shared.lock();
        commit(&mut state, &caller, parsed, faults.rate_limit_rate, now)
    };
    let result = match outcome {
        Ok(tweet) => {
            tracing::info!(
                x.user_id = caller.user.id,
                x.tweet_id = tweet.id,
                "x tweet created"
            );
            if faults::roll(faults.drop_after_commit_rate) {
                if conn::abort(&req) {
                    tracing::info!(
                        x.tweet_id = tweet.id,
                        fault = "drop_after_commit",
                        "connection cut after commit"
                    );
                    // Never reaches the client: the socket is already shut down.
                    return HttpResponse::Ok().finish();
                }
                Err(XError::DropUnavailable)
            } else {
                Ok(HttpResponse::Created().json(json!({ "data": tweet_json(&tweet, &[]) })))
            }
        }
        Err(error) => Err(error),
    };
    rate_limit::respond(result, window)
}

/// Under the lock, in X's order: rate limit, parameters, duplicate check, create, ledger.
fn commit(
    state: &mut SandboxState,
    caller: &Caller,
    parsed: Result<NewTweet, XError>,
    rate_limit_rate: f64,
    now: DateTime<Utc>,
) -> (Result<Tweet, XError>, Option<Window>) {
    let user_id = caller.user.id;
    if faults::roll(rate_limit_rate) {
        tracing::info!(fault = "rate_limit", "x create throttled by injected fault");
        // An injected throttle is a short burst limit, as Mastodon's: it resets in a couple of
        // seconds, so faulted runs wait seconds rather than the rest of the 15-minute window.
        let window = state
            .x
            .rate
            .peek(user_id, CREATE_TWEET, now)
            .exhausted_until(now.timestamp() + 2);
        return (Err(XError::RateLimited(window)), None);
    }
    let window = match state.x.rate.hit(user_id, CREATE_TWEET, now) {
        Ok(window) => window,
        Err(refused) => return (Err(XError::RateLimited(refused)), None),
    };
    let result = parsed.and_then(|new| {
        if state.x.duplicate_of(user_id, &new.text, now) {
            return Err(XError::Forbidden(DUPLICATE_CONTENT.to_owned()));
        }
        if new.media_ids.len() > super::media::MAX_MEDIA_PER_TWEET {
            return Err(XError::invalid(
                "$.media.media_ids: must have at most 4 items",
            ));
        }
        let media = state
            .x
            .attachable(user_id, &new.media_ids)
            .map_err(|invalid| {
                XError::invalid(format!(
                    "Your media IDs are invalid: {}",
                    invalid.join(", ")
                ))
            })?;
        let tweet = state.x.create(user_id, new.text, new.media_ids, now);
        state.ledger.record_with_media(
            LedgerEntry {
                platform: Platform::X,
                account_id: user_id.to_string(),
                status_id: tweet.id.to_string(),
                text: tweet.text.clone(),
                media_ids: tweet.media_ids.clone(),
                // X has no idempotency key.
                idempotency_key: None,
                created_at: tweet.created_at,
            },
            media,
        );
        Ok(tweet)
    });
    (result, Some(window))
}

/// The comma-separated `tweet.fields` of a query.
pub(crate) fn fields(params: &[(String, String)]) -> Vec<&str> {
    params
        .iter()
        .filter(|(k, _)| k == "tweet.fields")
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect()
}

pub(crate) fn query_pairs(req: &HttpRequest) -> Result<Vec<(String, String)>, XError> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|_| XError::invalid("The query string could not be parsed."))
}

pub(crate) async fn lookup(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    let now = Utc::now();
    let caller = match auth::caller(&req, now).and_then(|c| c.require_read().map(|()| c)) {
        Ok(caller) => caller,
        Err(error) => return error.error_response(),
    };
    let mut state = shared.lock();
    let window = match state.x.rate.hit(caller.user.id, TWEETS_LOOKUP, now) {
        Ok(window) => window,
        Err(refused) => return XError::RateLimited(refused).error_response(),
    };
    let result = query_pairs(&req).and_then(|params| {
        let ids: Vec<String> = params
            .iter()
            .filter(|(k, _)| k == "ids")
            .flat_map(|(_, v)| v.split(','))
            .map(|id| id.trim().to_owned())
            .collect();
        if ids.is_empty() || ids.len() > MAX_LOOKUP_IDS {
            return Err(XError::invalid(format!(
                "The `ids` query parameter value [{}] is not between 1 and {MAX_LOOKUP_IDS}",
                ids.len()
            )));
        }
        if let Some(bad) = ids
            .iter()
            .find(|id| id.is_empty() || id.len() > 19 || !id.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(XError::invalid(format!(
                "The `ids` query parameter value [{bad}] does not match ^[0-9]{{1,19}}$"
            )));
        }
        let fields = fields(&params);
        let mut data = Vec::new();
        let mut errors = Vec::new();
        for id in &ids {
            match id.parse::<u64>().ok().and_then(|n| state.x.tweet(n)) {
                Some(tweet) => data.push(tweet_json(tweet, &fields)),
                None => errors.push(not_found("tweet", "ids", id)),
            }
        }
        let mut body = json!({});
        if !data.is_empty() {
            body["data"] = json!(data);
        }
        if !errors.is_empty() {
            body["errors"] = json!(errors);
        }
        Ok(HttpResponse::Ok().json(body))
    });
    rate_limit::respond(result, Some(window))
}

/// X reports ids it cannot find next to the ones it found, with a 200.
pub(crate) fn not_found(resource_type: &str, parameter: &str, id: &str) -> Value {
    json!({
        "value": id,
        "detail": format!("Could not find {resource_type} with {parameter}: [{id}]."),
        "title": "Not Found Error",
        "resource_type": resource_type,
        "parameter": parameter,
        "resource_id": id,
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    })
}
