//! The sandbox's linkedin API over HTTP.
