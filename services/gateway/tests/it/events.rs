//! `GET /v1/events`: the tenant event stream over real HTTP, fed by envelopes published to the
//! real POSTS and RENDERS streams with the contract types: tenant isolation, internal subjects
//! withheld, resuming without loss or repeats, the per-replica limit, consumer clean-up,
//! heartbeats and shutdown.

use crate::support::{TestGateway, TestKey, claims, error_body, shared_nats_url};
use chrono::Utc;
use herald_contracts::messages::{
    Platform, PostCancelled, PostDue, PostPublished, PostScheduled, PostTargetFailed,
    PostTargetPublished, PublishedTarget, RenderCompleted, RenderFailed,
};
use herald_contracts::streams::{POSTS, RENDERS};
use herald_contracts::{AccountId, Envelope, Message, PostId, RenderId, TenantId};
use herald_kit::async_nats::{self, jetstream};
use herald_testkit::{NatsServer, publish_envelope, wait_for};
use std::collections::BTreeSet;
use std::time::Duration;

/// How long a test waits for the next frame before failing (a liveness guard, not a measure).
const FRAME_WAIT: Duration = Duration::from_secs(20);

#[derive(Debug, Default)]
struct Frame {
    id: Option<String>,
    event: Option<String>,
    data: Vec<String>,
    comments: Vec<String>,
}

impl Frame {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data.join("\n")).expect("data is JSON")
    }

    fn envelope_id(&self) -> String {
        self.json()["id"].as_str().expect("envelope id").to_owned()
    }
}

/// An open event stream, read frame by frame.
struct Sse {
    response: reqwest::Response,
    buf: Vec<u8>,
    /// The cursor of the initial `id:`-only frame.
    start: String,
}

fn parse_frame(raw: &str) -> Frame {
    let mut frame = Frame::default();
    for line in raw.lines().filter(|line| !line.is_empty()) {
        if let Some(comment) = line.strip_prefix(':') {
            frame.comments.push(comment.trim().to_owned());
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
        match field {
            "id" => frame.id = Some(value),
            "event" => frame.event = Some(value),
            "data" => frame.data.push(value),
            other => panic!("unexpected field {other:?} in {raw:?}"),
        }
    }
    frame
}

impl Sse {
    async fn open(gw: &TestGateway, token: &str, last_event_id: Option<&str>, query: &str) -> Sse {
        let client = herald_kit::http::client(Duration::from_secs(3600)).unwrap();
        let mut request = client
            .get(gw.url(&format!("/v1/events{query}")))
            .bearer_auth(token)
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let headers = response.headers();
        assert_eq!(headers["content-type"], "text/event-stream");
        assert_eq!(headers["cache-control"], "no-cache");
        assert_eq!(headers["x-accel-buffering"], "no");
        let mut sse = Sse {
            response,
            buf: Vec::new(),
            start: String::new(),
        };
        let first = sse.next_frame().await.unwrap().expect("a first frame");
        assert!(first.data.is_empty(), "{first:?}");
        sse.start = first.id.expect("the first frame carries the cursor");
        sse
    }

    /// The next frame; `Ok(None)` when the server ended the body cleanly.
    async fn next_frame(&mut self) -> Result<Option<Frame>, String> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let raw: Vec<u8> = self.buf.drain(..end + 2).collect();
                return Ok(Some(parse_frame(&String::from_utf8(raw).unwrap())));
            }
            let chunk = tokio::time::timeout(FRAME_WAIT, self.response.chunk())
                .await
                .map_err(|_| "no frame in time".to_owned())?
                .map_err(|error| format!("body: {error:?}"))?;
            match chunk {
                Some(chunk) => self.buf.extend_from_slice(&chunk),
                None if self.buf.is_empty() => return Ok(None),
                None => return Err(format!("body ended mid-frame: {:?}", self.buf)),
            }
        }
    }

    /// The next frame that carries an event (skipping comments and heartbeats).
    async fn next_event(&mut self) -> Frame {
        loop {
            let frame = self.next_frame().await.unwrap().expect("stream still open");
            if !frame.data.is_empty() {
                return frame;
            }
        }
    }

    /// Events until every id in `until` was seen; returns them all, in arrival order.
    async fn events_until(&mut self, until: &[String]) -> Vec<Frame> {
        let mut frames = Vec::new();
        let mut missing: BTreeSet<&String> = until.iter().collect();
        while !missing.is_empty() {
            let frame = self.next_event().await;
            missing.remove(&frame.envelope_id());
            frames.push(frame);
        }
        frames
    }
}

