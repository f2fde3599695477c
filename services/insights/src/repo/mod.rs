//! Queries on insights' tables; every function takes the tenant.

pub mod inbox;
pub mod samples;
pub mod schema;
pub mod tracked;
