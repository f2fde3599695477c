//! The sandbox's instagram API over HTTP.
