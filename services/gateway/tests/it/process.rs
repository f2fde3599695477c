//! The real `herald-gateway` binary as a child process: readiness following NATS, and SIGTERM
//! with requests in flight: every one of them is answered, none is dropped.
//!
//! No backend runs: the test answers `rpc.billing.usage.get` itself, slowly, standing in for
//! billing as the gateway sees it (a responder on the subject).

use crate::support::TestKey;
use futures::StreamExt;
use herald_contracts::rpc::billing::{GetUsage, UsageView};
use herald_contracts::rpc::{Rpc, RpcReply};
use herald_kit::async_nats;
use herald_testkit::{
    NatsServer, check_readiness_follows_nats, check_sigterm_mid_work, free_port, wait_for,
};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const IN_FLIGHT: usize = 20;
/// How long the stand-in billing takes to answer, counted from the moment SIGTERM is sent.
const REPLY_DELAY: Duration = Duration::from_millis(500);

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_herald-gateway"))
}

fn env(nats: &NatsServer, http_port: u16) -> Vec<(String, String)> {
    [
        ("HERALD_NATS_URL", nats.url()),
        ("HERALD_GATEWAY_HTTP_ADDR", format!("127.0.0.1:{http_port}")),
        ("HERALD_GATEWAY_HTTP_WORKERS", "2".to_owned()),
        ("HERALD_LOG", "info".to_owned()),
        ("HERALD_SHUTDOWN_TIMEOUT_SECS", "10".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

#[tokio::test]
async fn readiness_follows_nats_and_sigterm_exits_cleanly() {
    let mut nats = tokio::task::spawn_blocking(NatsServer::start)
        .await
        .unwrap()
        .unwrap();
    let env = env(&nats, free_port().unwrap());
    check_readiness_follows_nats(binary(), &env, &mut nats)
        .await
        .unwrap();
}

type Answers = Arc<Mutex<Vec<Result<(u16, String), String>>>>;

#[tokio::test]
async fn sigterm_mid_work_loses_and_duplicates_nothing() {
    let nats = tokio::task::spawn_blocking(NatsServer::start)
        .await
        .unwrap()
        .unwrap();
    let key = TestKey::new();
    key.publish(&nats.url()).await;
    let token = key.token("admin");
    let http_port = free_port().unwrap();
    let base = format!("http://127.0.0.1:{http_port}");
    let env = env(&nats, http_port);

    // The stand-in billing: counts requests, holds every reply until `release` (cancelled
    // just before SIGTERM is sent), then answers REPLY_DELAY later.
    let client = async_nats::connect(nats.url()).await.unwrap();
    let mut requests = client.subscribe(GetUsage::subject()).await.unwrap();
    client.flush().await.unwrap();
    let received = Arc::new(AtomicUsize::new(0));
    let release = CancellationToken::new();
    let responder = {
        let received = received.clone();
        let release = release.clone();
        tokio::spawn(async move {
            while let Some(request) = requests.next().await {
                received.fetch_add(1, Ordering::SeqCst);
                let client = client.clone();
                let release = release.clone();
                tokio::spawn(async move {
                    release.cancelled().await;
                    tokio::time::sleep(REPLY_DELAY).await;
                    let reply = RpcReply::Ok(UsageView { items: vec![] });
                    let subject = request.reply.expect("a request has a reply subject");
                    client
                        .publish(subject, serde_json::to_vec(&reply).unwrap().into())
                        .await
                        .unwrap();
                    client.flush().await.unwrap();
                });
            }
        })
    };

    let http = herald_kit::http::client(Duration::from_secs(30)).unwrap();
    let answers: Answers = Arc::default();
    let submit = || async {
        for _ in 0..IN_FLIGHT {
            let request = http.get(format!("{base}/v1/usage")).bearer_auth(&token);
            let answers = answers.clone();
            tokio::spawn(async move {
                let answer = match request.send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        response
                            .text()
                            .await
                            .map(|body| (status, body))
                            .map_err(|e| format!("body: {e}"))
                    }
                    Err(error) => Err(format!("{error:?}")),
                };
                answers.lock().unwrap().push(answer);
            });
        }
        Ok(())
    };
    // All requests are waiting on billing: let the replies go (after REPLY_DELAY) and stop.
    let started =
        || async { (received.load(Ordering::SeqCst) == IN_FLIGHT).then(|| release.cancel()) };
    // The second process serves the public API end to end (there is no stored work).
    let finished = || async {
        let response = http
            .get(format!("{base}/v1/usage"))
            .bearer_auth(&token)
            .send()
            .await
            .ok()?;
        (response.status().as_u16() == 200).then_some(())
    };
    check_sigterm_mid_work(binary(), &env, submit, started, finished)
        .await
        .unwrap();

    // The first process answered them all before it exited; the client tasks record them.
    wait_for(
        "every in-flight request answered",
        Duration::from_secs(10),
        || async { (answers.lock().unwrap().len() == IN_FLIGHT).then_some(()) },
    )
    .await
    .unwrap();
    let answers = answers.lock().unwrap().clone();
    for answer in &answers {
        let (status, body) = answer.as_ref().expect("an in-flight request was dropped");
        assert_eq!(*status, 200, "{body}");
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body, serde_json::json!({"items": []}));
    }
    // The first process saw IN_FLIGHT requests, the second one more.
    assert_eq!(received.load(Ordering::SeqCst), IN_FLIGHT + 1);
    responder.abort();
}
