//! One module per consumed message or request.

pub mod erasure;
pub mod get_usage;
pub mod post_published;
pub mod privacy_export;
