//! Integration tests of the test kit against real servers.

mod nats;
mod postgres;
