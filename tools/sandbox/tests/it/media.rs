//! The image upload endpoints of every platform that takes one, over HTTP: the answers'
//! wire formats, the platforms' error shapes for bad input, and the ledger carrying the
//! images with the post.

use chrono::Utc;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{TestSandbox, spawn};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01";

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn png_part() -> Part {
    Part::bytes(PNG.to_vec())
        .file_name("card.png")
        .mime_str("image/png")
        .unwrap()
}

/// The only post's images as (sha256, alt text).
fn carried(app: &TestSandbox) -> Vec<(String, Option<String>)> {
    let posts = app.handle.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    posts[0]
        .media
        .iter()
        .map(|m| {
            assert_eq!(m.size, PNG.len());
            assert_eq!(m.content_type, "image/png");
            (m.sha256.clone(), m.alt_text.clone())
        })
        .collect()
}

#[tokio::test]
async fn mastodon_uploads_a_media_attachment_and_a_status_carries_it() {
    let app = spawn().await;
    let form = Form::new()
        .part("file", png_part())
        .text("description", "a card");
    let response = app
        .client
        .post(app.url("/api/v2/media"))
        .bearer_auth("tok-media")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let media: Value = response.json().await.unwrap();
    assert_eq!(media["type"], "image");
    assert_eq!(media["description"], "a card");
    assert!(media["url"].as_str().is_some());
    let id = media["id"].as_str().unwrap().to_owned();

    let response = app
        .post_status(
            "tok-media",
            json!({ "status": "pic", "media_ids": [id] }),
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    let status: Value = response.json().await.unwrap();
    assert_eq!(status["media_attachments"][0]["id"], id.as_str());
    assert_eq!(
        carried(&app),
        vec![(sha256(PNG), Some("a card".to_owned()))]
    );

    // Attached once: a second status cannot take it, nor can an unknown id be attached.
    let again = app
        .post_status(
            "tok-media",
            json!({ "status": "again", "media_ids": [id] }),
            None,
        )
        .await;
    assert_eq!(again.status(), 422);
    let body: Value = again.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("not found"),
        "{body}"
    );

    // No file: Mastodon's validation error.
    let response = app
        .client
        .post(app.url("/api/v2/media"))
        .bearer_auth("tok-media")
        .multipart(Form::new().text("description", "nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "Validation failed: File can't be blank");
    app.stop().await;
}

#[tokio::test]
async fn bluesky_blobs_are_content_addressed_and_embeds_must_reference_them() {
    let app = spawn().await;
    let did = "did:plc:mediatest";
    let token = herald_sandbox::bluesky::access_jwt(did, Utc::now() + chrono::Duration::hours(1));
    let upload = || {
        app.client
            .post(app.url("/bluesky/xrpc/com.atproto.repo.uploadBlob"))
            .bearer_auth(&token)
            .header("content-type", "image/png")
            .body(PNG.to_vec())
            .send()
    };
    let first: Value = upload().await.unwrap().json().await.unwrap();
    let second: Value = upload().await.unwrap().json().await.unwrap();
    assert_eq!(first, second, "the same bytes give the same blob ref");
    assert_eq!(first["blob"]["$type"], "blob");
    assert_eq!(first["blob"]["mimeType"], "image/png");
    assert_eq!(first["blob"]["size"], PNG.len());
    let cid = first["blob"]["ref"]["$link"].as_str().unwrap().to_owned();
    assert!(cid.starts_with("bafkrei"), "{cid}");

    let write = |record: Value, rkey: &str| {
        app.client
            .post(app.url("/bluesky/xrpc/com.atproto.repo.putRecord"))
            .bearer_auth(&token)
            .json(&json!({
                "repo": did,
                "collection": "app.bsky.feed.post",
                "rkey": rkey,
                "record": record,
            }))
            .send()
    };
    let record = |blob: Value| {
        json!({
            "$type": "app.bsky.feed.post",
            "text": "pic",
            "createdAt": "2026-03-01T12:00:00.000Z",
            "embed": { "$type": "app.bsky.embed.images", "images": [{ "alt": "a card", "image": blob }] },
        })
    };
    let mut unknown = first["blob"].clone();
    unknown["ref"]["$link"] = json!("bafkreiunknown");
    let response = write(record(unknown), "3lbmm2ghq3s2a").await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "BlobNotFound");

    let response = write(record(first["blob"].clone()), "3lbmm2ghq3s2a")
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        carried(&app),
        vec![(sha256(PNG), Some("a card".to_owned()))]
    );

    let response = app
        .client
        .post(app.url("/bluesky/xrpc/com.atproto.repo.uploadBlob"))
        .bearer_auth(&token)
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "InvalidRequest");
    app.stop().await;
}

