//! Every error status has the uniform body with the request id and leaks nothing; request
//! ids; security headers; the handler deadline (and the event stream's exemption).

use crate::support::{TestGateway, TestKey, error_body, gateway_with_key};
use futures::StreamExt;
use herald_contracts::rpc::billing::GetUsage;
use herald_contracts::rpc::notifier::{ListNotifications, NotificationList};
use herald_contracts::rpc::{ErrorCode, Rpc, RpcError, RpcReply};
use herald_kit::async_nats;
use std::time::Duration;

#[tokio::test]
async fn unknown_routes_are_404_with_the_uniform_body() {
    let gw = TestGateway::start().await;
    for path in ["/", "/v1/nope", "/v1/posts/a/b/c", "/v2/posts"] {
        let body = error_body(gw.get(path).send().await.unwrap(), 404).await;
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
}

#[tokio::test]
async fn a_known_path_with_the_wrong_method_is_405_with_allow() {
    let gw = TestGateway::start().await;
    let id = uuid::Uuid::new_v4();
    let response = gw
        .http
        .delete(gw.url(&format!("/v1/posts/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers().get("allow").unwrap(), "GET, PATCH");
    let body = error_body(response, 405).await;
    assert_eq!(body["error"]["code"], "method_not_allowed");

    let response = gw.get("/v1/auth/login").send().await.unwrap();
    assert_eq!(response.headers().get("allow").unwrap(), "POST");
    error_body(response, 405).await;
}

#[tokio::test]
async fn a_body_over_one_mib_is_413() {
    let gw = TestGateway::start().await;
    let big = format!(
        r#"{{"email":"a@example.com","password":"{}"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let response = gw
        .post("/v1/auth/login")
        .header("content-type", "application/json")
        .header("x-request-id", "big-body-1")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers().get("x-request-id").unwrap(),
        "big-body-1"
    );
    let body = error_body(response, 413).await;
    assert_eq!(body["error"]["code"], "payload_too_large");
}

#[tokio::test]
async fn malformed_json_and_wrong_types_are_400() {
    let gw = TestGateway::start().await;
    for bad in [
        "{not json",
        r#"{"email": 5, "password": "pw"}"#,
        r#"{"email": "a@example.com"}"#,
        r#"{"email": "a@example.com", "password": "pw", "admin": true}"#,
    ] {
        let response = gw
            .post("/v1/auth/login")
            .header("content-type", "application/json")
            .body(bad)
            .send()
            .await
            .unwrap();
        let body = error_body(response, 400).await;
        assert_eq!(body["error"]["code"], "malformed_request", "{bad}");
    }
}

#[tokio::test]
async fn a_non_json_body_is_415() {
    let gw = TestGateway::start().await;
    let response = gw
        .post("/v1/auth/register")
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    let body = error_body(response, 415).await;
    assert_eq!(body["error"]["code"], "unsupported_media_type");
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let gw = TestGateway::start().await;
    let response = gw
        .get("/v1/nope")
        .header("x-request-id", "client.req_42-A")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers().get("x-request-id").unwrap(),
        "client.req_42-A"
    );
    let body = error_body(response, 404).await;
    assert_eq!(body["error"]["request_id"], "client.req_42-A");

    // Absent or unsafe ids are replaced by a generated UUID.
    for incoming in [None, Some("bad id; drop"), Some(&*"a".repeat(129))] {
        let mut request = gw.get("/v1/nope");
        if let Some(id) = incoming {
            request = request.header("x-request-id", id);
        }
        let response = request.send().await.unwrap();
        let id = response
            .headers()
            .get("x-request-id")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{incoming:?} -> {id}");
        let body = error_body(response, 404).await;
        assert_eq!(body["error"]["request_id"], id.as_str());
    }
}

#[tokio::test]
async fn security_headers_are_on_every_response() {
    let (gw, key) = gateway_with_key().await;
    let responses = [
        gw.get("/v1/nope").send().await.unwrap(),
        gw.get("/v1/usage").send().await.unwrap(),
        gw.get("/v1/usage")
            .bearer_auth(key.token("owner"))
            .send()
            .await
            .unwrap(),
        gw.post("/v1/auth/login").body("x").send().await.unwrap(),
    ];
    for response in responses {
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers["content-security-policy"], "default-src 'none'");
    }
}

/// Answers every `ListNotifications` call with the next of `errors`, in order.
fn fake_notifier(
    client: async_nats::Client,
    mut requests: async_nats::Subscriber,
    errors: Vec<RpcError>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for error in errors {
            let Some(msg) = requests.next().await else {
                return;
            };
            let reply: RpcReply<NotificationList> = RpcReply::Error(error);
            client
                .publish(
                    msg.reply.clone().unwrap(),
                    serde_json::to_vec(&reply).unwrap().into(),
                )
                .await
                .unwrap();
            client.flush().await.unwrap();
        }
    })
}

