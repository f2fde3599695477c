//! Signing keys: Ed25519 keys shared by every auth replica through the database (sealed with
//! the master key), their public halves published to the `auth-keys` KV bucket so every
//! gateway verifies tokens locally, and their rotation.

mod master;
mod publish;
pub mod rotation;
mod signing;

pub use master::{MasterKey, SealError};
pub use publish::{RETIRED_KEY_GRACE, publish_public_keys};
pub use rotation::KeyRing;
pub use signing::{
    ActiveKey, ensure_signing_key, load_active_key, public_x, rotate_signing_key, thumbprint,
};
