//! Queries on notifier's tables. Tenant-owned data is always read and written with the
//! tenant; the one exception is the delivery worker's claim of pending emails, which serves
//! every tenant by design and addresses rows by their own id afterwards (on a system-scoped
//! connection: under row-level security, a tenant-scoped one sees only its tenant's rows).

pub mod deliveries;
pub mod notifications;
pub mod recipients;
pub mod schema;
