//! The caller's IP address, as the edge middleware established it for this request: the TCP
//! peer. Login throttling (auth) and the per-IP rate limits key on it.

use actix_web::dev::ServiceRequest;
use actix_web::{HttpMessage, HttpRequest};
use std::net::{IpAddr, Ipv4Addr};

/// In the request extensions of every request that passed the edge middleware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// Decided once per request by the edge middleware.
    pub fn of(req: &ServiceRequest) -> ClientIp {
        ClientIp(
            req.peer_addr()
                .map(|addr| addr.ip())
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        )
    }

    /// The address the edge recorded for `req` (unspecified if the edge did not run).
    pub fn from_request(req: &HttpRequest) -> ClientIp {
        req.extensions()
            .get::<ClientIp>()
            .copied()
            .unwrap_or(ClientIp(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
    }
}
