//! One module per consumed message or request.

pub mod email_requested;
pub mod erasure;
pub mod list_notifications;
pub mod post_held;
pub mod post_published;
pub mod privacy_export;
pub mod target_failed;
pub mod user_registered;
