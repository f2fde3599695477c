//! herald-gateway
