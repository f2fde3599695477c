//! herald-renderer
