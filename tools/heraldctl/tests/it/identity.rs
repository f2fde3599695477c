//! Invitations, role changes and password reset through the whole fleet: auth asks for each
//! email with `identity.email-requested`, the real notifier delivers it to the mailbox (the
//! SMTP stand-in), and the test reads the token from the delivered email as a person would.

// Helpers outside #[test] functions unwrap too; clippy.toml only covers the latter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::fleet::{Api, Fleet};
use herald_testkit::wait_for;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// The token of the `nth` delivered email whose link opens `page`, once the notifier has
/// written it to the mailbox.
async fn emailed_token(fleet: &Fleet, page: &str, nth: usize) -> String {
    let marker = format!("/{page}#token=");
    wait_for("the email in the mailbox", WAIT, || async {
        let mailbox = fleet.mailbox();
        mailbox.split(&marker).nth(nth + 1).map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
                .collect::<String>()
        })
    })
    .await
    .unwrap()
}

fn field(body: &Value, name: &str) -> String {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {body}"))
        .to_owned()
}

/// Waits until `token` is refused (401), printing how long it took (the bound is 1 s:
/// a figure for the notes, not an assertion).
async fn until_refused(api: &Api, token: &str) {
    herald_testkit::time_until(
        "revocation applied by the gateway",
        Duration::from_secs(30),
        || async {
            let reply = api
                .call(Some(token), Method::GET, "/v1/me", None)
                .await
                .unwrap();
            reply.status == StatusCode::UNAUTHORIZED
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn invite_accept_change_role_and_reset_through_the_notifier() {
    let fleet = Fleet::start().await.unwrap();
    let api = Api::new(fleet.url("")).unwrap();
    let ada = api
        .owner("Acme", "ada@acme.test", "ada's long password")
        .await
        .unwrap();
    let ada_token = field(&ada, "access_token");
    let tenant = {
        let me = api
            .call(Some(&ada_token), Method::GET, "/v1/me", None)
            .await
            .unwrap();
        assert_eq!(me.status, StatusCode::OK, "{}", me.text);
        assert_eq!(me.body["role"], "owner");
        assert_eq!(me.body["email_verified"], false);
        field(&me.body, "tenant_id")
    };
    // Registration sent a verification email; its link verifies the address.
    let verify = emailed_token(&fleet, "verify-email", 0).await;
    let reply = api
        .call(
            None,
            Method::POST,
            "/v1/auth/verify-email",
            Some(json!({"token": verify})),
        )
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);

    // Invite -> the email -> accept -> log in with the invitation's role.
    let invited = api
        .call(
            Some(&ada_token),
            Method::POST,
            "/v1/invitations",
            Some(json!({"email": "bob@acme.test", "role": "editor"})),
        )
        .await
        .unwrap();
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.text);
    assert!(
        !invited.text.contains("token"),
        "the token only goes by email"
    );
    let invitation = emailed_token(&fleet, "accept-invitation", 0).await;
    assert!(
        fleet
            .mailbox()
            .contains("You are invited to Acme on Herald")
    );
    let bob_password = "bob's long password";
    let accepted = api
        .call(
            None,
            Method::POST,
            "/v1/invitations/accept",
            Some(json!({"token": invitation, "password": bob_password})),
        )
        .await
        .unwrap();
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
    assert_eq!(accepted.body["role"], "editor");
    let again = api
        .call(
            None,
            Method::POST,
            "/v1/invitations/accept",
            Some(json!({"token": invitation, "password": bob_password})),
        )
        .await
        .unwrap();
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "single use");
    assert_eq!(again.body["error"]["message"], "invalid or expired token");
    let login = api
        .call(
            None,
            Method::POST,
            "/v1/auth/login",
            Some(json!({"email": "bob@acme.test", "password": bob_password, "tenant_id": tenant})),
        )
        .await
        .unwrap();
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    let bob_token = field(&login.body, "access_token");
    let bob_refresh = field(&login.body, "refresh_token");
    let me = api
        .call(Some(&bob_token), Method::GET, "/v1/me", None)
        .await
        .unwrap();
    assert_eq!(
        (me.body["role"].as_str(), me.body["tenant_id"].as_str()),
        (Some("editor"), Some(tenant.as_str()))
    );
    assert_eq!(me.body["email_verified"], true);
    let bob_id = field(&me.body, "user_id");

    // A role change retires bob's editor token on the gateway; his refresh gets the new role.
    let changed = api
        .call(
            Some(&ada_token),
            Method::PATCH,
            &format!("/v1/members/{bob_id}"),
            Some(json!({"role": "viewer"})),
        )
        .await
        .unwrap();
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    assert_eq!(changed.body["role"], "viewer");
    until_refused(&api, &bob_token).await;
    let refreshed = api
        .call(
            None,
            Method::POST,
            "/v1/auth/refresh",
            Some(json!({"refresh_token": bob_refresh})),
        )
        .await
        .unwrap();
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    let bob_token = field(&refreshed.body, "access_token");
    let me = api
        .call(Some(&bob_token), Method::GET, "/v1/me", None)
        .await
        .unwrap();
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["role"], "viewer");
    // A viewer cannot invite.
    let refused = api
        .call(
            Some(&bob_token),
            Method::POST,
            "/v1/invitations",
            Some(json!({"email": "x@acme.test", "role": "viewer"})),
        )
        .await
        .unwrap();
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // Reset -> the email -> confirm -> the old session is refused; the new password works.
    for email in ["bob@acme.test", "nobody@acme.test"] {
        let asked = api
            .call(
                None,
                Method::POST,
                "/v1/auth/password-reset",
                Some(json!({"email": email})),
            )
            .await
            .unwrap();
        assert_eq!(
            asked.status,
            StatusCode::ACCEPTED,
            "{email}: {}",
            asked.text
        );
        assert!(
            asked.text.is_empty(),
            "the same empty answer for every address"
        );
    }
    let reset = emailed_token(&fleet, "reset-password", 0).await;
    assert!(!fleet.mailbox().contains("nobody@acme.test"));
    let confirmed = api
        .call(
            None,
            Method::POST,
            "/v1/auth/password-reset/confirm",
            Some(json!({"token": reset, "password": "bob's brand new password"})),
        )
        .await
        .unwrap();
    assert_eq!(
        confirmed.status,
        StatusCode::NO_CONTENT,
        "{}",
        confirmed.text
    );
    until_refused(&api, &bob_token).await;
    let old = api
        .call(
            None,
            Method::POST,
            "/v1/auth/login",
            Some(json!({"email": "bob@acme.test", "password": bob_password})),
        )
        .await
        .unwrap();
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let new = api
        .call(
            None,
            Method::POST,
            "/v1/auth/login",
            Some(json!({"email": "bob@acme.test", "password": "bob's brand new password"})),
        )
        .await
        .unwrap();
    assert_eq!(new.status, StatusCode::OK, "{}", new.text);

    // Every action is in the owner's audit log.
    let wanted = [
        "invitation.created",
        "invitation.accepted",
        "member.role_changed",
        "password.reset",
    ];
    let page = wait_for("the audit events", WAIT, || async {
        let reply = api
            .call(Some(&ada_token), Method::GET, "/v1/audit?limit=200", None)
            .await
            .ok()?;
        let actions: Vec<String> = reply.body["events"]
            .as_array()?
            .iter()
            .filter_map(|e| e["action"].as_str().map(str::to_owned))
            .collect();
        wanted
            .iter()
            .all(|w| actions.iter().any(|a| a == w))
            .then_some(reply.body)
    })
    .await
    .unwrap();
    let role_change = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "member.role_changed")
        .unwrap();
    assert_eq!(role_change["target"], json!({"type": "user", "id": bob_id}));
    assert_eq!(role_change["reason"], "editor -> viewer");
    fleet.stop().await.unwrap();
}
