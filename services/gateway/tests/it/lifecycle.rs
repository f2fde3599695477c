//! What the gateway sends to a service and how it maps the reply, checked by answering the
//! request/reply subject directly on a private nats-server; RED metrics; graceful shutdown
//! with a request in flight.

use crate::support::{TestGateway, TestKey, error_body};
use futures::StreamExt;
use herald_contracts::rpc::notifier::{
    ListNotifications, ListNotificationsRequest, NotificationList,
};
use herald_contracts::rpc::{ErrorCode, Identity, Role, Rpc, RpcError, RpcReply, RpcRequest};
use herald_kit::TraceContext;
use herald_kit::async_nats;
use std::time::Duration;

async fn reply<T: serde::Serialize>(
    client: &async_nats::Client,
    msg: &async_nats::Message,
    reply: RpcReply<T>,
) {
    let subject = msg.reply.clone().expect("a request has a reply subject");
    client
        .publish(subject, serde_json::to_vec(&reply).unwrap().into())
        .await
        .unwrap();
    client.flush().await.unwrap();
}

#[tokio::test]
async fn calls_carry_identity_request_id_and_trace_and_replies_map_to_statuses() {
    let nats = herald_testkit::NatsServer::start().unwrap();
    let key = TestKey::new();
    key.publish(&nats.url()).await;
    let gw = TestGateway::start_on(&nats.url()).await;
    let client = async_nats::connect(nats.url()).await.unwrap();
    let mut requests = client
        .subscribe(ListNotifications::subject())
        .await
        .unwrap();
    client.flush().await.unwrap();

    let claims = crate::support::claims("viewer", 900);
    let token = key.sign(&key.kid, claims.clone());
    let parent = TraceContext::root();
    let call = {
        let request = gw
            .get("/v1/notifications?limit=5")
            .bearer_auth(&token)
            .header("x-request-id", "notif-1")
            .header("traceparent", parent.traceparent());
        tokio::spawn(request.send())
    };
    let msg = tokio::time::timeout(Duration::from_secs(10), requests.next())
        .await
        .unwrap()
        .unwrap();
    let headers = msg.headers.as_ref().expect("headers");
    let sent_trace =
        TraceContext::parse(headers.get("traceparent").unwrap().as_str(), None).unwrap();
    assert_eq!(
        sent_trace.trace_id, parent.trace_id,
        "the caller's trace continues"
    );
    assert_eq!(
        headers
            .get(herald_kit::rpc::REQUEST_ID_HEADER)
            .unwrap()
            .as_str(),
        "notif-1"
    );
    let sent: RpcRequest<ListNotificationsRequest> = serde_json::from_slice(&msg.payload).unwrap();
    assert_eq!(sent.request_id, "notif-1");
    assert_eq!(sent.data, ListNotificationsRequest { limit: Some(5) });
    assert_eq!(
        sent.identity,
        Some(Identity {
            tenant_id: claims.tid.parse().unwrap(),
            user_id: claims.sub.parse().unwrap(),
            role: Role::Viewer,
            api_key_id: None,
        })
    );
    reply(
        &client,
        &msg,
        RpcReply::Ok(NotificationList { items: vec![] }),
    )
    .await;
    let response = call.await.unwrap().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["x-request-id"], "notif-1");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"items": []}));

    let cases = [
        (
            RpcError::invalid("limit too large"),
            422,
            "invalid_input",
            "limit too large",
        ),
        (
            RpcError::not_found("no such thing"),
            404,
            "not_found",
            "no such thing",
        ),
        (
            RpcError::new(ErrorCode::Conflict, "already"),
            409,
            "conflict",
            "already",
        ),
        (
            RpcError::new(ErrorCode::RateLimited, "slow down"),
            429,
            "rate_limited",
            "slow down",
        ),
        (
            RpcError::new(ErrorCode::Internal, "db password is hunter2"),
            500,
            "internal",
            "internal error",
        ),
        (
            RpcError::unavailable(),
            503,
            "unavailable",
            "service unavailable",
        ),
    ];
    for (error, status, code, message) in cases {
        let call = tokio::spawn(gw.get("/v1/notifications").bearer_auth(&token).send());
        let msg = tokio::time::timeout(Duration::from_secs(10), requests.next())
            .await
            .unwrap()
            .unwrap();
        reply::<NotificationList>(&client, &msg, RpcReply::Error(error)).await;
        let body = error_body(call.await.unwrap().unwrap(), status).await;
        assert_eq!(body["error"]["code"], code);
        assert_eq!(body["error"]["message"], message);
    }

    // A malformed query is refused before any call.
    let response = gw
        .get("/v1/notifications?limit=many")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    error_body(response, 400).await;
}

#[tokio::test]
async fn requests_are_counted_on_the_ops_port() {
    let gw = TestGateway::start().await;
    error_body(gw.get("/v1/usage").send().await.unwrap(), 401).await;
    let text = gw
        .http
        .get(format!("http://{}/metrics", gw.ops))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counted = text.lines().any(|line| {
        line.starts_with("herald_http_requests_total{")
            && line.contains(r#"route="/v1/usage""#)
            && line.contains(r#"method="GET""#)
            && line.contains(r#"status="401""#)
    });
    assert!(counted, "{text}");
    assert!(
        text.contains("herald_http_request_duration_seconds"),
        "{text}"
    );
}

#[tokio::test]
async fn shutdown_lets_the_in_flight_request_finish_then_stops_listening() {
    let nats = herald_testkit::NatsServer::start().unwrap();
    let key = TestKey::new();
    key.publish(&nats.url()).await;
    let mut gw = TestGateway::start_on(&nats.url()).await;
    let client = async_nats::connect(nats.url()).await.unwrap();
    let mut requests = client
        .subscribe(ListNotifications::subject())
        .await
        .unwrap();
    client.flush().await.unwrap();

    let call = tokio::spawn(
        gw.get("/v1/notifications")
            .bearer_auth(key.token("viewer"))
            .send(),
    );
    let msg = tokio::time::timeout(Duration::from_secs(10), requests.next())
        .await
        .unwrap()
        .unwrap();
    // SIGTERM arrives while the request waits for its service.
    gw.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    reply(
        &client,
        &msg,
        RpcReply::Ok(NotificationList { items: vec![] }),
    )
    .await;
    let response = call.await.unwrap().unwrap();
    assert_eq!(
        response.status().as_u16(),
        200,
        "the in-flight request completes"
    );

    let run = gw.run.take().unwrap();
    tokio::time::timeout(Duration::from_secs(15), run)
        .await
        .expect("the gateway stops")
        .unwrap()
        .unwrap();
    let fresh = herald_kit::http::client(Duration::from_secs(2)).unwrap();
    assert!(
        fresh.get(gw.url("/v1/usage")).send().await.is_err(),
        "no longer listening"
    );
}
