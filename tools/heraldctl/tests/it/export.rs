//! GDPR export with the whole fleet: a tenant with data in every service (an account, a post
//! published through the sandbox and measured, a render, metered usage, a notification and its
//! email) is exported by its owner through `POST /v1/me/export`; the archive downloaded from
//! `GET /v1/exports/{id}/archive` holds that tenant's rows from every service, no account token
//! or password hash, and nothing of another tenant. A user who is only a member of the tenant
//! gets their own personal rows from it and nothing else of it. Nobody else can read an export.

// Helpers outside #[test] functions unwrap too; clippy.toml only covers the latter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::fleet::{Api, Fleet, Reply};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use herald_testkit::wait_for;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::Read;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
const PASSWORD: &str = "correct horse battery";
const ACME_TOKEN: &str = "acme-mastodon-secret";
const BOBCO_TOKEN: &str = "bobco-mastodon-secret";
/// Drafts of random text: about 1.3 MB of rows, several pages of publisher's part.
const DRAFTS: usize = 4000;

fn id_of(reply: &Reply, what: &str) -> String {
    assert!(
        reply.status.is_success(),
        "{what}: {} {}",
        reply.status,
        reply.text
    );
    reply.body["id"].as_str().unwrap().to_owned()
}

/// The `sub` and `tid` claims of an access token.
fn user_and_tenant(token: &str) -> (String, String) {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    (
        claims["sub"].as_str().unwrap().to_owned(),
        claims["tid"].as_str().unwrap().to_owned(),
    )
}

/// Asks for an export as `token`, waits for it to complete, downloads and unpacks it.
async fn export(api: &Api, token: &str) -> (String, Value, String) {
    let started = api
        .call(Some(token), Method::POST, "/v1/me/export", None)
        .await
        .unwrap();
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text);
    let export_id = started.body["export_id"].as_str().unwrap().to_owned();
    assert_eq!(started.body["status"], "pending", "{}", started.text);
    let status_path = format!("/v1/exports/{export_id}");
    let view = wait_for("the export to finish", WAIT, || async {
        let reply = api
            .call(Some(token), Method::GET, &status_path, None)
            .await
            .ok()?;
        (reply.body["status"] != "pending").then_some(reply.body)
    })
    .await
    .unwrap();
    assert_eq!(view["status"], "complete", "{view}");
    assert!(view["expires_at"].is_string(), "{view}");

    let response = api
        .http
        .get(api.url(&format!("/v1/exports/{export_id}/archive")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "application/gzip");
    assert_eq!(
        header("content-disposition"),
        format!("attachment; filename=\"herald-export-{export_id}.json.gz\"")
    );
    let gzipped = response.bytes().await.unwrap();
    assert_eq!(Some(gzipped.len() as u64), view["archive_bytes"].as_u64());
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gzipped[..])
        .read_to_string(&mut text)
        .unwrap();
    let document: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(document["format"], "herald-export/1");
    assert_eq!(document["export_id"], export_id.as_str());
    (export_id, document, text)
}

/// Every item of a service's section.
fn items<'a>(document: &'a Value, service: &str) -> &'a Vec<Value> {
    document["sections"][service]["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no {service} section in {document}"))
}

/// The rows of `table` in a service's section that belong to `tenant`.
fn rows<'a>(document: &'a Value, service: &str, table: &str, tenant: &str) -> Vec<&'a Value> {
    items(document, service)
        .iter()
        .filter(|item| item["table"] == table && item["tenant_id"] == tenant)
        .map(|item| &item["row"])
        .collect()
}

/// `(service, table)` of every item that belongs to `tenant`.
fn tables_of(document: &Value, tenant: &str) -> BTreeSet<(String, String)> {
    let mut tables = BTreeSet::new();
    for (service, section) in document["sections"].as_object().unwrap() {
        for item in section["items"].as_array().unwrap() {
            if item["tenant_id"] == tenant {
                tables.insert((service.clone(), item["table"].as_str().unwrap().to_owned()));
            }
        }
    }
    tables
}

