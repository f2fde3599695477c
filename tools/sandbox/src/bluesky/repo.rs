//! `com.atproto.repo.putRecord` and `createRecord` (with the injected faults) and
//! `com.atproto.repo.getRecord`.
//!
//! As in the reference PDS: `putRecord` of a record identical to the one stored (same CID) is
//! a no-op that answers with the stored record and no `commit`; `swapRecord: null` makes it
//! create-only, so a different record under the key answers 400 `InvalidSwap`; `createRecord`
//! with an rkey that is taken fails in the repository layer and answers a bare 500.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::auth;
use super::blob;
use super::error::XrpcError;
use super::input;
use super::rate_limit::{self, CREATE_POINTS, PUT_POINTS, REPO_WRITES, Status};
use super::store::{self, INVALID_HANDLE, Record};
use crate::conn;
use crate::faults;
use crate::ledger::LedgerEntry;
use crate::platform::Platform;
use crate::state::{SandboxState, Shared};

pub(crate) const POST_COLLECTION: &str = "app.bsky.feed.post";
const MAX_POST_GRAPHEMES: usize = 300;
const MAX_POST_BYTES: usize = 3000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Create,
    Put,
}

/// `swapRecord` as sent: absent, `null` (create-only) or the CID expected under the key.
#[derive(Debug, Clone, PartialEq)]
enum Swap {
    Absent,
    MustNotExist,
    Cid(String),
}

#[derive(Debug)]
struct WriteInput {
    repo: String,
    collection: String,
    rkey: Option<String>,
    record: Map<String, Value>,
    swap: Swap,
}

impl WriteInput {
    fn parse(method: Method, map: &Map<String, Value>) -> Result<WriteInput, XrpcError> {
        let repo = input::required_str(map, "repo")?;
        let collection = input::required_str(map, "collection")?;
        let rkey = match method {
            Method::Put => Some(input::required_str(map, "rkey")?),
            Method::Create => input::optional_str(map, "rkey")?,
        };
        let record = match map.get("record") {
            Some(Value::Object(record)) => record.clone(),
            None | Some(Value::Null) => {
                return Err(XrpcError::invalid(
                    "Input must have the property \"record\"",
                ));
            }
            Some(_) => return Err(XrpcError::invalid("Input/record must be an object")),
        };
        if map.get("validate") == Some(&Value::Bool(false)) {
            return Err(XrpcError::invalid(
                "Unvalidated writes are not yet supported.",
            ));
        }
        let swap = match (method, map.get("swapRecord")) {
            (Method::Put, Some(Value::Null)) => Swap::MustNotExist,
            (Method::Put, Some(Value::String(cid))) => Swap::Cid(cid.clone()),
            (Method::Put, Some(_)) => {
                return Err(XrpcError::invalid("Input/swapRecord must be a string"));
            }
            _ => Swap::Absent,
        };
        Ok(WriteInput {
            repo,
            collection,
            rkey,
            record,
            swap,
        })
    }
}

/// What a successful write answers with.
struct Written {
    record: Record,
    /// `None` for a no-op.
    commit: Option<(String, String)>,
    validated: bool,
    created: bool,
}

pub(crate) async fn put_record(
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    write(Method::Put, req, body, shared).await
}

pub(crate) async fn create_record(
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    write(Method::Create, req, body, shared).await
}

async fn write(
    method: Method,
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let faults = faults::delayed(&shared, Platform::Bluesky).await;
    // An outage answers before the PDS sees the request: no auth, no headers.
    if faults::roll(faults.error_rate) {
        tracing::info!(fault = "error", "bluesky write failed by injected fault");
        return XrpcError::unavailable().error_response();
    }
    let now = Utc::now();
    let did = match auth::access(&req, now) {
        Ok(did) => did,
        Err(error) => return error.error_response(),
    };
    let parsed = input::object(&req, &body).and_then(|map| WriteInput::parse(method, &map));

    let (outcome, window) = {
        // One guard from the lookup of the key to the insert, so two concurrent writes of the
        // same key cannot both create.
        let mut state = shared.lock();
        commit(
            &mut state,
            method,
            &did,
            parsed,
            faults.rate_limit_rate,
            now,
        )
    };

    let result = match outcome {
        Ok(written) => {
            tracing::info!(
                bluesky.did = %did,
                bluesky.rkey = %written.record.rkey,
                created = written.created,
                "bluesky record written"
            );
            if faults::roll(faults.drop_after_commit_rate) {
                if conn::abort(&req) {
                    tracing::info!(
                        bluesky.rkey = %written.record.rkey,
                        fault = "drop_after_commit",
                        "connection cut after commit"
                    );
                    // Never reaches the client: the socket is already shut down.
                    return HttpResponse::Ok().finish();
                }
                Err(XrpcError::drop_unavailable())
            } else {
                Ok(HttpResponse::Ok().json(write_json(&written)))
            }
        }
        Err(error) => Err(error),
    };
    rate_limit::respond(result, window)
}

