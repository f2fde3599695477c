//! herald-auth
