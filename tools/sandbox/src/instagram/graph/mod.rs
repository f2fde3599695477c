//! Meta's two-step publishing API (Instagram's content publishing, and Threads, which copied
//! it): containers, their processing, publish-once, the 24-hour publishing quota, media
//! listings, insights, token refresh and Graph-style errors and usage headers.
//!
//! One implementation serves both platforms; a [`Flavor`] holds what differs (edge and field
//! names, the quota, the metrics, where the state lives).

mod auth;
mod error;
mod params;
mod publishing;
mod reads;
mod render;
mod store;
mod testing;
mod tokens;
mod usage;

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use sha2::{Digest, Sha256};

use crate::platform::Platform;
use crate::state::SandboxState;

pub(crate) use store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Instagram,
    Threads,
}

/// What differs between the platforms that speak this API.
pub(crate) struct Flavor {
    pub(crate) kind: Kind,
    pub(crate) platform: Platform,
    /// `POST` creates a container here, `GET` lists the user's published media.
    pub(crate) create_edge: &'static str,
    pub(crate) publish_edge: &'static str,
    pub(crate) limit_edge: &'static str,
    /// `grant_type` of `GET /refresh_access_token`.
    pub(crate) refresh_grant: &'static str,
    /// Publishes allowed per user within a moving 24 hours.
    pub(crate) quota_total: usize,
    pub(crate) metrics: &'static [&'static str],
    /// Containers and media get ids above this (Graph ids are large decimal numbers).
    pub(crate) id_base: u64,
    /// A token's user id is this plus a number derived from the token.
    pub(crate) user_id_base: u64,
    pub(crate) store: fn(&mut SandboxState) -> &mut Store,
}

impl std::fmt::Debug for Flavor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flavor")
            .field("platform", &self.platform)
            .finish_non_exhaustive()
    }
}

/// The flavor of the scope a request arrived in.
pub(crate) type FlavorData = web::Data<&'static Flavor>;

/// Serves `flavor` under `scope`. Paths carry the Graph version segment (`/v23.0/...`) except
/// `refresh_access_token`, as on the real hosts.
pub(crate) fn configure(cfg: &mut web::ServiceConfig, scope: &str, flavor: &'static Flavor) {
    let edge = |name: &str| format!("/{{ver}}/{{user}}/{name}");
    cfg.service(
        web::scope(scope)
            .app_data(web::Data::new(flavor))
            .route(
                "/__sandbox/processing",
                web::put().to(testing::set_processing),
            )
            .route(
                "/__sandbox/containers/{id}/expire",
                web::post().to(testing::expire),
            )
            .route("/refresh_access_token", web::get().to(tokens::refresh))
            .service(
                web::resource(edge(flavor.create_edge))
                    .route(web::post().to(publishing::create))
                    .route(web::get().to(reads::list)),
            )
            .route(
                &edge(flavor.publish_edge),
                web::post().to(publishing::publish),
            )
            .route(&edge(flavor.limit_edge), web::get().to(reads::limit))
            .route("/{ver}/{id}/insights", web::get().to(reads::insights))
            .route("/{ver}/{id}", web::get().to(reads::node))
            .default_service(web::to(unknown_path)),
    );
}

async fn unknown_path(req: HttpRequest) -> HttpResponse {
    error::GraphError::unknown_path(req.path()).error_response()
}

/// Whether a path's version segment looks like Graph's (`v23.0`).
pub(crate) fn version_ok(version: &str) -> bool {
    version
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && major.bytes().all(|b| b.is_ascii_digit())
                && minor.bytes().all(|b| b.is_ascii_digit())
        })
}

/// A media object's count for `metric`: derived from a hash, so stable and non-zero.
pub(crate) fn insight_value(media_id: &str, metric: &str) -> u64 {
    let digest = Sha256::digest(format!("{media_id}/{metric}").as_bytes());
    let first: [u8; 8] = digest[..8].try_into().unwrap_or_default();
    1 + u64::from_be_bytes(first) % 500
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_look_like_graphs() {
        assert!(version_ok("v23.0"));
        assert!(version_ok("v1.0"));
        assert!(!version_ok("23.0"));
        assert!(!version_ok("v23"));
        assert!(!version_ok("vx.0"));
        assert!(!version_ok("me"));
    }

    #[test]
    fn insight_values_are_stable_and_positive() {
        assert_eq!(insight_value("1", "likes"), insight_value("1", "likes"));
        assert!(insight_value("1", "likes") > 0);
    }
}
