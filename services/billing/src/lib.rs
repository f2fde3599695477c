//! herald-billing
