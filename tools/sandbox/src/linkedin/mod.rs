//! LinkedIn's API as an adapter sees it, served under `/linkedin` (standing in for
//! `https://api.linkedin.com`): the OpenID `userinfo` of the token's member, organization
//! lookup, the versioned Posts API (create, and the `q=author` finder used to reconcile) and
//! `organizationalEntityShareStatistics` for metrics.
//!
//! Every `/rest/` call needs an active `LinkedIn-Version: YYYYMM` header: versions from the
//! last twelve months (counting the current one) are active; an older, future or malformed
//! one gets LinkedIn's `426 NONEXISTENT_VERSION`, a missing one `400 VERSION_MISSING`
//! (*unverified* code and text).
//!
//! Tokens (no OAuth here): any non-empty bearer token is a valid member token and always maps
//! to the same member. Prefixes give tests the failures they need:
//! - `expired-…`: every call answers `401 EXPIRED_ACCESS_TOKEN`;
//! - `noscope-…`: no `r_member_social` / `r_organization_social`, so the posts finder and the
//!   share statistics answer `403 ACCESS_DENIED`;
//! - `readonly-…`: no `w_member_social` / `w_organization_social`, so creating a post answers
//!   `403 ACCESS_DENIED`.
//!
//! Behaviour modelled after reports from the field (*unverified* in detail):
//! - creating a post whose commentary is identical to one the same author created in the last
//!   24 hours answers `422` with `DUPLICATE_POST` naming the earlier post's URN;
//! - commentary is "little text": reserved characters must be escaped with `\`; readers see
//!   the text unescaped and cut at the first unescaped reserved character (the ledger records
//!   what readers see, so a test can tell an escaped post from a truncated one).
//!
//! Images: `POST /rest/images?action=initializeUpload`, a `PUT` of the bytes to the returned
//! upload URL, and posts with `content.media` / `content.multiImage` (see `images.rs`).
//!
//! Not modelled: video and documents, drafts, page roles (any member may post as any organization),
//! refresh tokens (LinkedIn grants them only to approved partners).

mod auth;
mod error;
mod images;
mod little_text;
mod organizations;
mod posts;
mod stats;
mod store;
mod version;

use actix_web::web;

pub use stats::{ShareStatistics, share_statistics_for};
pub(crate) use store::LinkedinState;
pub use version::current as current_version;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/linkedin")
            .route("/v2/userinfo", web::get().to(organizations::userinfo))
            .route(
                "/rest/organizations/{id}",
                web::get().to(organizations::show),
            )
            .route("/rest/posts", web::post().to(posts::create))
            .route("/rest/images", web::post().to(images::initialize_upload))
            .service(
                web::resource("/dms-uploads/{id}")
                    .app_data(web::PayloadConfig::new(crate::upload::MAX_UPLOAD_BYTES))
                    .route(web::put().to(images::put_bytes)),
            )
            .route("/rest/posts", web::get().to(posts::find))
            .route(
                "/rest/organizationalEntityShareStatistics",
                web::get().to(stats::show),
            ),
    );
}
