//! One module per consumed message or request.

pub mod list_notifications;
pub mod post_published;
pub mod user_registered;
