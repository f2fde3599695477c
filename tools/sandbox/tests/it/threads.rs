//! The sandbox's threads API over HTTP.
