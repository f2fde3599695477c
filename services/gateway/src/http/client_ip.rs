//! The caller's IP address, as the edge middleware established it for this request: the TCP
//! peer, or, when the peer is one of our trusted proxies (`HERALD_GATEWAY_TRUSTED_PROXIES`),
//! the right-most address in `X-Forwarded-For` that is not a trusted proxy. Left-hand entries
//! are whatever the client wrote and are never believed. Login throttling (auth) and the
//! per-IP rate limits key on it.

use actix_web::dev::ServiceRequest;
use actix_web::http::header::HeaderMap;
use actix_web::{HttpMessage, HttpRequest, web};
use std::net::{IpAddr, Ipv4Addr};

/// In the request extensions of every request that passed the edge middleware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// One `address/prefix` network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(raw: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match raw.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (raw, None),
        };
        let network: IpAddr = addr
            .parse()
            .map_err(|_| format!("{raw:?} is not an IP address or CIDR"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{raw:?} has an invalid prefix length"))?,
        };
        Ok(Cidr { network, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The proxies in front of the gateway whose `X-Forwarded-For` entries are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// A comma- or whitespace-separated list of CIDRs or single addresses; empty: none.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split([',', ' ', '\n', '\t'])
            .filter(|entry| !entry.is_empty())
            .map(Cidr::parse)
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|cidr| cidr.contains(ip))
    }

    /// The client address for a request from `peer` carrying `headers`.
    pub fn client_of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        // Every X-Forwarded-For line, in order, is one list; walk it from the right.
        let hops: Vec<&str> = headers
            .get_all(X_FORWARDED_FOR)
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            // An entry we cannot read ends the chain: the last hop we could believe stands.
            let Some(ip) = parse_hop(hop) else { break };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// `1.2.3.4`, `2001:db8::1`, and the `1.2.3.4:5678` / `[2001:db8::1]:5678` forms some proxies write.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

impl ClientIp {
    /// Decided once per request by the edge middleware, with the trusted proxies from the
    /// app data (none if absent).
    pub fn of(req: &ServiceRequest) -> ClientIp {
        let peer = req
            .peer_addr()
            .map(|addr| addr.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        match req.app_data::<web::Data<TrustedProxies>>() {
            Some(trusted) => ClientIp(trusted.client_of(peer, req.headers())),
            None => ClientIp(peer.to_canonical()),
        }
    }

    /// The address the edge recorded for `req` (unspecified if the edge did not run).
    pub fn from_request(req: &HttpRequest) -> ClientIp {
        req.extensions()
            .get::<ClientIp>()
            .copied()
            .unwrap_or(ClientIp(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn xff(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(
                HeaderName::from_static(X_FORWARDED_FOR),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    #[test]
    fn parses_cidrs_and_refuses_nonsense() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, 192.168.1.7 fd00::/8").unwrap();
        assert!(trusted.trusts(ip("10.200.3.4")));
        assert!(trusted.trusts(ip("192.168.1.7")));
        assert!(!trusted.trusts(ip("192.168.1.8")));
        assert!(trusted.trusts(ip("fd12::1")));
        assert!(trusted.trusts(ip("::ffff:10.1.1.1")), "v4-mapped peers");
        assert!(TrustedProxies::parse("").unwrap().0.is_empty());
        assert!(
            TrustedProxies::parse("0.0.0.0/0")
                .unwrap()
                .trusts(ip("8.8.8.8"))
        );
        for bad in ["10.0.0.0/33", "nope", "10.0.0.0/x", "::/129"] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn believes_forwarded_for_only_from_trusted_peers() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let headers = xff(&["203.0.113.9"]);
        // An untrusted peer's header is ignored.
        assert_eq!(
            trusted.client_of(ip("198.51.100.1"), &headers),
            ip("198.51.100.1")
        );
        assert_eq!(
            trusted.client_of(ip("10.0.0.1"), &headers),
            ip("203.0.113.9")
        );
        // Nothing trusted: the peer.
        assert_eq!(
            TrustedProxies::default().client_of(ip("10.0.0.1"), &headers),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn takes_the_right_most_untrusted_hop() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        // The client forged the left-most entry; the proxies appended the rest.
        let headers = xff(&["1.1.1.1, 203.0.113.9", "10.0.0.5"]);
        assert_eq!(
            trusted.client_of(ip("10.0.0.1"), &headers),
            ip("203.0.113.9")
        );
        // All hops trusted: the left-most one.
        let headers = xff(&["10.1.1.1, 10.0.0.5"]);
        assert_eq!(trusted.client_of(ip("10.0.0.1"), &headers), ip("10.1.1.1"));
        // Garbage stops the walk at the last hop believed.
        let headers = xff(&["203.0.113.9, garbage, 10.0.0.5"]);
        assert_eq!(trusted.client_of(ip("10.0.0.1"), &headers), ip("10.0.0.5"));
        // Ports are dropped.
        let headers = xff(&["203.0.113.9:4711"]);
        assert_eq!(
            trusted.client_of(ip("10.0.0.1"), &headers),
            ip("203.0.113.9")
        );
        // No header: the peer.
        assert_eq!(trusted.client_of(ip("10.0.0.1"), &xff(&[])), ip("10.0.0.1"));
    }
}
