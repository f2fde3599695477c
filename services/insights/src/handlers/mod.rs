//! One module per consumed message or request.

pub mod collect_metrics;
pub mod get_post_metrics;
pub mod post_published;
