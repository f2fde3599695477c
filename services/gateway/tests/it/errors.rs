//! Every error has the uniform body with the request id; request ids; security headers.

use crate::support::{TestGateway, error_body, gateway_with_key};

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
