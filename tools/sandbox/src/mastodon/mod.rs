//! Mastodon's REST API as an adapter sees it: bearer-token accounts, status creation with
//! `Idempotency-Key` replay (kept an hour per account), status lookup with engagement counts,
//! an account's statuses for reconciliation, and `X-RateLimit-*` headers with 429s.
//!
//! `POST /api/v2/media` takes a multipart image upload (`file`, `description`) and a status
//! may carry up to four of the account's unattached uploads in `media_ids[]`; the ledger
//! records them with the status.
//!
//! Not modelled (yet): video and the 202 "processing" answer, replies, polls, scheduled
//! statuses, link/mention/hashtag rendering.

mod accounts;
mod auth;
mod entities;
mod error;
mod media;
mod params;
mod rate_limit;
mod statuses;
mod store;

use actix_web::web;

pub use entities::{Engagement, engagement_for};
pub(crate) use store::MastodonState;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    // verify_credentials is registered before `{id}` so it is not taken for an account id.
    cfg.route(
        "/api/v1/accounts/verify_credentials",
        web::get().to(accounts::verify_credentials),
    )
    .route(
        "/api/v1/accounts/{id}/statuses",
        web::get().to(accounts::statuses),
    )
    .route("/api/v1/accounts/{id}", web::get().to(accounts::show))
    .route("/api/v1/statuses", web::post().to(statuses::create))
    .service(
        web::resource("/api/v2/media")
            .app_data(web::PayloadConfig::new(crate::upload::MAX_UPLOAD_BYTES))
            .route(web::post().to(media::create)),
    )
    .route("/api/v1/statuses/{id}", web::get().to(statuses::show));
}