fn write_json(written: &Written) -> Value {
    let mut body = json!({
        "uri": written.record.uri(),
        "cid": written.record.cid,
        "validationStatus": if written.validated { "valid" } else { "unknown" },
    });
    if let Some((cid, rev)) = &written.commit {
        body["commit"] = json!({ "cid": cid, "rev": rev });
    }
    body
}

/// Everything that happens under the lock, in the PDS's order: rate limit, input, repo,
/// record validation, swap check, write, ledger. Returns the limiter's state for the headers.
fn commit(
    state: &mut SandboxState,
    method: Method,
    did: &str,
    parsed: Result<WriteInput, XrpcError>,
    rate_limit_rate: f64,
    now: DateTime<Utc>,
) -> (Result<Written, XrpcError>, Option<Status>) {
    if faults::roll(rate_limit_rate) {
        tracing::info!(
            fault = "rate_limit",
            "bluesky write throttled by injected fault"
        );
        // An injected throttle is a short burst limit, as Mastodon's: it resets in a couple of
        // seconds, so faulted runs wait seconds rather than the rest of the hourly window.
        let window = state.bluesky.rate.peek(did, &REPO_WRITES, now);
        let error = window.map_or_else(XrpcError::internal, |w| {
            XrpcError::rate_limited(w.exhausted_until(now.timestamp() + 2))
        });
        return (Err(error), None);
    }
    let points = match method {
        Method::Create => CREATE_POINTS,
        Method::Put => PUT_POINTS,
    };
    let window = match state.bluesky.rate.consume(did, &REPO_WRITES, points, now) {
        Ok(window) => window,
        Err(refused) => return (Err(XrpcError::rate_limited(refused)), None),
    };
    (apply(state, method, did, parsed, now), window)
}

fn apply(
    state: &mut SandboxState,
    method: Method,
    did: &str,
    parsed: Result<WriteInput, XrpcError>,
    now: DateTime<Utc>,
) -> Result<Written, XrpcError> {
    let input = parsed?;
    // The token proves the account is hosted here, even if it never opened a session with
    // this sandbox (a token minted by a test).
    if state.bluesky.handle(did).is_none() {
        state.bluesky.register(did, INVALID_HANDLE);
    }
    match state.bluesky.resolve(&input.repo) {
        Some(repo) if repo == did => {}
        Some(_) => return Err(XrpcError::auth_required("Authentication Required")),
        None => {
            return Err(XrpcError::invalid(format!(
                "Could not find repo: {}",
                input.repo
            )));
        }
    }
    let validated = validate_record(&input.collection, &input.record)?;
    let media = if input.collection == POST_COLLECTION {
        blob::embedded_images(&state.bluesky, did, &input.record)?
    } else {
        Vec::new()
    };
    let rkey = match input.rkey {
        Some(rkey) => rkey,
        None => state.bluesky.next_tid(now),
    };
    if !store::is_record_key(&rkey)
        || (input.collection == POST_COLLECTION && !store::is_tid(&rkey))
    {
        return Err(XrpcError::invalid(format!("Invalid record key: {rkey}")));
    }
    let value = Value::Object(input.record);
    let cid = store::cid_for(&value);
    let existing = state.bluesky.record(did, &input.collection, &rkey).cloned();
    match method {
        Method::Put => {
            if let Some(existing) = existing.as_ref().filter(|e| e.cid == cid) {
                return Ok(Written {
                    record: existing.clone(),
                    commit: None,
                    validated,
                    created: false,
                });
            }
            let current = existing.as_ref().map(|e| e.cid.as_str());
            let swap_ok = match &input.swap {
                Swap::Absent => true,
                Swap::MustNotExist => current.is_none(),
                Swap::Cid(expected) => current == Some(expected.as_str()),
            };
            if !swap_ok {
                return Err(XrpcError::named(
                    "InvalidSwap",
                    format!("Record was at {}", current.unwrap_or("null")),
                ));
            }
        }
        Method::Create => {
            if existing.is_some() {
                // The repository refuses to add an existing key; the PDS does not handle it.
                tracing::info!(bluesky.rkey = %rkey, "createRecord on a taken rkey");
                return Err(XrpcError::internal());
            }
        }
    }
    let record = Record {
        did: did.to_owned(),
        collection: input.collection.clone(),
        rkey: rkey.clone(),
        cid: cid.clone(),
        value,
        indexed_at: now,
    };
    state.bluesky.put(record.clone());
    let created = existing.is_none();
    if created && input.collection == POST_COLLECTION {
        state.ledger.record_with_media(
            LedgerEntry {
                platform: Platform::Bluesky,
                account_id: did.to_owned(),
                status_id: rkey.clone(),
                text: record.value["text"].as_str().unwrap_or_default().to_owned(),
                media_ids: Vec::new(),
                // The caller-chosen record key is Bluesky's idempotency key.
                idempotency_key: Some(rkey),
                created_at: now,
            },
            media,
        );
    }
    let rev = state.bluesky.next_tid(now);
    let commit_cid = store::cid_for(&json!({ "did": did, "rev": rev, "data": cid }));
    Ok(Written {
        record,
        commit: Some((commit_cid, rev)),
        validated,
        created,
    })
}

