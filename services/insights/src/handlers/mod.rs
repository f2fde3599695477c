//! One module per consumed message or request.

pub mod collect_metrics;
pub mod erasure;
pub mod get_post_metrics;
pub mod post_published;
pub mod privacy_export;
