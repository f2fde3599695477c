//! The facebook adapter against the sandbox.
