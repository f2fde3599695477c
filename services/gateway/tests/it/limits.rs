//! Rate limits across two gateway replicas on one nats-server, CORS, body limits and the
//! slow-client timeouts, over real HTTP (and raw TCP where a well-behaved client cannot
//! misbehave enough).

use crate::support::{TestGateway, TestKey, claims, error_body};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Long windows, so a test's requests fall in one window; `fresh_window` avoids the edge.
const WINDOW_SECS: u64 = 3600;

/// Waits out the current rate-limit window if it ends within a few seconds.
async fn fresh_window() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let into = now.as_secs() % WINDOW_SECS;
    if into > WINDOW_SECS - 10 {
        tokio::time::sleep(Duration::from_secs(WINDOW_SECS - into + 1)).await;
    }
}

/// Two replicas on a private nats-server with these rate limits (`RATE_*` suffixes).
async fn two_replicas(
    nats: &herald_testkit::NatsServer,
    extra: &[(&str, &str)],
) -> (TestGateway, TestGateway) {
    let window = WINDOW_SECS.to_string();
    let mut env = vec![("HERALD_GATEWAY_RATE_WINDOW_SECS", window.as_str())];
    env.extend_from_slice(extra);
    let a = TestGateway::start_with(&nats.url(), &env).await;
    let b = TestGateway::start_with(&nats.url(), &env).await;
    (a, b)
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// Checks a 429: uniform body, `Retry-After` within the window, `RateLimit-Remaining: 0`.
async fn assert_limited(response: reqwest::Response) {
    let retry_after: u64 = header(&response, "retry-after")
        .expect("Retry-After on 429")
        .parse()
        .unwrap();
    assert!((1..=WINDOW_SECS).contains(&retry_after), "{retry_after}");
    assert_eq!(header(&response, "ratelimit-remaining").unwrap(), "0");
    let body = error_body(response, 429).await;
    assert_eq!(body["error"]["code"], "rate_limited");
}

#[tokio::test]
async fn the_per_ip_limit_is_shared_by_both_replicas() {
    fresh_window().await;
    let nats = herald_testkit::NatsServer::start().unwrap();
    let (a, b) = two_replicas(
        &nats,
        &[
            ("HERALD_GATEWAY_RATE_IP", "6"),
            ("HERALD_GATEWAY_RATE_AUTH_IP", "100"),
        ],
    )
    .await;
    for i in 0..6u64 {
        let gw = if i % 2 == 0 { &a } else { &b };
        let response = gw.get("/v1/nope").send().await.unwrap();
        assert_eq!(header(&response, "ratelimit-limit").unwrap(), "6");
        assert_eq!(
            header(&response, "ratelimit-remaining").unwrap(),
            (5 - i).to_string(),
            "request {i} counted once across both replicas"
        );
        error_body(response, 404).await;
    }
    // The seventh is refused on either replica: 6 in all, not 6 each.
    assert_limited(a.get("/v1/nope").send().await.unwrap()).await;
    assert_limited(b.get("/v1/nope").send().await.unwrap()).await;
    let metrics = a
        .http
        .get(format!("http://{}/metrics", a.ops))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("herald_gateway_rate_limited_total{")
                && l.contains(r#"class="ip""#)),
        "{metrics}"
    );
}

#[tokio::test]
async fn auth_routes_have_a_tighter_per_ip_limit() {
    fresh_window().await;
    let nats = herald_testkit::NatsServer::start().unwrap();
    let (a, b) = two_replicas(
        &nats,
        &[
            ("HERALD_GATEWAY_RATE_IP", "100"),
            ("HERALD_GATEWAY_RATE_AUTH_IP", "3"),
        ],
    )
    .await;
    let login = |gw: &TestGateway| {
        gw.post("/v1/auth/login")
            .header("content-type", "application/json")
            .body("{}")
            .send()
    };
    error_body(login(&a).await.unwrap(), 400).await;
    error_body(login(&b).await.unwrap(), 400).await;
    error_body(login(&a).await.unwrap(), 400).await;
    assert_limited(login(&b).await.unwrap()).await;
    assert_limited(login(&a).await.unwrap()).await;
    // Other routes still answer: the general per-IP limit is far away (refused requests are
    // not counted: 3 logins and this one).
    let response = a.get("/v1/nope").send().await.unwrap();
    assert_eq!(header(&response, "ratelimit-remaining").unwrap(), "96");
    error_body(response, 404).await;
}

#[tokio::test]
async fn the_per_tenant_limit_follows_the_tenant_not_the_ip() {
    fresh_window().await;
    let nats = herald_testkit::NatsServer::start().unwrap();
    let key = TestKey::new();
    key.publish(&nats.url()).await;
    let (a, b) = two_replicas(
        &nats,
        &[
            ("HERALD_GATEWAY_RATE_IP", "1000"),
            ("HERALD_GATEWAY_RATE_TENANT", "4"),
            // The test client is the proxy: it says which address each request comes from.
            ("HERALD_GATEWAY_TRUSTED_PROXIES", "127.0.0.1/32, ::1"),
        ],
    )
    .await;
    let tenant_a = key.sign(&key.kid, claims("viewer", 900));
    let tenant_b = key.sign(&key.kid, claims("viewer", 900));
    // `not-a-uuid` is answered 404 by the gateway itself, after the tenant was counted.
    let get = |gw: &TestGateway, token: &str, ip: &str| {
        gw.get("/v1/posts/not-a-uuid")
            .bearer_auth(token)
            .header("x-forwarded-for", ip)
            .send()
    };
    for (i, ip) in ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"]
        .iter()
        .enumerate()
    {
        let gw = if i % 2 == 0 { &a } else { &b };
        error_body(get(gw, &tenant_a, ip).await.unwrap(), 404).await;
    }
    // A fifth address does not help tenant A, on either replica.
    assert_limited(get(&a, &tenant_a, "198.51.100.7").await.unwrap()).await;
    assert_limited(get(&b, &tenant_a, "198.51.100.8").await.unwrap()).await;
    // Tenant B, from tenant A's addresses, is counted on its own.
    for ip in ["203.0.113.1", "203.0.113.2"] {
        error_body(get(&a, &tenant_b, ip).await.unwrap(), 404).await;
    }
}

#[tokio::test]
async fn forwarded_addresses_count_apart_only_behind_a_trusted_proxy() {
    fresh_window().await;
    let nats = herald_testkit::NatsServer::start().unwrap();
    let limits = [("HERALD_GATEWAY_RATE_IP", "2")];
    let trusted: Vec<_> = limits
        .iter()
        .copied()
        .chain([("HERALD_GATEWAY_TRUSTED_PROXIES", "127.0.0.0/8")])
        .collect();
    let behind_proxy = TestGateway::start_with(&nats.url(), &trusted).await;
    let send = |gw: &TestGateway, ip: &str| {
        gw.get("/v1/nope")
            .header("x-forwarded-for", format!("6.6.6.6, {ip}"))
            .send()
    };
    for ip in ["192.0.2.1", "192.0.2.1", "192.0.2.2", "192.0.2.2"] {
        error_body(send(&behind_proxy, ip).await.unwrap(), 404).await;
    }
    assert_limited(send(&behind_proxy, "192.0.2.1").await.unwrap()).await;

    // Without trusted proxies the header is ignored: all of it is 127.0.0.1.
    let nats = herald_testkit::NatsServer::start().unwrap();
    let direct = TestGateway::start_with(&nats.url(), &limits).await;
    error_body(send(&direct, "192.0.2.1").await.unwrap(), 404).await;
    error_body(send(&direct, "192.0.2.2").await.unwrap(), 404).await;
    assert_limited(send(&direct, "192.0.2.3").await.unwrap()).await;
}

#[tokio::test]
async fn cors_answers_allowed_origins_only() {
    let nats = herald_testkit::NatsServer::start().unwrap();
    let gw = TestGateway::start_with(
        &nats.url(),
        &[("HERALD_GATEWAY_CORS_ORIGINS", "https://app.example.com")],
    )
    .await;
    let preflight = |origin: &str| {
        gw.http
            .request(reqwest::Method::OPTIONS, gw.url("/v1/posts"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let response = preflight("https://app.example.com").await.unwrap();
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(
        header(&response, "access-control-allow-origin").unwrap(),
        "https://app.example.com"
    );
    assert_eq!(
        header(&response, "access-control-allow-methods").unwrap(),
        "POST, GET"
    );
    let allowed_headers = header(&response, "access-control-allow-headers").unwrap();
    for name in [
        "authorization",
        "content-type",
        "x-request-id",
        "last-event-id",
    ] {
        assert!(allowed_headers.contains(name), "{allowed_headers}");
    }
    assert_eq!(header(&response, "vary").unwrap(), "Origin");
    assert!(header(&response, "access-control-allow-credentials").is_none());

    let response = preflight("https://evil.example.com").await.unwrap();
    assert!(header(&response, "access-control-allow-origin").is_none());
    let body = error_body(response, 403).await;
    assert_eq!(body["error"]["code"], "cors_refused");

    // Actual requests: the allowed origin can read the answer (and its request id).
    let response = gw
        .get("/v1/posts")
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&response, "access-control-allow-origin").unwrap(),
        "https://app.example.com"
    );
    assert!(
        header(&response, "access-control-expose-headers")
            .unwrap()
            .contains("x-request-id")
    );
    assert_eq!(header(&response, "vary").unwrap(), "Origin");
    error_body(response, 401).await;
    let response = gw
        .get("/v1/posts")
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(header(&response, "access-control-allow-origin").is_none());
    error_body(response, 401).await;

    // Without the setting: no CORS headers at all, and preflights are refused.
    let plain = TestGateway::start_with(&nats.url(), &[]).await;
    let response = plain
        .get("/v1/posts")
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert!(header(&response, "access-control-allow-origin").is_none());
    assert!(header(&response, "vary").is_none());
    let response = plain
        .http
        .request(reqwest::Method::OPTIONS, plain.url("/v1/posts"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    error_body(response, 403).await;
}

/// Writes `head` (and `body`) on a fresh connection and reads until the server closes it or
/// `wait` passes; returns what arrived.
pub async fn raw(gw: &TestGateway, head: &str, body: &[u8], wait: Duration) -> String {
    raw_closed(gw, head, body, wait).await.0
}

/// `raw`, and whether the server closed the connection within `wait`.
async fn raw_closed(gw: &TestGateway, head: &str, body: &[u8], wait: Duration) -> (String, bool) {
    let addr = gw.base.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer and close before taking all of it; that is the point.
    let _ = stream.write_all(body).await;
    let mut received = Vec::new();
    let closed = tokio::time::timeout(wait, stream.read_to_end(&mut received))
        .await
        .is_ok();
    (String::from_utf8_lossy(&received).into_owned(), closed)
}

/// The status and the JSON body of a raw HTTP/1.1 response.
pub fn parse(response: &str) -> (u16, serde_json::Value) {
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"));
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    // A chunked answer: the JSON is the first chunk.
    let json = body
        .find('{')
        .and_then(|start| body.rfind('}').map(|end| &body[start..=end]))
        .unwrap_or("null");
    (
        status,
        serde_json::from_str(json).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn two_mib_bodies_are_413_with_or_without_content_length() {
    let nats = herald_testkit::NatsServer::start().unwrap();
    let key = TestKey::new();
    key.publish(&nats.url()).await;
    let gw = TestGateway::start_with(&nats.url(), &[]).await;
    let token = key.token("editor");
    let big = format!(
        r#"{{"text":"{}","account_ids":[]}}"#,
        "x".repeat(2 * 1024 * 1024)
    );

    let response = gw
        .post("/v1/posts")
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    let body = error_body(response, 413).await;
    assert_eq!(body["error"]["code"], "payload_too_large");

    // Chunked, so only counting the bytes can tell.
    let mut chunked = Vec::new();
    for piece in big.as_bytes().chunks(64 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = format!(
        "POST /v1/posts HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
         X-Request-Id: chunked-1\r\n\r\n"
    );
    let response = raw(&gw, &head, &chunked, Duration::from_secs(10)).await;
    let (status, body) = parse(&response);
    assert_eq!(status, 413, "{response:.300}");
    assert_eq!(
        body["error"]["code"], "payload_too_large",
        "{response:.300}"
    );
    assert_eq!(body["error"]["request_id"], "chunked-1");

    // Auth routes take 16 KiB at most (a per-route override).
    let response = gw
        .post("/v1/auth/login")
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"email":"a@example.com","password":"{}"}}"#,
            "p".repeat(20_000)
        ))
        .send()
        .await
        .unwrap();
    error_body(response, 413).await;
}

#[tokio::test]
async fn slow_clients_are_cut_off() {
    let nats = herald_testkit::NatsServer::start().unwrap();
    let gw = TestGateway::start_with(
        &nats.url(),
        &[
            ("HERALD_GATEWAY_CLIENT_REQUEST_TIMEOUT_SECS", "0.5"),
            ("HERALD_GATEWAY_BODY_TIMEOUT_SECS", "0.5"),
        ],
    )
    .await;
    // A complete request is answered.
    let response = raw(
        &gw,
        "GET /v1/nope HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n",
        b"",
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(parse(&response).0, 404, "{response}");

    // Headers that never finish: 408 and the server closes the connection (the client here
    // would wait for 30 s).
    let (response, closed) = raw_closed(
        &gw,
        "GET /v1/nope HTTP/1.1\r\nHost: gw\r\nX-Slow: ",
        b"",
        Duration::from_secs(30),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response:?}");
    assert!(closed, "closed, not left open");

    // A body that never finishes: 408 with the uniform body.
    let response = raw(
        &gw,
        "POST /v1/auth/login HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\nX-Request-Id: slow-body\r\n\r\n",
        br#"{"email":"#,
        Duration::from_secs(5),
    )
    .await;
    let (status, body) = parse(&response);
    assert_eq!(status, 408, "{response}");
    assert_eq!(body["error"]["code"], "request_timeout");
    assert_eq!(body["error"]["request_id"], "slow-body");
}

async fn counter(gw: &TestGateway, name: &str) -> f64 {
    let text = gw
        .http
        .get(format!("http://{}/metrics", gw.ops))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|line| line.starts_with(name))
        .and_then(|line| line.rsplit(' ').next())
        .map_or(0.0, |value| value.parse().unwrap())
}

#[tokio::test]
async fn a_lost_bucket_fails_open_and_is_recreated() {
    fresh_window().await;
    let nats = herald_testkit::NatsServer::start().unwrap();
    let gw = TestGateway::start_with(
        &nats.url(),
        &[
            ("HERALD_GATEWAY_RATE_WINDOW_SECS", &WINDOW_SECS.to_string()),
            ("HERALD_GATEWAY_RATE_IP", "3"),
        ],
    )
    .await;
    let response = gw.get("/v1/nope").send().await.unwrap();
    assert_eq!(header(&response, "ratelimit-remaining").unwrap(), "2");
    // The counters vanish (as a memory stream does when NATS restarts).
    let js = herald_kit::async_nats::jetstream::new(
        herald_kit::async_nats::connect(nats.url()).await.unwrap(),
    );
    js.delete_key_value("gateway-ratelimits").await.unwrap();
    // Requests still go through, without limit headers, and are counted as unlimited.
    for _ in 0..4 {
        let response = gw.get("/v1/nope").send().await.unwrap();
        assert!(header(&response, "ratelimit-remaining").is_none());
        error_body(response, 404).await;
    }
    assert!(counter(&gw, "herald_gateway_ratelimit_unavailable_total").await >= 1.0);
    // The replica reopens (recreates) the bucket after a pause and counts from scratch: the
    // first request it counts has the whole window left but for itself.
    let remaining = herald_testkit::wait_for(
        "the bucket counting again",
        Duration::from_secs(30),
        || async {
            let response = gw.get("/v1/nope").send().await.unwrap();
            header(&response, "ratelimit-remaining")
        },
    )
    .await
    .unwrap();
    assert_eq!(remaining, "2");
}

#[tokio::test]
async fn a_concurrent_burst_on_both_replicas_admits_exactly_the_limit() {
    fresh_window().await;
    let nats = herald_testkit::NatsServer::start().unwrap();
    let (a, b) = two_replicas(&nats, &[("HERALD_GATEWAY_RATE_IP", "10")]).await;
    let burst = (0..30).map(|i| {
        let gw = if i % 2 == 0 { &a } else { &b };
        gw.get("/v1/nope").send()
    });
    let statuses: Vec<u16> = futures::future::join_all(burst)
        .await
        .into_iter()
        .map(|response| response.unwrap().status().as_u16())
        .collect();
    let admitted = statuses.iter().filter(|s| **s == 404).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((admitted, limited), (10, 20), "{statuses:?}");
}
