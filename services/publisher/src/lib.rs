//! herald-publisher
