//! The product's main flow through the public API: register, log in, connect an account,
//! schedule a post, and see it published exactly once, metered once, notified once and
//! measured once; and a design rendered to a PNG of the requested size.

use crate::fleet::Fleet;
use herald_testkit::wait_for;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

struct Client {
    http: reqwest::Client,
    token: Option<String>,
}

impl Client {
    async fn send(
        &self,
        fleet: &Fleet,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let mut request = self.http.request(method, fleet.url(path));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, body))
    }
    async fn get(&self, fleet: &Fleet, path: &str) -> anyhow::Result<(StatusCode, Value)> {
        self.send(fleet, reqwest::Method::GET, path, None).await
    }
    async fn post(
        &self,
        fleet: &Fleet,
        path: &str,
        body: Value,
    ) -> anyhow::Result<(StatusCode, Value)> {
        self.send(fleet, reqwest::Method::POST, path, Some(body))
            .await
    }
}

#[tokio::test]
async fn a_post_goes_through_every_service_exactly_once_and_a_design_renders() -> anyhow::Result<()>
{
    let fleet = Fleet::start().await?;
    let mut client = Client {
        http: herald_kit::http::client(Duration::from_secs(20))?,
        token: None,
    };

    let (status, registered) = client
        .post(&fleet, "/v1/auth/register", json!({"tenant_name": "Acme", "email": "owner@acme.test", "password": "correct horse battery"}))
        .await?;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    let (status, tokens) = client
        .post(
            &fleet,
            "/v1/auth/login",
            json!({"email": "owner@acme.test", "password": "correct horse battery"}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    client.token = tokens["access_token"].as_str().map(str::to_owned);

    let (status, account) = client
        .post(&fleet, "/v1/accounts", json!({"platform": "mastodon", "instance_url": fleet.sandbox.base_url(), "access_token": "acme-token"}))
        .await?;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    let at = (chrono::Utc::now() + chrono::Duration::seconds(5)).to_rfc3339();
    let (status, post) = client
        .post(
            &fleet,
            "/v1/posts",
            json!({"text": "Launch day!", "scheduled_at": at, "account_ids": [account["id"]]}),
        )
        .await?;
    assert_eq!(status, StatusCode::CREATED, "{post}");
    let post_id = post["id"].as_str().unwrap_or_default().to_owned();
    assert!(fleet.sandbox.ledger().is_empty(), "not before its time");

    let published = wait_for("post published", WAIT, || async {
        let (_, post) = client
            .get(&fleet, &format!("/v1/posts/{post_id}"))
            .await
            .ok()?;
        (post["status"] == "published").then_some(post)
    })
    .await?;
    let ledger = fleet.sandbox.ledger();
    assert_eq!(ledger.len(), 1, "exactly one post on the platform");
    assert_eq!(ledger[0].text, "Launch day!");
    assert_eq!(
        published["targets"][0]["remote_id"],
        json!(ledger[0].status_id.to_string())
    );

    let usage = wait_for("usage metered", WAIT, || async {
        let (_, usage) = client.get(&fleet, "/v1/usage").await.ok()?;
        usage["items"]
            .as_array()
            .filter(|items| !items.is_empty())
            .cloned()
    })
    .await?;
    assert_eq!(
        usage,
        vec![json!({"metric": "published_targets", "quantity": 1})]
    );

    let notifications = wait_for("notification", WAIT, || async {
        let (_, list) = client.get(&fleet, "/v1/notifications").await.ok()?;
        list["items"]
            .as_array()
            .filter(|items| !items.is_empty())
            .cloned()
    })
    .await?;
    assert_eq!(notifications.len(), 1);
    let mailbox = wait_for("email in the mailbox", WAIT, || async {
        let text = fleet.mailbox();
        let emails = text
            .lines()
            .filter(|line| line.to_ascii_lowercase().starts_with("message-id:"))
            .count();
        (text.contains("owner@acme.test") && emails >= 2).then_some(text)
    })
    .await?;
    // Registration sent the address-confirmation email; the post sent exactly one more.
    let subjects: Vec<&str> = mailbox
        .lines()
        .filter(|line| line.to_ascii_lowercase().starts_with("subject:"))
        .collect();
    assert_eq!(
        mailbox
            .lines()
            .filter(|line| line.to_ascii_lowercase().starts_with("message-id:"))
            .count(),
        2,
        "the confirmation and one notification: {subjects:?}"
    );
    assert_eq!(
        subjects
            .iter()
            .filter(|s| s.contains("Confirm your email address"))
            .count(),
        1,
        "{subjects:?}"
    );

    let samples = wait_for("metric sample", WAIT, || async {
        let (_, metrics) = client
            .get(&fleet, &format!("/v1/posts/{post_id}/metrics"))
            .await
            .ok()?;
        metrics["samples"]
            .as_array()
            .filter(|samples| !samples.is_empty())
            .cloned()
    })
    .await?;
    assert_eq!(samples.len(), 1);
    assert!(samples[0]["likes"].as_i64().is_some_and(|likes| likes > 0));

    let design = json!({"width": 640, "height": 360, "background": "#0f172a", "elements": [
        {"type": "text", "text": "Launch day!", "x": 32, "y": 32, "size": 48, "color": "#f8fafc"}
    ]});
    let (status, render) = client
        .post(&fleet, "/v1/renders", json!({"design": design}))
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{render}");
    let render_id = render["id"].as_str().unwrap_or_default().to_owned();
    wait_for("render completed", WAIT, || async {
        let (_, render) = client
            .get(&fleet, &format!("/v1/renders/{render_id}"))
            .await
            .ok()?;
        (render["status"] == "completed").then_some(())
    })
    .await?;
    let image = client
        .http
        .get(fleet.url(&format!("/v1/renders/{render_id}/image")))
        .bearer_auth(client.token.clone().unwrap_or_default())
        .send()
        .await?;
    assert_eq!(image.status(), StatusCode::OK);
    assert_eq!(image.headers()["content-type"], "image/png");
    let bytes = image.bytes().await?;
    let reader = png::Decoder::new(std::io::Cursor::new(bytes.clone())).read_info()?;
    assert_eq!((reader.info().width, reader.info().height), (640, 360));
    let (_, render) = client
        .get(&fleet, &format!("/v1/renders/{render_id}"))
        .await?;
    let hash = render["content_hash"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // The public media origin serves the same bytes without a token, cacheable for good.
    let public = client
        .http
        .get(fleet.url(&format!("/media/{hash}.png")))
        .send()
        .await?;
    assert_eq!(public.status(), StatusCode::OK);
    assert_eq!(public.headers()["content-type"], "image/png");
    assert!(
        public.headers()["cache-control"]
            .to_str()?
            .contains("immutable")
    );
    assert_eq!(public.bytes().await?, bytes);
    let unknown = client
        .http
        .get(fleet.url(&format!("/media/{}.png", "0".repeat(64))))
        .send()
        .await?;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    // Nothing arrives late: still one post, one usage unit, one notification.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(fleet.sandbox.ledger().len(), 1);
    let (_, usage) = client.get(&fleet, "/v1/usage").await?;
    assert_eq!(usage["items"][0]["quantity"], json!(1));
    fleet.stop().await
}
