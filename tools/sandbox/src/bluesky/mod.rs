//! Bluesky's PDS (AT Protocol XRPC) as an adapter sees it, served under `/bluesky` (so
//! `http://127.0.0.1:PORT/bluesky` stands for `https://bsky.social`):
//!
//! - `POST /xrpc/com.atproto.server.createSession` and `.refreshSession`: JWT-shaped sessions
//!   (access 2 h, refresh 90 days, rotated on refresh); see `server.rs` for the test
//!   conventions (`wrong-`, `expired-`, `norotate-` app passwords) and [`access_jwt`] /
//!   [`refresh_jwt`] to mint tokens directly.
//! - `POST /xrpc/com.atproto.repo.putRecord` / `.createRecord`: writes with caller-chosen
//!   rkeys, no-op on an identical record, `InvalidSwap` for `swapRecord: null` on a taken key,
//!   `RateLimit-*` headers and 429 `RateLimitExceeded`; the publishing faults apply to both.
//! - `GET /xrpc/com.atproto.repo.getRecord`: 400 `RecordNotFound` when absent.
//! - `GET /xrpc/app.bsky.feed.getPosts?uris=..`: post views with like/repost/reply/quote
//!   counts from [`engagement_for`].
//!
//! - `POST /xrpc/com.atproto.repo.uploadBlob`: raw bytes → a blob ref whose CID is derived
//!   from the bytes; a post's `app.bsky.embed.images` must reference the repo's own blobs,
//!   and the ledger records the images with the post (see `blob.rs`).
//!
//! Not modelled: other embeds (stored unchecked), other collections' lexicons, handle resolution, the
//! IP-wide limiter, OAuth (DPoP) sessions.

mod auth;
mod blob;
mod error;
mod feed;
mod input;
mod jwt;
mod rate_limit;
mod repo;
mod server;
mod store;

use actix_web::{HttpResponse, ResponseError, web};

pub use feed::{Engagement, engagement_for};
pub use jwt::{access_jwt, refresh_jwt};
pub(crate) use store::BlueskyState;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/bluesky/xrpc")
            .route(
                "/com.atproto.server.createSession",
                web::post().to(server::create_session),
            )
            .route(
                "/com.atproto.server.refreshSession",
                web::post().to(server::refresh_session),
            )
            .route(
                "/com.atproto.repo.putRecord",
                web::post().to(repo::put_record),
            )
            .route(
                "/com.atproto.repo.createRecord",
                web::post().to(repo::create_record),
            )
            .service(
                web::resource("/com.atproto.repo.uploadBlob")
                    .app_data(web::PayloadConfig::new(crate::upload::MAX_UPLOAD_BYTES))
                    .route(web::post().to(blob::upload_blob)),
            )
            .route(
                "/com.atproto.repo.getRecord",
                web::get().to(repo::get_record),
            )
            .route("/app.bsky.feed.getPosts", web::get().to(feed::get_posts))
            .default_service(web::to(not_implemented)),
    );
}

async fn not_implemented() -> HttpResponse {
    error::XrpcError::not_implemented().error_response()
}
