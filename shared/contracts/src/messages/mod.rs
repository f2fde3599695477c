//! Stream messages, one module per owning domain.

pub mod posts;
pub mod renders;

pub use posts::{Platform, PostDue, PostPublished, PublishedTarget};
pub use renders::{RenderCompleted, RenderFailed, RenderRequested};
