//! The sandbox's x API over HTTP.