/// Tenant Acme with data in every service; returns (token, account id, post id, render id).
async fn acme_with_data(fleet: &Fleet, api: &Api) -> (String, String, String, String) {
    let tokens = api
        .owner("Acme", "alice@acme.test", PASSWORD)
        .await
        .unwrap();
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    let account = id_of(
        &api.call(
            Some(&token),
            Method::POST,
            "/v1/accounts",
            Some(json!({
                "platform": "mastodon",
                "instance_url": fleet.sandbox.base_url(),
                "access_token": ACME_TOKEN,
            })),
        )
        .await
        .unwrap(),
        "account",
    );
    let at = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let post = id_of(
        &api.call(
            Some(&token),
            Method::POST,
            "/v1/posts",
            Some(json!({"text": "Acme's launch", "scheduled_at": at, "account_ids": [account]})),
        )
        .await
        .unwrap(),
        "post",
    );
    let render = id_of(
        &api.call(
            Some(&token),
            Method::POST,
            "/v1/renders",
            Some(json!({"design": {"width": 64, "height": 64, "background": "#abcdef"}})),
        )
        .await
        .unwrap(),
        "render",
    );
    let get = |path: String| {
        let token = token.clone();
        async move { api.call(Some(&token), Method::GET, &path, None).await.ok() }
    };
    wait_for(
        "render, metrics, usage and a notification",
        WAIT,
        || async {
            let render = get(format!("/v1/renders/{render}")).await?;
            let metrics = get(format!("/v1/posts/{post}/metrics")).await?;
            let usage = get("/v1/usage".into()).await?;
            let notifications = get("/v1/notifications".into()).await?;
            (render.body["status"] == "completed"
                && metrics.body["samples"]
                    .as_array()
                    .is_some_and(|s| !s.is_empty())
                && usage.body["items"]
                    .as_array()
                    .is_some_and(|i| !i.is_empty())
                && notifications.body["items"]
                    .as_array()
                    .is_some_and(|i| !i.is_empty()))
            .then_some(())
        },
    )
    .await
    .unwrap();
    (token, account, post, render)
}

