//! GDPR erasure with the whole fleet: `DELETE /v1/me` of a sole owner whose tenant has rows in
//! every service (a connected account, a post published through the sandbox, a held schedule,
//! renders, metric samples, usage, a notification and its email) and who is also a member of
//! another tenant; `DELETE /v1/tenant` by an owner while another member exists. Each waits on
//! the public status until every service confirmed, then counts rows through system-scope
//! connections: none left of the erased tenant or user in any service; the other tenant's
//! rows all there; the erased user's audit events in the surviving tenant pseudonymised.

// Helpers outside #[test] functions unwrap too; clippy.toml only covers the latter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod rows;

use crate::fleet::{Api, Fleet, Reply};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_kit::async_nats;
use herald_kit::diesel;
use herald_kit::diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use herald_testkit::wait_for;
use reqwest::{Method, StatusCode};
use rows::{Rows, nonzero, services_with_rows};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
const PASSWORD: &str = "correct horse battery";

/// A registered owner: token, user and tenant ids.
struct Owner {
    token: String,
    user: String,
    tenant: String,
    email: String,
}

async fn owner(api: &Api, tenant: &str, email: &str) -> Owner {
    let tokens = api.owner(tenant, email, PASSWORD).await.unwrap();
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    Owner {
        user: claims["sub"].as_str().unwrap().to_owned(),
        tenant: claims["tid"].as_str().unwrap().to_owned(),
        token,
        email: email.to_owned(),
    }
}

async fn call(api: &Api, who: &Owner, method: Method, path: &str, body: Option<Value>) -> Reply {
    api.call(Some(&who.token), method, path, body)
        .await
        .unwrap()
}

fn id(reply: &Reply, what: &str) -> String {
    assert!(
        reply.status.is_success(),
        "{what}: {} {}",
        reply.status,
        reply.text
    );
    reply.body["id"].as_str().unwrap().to_owned()
}

async fn connect_account(api: &Api, fleet: &Fleet, who: &Owner, token: &str) -> String {
    let body = json!({"platform": "mastodon", "instance_url": fleet.sandbox.base_url(), "access_token": token});
    id(
        &call(api, who, Method::POST, "/v1/accounts", Some(body)).await,
        "account",
    )
}

async fn post(api: &Api, who: &Owner, account: &str, text: &str, in_secs: i64) -> String {
    let at = chrono::Utc::now() + chrono::Duration::seconds(in_secs);
    let body = json!({"text": text, "scheduled_at": at.to_rfc3339(), "account_ids": [account]});
    id(
        &call(api, who, Method::POST, "/v1/posts", Some(body)).await,
        "post",
    )
}

/// A completed render of a plain design in `colour`; its id.
async fn render(api: &Api, who: &Owner, colour: &str) -> String {
    let design = json!({"width": 48, "height": 48, "background": colour});
    let render = id(
        &call(
            api,
            who,
            Method::POST,
            "/v1/renders",
            Some(json!({"design": design})),
        )
        .await,
        "render",
    );
    wait_for("render completed", WAIT, || async {
        let reply = call(
            api,
            who,
            Method::GET,
            &format!("/v1/renders/{render}"),
            None,
        )
        .await;
        reply.body["content_hash"].is_string().then_some(())
    })
    .await
    .unwrap();
    render
}

/// Superuser statements that seed what other flows (an accepted invitation) would write.
async fn seed(fleet: &Fleet, statements: &[String]) {
    let mut db = AsyncPgConnection::establish(fleet.db_url()).await.unwrap();
    for statement in statements {
        diesel::sql_query(statement).execute(&mut db).await.unwrap();
    }
}

/// `member` joins `tenant` as an editor, as an accepted invitation would make them: auth's
/// membership and the notifier's recipient row.
fn join(tenant: &str, member: &Owner) -> Vec<String> {
    vec![
        format!(
            "INSERT INTO auth.memberships (tenant_id, user_id, role) VALUES ('{tenant}', '{}', 'editor')",
            member.user
        ),
        format!(
            "INSERT INTO notifier.recipients (tenant_id, user_id, email, role) VALUES ('{tenant}', '{}', '{}', 'editor')",
            member.user, member.email
        ),
    ]
}

