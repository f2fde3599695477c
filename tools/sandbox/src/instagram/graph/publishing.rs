//! The two publishing steps, `POST /{ver}/{user}/{create_edge}` (a container) and `POST
//! /{ver}/{user}/{publish_edge}` {creation_id} (the post), with the injected faults applied to
//! both as to Mastodon's create: sleep `latency_ms`; with `error_rate` answer 503 before
//! anything; after authentication, with `rate_limit_rate` answer Graph's throttling error;
//! after the commit (a container created / a post published and in the ledger), with
//! `drop_after_commit_rate` cut the connection without answering.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::Utc;
use serde_json::json;

use super::auth::{self, Caller};
use super::error::GraphError;
use super::params::{self, Params};
use super::store::{Body, MediaType, Refusal};
use super::{Flavor, FlavorData, Kind, usage, version_ok};
use crate::conn;
use crate::faults::{self, Faults};
use crate::ledger::LedgerEntry;
use crate::state::Shared;

const CAPTION_MAX_CHARS: usize = 2200;
const THREADS_TEXT_MAX: usize = 500;

/// Latency and outage faults, which act before the request is even read.
async fn outage(shared: &Shared, flavor: &Flavor) -> Result<Faults, GraphError> {
    let faults = faults::delayed(shared, flavor.platform).await;
    if faults::roll(faults.error_rate) {
        tracing::info!(platform = %flavor.platform, fault = "error", "publishing call failed by injected fault");
        return Err(GraphError::unavailable());
    }
    Ok(faults)
}

/// Version, parameters and caller; the path's user must be the caller's.
fn enter(
    flavor: &Flavor,
    req: &HttpRequest,
    body: &[u8],
    version: &str,
    user: &str,
    faults: &Faults,
) -> Result<(Caller, Params), GraphError> {
    if !version_ok(version) {
        return Err(GraphError::unknown_path(req.path()));
    }
    let params = params::parse(req, body)?;
    let caller = auth::caller(flavor, req, &params)?;
    if user != caller.account.id && user != "me" {
        return Err(GraphError::unsupported("post", user));
    }
    if faults::roll(faults.rate_limit_rate) {
        tracing::info!(platform = %flavor.platform, fault = "rate_limit", "publishing call throttled by injected fault");
        return Err(GraphError::throttled(
            &caller.account.id,
            flavor.kind == Kind::Instagram,
        ));
    }
    Ok((caller, params))
}

/// After the commit: maybe cut the connection, else answer `{"id": ...}` with usage headers.
fn answer(
    req: &HttpRequest,
    flavor: &Flavor,
    faults: &Faults,
    caller: &Caller,
    id: &str,
    calls: u32,
) -> HttpResponse {
    if faults::roll(faults.drop_after_commit_rate) {
        if conn::abort(req) {
            tracing::info!(platform = %flavor.platform, id, fault = "drop_after_commit", "connection cut after commit");
            // Never reaches the client: the socket is already shut down.
            return HttpResponse::Ok().finish();
        }
        return GraphError::drop_unavailable().error_response();
    }
    let mut response = HttpResponse::Ok().json(json!({ "id": id }));
    usage::apply(
        &mut response,
        &caller.account.id,
        flavor.kind == Kind::Instagram,
        calls,
    );
    response
}

pub(crate) async fn create(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    shared: web::Data<Shared>,
    flavor: FlavorData,
) -> HttpResponse {
    let flavor: &Flavor = &flavor;
    let (version, user) = path.into_inner();
    let faults = match outage(&shared, flavor).await {
        Ok(faults) => faults,
        Err(error) => return error.error_response(),
    };
    let entered = enter(flavor, &req, &body, &version, &user, &faults)
        .and_then(|(caller, params)| Ok((new_body(flavor, &params)?, caller)));
    let (new, caller) = match entered {
        Ok(entered) => entered,
        Err(error) => return error.error_response(),
    };
    let now = Utc::now();
    let (container, calls) = {
        let mut state = shared.lock();
        let store = (flavor.store)(&mut state);
        let container = store.create(flavor.id_base, &caller.account, new, now);
        (container, store.count_call(&caller.account.id, now))
    };
    tracing::info!(platform = %flavor.platform, user.id = %caller.account.id, container.id = %container.id, "container created");
    answer(&req, flavor, &faults, &caller, &container.id, calls)
}

