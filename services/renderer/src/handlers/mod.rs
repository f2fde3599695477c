//! One module per consumed message or request.

pub mod create_render;
pub mod erasure;
pub mod get_render;
pub mod privacy_export;
pub mod render_requested;

use herald_contracts::rpc::RpcError;

/// Logs the cause once, here at the boundary; the caller sees an opaque error.
pub(crate) fn internal(error: impl std::fmt::Display) -> RpcError {
    tracing::error!(error = %error, "request failed");
    RpcError::internal()
}