#[tokio::test]
async fn x_uploads_describes_and_attaches_media() {
    let app = spawn().await;
    let form = Form::new()
        .part("media", png_part())
        .text("media_category", "tweet_image");
    let response = app
        .client
        .post(app.url("/x/2/media/upload"))
        .bearer_auth("x-media-token")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let uploaded: Value = response.json().await.unwrap();
    let id = uploaded["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(uploaded["data"]["media_key"], format!("3_{id}"));

    let response = app
        .client
        .post(app.url("/x/2/media/metadata"))
        .bearer_auth("x-media-token")
        .json(&json!({ "id": id, "metadata": { "alt_text": { "text": "a card" } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let response = app
        .client
        .post(app.url("/x/2/tweets"))
        .bearer_auth("x-media-token")
        .json(&json!({ "text": "pic", "media": { "media_ids": ["12345"] } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["title"], "Invalid Request");

    let response = app
        .client
        .post(app.url("/x/2/tweets"))
        .bearer_auth("x-media-token")
        .json(&json!({ "text": "pic", "media": { "media_ids": [id] } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(
        carried(&app),
        vec![(sha256(PNG), Some("a card".to_owned()))]
    );

    let response = app
        .client
        .post(app.url("/x/2/media/upload"))
        .bearer_auth("x-media-token")
        .multipart(Form::new().text("media_category", "tweet_image"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(
        problem["type"],
        "https://api.twitter.com/2/problems/invalid-request"
    );
    app.stop().await;
}

#[tokio::test]
async fn linkedin_images_are_initialized_put_and_referenced() {
    let app = spawn().await;
    let version = herald_sandbox::linkedin::current_version(Utc::now());
    let author = "urn:li:organization:2414183";
    let response = app
        .client
        .post(app.url("/linkedin/rest/images?action=initializeUpload"))
        .bearer_auth("li-media")
        .header("LinkedIn-Version", &version)
        .json(&json!({ "initializeUploadRequest": { "owner": author } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let ticket: Value = response.json().await.unwrap();
    let urn = ticket["value"]["image"].as_str().unwrap().to_owned();
    assert!(urn.starts_with("urn:li:image:"));
    let upload_url = ticket["value"]["uploadUrl"].as_str().unwrap().to_owned();

    let post = |content: Value| {
        app.client
            .post(app.url("/linkedin/rest/posts"))
            .bearer_auth("li-media")
            .header("LinkedIn-Version", &version)
            .json(&json!({
                "author": author,
                "commentary": "pic",
                "visibility": "PUBLIC",
                "distribution": { "feedDistribution": "MAIN_FEED" },
                "lifecycleState": "PUBLISHED",
                "content": content,
            }))
            .send()
    };
    // Not uploaded yet: not available.
    let response = post(json!({ "media": { "id": urn, "altText": "a card" } }))
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("/content"),
        "{body}"
    );

    let response = app
        .client
        .put(&upload_url)
        .bearer_auth("li-media")
        .header("content-type", "image/png")
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let response = post(json!({ "media": { "id": urn, "altText": "a card" } }))
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(
        carried(&app),
        vec![(sha256(PNG), Some("a card".to_owned()))]
    );
    app.stop().await;
}

#[tokio::test]
async fn facebook_photos_are_uploaded_unpublished_and_attached_once() {
    let app = spawn().await;
    let upload = |published: &str| {
        let form = Form::new()
            .part("source", png_part())
            .text("published", published.to_owned())
            .text("alt_text_custom", "a card");
        app.client
            .post(app.url("/facebook/v23.0/1234/photos"))
            .bearer_auth("page-media")
            .multipart(form)
            .send()
    };
    let response = upload("true").await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], 100);

    let response = upload("false").await.unwrap();
    assert_eq!(response.status(), 200);
    let photo: Value = response.json().await.unwrap();
    let id = photo["id"].as_str().unwrap().to_owned();
    let attached = json!([{ "media_fbid": id }]).to_string();
    let feed = |message: &str| {
        app.client
            .post(app.url("/facebook/v23.0/1234/feed"))
            .bearer_auth("page-media")
            .form(&[("message", message), ("attached_media", attached.as_str())])
            .send()
    };
    let response = feed("pic").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        carried(&app),
        vec![(sha256(PNG), Some("a card".to_owned()))]
    );
    let response = feed("pic again").await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], 100);
    app.stop().await;
}
