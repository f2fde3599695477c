//! The sandbox's facebook API over HTTP.