#[tokio::test]
async fn every_error_status_has_the_uniform_body() {
    let nats = herald_testkit::NatsServer::start().unwrap();
    let key = TestKey::new();
    key.publish(&nats.url()).await;
    let gw = TestGateway::start_with(
        &nats.url(),
        &[
            ("HERALD_GATEWAY_RATE_AUTH_IP", "4"),
            ("HERALD_GATEWAY_BODY_TIMEOUT_SECS", "0.5"),
            ("HERALD_GATEWAY_HANDLER_TIMEOUT_SECS", "1"),
            ("HERALD_RPC_TIMEOUT_SECS", "30"),
        ],
    )
    .await;
    let client = async_nats::connect(nats.url()).await.unwrap();
    let notifications = client
        .subscribe(ListNotifications::subject())
        .await
        .unwrap();
    // Billing takes usage calls and never answers: the handler deadline decides.
    let _silent_billing = client.subscribe(GetUsage::subject()).await.unwrap();
    client.flush().await.unwrap();
    let fake = fake_notifier(
        client.clone(),
        notifications,
        vec![
            RpcError::new(ErrorCode::Conflict, "already"),
            RpcError::invalid("text is empty"),
            RpcError::new(ErrorCode::Internal, "db password is hunter2"),
            RpcError::unavailable(),
        ],
    );
    let viewer = key.token("viewer");
    let owner = key.token("owner");
    let json = |request: reqwest::RequestBuilder, body: &str| {
        request
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
    };

    let mut seen = Vec::new();
    let mut expect = async |response: reqwest::Response, status: u16, code: &str| {
        let body = error_body(response, status).await;
        assert_eq!(body["error"]["code"], code, "{status}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        for leak in ["actix", "hunter2", "serde", "panicked", "backtrace"] {
            assert!(!message.contains(leak), "{status} leaks {leak}: {message}");
        }
        seen.push(status);
    };
    expect(
        json(gw.post("/v1/auth/login"), "{nope").await.unwrap(),
        400,
        "malformed_request",
    )
    .await;
    expect(
        gw.get("/v1/usage").send().await.unwrap(),
        401,
        "unauthenticated",
    )
    .await;
    expect(
        gw.get("/v1/usage")
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap(),
        403,
        "forbidden",
    )
    .await;
    expect(gw.get("/v1/nope").send().await.unwrap(), 404, "not_found").await;
    expect(
        gw.http.put(gw.url("/v1/posts")).send().await.unwrap(),
        405,
        "method_not_allowed",
    )
    .await;
    for (status, code) in [
        (409, "conflict"),
        (422, "invalid_input"),
        (500, "internal"),
        (503, "unavailable"),
    ] {
        let response = gw
            .get("/v1/notifications")
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap();
        expect(response, status, code).await;
    }
    fake.await.unwrap();
    let big = format!(
        r#"{{"text":"{}","account_ids":[]}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let response = json(gw.post("/v1/posts").bearer_auth(&owner), &big)
        .await
        .unwrap();
    expect(response, 413, "payload_too_large").await;
    let response = gw
        .post("/v1/auth/register")
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    expect(response, 415, "unsupported_media_type").await;
    let response = gw
        .get("/v1/usage")
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    expect(response, 504, "timeout").await;
    // Two auth requests so far; the limit is four.
    json(gw.post("/v1/auth/login"), "{}").await.unwrap();
    json(gw.post("/v1/auth/login"), "{}").await.unwrap();
    let response = json(gw.post("/v1/auth/login"), "{}").await.unwrap();
    assert!(response.headers().contains_key("retry-after"));
    expect(response, 429, "rate_limited").await;

    // 408: a body that stops arriving (raw TCP; well-behaved clients cannot do this).
    let head = format!(
        "POST /v1/posts HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {owner}\r\nContent-Length: 100\r\nX-Request-Id: slow-408\r\n\r\n"
    );
    let response = crate::limits::raw(&gw, &head, b"{", Duration::from_secs(5)).await;
    let (status, body) = crate::limits::parse(&response);
    assert_eq!(status, 408, "{response}");
    assert_eq!(body["error"]["code"], "request_timeout");
    assert_eq!(body["error"]["request_id"], "slow-408");
    seen.push(408);

    seen.sort();
    assert_eq!(
        seen,
        [
            400, 401, 403, 404, 405, 408, 409, 413, 415, 422, 429, 500, 503, 504
        ]
    );
}

#[tokio::test]
async fn the_event_stream_outlives_the_handler_deadline() {
    let nats = herald_testkit::NatsServer::start().unwrap();
    let key = TestKey::new();
    key.publish(&nats.url()).await;
    let gw = TestGateway::start_with(
        &nats.url(),
        &[
            ("HERALD_GATEWAY_HANDLER_TIMEOUT_SECS", "0.3"),
            ("HERALD_GATEWAY_SSE_HEARTBEAT_SECS", "0.2"),
        ],
    )
    .await;
    let mut response = gw
        .get("/v1/events")
        .bearer_auth(key.token("viewer"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let opened = std::time::Instant::now();
    let mut text = String::new();
    while opened.elapsed() < Duration::from_millis(1500) {
        let chunk = tokio::time::timeout(Duration::from_secs(2), response.chunk())
            .await
            .expect("heartbeats keep coming")
            .expect("the stream is not cut")
            .expect("the stream has not ended");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.matches(": keep-alive").count() >= 3, "{text}");
}

#[tokio::test]
async fn hardening_headers_are_on_every_response() {
    let (gw, key) = gateway_with_key().await;
    let hash = "0".repeat(64);
    let responses = [
        gw.get("/v1/nope").send().await.unwrap(),
        gw.get("/v1/usage").send().await.unwrap(),
        gw.get("/v1/posts/x")
            .bearer_auth(key.token("viewer"))
            .send()
            .await
            .unwrap(),
    ];
    for response in responses {
        let headers = response.headers();
        assert_eq!(
            headers["strict-transport-security"],
            "max-age=31536000; includeSubDomains"
        );
        assert_eq!(headers["cross-origin-resource-policy"], "same-origin");
        assert!(
            headers["permissions-policy"]
                .to_str()
                .unwrap()
                .contains("camera=()")
        );
        assert!(!headers.contains_key("access-control-allow-origin"));
    }
    // The media origin is fetched by platforms and other sites' pages.
    let media = gw.get(&format!("/media/{hash}.png")).send().await.unwrap();
    assert_eq!(
        media.headers()["cross-origin-resource-policy"],
        "cross-origin"
    );

    let nats = herald_testkit::NatsServer::start().unwrap();
    let no_hsts =
        TestGateway::start_with(&nats.url(), &[("HERALD_GATEWAY_HSTS_MAX_AGE_SECS", "0")]).await;
    let response = no_hsts.get("/v1/nope").send().await.unwrap();
    assert!(!response.headers().contains_key("strict-transport-security"));
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
}
