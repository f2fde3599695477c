//! The x adapter against the sandbox.