pub(crate) async fn publish(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    shared: web::Data<Shared>,
    flavor: FlavorData,
) -> HttpResponse {
    let flavor: &Flavor = &flavor;
    let (version, user) = path.into_inner();
    let faults = match outage(&shared, flavor).await {
        Ok(faults) => faults,
        Err(error) => return error.error_response(),
    };
    let entered =
        enter(flavor, &req, &body, &version, &user, &faults).and_then(|(caller, params)| {
            let creation_id = params
                .get("creation_id")
                .ok_or_else(|| GraphError::missing_param("creation_id"))?
                .to_owned();
            Ok((caller, creation_id))
        });
    let (caller, creation_id) = match entered {
        Ok(entered) => entered,
        Err(error) => return error.error_response(),
    };
    let now = Utc::now();
    let (published, calls) = {
        // One guard from the status check to the ledger: concurrent publishes of one container
        // cannot both succeed.
        let mut state = shared.lock();
        let store = (flavor.store)(&mut state);
        let calls = store.count_call(&caller.account.id, now);
        let published = store.publish(
            flavor.id_base,
            &caller.account,
            &creation_id,
            flavor.quota_total,
            now,
        );
        if let Ok(media) = &published {
            state.ledger.record(LedgerEntry {
                platform: flavor.platform,
                account_id: caller.account.id.clone(),
                status_id: media.id.clone(),
                text: media.body.text.clone(),
                media_ids: media.body.image_url.iter().cloned().collect(),
                // The container is what makes a publish happen at most once.
                idempotency_key: Some(media.container_id.clone()),
                created_at: media.created_at,
            });
        }
        (published, calls)
    };
    let media = match published {
        Ok(media) => media,
        Err(refusal) => {
            tracing::info!(platform = %flavor.platform, container.id = %creation_id, refusal = ?refusal, "publish refused");
            return refused(refusal, &creation_id).error_response();
        }
    };
    tracing::info!(platform = %flavor.platform, user.id = %caller.account.id, media.id = %media.id, container.id = %creation_id, "media published");
    answer(&req, flavor, &faults, &caller, &media.id, calls)
}

fn refused(refusal: Refusal, creation_id: &str) -> GraphError {
    match refusal {
        Refusal::NotFound | Refusal::Gone => GraphError::builder_gone(creation_id),
        Refusal::NotReady => GraphError::not_ready(),
        Refusal::Failed => GraphError::container_failed(),
        Refusal::QuotaReached => GraphError::quota_reached(),
    }
}

/// The container's content as each platform validates it.
fn new_body(flavor: &Flavor, params: &Params) -> Result<Body, GraphError> {
    match flavor.kind {
        Kind::Instagram => instagram_body(params),
        Kind::Threads => threads_body(params),
    }
}

fn instagram_body(params: &Params) -> Result<Body, GraphError> {
    if let Some(media_type) = params.get("media_type")
        && media_type != "IMAGE"
    {
        return Err(unsupported_type());
    }
    let image_url = params
        .get("image_url")
        .ok_or_else(|| GraphError::missing_param("image_url"))?;
    if !absolute_http(image_url) {
        return Err(GraphError::media_unfetchable(image_url));
    }
    let caption = params.get("caption").unwrap_or_default().to_owned();
    if caption.chars().count() > CAPTION_MAX_CHARS {
        return Err(GraphError::invalid_param(
            "Caption too long",
            "The caption is limited to 2,200 characters.",
        ));
    }
    Ok(Body {
        media_type: MediaType::Image,
        text: caption,
        image_url: Some(image_url.to_owned()),
    })
}

fn threads_body(params: &Params) -> Result<Body, GraphError> {
    let media_type = params
        .get("media_type")
        .ok_or_else(|| GraphError::missing_param("media_type"))?;
    let text = params.get("text").unwrap_or_default().to_owned();
    let (media_type, image_url) = match media_type {
        "TEXT" => {
            if text.trim().is_empty() {
                return Err(GraphError::missing_param("text"));
            }
            (MediaType::Text, None)
        }
        "IMAGE" => {
            let url = params
                .get("image_url")
                .ok_or_else(|| GraphError::missing_param("image_url"))?;
            if !absolute_http(url) {
                return Err(GraphError::media_unfetchable(url));
            }
            (MediaType::Image, Some(url.to_owned()))
        }
        "VIDEO" | "CAROUSEL" => return Err(unsupported_type()),
        _ => {
            return Err(GraphError::invalid_param(
                "Invalid media type",
                "media_type must be one of TEXT, IMAGE, VIDEO, CAROUSEL.",
            ));
        }
    };
    if threads_length(&text) > THREADS_TEXT_MAX {
        return Err(GraphError::invalid_param(
            "Text too long",
            "The text is limited to 500 characters.",
        ));
    }
    Ok(Body {
        media_type,
        text,
        image_url,
    })
}

fn unsupported_type() -> GraphError {
    GraphError::invalid_param(
        "Media type not supported",
        "The sandbox publishes single images (and Threads text posts) only.",
    )
}

/// Threads counts emoji (4-byte characters) as their UTF-8 length.
fn threads_length(text: &str) -> usize {
    text.chars()
        .map(|c| if c.len_utf8() == 4 { 4 } else { 1 })
        .sum()
}

/// An absolute `http(s)` URL with a host; the sandbox never fetches it.
fn absolute_http(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    let host = rest.and_then(|r| r.split(['/', '?', '#']).next());
    host.is_some_and(|h| !h.is_empty()) && !url.contains(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_http_urls_are_accepted() {
        assert!(absolute_http("https://cdn.example.com/a.jpg"));
        assert!(absolute_http("HTTP://example.com"));
        assert!(!absolute_http("/relative/a.jpg"));
        assert!(!absolute_http("ftp://example.com/a.jpg"));
        assert!(!absolute_http("https:///a.jpg"));
        assert!(!absolute_http("https://exa mple.com/a.jpg"));
    }

    #[test]
    fn emoji_count_as_their_bytes() {
        assert_eq!(threads_length("abc"), 3);
        assert_eq!(threads_length("é"), 1);
        assert_eq!(threads_length("🧵"), 4);
    }
}
