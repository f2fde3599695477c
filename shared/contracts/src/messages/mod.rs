//! Stream messages, one module per owning domain.

pub mod audit;
pub mod export;
pub mod identity;
pub mod insights;
pub mod post_retry;
pub mod posts;
pub mod privacy;
pub mod renders;

pub use audit::AuditEvent;
pub use identity::UserRegistered;
pub use insights::CollectMetrics;
pub use post_retry::PostTargetRetry;
pub use posts::{
    Platform, PostCancelled, PostDue, PostHeld, PostPublished, PostScheduled, PostTargetFailed,
    PostTargetPublished, PublishedTarget,
};
pub use renders::{RenderCompleted, RenderFailed, RenderRequested};
