//! herald-notifier
