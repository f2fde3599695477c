//! Signing keys: Ed25519 keys shared by every auth replica through the database (sealed with
//! the master key), and their public halves published to the `auth-keys` KV bucket so every
//! gateway verifies tokens locally.

mod master;
mod publish;
mod signing;

pub use master::{MasterKey, SealError};
pub use publish::publish_public_keys;
pub use signing::{ActiveKey, ensure_signing_key, public_x, thumbprint};
