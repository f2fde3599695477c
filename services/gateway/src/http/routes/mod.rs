//! One file per resource. Paths come from `policy::paths`; the role each route needs is in
//! the policy table, enforced before these handlers run.

pub mod account;
pub mod accounts;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod erasure;
pub mod events;
pub mod exports;
pub mod invitations;
pub mod members;
pub mod metrics;
pub mod notifications;
pub mod posts;
pub mod renders;
pub mod usage;

use super::error::ApiError;
use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    auth::configure(cfg);
    members::configure(cfg);
    account::configure(cfg);
    erasure::configure(cfg);
    invitations::configure(cfg);
    api_keys::configure(cfg);
    accounts::configure(cfg);
    posts::configure(cfg);
    metrics::configure(cfg);
    renders::configure(cfg);
    usage::configure(cfg);
    notifications::configure(cfg);
    events::configure(cfg);
    audit::configure(cfg);
    exports::configure(cfg);
}

/// Parses a path id; anything that is not a UUID is "not found", so ids leak no structure.
pub(crate) fn path_id<T: std::str::FromStr>(raw: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found())
}
