//! Stream messages, one module per owning domain.

pub mod identity;
pub mod insights;
pub mod posts;
pub mod renders;

pub use identity::UserRegistered;
pub use insights::CollectMetrics;
pub use posts::{
    Platform, PostCancelled, PostDue, PostPublished, PostScheduled, PostTargetFailed,
    PostTargetPublished, PublishedTarget,
};
pub use renders::{RenderCompleted, RenderFailed, RenderRequested};