#[tokio::test]
async fn an_owners_export_holds_their_tenant_from_every_service_and_nothing_else() {
    let fleet = Fleet::start().await.unwrap();
    let api = Api::new(fleet.url("")).unwrap();
    let (alice, acme_account, acme_post, acme_render) = acme_with_data(&fleet, &api).await;
    let (alice_id, acme) = user_and_tenant(&alice);

    // Another tenant, with data of its own that Acme's export must not hold.
    let tokens = api
        .owner("Bobco", "bob@bobco.test", PASSWORD)
        .await
        .unwrap();
    let bob = tokens["access_token"].as_str().unwrap().to_owned();
    let (bob_id, bobco) = user_and_tenant(&bob);
    let bob_account = id_of(
        &api.call(
            Some(&bob),
            Method::POST,
            "/v1/accounts",
            Some(json!({
                "platform": "mastodon",
                "instance_url": fleet.sandbox.base_url(),
                "access_token": BOBCO_TOKEN,
            })),
        )
        .await
        .unwrap(),
        "bob's account",
    );
    let later = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let bob_post = id_of(
        &api.call(
            Some(&bob),
            Method::POST,
            "/v1/posts",
            Some(json!({"text": "Bobco's secret plan", "scheduled_at": later, "account_ids": [bob_account]})),
        )
        .await
        .unwrap(),
        "bob's post",
    );
    // Bob also joins Acme as an editor (as an accepted invitation would make him): auth's
    // membership and the notifier's recipient row, written directly.
    let mut db = AsyncPgConnection::establish(fleet.db_url()).await.unwrap();
    diesel::sql_query(format!(
        "INSERT INTO auth.memberships (tenant_id, user_id, role) VALUES ('{acme}', '{bob_id}', 'editor')"
    ))
    .execute(&mut db)
    .await
    .unwrap();
    diesel::sql_query(format!(
        "INSERT INTO notifier.recipients (tenant_id, user_id, email, role) VALUES ('{acme}', '{bob_id}', 'bob@bobco.test', 'editor')"
    ))
    .execute(&mut db)
    .await
    .unwrap();

    // Enough incompressible drafts that publisher answers in several pages and the archive
    // downloads in several chunks.
    let drafts = diesel_async::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "INSERT INTO publisher.posts (id, tenant_id, text, status) \
             SELECT gen_random_uuid(), '{acme}', {random}, 'draft' FROM generate_series(1, {DRAFTS})",
            random = ["md5(random()::text)"; 10].join(" || ")
        )),
        &mut db,
    )
    .await
    .unwrap();
    assert_eq!(drafts, DRAFTS);

    // Alice owns Acme: every service's rows of Acme.
    let (export_id, document, text) = export(&api, &alice).await;
    assert_eq!(document["owned_tenants"], json!([acme]));
    assert_eq!(
        rows(&document, "publisher", "posts", &acme).len(),
        DRAFTS + 1,
        "every post, across pages"
    );
    let view = api
        .call(
            Some(&alice),
            Method::GET,
            &format!("/v1/exports/{export_id}"),
            None,
        )
        .await
        .unwrap();
    let chunk = herald_contracts::rpc::privacy::ARCHIVE_CHUNK_BYTES;
    assert!(
        view.body["archive_bytes"].as_u64().unwrap() > chunk,
        "the archive should span several download chunks: {}",
        view.text
    );
    let users = items(&document, "auth")
        .iter()
        .filter(|item| item["table"] == "users")
        .collect::<Vec<_>>();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["row"]["email"], "alice@acme.test");
    assert!(users[0]["row"].get("password_hash").is_none());
    let members: BTreeSet<_> = rows(&document, "auth", "memberships", &acme)
        .iter()
        .map(|row| row["user_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(members, BTreeSet::from([alice_id.clone(), bob_id.clone()]));
    assert!(
        rows(&document, "auth", "audit_events", &acme)
            .iter()
            .any(|row| row["action"] == "account.connected")
    );
    let accounts = rows(&document, "publisher", "accounts", &acme);
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["id"], acme_account.as_str());
    assert!(accounts[0].get("access_token").is_none(), "{}", accounts[0]);
    assert!(!text.contains(ACME_TOKEN), "an account token was exported");
    assert!(
        rows(&document, "publisher", "posts", &acme)
            .iter()
            .any(|row| row["id"] == acme_post.as_str() && row["text"] == "Acme's launch")
    );
    assert!(!rows(&document, "publisher", "post_targets", &acme).is_empty());
    assert!(
        rows(&document, "renderer", "renders", &acme)
            .iter()
            .any(|row| row["id"] == acme_render.as_str() && row["content_hash"].is_string())
    );
    assert!(
        rows(&document, "insights", "metric_samples", &acme)
            .iter()
            .any(|row| row["post_id"] == acme_post.as_str())
    );
    assert!(!rows(&document, "insights", "tracked_posts", &acme).is_empty());
    assert!(
        rows(&document, "billing", "usage_ledger", &acme)
            .iter()
            .any(|row| row["metric"] == "published_targets")
    );
    assert!(!rows(&document, "notifier", "notifications", &acme).is_empty());
    assert!(!rows(&document, "notifier", "recipients", &acme).is_empty());
    // Nothing of Bobco's.
    for marker in [
        bobco.as_str(),
        bob_account.as_str(),
        bob_post.as_str(),
        "Bobco's secret plan",
        BOBCO_TOKEN,
    ] {
        assert!(!text.contains(marker), "Acme's export holds {marker}");
    }
    for service in [
        "auth",
        "publisher",
        "renderer",
        "insights",
        "billing",
        "notifier",
    ] {
        for item in items(&document, service) {
            assert!(
                item["tenant_id"] == acme.as_str() || item["tenant_id"].is_null(),
                "{service}: {item}"
            );
        }
    }
    let audited = wait_for("the privacy.exported audit event", WAIT, || async {
        let page = api
            .call(
                Some(&alice),
                Method::GET,
                "/v1/audit?action=privacy.exported",
                None,
            )
            .await
            .ok()?;
        page.body["events"]
            .as_array()
            .filter(|events| !events.is_empty())
            .cloned()
    })
    .await
    .unwrap();
    assert_eq!(
        audited[0]["target"],
        json!({"type": "export", "id": export_id})
    );
    assert_eq!(audited[0]["outcome"], "success");

    // Bob owns Bobco and is only a member of Acme: from Acme, only his own rows.
    let (bob_export, bob_document, bob_text) = export(&api, &bob).await;
    assert_eq!(bob_document["owned_tenants"], json!([bobco]));
    assert_eq!(bob_document["member_tenants"], json!([acme]));
    assert!(
        rows(&bob_document, "publisher", "posts", &bobco)
            .iter()
            .any(|row| row["id"] == bob_post.as_str())
    );
    let from_acme = tables_of(&bob_document, &acme);
    let personal: BTreeSet<(String, String)> =
        [("auth", "memberships"), ("notifier", "recipients")]
            .into_iter()
            .map(|(s, t)| (s.to_owned(), t.to_owned()))
            .collect();
    assert_eq!(from_acme, personal, "{bob_document}");
    for (service, table) in &personal {
        for row in rows(&bob_document, service, table, &acme) {
            assert_eq!(row["user_id"], bob_id.as_str(), "{row}");
        }
    }
    for marker in [
        "alice@acme.test",
        alice_id.as_str(),
        acme_account.as_str(),
        acme_post.as_str(),
        acme_render.as_str(),
        "Acme's launch",
        ACME_TOKEN,
    ] {
        assert!(
            !bob_text.contains(marker),
            "Bob's export holds Acme's {marker}"
        );
    }

    // An export is its requester's alone: Bob cannot read Alice's, and vice versa.
    for path in [
        format!("/v1/exports/{export_id}"),
        format!("/v1/exports/{export_id}/archive"),
    ] {
        let reply = api
            .call(Some(&bob), Method::GET, &path, None)
            .await
            .unwrap();
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            reply.text
        );
        assert_eq!(reply.body["error"]["code"], "not_found");
        let reply = api.call(None, Method::GET, &path, None).await.unwrap();
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let reply = api
        .call(
            Some(&alice),
            Method::GET,
            &format!("/v1/exports/{bob_export}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    fleet.stop().await.unwrap();
}
