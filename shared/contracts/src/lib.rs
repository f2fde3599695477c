//! The contracts between Herald's services: the message envelope, every message and
//! request/response type that crosses a service boundary, the subjects they travel on and the
//! streams that hold them. This crate is the single source of those names; `schemas/` is
//! generated from it (`heraldctl schemas`).

pub mod design;
pub mod envelope;
pub mod ids;
pub mod messages;
pub mod rpc;
pub mod schemas;
pub mod streams;

pub use envelope::{Envelope, Message};
pub use ids::{AccountId, IdParseError, PostId, RenderId, TenantId, UserId};
