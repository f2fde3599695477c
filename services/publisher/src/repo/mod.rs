//! Queries on publisher's tables; every function takes the tenant.

pub mod accounts;
pub mod posts;
pub mod schema;
pub mod target_failures;
