//! The sandbox's bluesky API over HTTP.
