//! The bluesky adapter against the sandbox.