/// Starts an erasure (`DELETE path`) and waits until every service confirmed it; the id and
/// the final status.
async fn erase(api: &Api, who: &Owner, path: &str) -> (String, Value) {
    let started = call(api, who, Method::DELETE, path, None).await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text);
    let erasure = started.body["erasure_id"].as_str().unwrap().to_owned();
    assert_eq!(started.body["status"], "pending");
    let status = wait_for("every service confirmed the erasure", WAIT, || async {
        let reply = api
            .call(None, Method::GET, &format!("/v1/erasures/{erasure}"), None)
            .await
            .ok()?;
        (reply.body["status"] == "complete").then_some(reply)
    })
    .await
    .unwrap();
    assert_eq!(status.status, StatusCode::OK);
    let services: Vec<&str> = status.body["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert!(s["confirmed_at"].is_string(), "{}", status.text);
            s["service"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        services,
        [
            "auth",
            "publisher",
            "renderer",
            "insights",
            "billing",
            "notifier"
        ]
    );
    (erasure, status.body)
}

#[tokio::test]
async fn erasing_a_sole_owner_leaves_no_row_of_them_or_their_tenant_in_any_service() {
    let fleet = Fleet::start().await.unwrap();
    let api = Api::new(format!("http://{}", fleet.gateway)).unwrap();
    let rows = Rows::connect(fleet.db_url()).await.unwrap();
    let a = owner(&api, "Tenant A", "owner@a.erasure.test").await;
    let b = owner(&api, "Tenant B", "owner@b.erasure.test").await;

    // A: a post published through the sandbox (measured, metered, notified by email), a post
    // held for later (a scheduled message on POSTS), a render only A made and one of a design
    // B renders too (the image object is shared by content).
    let a_account = connect_account(&api, &fleet, &a, "a-token").await;
    let published = post(&api, &a, &a_account, "A's launch", 2).await;
    let held = post(&api, &a, &a_account, "A's plan", 3600).await;
    render(&api, &a, "#a1a1a1").await;
    render(&api, &a, "#5a5a5a").await;
    let b_account = connect_account(&api, &fleet, &b, "b-token").await;
    let b_held = post(&api, &b, &b_account, "B's plan", 3600).await;
    let b_shared = render(&api, &b, "#5a5a5a").await;
    wait_for(
        "A's post published, measured, metered, notified",
        WAIT,
        || async {
            let metrics = call(
                &api,
                &a,
                Method::GET,
                &format!("/v1/posts/{published}/metrics"),
                None,
            )
            .await;
            let usage = call(&api, &a, Method::GET, "/v1/usage", None).await;
            let notes = call(&api, &a, Method::GET, "/v1/notifications", None).await;
            (metrics.body["samples"]
                .as_array()
                .is_some_and(|s| !s.is_empty())
                && usage.body["items"]
                    .as_array()
                    .is_some_and(|i| !i.is_empty())
                && notes.body["items"]
                    .as_array()
                    .is_some_and(|i| !i.is_empty())
                && fleet.mailbox().contains(&a.email))
            .then_some(())
        },
    )
    .await
    .unwrap();
    // A's owner is also an editor of B, with an audit event there (actor, client IP).
    let mut statements = join(&b.tenant, &a);
    statements.push(format!(
        "INSERT INTO auth.audit_events (event_id, tenant_id, action, actor_type, actor_id, target_type, target_id, outcome, client_ip, request_id, occurred_at) \
         VALUES (gen_random_uuid(), '{}', 'account.connected', 'user', '{}', 'user', '{}', 'success', '203.0.113.9', 'seeded', now())",
        b.tenant, a.user, a.user
    ));
    seed(&fleet, &statements).await;

    let before_a = rows.of_tenant(&a.tenant).await.unwrap();
    assert_eq!(
        services_with_rows(&before_a),
        [
            "auth",
            "billing",
            "insights",
            "notifier",
            "publisher",
            "renderer"
        ],
        "A must have rows in every service: {before_a:?}"
    );
    assert!(!nonzero(&rows.of_user(&a.user, &a.email).await.unwrap()).is_empty());
    let before_b = rows.of_tenant(&b.tenant).await.unwrap();
    let objects = fleet.dir.path().join("objects/renders");
    let files = |dir: &std::path::Path| {
        std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(|e| e.ok()).count())
            .unwrap_or(0)
    };
    assert_eq!(files(&objects), 2, "A's two images, one shared with B");
    let nats = async_nats::connect(fleet.nats_url()).await.unwrap();
    let js = async_nats::jetstream::new(nats.clone());
    let posts = js.get_stream("POSTS").await.unwrap();
    let schedule = |tenant: &str, post: &str| format!("posts.schedule.{tenant}.{post}");
    posts
        .get_last_raw_message_by_subject(&schedule(&a.tenant, &held))
        .await
        .expect("A's held schedule before the erasure");

    let (erasure, status) = erase(&api, &a, "/v1/me").await;
    for secret in [&a.user, &a.tenant, &a.email, &b.tenant] {
        assert!(!status.to_string().contains(secret.as_str()), "{status}");
    }

    // Nothing of A's tenant or of A is left anywhere.
    let after_a = rows.of_tenant(&a.tenant).await.unwrap();
    assert!(nonzero(&after_a).is_empty(), "A's tenant rows: {after_a:?}");
    let after_user = rows.of_user(&a.user, &a.email).await.unwrap();
    assert!(nonzero(&after_user).is_empty(), "A's rows: {after_user:?}");
    assert!(
        posts
            .get_last_raw_message_by_subject(&schedule(&a.tenant, &held))
            .await
            .is_err(),
        "A's held schedule was purged"
    );
    assert_eq!(
        files(&objects),
        1,
        "A's own image is gone, the shared one stays"
    );
    // In B, A's audit event stays, pseudonymised: neither A's id nor the IP.
    let pseudonymised = rows
        .auth_count(format!(
            "SELECT count(*) AS n FROM auth.audit_events WHERE tenant_id = '{}' AND request_id = 'seeded' AND actor_type = 'user' AND actor_id <> '{}' AND target_id = actor_id AND client_ip IS NULL",
            b.tenant, a.user
        ))
        .await
        .unwrap();
    assert_eq!(pseudonymised, 1);

    // B lost nothing: every row is still there, its schedule, its image (shared with A's).
    let after_b = rows.of_tenant(&b.tenant).await.unwrap();
    for (table, before) in &before_b {
        let after = after_b.get(table).copied().unwrap_or(0);
        let expected = if table == "auth.memberships" || table == "notifier.recipients" {
            before - 1 // A's membership of B and A's recipient row went with A
        } else {
            *before
        };
        assert!(
            after >= expected,
            "B's {table}: {before} before, {after} after"
        );
    }
    posts
        .get_last_raw_message_by_subject(&schedule(&b.tenant, &b_held))
        .await
        .expect("B's held schedule stays");
    let image = call(
        &api,
        &b,
        Method::GET,
        &format!("/v1/renders/{b_shared}/image"),
        None,
    )
    .await;
    assert_eq!(
        image.status,
        StatusCode::OK,
        "B's shared image: {}",
        image.text
    );
    let b_post = call(&api, &b, Method::GET, &format!("/v1/posts/{b_held}"), None).await;
    assert_eq!(b_post.body["text"], "B's plan");

    // A's token is refused everywhere; asking again is refused with it; A cannot log in.
    wait_for("A's token refused", Duration::from_secs(5), || async {
        let reply = call(&api, &a, Method::GET, "/v1/notifications", None).await;
        (reply.status == StatusCode::UNAUTHORIZED).then_some(())
    })
    .await
    .unwrap();
    let again = call(&api, &a, Method::DELETE, "/v1/me", None).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "{}", again.text);
    let login = api
        .call(
            None,
            Method::POST,
            "/v1/auth/login",
            Some(json!({"email": a.email, "password": PASSWORD})),
        )
        .await
        .unwrap();
    assert_eq!(login.status, StatusCode::UNAUTHORIZED, "{}", login.text);

    // A redelivered request (the same message again on the stream) is harmless: every
    // service's consumer acknowledges it, nothing is dead-lettered, nothing comes back.
    let privacy = js.get_stream("PRIVACY").await.unwrap();
    let original = privacy
        .get_last_raw_message_by_subject(&format!("privacy.erasure-requested.{}", a.tenant))
        .await
        .unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", format!("redelivery-{erasure}").as_str());
    let ack = js
        .publish_with_headers(
            original.subject.to_string(),
            headers,
            original.payload.clone(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    for service in [
        "auth",
        "publisher",
        "renderer",
        "insights",
        "billing",
        "notifier",
    ] {
        let durable = format!("{service}-erasure");
        wait_for(
            &format!("{durable} acknowledged the redelivery"),
            WAIT,
            || async {
                let mut consumer = privacy
                    .get_consumer::<async_nats::jetstream::consumer::pull::Config>(&durable)
                    .await
                    .ok()?;
                let info = consumer.info().await.ok()?;
                (info.ack_floor.stream_sequence >= ack.sequence).then_some(())
            },
        )
        .await
        .unwrap();
    }
    let dlq = js.get_stream("DLQ").await.unwrap();
    for service in [
        "auth",
        "publisher",
        "renderer",
        "insights",
        "billing",
        "notifier",
    ] {
        let letters = format!("dlq.PRIVACY.{service}-erasure");
        assert!(
            dlq.get_last_raw_message_by_subject(&letters).await.is_err(),
            "{letters}: nothing dead-lettered"
        );
    }
    // An event of A's tenant that was still on its way (a target published just before the
    // erasure) is acknowledged by billing without bringing a usage row back.
    let late = herald_contracts::Envelope::new(
        a.tenant.parse().unwrap(),
        "late",
        None,
        herald_contracts::messages::PostTargetPublished {
            post_id: published.parse().unwrap(),
            target: herald_contracts::messages::PublishedTarget {
                account_id: a_account.parse().unwrap(),
                platform: herald_contracts::messages::Platform::Mastodon,
                instance_url: fleet.sandbox.base_url().to_owned(),
                remote_id: "late".into(),
                remote_url: None,
                published_at: chrono::Utc::now(),
            },
        },
    );
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", late.id.as_str());
    let ack = js
        .publish_with_headers(
            late.subject(),
            headers,
            serde_json::to_vec(&late).unwrap().into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    wait_for("billing acknowledged the late event", WAIT, || async {
        let mut consumer = posts
            .get_consumer::<async_nats::jetstream::consumer::pull::Config>("billing-usage")
            .await
            .ok()?;
        let info = consumer.info().await.ok()?;
        (info.ack_floor.stream_sequence >= ack.sequence).then_some(())
    })
    .await
    .unwrap();
    let after_again = rows.of_tenant(&a.tenant).await.unwrap();
    assert!(nonzero(&after_again).is_empty(), "{after_again:?}");
    let status = api
        .call(None, Method::GET, &format!("/v1/erasures/{erasure}"), None)
        .await
        .unwrap();
    assert_eq!(status.body["status"], "complete");
    let unknown = api
        .call(
            None,
            Method::GET,
            &format!("/v1/erasures/{}", "0".repeat(32)),
            None,
        )
        .await
        .unwrap();
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn deleting_a_tenant_keeps_its_other_members_accounts() {
    let fleet = Fleet::start().await.unwrap();
    let api = Api::new(format!("http://{}", fleet.gateway)).unwrap();
    let rows = Rows::connect(fleet.db_url()).await.unwrap();
    let t = owner(&api, "Tenant T", "owner@t.erasure.test").await;
    let m = owner(&api, "Tenant M", "owner@m.erasure.test").await;
    seed(&fleet, &join(&t.tenant, &m)).await;
    let account = connect_account(&api, &fleet, &t, "t-token").await;
    post(&api, &t, &account, "T's plan", 3600).await;
    render(&api, &t, "#707070").await;
    let before_m = rows.of_tenant(&m.tenant).await.unwrap();

    let (erasure, _) = erase(&api, &t, "/v1/tenant").await;
    // The operator sees the same status on the internal bus.
    let cli = tokio::process::Command::new(env!("CARGO_BIN_EXE_heraldctl"))
        .args(["erasures", &erasure])
        .env("HERALD_NATS_URL", fleet.nats_url())
        .output()
        .await
        .unwrap();
    let printed = String::from_utf8_lossy(&cli.stdout);
    assert!(
        cli.status.success(),
        "{printed} {}",
        String::from_utf8_lossy(&cli.stderr)
    );
    assert!(printed.starts_with("complete"), "{printed}");
    assert!(printed.contains("notifier   confirmed"), "{printed}");

    let after_t = rows.of_tenant(&t.tenant).await.unwrap();
    assert!(nonzero(&after_t).is_empty(), "T's rows: {after_t:?}");
    // The member keeps their account and their own tenant, without the membership of T.
    let members_of_t = rows
        .auth_count(format!(
            "SELECT count(*) AS n FROM auth.memberships WHERE user_id = '{}'",
            m.user
        ))
        .await
        .unwrap();
    assert_eq!(members_of_t, 1, "only M's membership of M's own tenant");
    let after_m = rows.of_tenant(&m.tenant).await.unwrap();
    for (table, before) in &before_m {
        assert!(
            after_m.get(table).copied().unwrap_or(0) >= *before,
            "M's {table}"
        );
    }
    let login = api
        .call(
            None,
            Method::POST,
            "/v1/auth/login",
            Some(json!({"email": m.email, "password": PASSWORD})),
        )
        .await
        .unwrap();
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    // The owner keeps their user account too (users without a membership are not erased);
    // their token for T is refused.
    let owners = rows
        .auth_count(format!(
            "SELECT count(*) AS n FROM auth.users WHERE id = '{}'",
            t.user
        ))
        .await
        .unwrap();
    assert_eq!(owners, 1);
    wait_for("T's token refused", Duration::from_secs(5), || async {
        let reply = call(&api, &t, Method::GET, "/v1/posts", None).await;
        (reply.status == StatusCode::UNAUTHORIZED).then_some(())
    })
    .await
    .unwrap();
    fleet.stop().await.unwrap();
}
