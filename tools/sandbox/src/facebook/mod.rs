//! Facebook Pages on the Graph API as an adapter sees it, served under `/facebook` (standing
//! in for `https://graph.facebook.com`). Every path starts with a Graph API version, and any
//! `vNN.N` is accepted:
//! - `GET /{ver}/{page-id}?fields=id,name`: the page a Page token posts as;
//! - `POST /{ver}/{page-id}/feed` (`message`, `attached_media`, form, JSON or query):
//!   `{"id": "<page>_<post>"}`;
//! - `POST /{ver}/{page-id}/photos` (multipart `source`, `published=false`,
//!   `alt_text_custom`): an unpublished photo to attach (see `photos.rs`);
//! - `GET /{ver}/{page-id}/posts` (and `/feed`) with `fields`, `since`, `until`, `limit`,
//!   `after`: the page's posts, newest first, for reconciliation;
//! - `GET /{ver}/{post-id}?fields=reactions.summary(total_count),comments.summary(true),shares`:
//!   a post with engagement counts derived from its id (the sandbox has no audience, so
//!   `data` lists stay empty).
//!
//! Errors are Graph error objects (`{"error": {message, type, code, error_subcode,
//! fbtrace_id}}`). Page-scoped answers carry `X-App-Usage` and `X-Business-Use-Case-Usage`
//! (Page budget: 4,800 calls per 24-hour window); an exhausted budget or a rate-limit fault
//! answers error 80001 with the usage at 100 %.
//!
//! Tokens (no OAuth here): any non-empty token is a valid Page token for any page (every
//! positive numeric id is a page). The token goes in `Authorization: Bearer|OAuth <token>` or
//! an `access_token` parameter. Prefixes give tests the failures they need:
//! - `expired-…`: error 190 (subcode 463, session expired) on every call;
//! - `noscope-…`: no `pages_read_engagement`, so reading posts answers error 10 (403);
//! - `readonly-…`: no `pages_manage_posts`, so publishing answers error 200 (403).
//!
//! Publishing a message identical to the page's latest post answers error 506 "Duplicate
//! status message" (*unverified* for current API versions). Not modelled: photo posts of their own, links,
//! scheduled and unpublished posts, page roles, user tokens.

mod auth;
mod error;
mod feed;
mod fields;
mod nodes;
mod photos;
mod store;
mod usage;

use actix_web::web;

pub(crate) use store::FacebookState;
pub use store::{Engagement, engagement_for};

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/facebook")
            .route("/{version}/{node}/feed", web::post().to(feed::create))
            .route("/{version}/{node}/feed", web::get().to(feed::list))
            .service(
                web::resource("/{version}/{node}/photos")
                    .app_data(web::PayloadConfig::new(crate::upload::MAX_UPLOAD_BYTES))
                    .route(web::post().to(photos::upload)),
            )
            .route("/{version}/{node}/posts", web::get().to(feed::list))
            .route("/{version}/{node}", web::get().to(nodes::show)),
    );
}
