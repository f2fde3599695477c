//! X's API v2 as an adapter sees it, served under `/x` (so `http://127.0.0.1:PORT/x` stands
//! for `https://api.x.com`):
//!
//! - `GET /2/users/me`: the token's user (connect);
//! - `POST /2/tweets`: creates a tweet (201), refuses a text its author posted in the last
//!   24 hours with 403 "duplicate content"; the publishing faults apply here;
//! - `GET /2/users/:id/tweets?start_time=&max_results=&pagination_token=&tweet.fields=`:
//!   recent tweets, newest first (reconciliation);
//! - `GET /2/tweets?ids=&tweet.fields=public_metrics`: lookup with deterministic metrics
//!   ([`public_metrics_for`]);
//! - `POST /2/oauth2/token`: refresh (and authorization-code) grants;
//! - `POST /2/media/upload` (multipart `media`, `media_category=tweet_image`) and
//!   `POST /2/media/metadata` (alt text): images a tweet attaches by `media.media_ids`.
//!
//! Every answer of a rate-limited endpoint carries `x-rate-limit-*`; errors are X's problem
//! JSON. Tokens and their test conventions (`expired-`, `noscope-`, `keep-`) are described in
//! `auth.rs` and `oauth.rs`. Not modelled: chunked uploads, video, replies, quotes, polls, deletion,
//! app-wide 24-hour limits.

mod auth;
mod error;
mod media;
mod oauth;
mod rate_limit;
mod render;
mod store;
mod tweets;
mod users;

use actix_web::{HttpResponse, ResponseError, web};

pub use render::{PublicMetrics, public_metrics_for};
pub(crate) use store::XState;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/x/2")
            // `me` is registered before `{id}` routes so it is not taken for an id.
            .route("/users/me", web::get().to(users::me))
            .route("/users/{id}/tweets", web::get().to(users::tweets))
            .route("/tweets", web::post().to(tweets::create))
            .route("/tweets", web::get().to(tweets::lookup))
            .route("/oauth2/token", web::post().to(oauth::token))
            .service(
                web::resource("/media/upload")
                    .app_data(web::PayloadConfig::new(crate::upload::MAX_UPLOAD_BYTES))
                    .route(web::post().to(media::upload)),
            )
            .route("/media/metadata", web::post().to(media::metadata))
            .default_service(web::to(not_found)),
    );
}

async fn not_found() -> HttpResponse {
    error::XError::NotFound.error_response()
}