/// The lexicon checks the PDS runs on a post; other collections are stored unvalidated
/// (`validationStatus: "unknown"`). Returns whether the record was validated.
fn validate_record(collection: &str, record: &Map<String, Value>) -> Result<bool, XrpcError> {
    if collection.split('.').count() < 3 || collection.contains(char::is_whitespace) {
        return Err(XrpcError::invalid(format!(
            "Invalid collection: {collection}"
        )));
    }
    let declared = record.get("$type").and_then(Value::as_str).unwrap_or("");
    if declared != collection {
        return Err(XrpcError::invalid(format!(
            "Invalid $type: expected {collection}, got {declared}"
        )));
    }
    if collection != POST_COLLECTION {
        return Ok(false);
    }
    let invalid =
        |why: &str| XrpcError::invalid(format!("Invalid {POST_COLLECTION} record: {why}"));
    let text = match record.get("text") {
        Some(Value::String(text)) => text,
        None => return Err(invalid("Record must have the property \"text\"")),
        Some(_) => return Err(invalid("Record/text must be a string")),
    };
    // Graphemes approximated by characters: exact for the texts tests send.
    if text.chars().count() > MAX_POST_GRAPHEMES {
        return Err(invalid(&format!(
            "Record/text must not be longer than {MAX_POST_GRAPHEMES} graphemes"
        )));
    }
    if text.len() > MAX_POST_BYTES {
        return Err(invalid(&format!(
            "Record/text must not be longer than {MAX_POST_BYTES} characters"
        )));
    }
    match record.get("createdAt").and_then(Value::as_str) {
        Some(at) if DateTime::parse_from_rfc3339(at).is_ok() => Ok(true),
        Some(_) => Err(invalid(
            "Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)",
        )),
        None => Err(invalid("Record must have the property \"createdAt\"")),
    }
}

pub(crate) async fn get_record(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    let result = input::params(&req).and_then(|params| {
        let repo = input::required_param(&params, "repo")?;
        let collection = input::required_param(&params, "collection")?;
        let rkey = input::required_param(&params, "rkey")?;
        let cid = params
            .iter()
            .find(|(k, _)| k == "cid")
            .map(|(_, v)| v.clone());
        let state = shared.lock();
        let did = state
            .bluesky
            .resolve(&repo)
            .ok_or_else(|| XrpcError::invalid(format!("Could not find repo: {repo}")))?;
        let uri = format!("at://{did}/{collection}/{rkey}");
        let record = state
            .bluesky
            .record(&did, &collection, &rkey)
            .filter(|r| cid.as_deref().is_none_or(|c| c == r.cid))
            .ok_or_else(|| {
                XrpcError::named("RecordNotFound", format!("Could not locate record: {uri}"))
            })?;
        Ok(json!({ "uri": uri, "cid": record.cid, "value": record.value }))
    });
    match result {
        Ok(body) => HttpResponse::Ok().json(body),
        Err(error) => error.error_response(),
    }
}
