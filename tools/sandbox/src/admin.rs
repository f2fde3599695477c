//! The admin API under `/__sandbox/`: what tests and operators use to look behind the
//! platforms' wire formats (the ledger), inject faults and start from a clean slate.

use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Deserialize;

use crate::faults::{Faults, FaultsError};
use crate::ledger::LedgerFilter;
use crate::platform::{Platform, UnknownPlatform};
use crate::state::Shared;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/__sandbox")
            .route("/health", web::get().to(health))
            .route("/ledger", web::get().to(ledger))
            .route("/reset", web::post().to(reset))
            .route("/faults/{platform}", web::get().to(get_faults))
            .route("/faults/{platform}", web::put().to(put_faults)),
    );
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum AdminError {
    #[error(transparent)]
    UnknownPlatform(#[from] UnknownPlatform),
    #[error(transparent)]
    InvalidFaults(#[from] FaultsError),
    #[error("{0}")]
    BadRequest(String),
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminError::UnknownPlatform(_) => StatusCode::NOT_FOUND,
            AdminError::InvalidFaults(_) | AdminError::BadRequest(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .json(serde_json::json!({ "error": self.to_string() }))
    }
}

/// Extractor failures answer with the same `{"error": ...}` JSON as everything else.
pub(crate) fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().error_handler(|err: JsonPayloadError, _req: &HttpRequest| {
        AdminError::BadRequest(err.to_string()).into()
    })
}

pub(crate) fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _req: &HttpRequest| {
        AdminError::BadRequest(err.to_string()).into()
    })
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

#[derive(Debug, Deserialize)]
struct LedgerQuery {
    platform: Option<String>,
    account_id: Option<String>,
}

async fn ledger(
    query: web::Query<LedgerQuery>,
    shared: web::Data<Shared>,
) -> Result<HttpResponse, AdminError> {
    let LedgerQuery {
        platform,
        account_id,
    } = query.into_inner();
    // An empty parameter (`?platform=`) means "no filter", as form-built URLs often send it.
    let platform = platform
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<Platform>())
        .transpose()
        .map_err(|e| AdminError::BadRequest(e.to_string()))?;
    let filter = LedgerFilter {
        platform,
        account_id: account_id.filter(|a| !a.is_empty()),
    };
    let entries = shared.lock().ledger.entries(&filter);
    Ok(HttpResponse::Ok().json(entries))
}

async fn reset(shared: web::Data<Shared>) -> HttpResponse {
    shared.lock().reset();
    tracing::info!("sandbox state reset");
    HttpResponse::NoContent().finish()
}

async fn get_faults(
    path: web::Path<String>,
    shared: web::Data<Shared>,
) -> Result<HttpResponse, AdminError> {
    let platform: Platform = path.parse()?;
    let faults = shared.lock().faults.get(platform);
    Ok(HttpResponse::Ok().json(faults))
}

async fn put_faults(
    path: web::Path<String>,
    body: web::Json<Faults>,
    shared: web::Data<Shared>,
) -> Result<HttpResponse, AdminError> {
    let platform: Platform = path.parse()?;
    let faults = body.into_inner();
    faults.validate()?;
    shared.lock().faults.set(platform, faults);
    tracing::info!(
        platform = %platform,
        faults.latency_ms = faults.latency_ms,
        faults.error_rate = faults.error_rate,
        faults.rate_limit_rate = faults.rate_limit_rate,
        faults.drop_after_commit_rate = faults.drop_after_commit_rate,
        "sandbox faults set"
    );
    Ok(HttpResponse::Ok().json(faults))
}
