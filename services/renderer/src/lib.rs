//! herald-renderer
pub mod render;
