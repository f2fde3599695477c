//! The threads adapter against the sandbox.
