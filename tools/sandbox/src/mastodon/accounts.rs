//! `GET /api/v1/accounts/verify_credentials`, `GET /api/v1/accounts/:id` and
//! `GET /api/v1/accounts/:id/statuses` (what adapters reconcile against after an ambiguous
//! publish whose idempotency key has expired).

use actix_web::http::header::{HeaderValue, LINK};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::Utc;
use serde::Deserialize;

use super::auth;
use super::entities::{self, engagement_for};
use super::error::ApiError;
use super::rate_limit;
use super::store::{Account, Page};
use crate::state::Shared;

const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 40;

pub(crate) async fn verify_credentials(
    req: HttpRequest,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let account = match auth::required(&req) {
        Ok(account) => account,
        Err(error) => return error.error_response(),
    };
    let origin = entities::origin(&req);
    let mut state = shared.lock();
    let result = state.mastodon.enter(&account, Utc::now()).map(|window| {
        let json = entities::credential_account_json(&state.mastodon, &account, &origin);
        (HttpResponse::Ok().json(json), window)
    });
    match result {
        Ok((response, window)) => rate_limit::respond(Ok(response), Some(window)),
        Err(error) => error.error_response(),
    }
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
    let mut state = shared.lock();
    let window = match viewer
        .as_ref()
        .map(|v| state.mastodon.enter(v, Utc::now()))
        .transpose()
    {
        Ok(window) => window,
        Err(error) => return error.error_response(),
    };
    let result = path
        .parse::<u64>()
        .ok()
        .and_then(|id| state.mastodon.account(id))
        .map(|(account, _, _)| {
            HttpResponse::Ok().json(entities::account_json(&state.mastodon, account, &origin))
        })
        .ok_or(ApiError::NotFound);
    rate_limit::respond(result, window)
}

/// Pagination parameters; unparsable values are ignored, as Rails' `to_i` would mostly do.
#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    limit: Option<String>,
    max_id: Option<String>,
    since_id: Option<String>,
    min_id: Option<String>,
}

impl ListQuery {
    fn page(&self) -> Page {
        let id = |v: &Option<String>| v.as_deref().and_then(|s| s.parse::<u64>().ok());
        Page {
            limit: self
                .limit
                .as_deref()
                .and_then(|l| l.parse::<usize>().ok())
                .filter(|&l| l > 0)
                .unwrap_or(DEFAULT_LIMIT)
                .min(MAX_LIMIT),
            max_id: id(&self.max_id),
            since_id: id(&self.since_id),
            min_id: id(&self.min_id),
        }
    }
}

pub(crate) async fn statuses(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let viewer: Option<Account> = match auth::optional(&req) {
        Ok(viewer) => viewer,
        Err(error) => return error.error_response(),
    };
    let origin = entities::origin(&req);
    let page = query.page();
    let mut state = shared.lock();
    let window = match viewer
        .as_ref()
        .map(|v| state.mastodon.enter(v, Utc::now()))
        .transpose()
    {
        Ok(window) => window,
        Err(error) => return error.error_response(),
    };
    let account_id = path.parse::<u64>().ok();
    let owner = viewer.as_ref().map(|v| v.id) == account_id;
    let listed = account_id.and_then(|id| state.mastodon.account_statuses(id, page, owner));
    let result = match (account_id, listed) {
        (Some(account_id), Some(statuses)) => {
            let link = link_header(
                &origin,
                account_id,
                &query,
                statuses.first().map(|s| s.id),
                statuses.last().map(|s| s.id),
            );
            let json: Vec<_> = statuses
                .iter()
                .map(|s| entities::status_json(&state.mastodon, s, &origin, engagement_for(s.id)))
                .collect();
            let mut response = HttpResponse::Ok().json(json);
            if let Some(link) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
                response.headers_mut().insert(LINK, link);
            }
            Ok(response)
        }
        _ => Err(ApiError::NotFound),
    };
    rate_limit::respond(result, window)
}

/// Mastodon's pagination links: `next` pages back in time from the oldest status shown,
/// `prev` forward from the newest. None for an empty page, as Mastodon sends none.
fn link_header(
    origin: &str,
    account_id: u64,
    query: &ListQuery,
    newest: Option<u64>,
    oldest: Option<u64>,
) -> Option<String> {
    let (newest, oldest) = (newest?, oldest?);
    let base = format!("{origin}/api/v1/accounts/{account_id}/statuses");
    let limit = query
        .limit
        .as_deref()
        .and_then(|l| l.parse::<usize>().ok())
        .map(|l| format!("limit={l}&"))
        .unwrap_or_default();
    Some(format!(
        "<{base}?{limit}max_id={oldest}>; rel=\"next\", <{base}?{limit}min_id={newest}>; rel=\"prev\""
    ))
}