/// Publishes envelopes as the relay does; returns their ids in order.
struct Publisher {
    client: async_nats::Client,
}

impl Publisher {
    async fn connect(url: &str) -> Publisher {
        Publisher {
            client: async_nats::connect(url).await.unwrap(),
        }
    }

    async fn send<M: Message>(&self, tenant: TenantId, data: M) -> (String, serde_json::Value) {
        let envelope = Envelope::new(tenant, "req-events", None, data);
        publish_envelope(&self.client, &envelope, &envelope.id)
            .await
            .unwrap();
        (
            envelope.id.clone(),
            serde_json::to_value(&envelope).unwrap(),
        )
    }

    /// A message on an internal subject, as the publisher's held schedule would be.
    async fn send_raw(&self, subject: String) {
        let js = jetstream::new(self.client.clone());
        js.publish(subject, r#"{"internal":true}"#.into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
}

fn tenant_token(key: &TestKey) -> (TenantId, String) {
    let claims = claims("viewer", 900);
    let tenant = claims.tid.parse().unwrap();
    (tenant, key.sign(&key.kid, claims))
}

fn target(post_id: PostId) -> PostTargetPublished {
    PostTargetPublished {
        post_id,
        target: PublishedTarget {
            account_id: AccountId::new(),
            platform: Platform::Mastodon,
            instance_url: "http://127.0.0.1:1".into(),
            remote_id: "r1".into(),
            remote_url: None,
            published_at: Utc::now(),
        },
    }
}

fn completed() -> RenderCompleted {
    RenderCompleted {
        render_id: RenderId::new(),
        object_key: "renders/ab.png".into(),
        content_hash: "ab".into(),
        width: 10,
        height: 10,
        bytes: 100,
    }
}

fn failed_render() -> RenderFailed {
    RenderFailed {
        render_id: RenderId::new(),
        reason: "too large".into(),
    }
}

fn cancelled() -> PostCancelled {
    PostCancelled {
        post_id: PostId::new(),
        generation: 1,
        published_targets: 0,
    }
}

#[tokio::test]
async fn a_tenant_sees_its_public_events_only() {
    let url = shared_nats_url();
    let key = TestKey::new();
    key.publish(&url).await;
    let gw = TestGateway::start_on(&url).await;
    let (a, token_a) = tenant_token(&key);
    let (b, token_b) = tenant_token(&key);
    let mut stream_a = Sse::open(&gw, &token_a, None, "").await;
    let mut stream_b = Sse::open(&gw, &token_b, None, "").await;
    let nats = Publisher::connect(&url).await;

    // Internal subjects of tenant A: a due post and a held schedule.
    let post = PostId::new();
    let due = PostDue {
        post_id: post,
        generation: 1,
        due_at: Utc::now(),
        round: 0,
    };
    let (due_id, _) = nats.send(a, due).await;
    nats.send_raw(herald_contracts::messages::posts::schedule_subject(a, post))
        .await;
    // Tenant B's events interleaved with A's public ones.
    let (b_first, _) = nats
        .send(
            b,
            PostScheduled {
                post_id: PostId::new(),
                generation: 1,
                scheduled_at: Utc::now(),
                account_ids: vec![],
            },
        )
        .await;
    let mut expected_a = vec![
        nats.send(
            a,
            PostScheduled {
                post_id: post,
                generation: 1,
                scheduled_at: Utc::now(),
                account_ids: vec![AccountId::new()],
            },
        )
        .await,
        nats.send(a, target(post)).await,
        nats.send(
            a,
            PostTargetFailed {
                post_id: post,
                account_id: AccountId::new(),
                platform: Platform::Bluesky,
                reason: "rejected".into(),
                needs_attention: false,
                attempts: 1,
            },
        )
        .await,
        nats.send(
            a,
            PostPublished {
                post_id: post,
                targets: vec![target(post).target],
                partial: true,
            },
        )
        .await,
        nats.send(a, completed()).await,
    ];
    let (b_posts_last, _) = nats.send(b, cancelled()).await;
    let (b_renders_last, _) = nats.send(b, completed()).await;
    // A's last event on each stream: once both arrived, anything leaked before them would have.
    let a_posts_last = nats.send(a, cancelled()).await;
    let a_renders_last = nats.send(a, failed_render()).await;
    expected_a.push(a_posts_last.clone());
    expected_a.push(a_renders_last.clone());

    let frames = stream_a
        .events_until(&[a_posts_last.0.clone(), a_renders_last.0.clone()])
        .await;
    let got: BTreeSet<String> = frames.iter().map(Frame::envelope_id).collect();
    let want: BTreeSet<String> = expected_a.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(got, want, "exactly A's public events");
    assert!(!got.contains(&due_id) && !got.contains(&b_first));
    assert_eq!(frames.len(), expected_a.len(), "none twice");
    for frame in &frames {
        let (_, stored) = expected_a
            .iter()
            .find(|(id, _)| *id == frame.envelope_id())
            .unwrap();
        assert_eq!(&frame.json(), stored, "data is the envelope as stored");
        assert_eq!(frame.event.as_deref(), stored["type"].as_str());
        let id = frame.id.as_deref().unwrap();
        assert!(id.starts_with("POSTS:") && id.contains(",RENDERS:"), "{id}");
    }

    let frames_b = stream_b
        .events_until(&[b_posts_last.clone(), b_renders_last.clone()])
        .await;
    let got_b: Vec<String> = frames_b.iter().map(Frame::envelope_id).collect();
    assert_eq!(got_b.len(), 3, "{got_b:?}");
    assert!(got_b.contains(&b_first), "{got_b:?}");
    for frame in &frames_b {
        assert_eq!(frame.json()["tenant_id"], b.to_string());
    }
}

#[tokio::test]
async fn resuming_delivers_exactly_what_was_missed() {
    let url = shared_nats_url();
    let key = TestKey::new();
    key.publish(&url).await;
    let gw = TestGateway::start_on(&url).await;
    let (tenant, token) = tenant_token(&key);
    let nats = Publisher::connect(&url).await;

    let mut first = Sse::open(&gw, &token, None, "").await;
    let start = first.start.clone();
    let seen = vec![
        nats.send(tenant, cancelled()).await.0,
        nats.send(tenant, completed()).await.0,
        nats.send(tenant, cancelled()).await.0,
    ];
    let frames = first.events_until(&seen).await;
    assert_eq!(frames.len(), 3);
    let last_id = frames.last().unwrap().id.clone().unwrap();
    drop(first);

    // Published while the client is away.
    let missed = vec![
        nats.send(tenant, cancelled()).await.0,
        nats.send(tenant, failed_render()).await.0,
        nats.send(tenant, cancelled()).await.0,
    ];
    let mut resumed = Sse::open(&gw, &token, Some(&last_id), "").await;
    assert_eq!(
        resumed.start, last_id,
        "the stream starts where the client was"
    );
    // Newest on each stream after the gap: everything before them on their streams came first.
    let after = vec![
        nats.send(tenant, cancelled()).await.0,
        nats.send(tenant, completed()).await.0,
    ];
    let frames = resumed.events_until(&after).await;
    let got: Vec<String> = frames.iter().map(Frame::envelope_id).collect();
    let want: BTreeSet<&String> = missed.iter().chain(&after).collect();
    assert_eq!(got.len(), want.len(), "none twice: {got:?}");
    assert_eq!(got.iter().collect::<BTreeSet<_>>(), want);

    // `?since=` does the same: from the very first cursor, everything arrives once.
    let since = format!("?since={start}");
    let mut replay = Sse::open(&gw, &token, None, &since).await;
    let all: Vec<String> = seen.iter().chain(&missed).chain(&after).cloned().collect();
    let frames = replay.events_until(&all[all.len() - 2..]).await;
    let got: Vec<String> = frames.iter().map(Frame::envelope_id).collect();
    assert_eq!(got.len(), all.len(), "{got:?}");
    assert_eq!(
        got.iter().collect::<BTreeSet<_>>(),
        all.iter().collect::<BTreeSet<_>>()
    );
}

#[tokio::test]
async fn refuses_unauthenticated_callers_and_bad_cursors() {
    let url = shared_nats_url();
    let key = TestKey::new();
    key.publish(&url).await;
    let gw = TestGateway::start_on(&url).await;
    let body = error_body(gw.get("/v1/events").send().await.unwrap(), 401).await;
    assert_eq!(body["error"]["code"], "unauthenticated");
    let response = gw
        .get("/v1/events")
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    error_body(response, 401).await;

    let (_, token) = tenant_token(&key);
    for (header, query) in [
        (Some("POSTS:x"), ""),
        (None, "?since=POSTS"),
        (None, "?nope=1"),
    ] {
        let mut request = gw.get(&format!("/v1/events{query}")).bearer_auth(&token);
        if let Some(header) = header {
            request = request.header("last-event-id", header);
        }
        let body = error_body(request.send().await.unwrap(), 400).await;
        assert_eq!(body["error"]["code"], "malformed_request");
    }
}

async fn consumers_on(js: &jetstream::Context, stream: &str) -> Vec<String> {
    let mut stream = js.get_stream(stream).await.unwrap();
    stream.info().await.unwrap();
    let mut names = Vec::new();
    let mut list = stream.consumer_names();
    use futures::StreamExt;
    while let Some(name) = list.next().await {
        names.push(name.unwrap());
    }
    names
}

async fn open_streams_gauge(gw: &TestGateway) -> Option<f64> {
    let text = gw
        .http
        .get(format!("http://{}/metrics", gw.ops))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("herald_sse_streams_open "))
        .and_then(|value| value.trim().parse().ok())
}

#[tokio::test]
async fn the_replica_limit_holds_and_a_gone_client_leaves_no_consumer() {
    // A private server: the consumer count below is this test's alone.
    let nats = NatsServer::start().unwrap();
    let key = TestKey::new();
    key.publish(&nats.url()).await;
    let gw = TestGateway::start_with(
        &nats.url(),
        &[
            ("HERALD_GATEWAY_SSE_MAX_STREAMS", "1"),
            ("HERALD_GATEWAY_SSE_HEARTBEAT_SECS", "0.2"),
        ],
    )
    .await;
    let js = jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    let (_, token) = tenant_token(&key);

    let open = Sse::open(&gw, &token, None, "").await;
    for stream in [POSTS, RENDERS] {
        let names = consumers_on(&js, stream).await;
        assert_eq!(names.len(), 1, "{stream}: {names:?}");
        assert!(names[0].starts_with("gateway-sse-"), "{names:?}");
    }
    assert_eq!(open_streams_gauge(&gw).await, Some(1.0));
    let response = gw
        .get("/v1/events")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let body = error_body(response, 503).await;
    assert_eq!(body["error"]["code"], "unavailable");

    // The client goes away: its consumers are deleted and its place is free again.
    drop(open);
    wait_for("consumers deleted", Duration::from_secs(30), || async {
        let posts = consumers_on(&js, POSTS).await;
        let renders = consumers_on(&js, RENDERS).await;
        (posts.is_empty() && renders.is_empty()).then_some(())
    })
    .await
    .unwrap();
    wait_for("gauge back to 0", Duration::from_secs(10), || async {
        (open_streams_gauge(&gw).await == Some(0.0)).then_some(())
    })
    .await
    .unwrap();
    let again = Sse::open(&gw, &token, None, "").await;
    assert!(again.start.starts_with("POSTS:"));
}

#[tokio::test]
async fn idle_streams_get_heartbeats_outlive_http_timeouts_and_end_at_shutdown() {
    let nats = NatsServer::start().unwrap();
    let key = TestKey::new();
    key.publish(&nats.url()).await;
    let mut gw =
        TestGateway::start_with(&nats.url(), &[("HERALD_GATEWAY_SSE_HEARTBEAT_SECS", "0.5")]).await;
    let (tenant, token) = tenant_token(&key);
    let mut sse = Sse::open(&gw, &token, None, "").await;

    // Idle for longer than the HTTP server's keep-alive and request timeouts (5 s each).
    for _ in 0..14 {
        let frame = sse.next_frame().await.unwrap().unwrap();
        assert!(frame.data.is_empty() && frame.id.is_none(), "{frame:?}");
        assert_eq!(frame.comments, ["keep-alive"]);
    }
    let publisher = Publisher::connect(&nats.url()).await;
    let (id, _) = publisher.send(tenant, completed()).await;
    assert_eq!(sse.next_event().await.envelope_id(), id);

    // SIGTERM: the stream ends cleanly (not cut at the shutdown deadline) and the process stops.
    gw.stop();
    let mut comments = Vec::new();
    loop {
        match sse.next_frame().await {
            Ok(Some(frame)) => comments.extend(frame.comments),
            Ok(None) => break,
            Err(error) => panic!("the stream was cut, not ended: {error}"),
        }
    }
    assert_eq!(comments.last().map(String::as_str), Some("shutting down"));
    tokio::time::timeout(Duration::from_secs(15), gw.run.take().unwrap())
        .await
        .expect("the gateway stops")
        .unwrap()
        .unwrap();
}
