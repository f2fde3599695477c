//! `POST /api/v1/statuses` (with Idempotency-Key replay and the injected faults) and
//! `GET /api/v1/statuses/:id`.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::{DateTime, Utc};

use super::auth;
use super::entities::{self, Engagement, engagement_for};
use super::error::ApiError;
use super::params::{self, StatusParams};
use super::rate_limit::{self, STATUSES};
use super::store::{Account, Status};
use crate::conn;
use crate::faults;
use crate::ledger::LedgerEntry;
use crate::platform::Platform;
use crate::state::{SandboxState, Shared};

pub(crate) async fn create(
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let faults = faults::delayed(&shared, Platform::Mastodon).await;
    // An outage answers before the application sees the request: no auth, no headers.
    if faults::roll(faults.error_rate) {
        tracing::info!(fault = "error", "mastodon create failed by injected fault");
        return ApiError::Unavailable.error_response();
    }
    let account = match auth::required(&req) {
        Ok(account) => account,
        Err(error) => return error.error_response(),
    };
    let params = params::parse(&req, &body);
    let key = idempotency_key(&req);
    let origin = entities::origin(&req);
    let now = Utc::now();

    let (outcome, window) = {
        // One guard from the idempotency lookup to the insert, so concurrent requests with
        // the same key cannot both create.
        let mut state = shared.lock();
        let outcome = commit(
            &mut state,
            &account,
            params,
            key.as_deref(),
            faults.rate_limit_rate,
            now,
        )
        .map(|(status, replayed)| {
            // A brand-new post has no engagement yet; a replay shows the stored status.
            let counts = if replayed {
                engagement_for(status.id)
            } else {
                Engagement::default()
            };
            let json = entities::status_json(&state.mastodon, &status, &origin, counts);
            (json, status.id, replayed)
        });
        let window = state.mastodon.rate.peek(account.id, STATUSES, now);
        (outcome, window)
    };

    let result = match outcome {
        Ok((json, status_id, replayed)) => {
            tracing::info!(
                account.id = account.id,
                status.id = status_id,
                idempotent_replay = replayed,
                "mastodon status accepted"
            );
            if faults::roll(faults.drop_after_commit_rate) {
                if conn::abort(&req) {
                    tracing::info!(
                        status.id = status_id,
                        fault = "drop_after_commit",
                        "connection cut after commit"
                    );
                    // Never reaches the client: the socket is already shut down.
                    return HttpResponse::Ok().finish();
                }
                Err(ApiError::DropUnavailable)
            } else {
                Ok(HttpResponse::Ok().json(json))
            }
        }
        Err(error) => Err(error),
    };
    rate_limit::respond(result, Some(window))
}

/// Everything that must happen under the lock, in Mastodon's order: count the request,
/// replay a known key, validate, create, record in the ledger. Returns the status and
/// whether it was a replay.
fn commit(
    state: &mut SandboxState,
    account: &Account,
    params: Result<StatusParams, ApiError>,
    key: Option<&str>,
    rate_limit_rate: f64,
    now: DateTime<Utc>,
) -> Result<(Status, bool), ApiError> {
    state.mastodon.enter(account, now)?;
    if faults::roll(rate_limit_rate) {
        tracing::info!(
            fault = "rate_limit",
            "mastodon create throttled by injected fault"
        );
        // An injected throttle is a short burst limit: it resets in a couple of seconds, so
        // faulted runs wait seconds rather than the statuses window's three hours.
        let window = state.mastodon.rate.peek(account.id, STATUSES, now);
        return Err(ApiError::RateLimited(
            window.exhausted_until(now + chrono::Duration::seconds(2)),
        ));
    }
    let params = params?;
    if let Some(key) = key
        && let Some(status) = state.mastodon.replay(account.id, key, now)
    {
        return Ok((status, true));
    }
    let new_status = params.validate()?;
    let media = state
        .mastodon
        .attachable(account.id, &new_status.media_ids)?;
    let status = state.mastodon.create(account, new_status, key, now)?;
    let media = media
        .iter()
        .map(|m| m.image.ledger(m.description.clone()))
        .collect();
    state.ledger.record_with_media(
        LedgerEntry {
            platform: Platform::Mastodon,
            account_id: account.id.to_string(),
            status_id: status.id.to_string(),
            text: status.body.text.clone(),
            media_ids: status.body.media_ids.clone(),
            idempotency_key: key.map(str::to_owned),
            created_at: status.created_at,
        },
        media,
    );
    Ok((status, false))
}

/// Mastodon ignores a blank key.
fn idempotency_key(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get("Idempotency-Key")?;
    let key = String::from_utf8_lossy(value.as_bytes()).trim().to_owned();
    (!key.is_empty()).then_some(key)
}

pub(crate) async fn show(
    req: HttpRequest,
    path: web::Path<String>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let viewer = match auth::optional(&req) {
        Ok(viewer) => viewer,
        Err(error) => return error.error_response(),
    };
    let origin = entities::origin(&req);
    let now = Utc::now();
    let mut state = shared.lock();
    let window = match viewer
        .as_ref()
        .map(|v| state.mastodon.enter(v, now))
        .transpose()
    {
        Ok(window) => window,
        Err(error) => return error.error_response(),
    };
    let result = path
        .parse::<u64>()
        .ok()
        .and_then(|id| state.mastodon.status(id))
        // Someone else's private status is "not found", never "forbidden", as in Mastodon.
        .filter(|s| {
            s.body.visibility.is_open() || viewer.as_ref().is_some_and(|v| v.id == s.account.id)
        })
        .map(|s| {
            let json = entities::status_json(&state.mastodon, s, &origin, engagement_for(s.id));
            HttpResponse::Ok().json(json)
        })
        .ok_or(ApiError::NotFound);
    rate_limit::respond(result, window)
}
