//! The instagram adapter against the sandbox.
