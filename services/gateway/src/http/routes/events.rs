//! `/v1/events`: the caller's tenant's public events as server-sent events, resumable with
//! `Last-Event-ID` (or `?since=`, for clients that cannot set headers). See `crate::events`
//! and docs/events.md.

use crate::events::FeedError;
use crate::events::cursor::Resume;
use crate::http::State;
use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::policy::paths;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");
const X_ACCEL_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::EVENTS, web::get().to(stream));
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    /// A cursor, as in `Last-Event-ID`; the header wins when both are sent (a browser's
    /// `EventSource` reconnects to the same URL with a newer header).
    since: Option<String>,
}

async fn stream(
    ctx: Ctx,
    req: HttpRequest,
    query: web::Query<EventsQuery>,
    state: web::Data<State>,
) -> Result<HttpResponse, ApiError> {
    let Some(identity) = ctx.identity.as_ref() else {
        tracing::error!("event stream without an identity: the policy table is wrong");
        return Err(ApiError::internal());
    };
    let header = req
        .headers()
        .get(LAST_EVENT_ID)
        .map(|value| {
            value
                .to_str()
                .map_err(|_| ApiError::bad_request("invalid Last-Event-ID"))
        })
        .transpose()?;
    let resume = header
        .or(query.since.as_deref())
        .map(|raw| Resume::parse(raw).map_err(|error| ApiError::bad_request(error.to_string())))
        .transpose()?;

    let slot = state.events.try_acquire().ok_or_else(|| {
        ApiError::unavailable("too many open event streams on this server; retry later", 5)
    })?;
    let events = state
        .events
        .open(identity.tenant_id, resume.as_ref(), slot)
        .await
        .map_err(|error| match error {
            FeedError::ShuttingDown => ApiError::unavailable("shutting down; retry", 1),
            FeedError::Nats { .. } => {
                tracing::error!(error = %error, "cannot open the event stream");
                ApiError::unavailable("event stream unavailable; retry later", 5)
            }
        })?;
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .insert_header((X_ACCEL_BUFFERING, HeaderValue::from_static("no")))
        .streaming(events))
}
