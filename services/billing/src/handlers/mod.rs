//! One module per consumed message or request.

pub mod get_usage;
pub mod post_published;
