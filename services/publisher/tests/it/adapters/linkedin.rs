//! The linkedin adapter against the sandbox.
