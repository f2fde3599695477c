//! One module per consumed message or request.

pub mod connect_account;
pub mod create_post;
pub mod erasure;
pub mod get_post;
pub mod lifecycle;
pub mod post_due;
pub mod privacy_export;
pub mod retry_target;

use herald_contracts::rpc::RpcError;

/// Logs the cause once, here at the boundary; the caller sees an opaque error.
pub(crate) fn internal(error: impl std::fmt::Display) -> RpcError {
    tracing::error!(error = %error, "request failed");
    RpcError::internal()
}

/// A transaction's error: a database failure or a refusal for the caller.
#[derive(Debug)]
pub(crate) enum TxError {
    Db(diesel::result::Error),
    Refused(RpcError),
}

impl From<diesel::result::Error> for TxError {
    fn from(error: diesel::result::Error) -> Self {
        TxError::Db(error)
    }
}

impl From<TxError> for RpcError {
    fn from(error: TxError) -> Self {
        match error {
            TxError::Db(error) => internal(error),
            TxError::Refused(error) => error,
        }
    }
}
