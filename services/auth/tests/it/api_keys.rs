//! API keys: created by admins and owners (the secret shown once, only its sha256 stored),
//! listed without secrets, revoked; each change seen in the `auth-api-keys` bucket the
//! gateways watch and in the audit log; a removed member's keys revoked with them; the bucket
//! healed at start; gateways' use reports recorded as `last_used_at`.

// Helpers here unwrap like the tests they serve (clippy.toml covers #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::helpers::{PASSWORD, TestAuth};
use chrono::{SubsecRound, Utc};
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use herald_auth::start;
use herald_contracts::messages::audit::actions;
use herald_contracts::rpc::api_keys::{
    API_KEYS_BUCKET, ActiveApiKey, ApiKey, ApiKeyList, ApiKeyUsed, CreateApiKey,
    CreateApiKeyRequest, CreatedApiKey, ListApiKeys, RevokeApiKey, RevokeApiKeyRequest, Scope,
    api_key_bucket_key, parse_key,
};
use herald_contracts::rpc::audit::{ListAudit, ListAuditRequest};
use herald_contracts::rpc::auth::{NoParams, RemoveMember, RemoveMemberRequest};
use herald_contracts::rpc::identity::{ChangeMemberRole, ChangeRoleRequest};
use herald_contracts::rpc::{ErrorCode, Identity, Role};
use herald_contracts::{Envelope, TenantId, UserId};
use herald_testkit::{Running, wait_for};
use sha2::{Digest, Sha256};
use std::time::Duration;

fn owner_of(registered: &herald_contracts::rpc::auth::RegisterResponse) -> Identity {
    Identity {
        tenant_id: registered.tenant_id,
        user_id: registered.user_id,
        role: Role::Owner,
        api_key_id: None,
    }
}

fn request(name: &str, scopes: &[Scope]) -> CreateApiKeyRequest {
    CreateApiKeyRequest {
        name: name.into(),
        scopes: scopes.to_vec(),
        expires_at: None,
    }
}

async fn create(auth: &TestAuth, who: &Identity, scopes: &[Scope]) -> CreatedApiKey {
    auth.call::<CreateApiKey>(Some(who.clone()), request("ci", scopes))
        .await
        .unwrap()
}

async fn list(auth: &TestAuth, who: &Identity) -> Vec<ApiKey> {
    let list: ApiKeyList = auth
        .call::<ListApiKeys>(Some(who.clone()), NoParams {})
        .await
        .unwrap();
    list.keys
}

async fn entry(auth: &TestAuth, id: &uuid::Uuid) -> Option<ActiveApiKey> {
    let store = auth.js().get_key_value(API_KEYS_BUCKET).await.unwrap();
    let value = store.get(api_key_bucket_key(id)).await.unwrap()?;
    Some(serde_json::from_slice(&value).unwrap())
}

fn sha256_hex(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every column of the key's row, as text.
async fn row_text(auth: &TestAuth, id: uuid::Uuid) -> String {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        row: String,
    }
    let mut conn = auth.conn().await.unwrap();
    let row: Row =
        diesel::sql_query("SELECT row_to_json(k)::text AS row FROM api_keys k WHERE id = $1")
            .bind::<SqlUuid, _>(id)
            .get_result(&mut conn)
            .await
            .unwrap();
    row.row
}

/// A second member of `tenant` with `role`, written straight into auth's tables (invitations
/// are not this test's subject).
pub(crate) async fn add_member(auth: &TestAuth, tenant: TenantId, role: Role) -> Identity {
    let user = UserId::new();
    let mut conn = auth.conn().await.unwrap();
    diesel::sql_query("INSERT INTO users (id, email, password_hash) VALUES ($1, $2, 'not-a-hash')")
        .bind::<SqlUuid, _>(user.as_uuid())
        .bind::<Text, _>(format!("{}@example.com", user.as_uuid().simple()))
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::sql_query("INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3)")
        .bind::<SqlUuid, _>(tenant.as_uuid())
        .bind::<SqlUuid, _>(user.as_uuid())
        .bind::<Text, _>(role.as_str())
        .execute(&mut conn)
        .await
        .unwrap();
    Identity {
        tenant_id: tenant,
        user_id: user,
        role,
        api_key_id: None,
    }
}

/// The actions of the tenant's audit events about `key`, oldest first, once `n` are stored.
async fn key_events(auth: &TestAuth, owner: &Identity, key: uuid::Uuid, n: usize) -> Vec<String> {
    wait_for(
        "the api key's audit events",
        Duration::from_secs(15),
        move || async move {
            let page = auth
                .call::<ListAudit>(Some(owner.clone()), ListAuditRequest::default())
                .await
                .ok()?;
            let mut events: Vec<_> = page
                .events
                .into_iter()
                .filter(|e| {
                    e.target
                        .as_ref()
                        .is_some_and(|t| t.kind == "api_key" && t.id == key.to_string())
                })
                .collect();
            events.reverse();
            (events.len() >= n).then_some(events)
        },
    )
    .await
    .unwrap()
    .into_iter()
    .map(|e| e.action)
    .collect()
}

#[tokio::test]
async fn keys_are_created_once_listed_without_secrets_and_revoked() {
    let auth = TestAuth::start().await.unwrap();
    let acme = auth
        .register("Acme", "ada@example.com", PASSWORD)
        .await
        .unwrap();
    let owner = owner_of(&acme);

    let created = create(
        &auth,
        &owner,
        &[Scope::PostsWrite, Scope::PostsRead, Scope::PostsWrite],
    )
    .await;
    let key = &created.key;
    let (id, secret) = parse_key(&created.secret).expect("hk_<id>_<secret>");
    assert_eq!(id, key.id);
    assert!(created.secret.starts_with(&format!("{}_", key.prefix)));
    assert_eq!(
        key.scopes,
        [Scope::PostsRead, Scope::PostsWrite],
        "sorted, no repeats"
    );
    assert_eq!(key.role, Role::Editor, "the strongest its scopes need");
    assert_eq!(key.created_by, acme.user_id);
    assert_eq!((key.revoked_at, key.last_used_at), (None, None));

    // Only the hash is stored; neither the secret nor the key string is anywhere in the row.
    let row = row_text(&auth, id).await;
    assert!(
        !row.contains(secret) && !row.contains(&created.secret),
        "{row}"
    );
    #[derive(diesel::QueryableByName)]
    struct Hash {
        #[diesel(sql_type = diesel::sql_types::Bytea)]
        secret_hash: Vec<u8>,
    }
    let mut conn = auth.conn().await.unwrap();
    let stored: Hash = diesel::sql_query("SELECT secret_hash FROM api_keys WHERE id = $1")
        .bind::<SqlUuid, _>(id)
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        stored.secret_hash,
        Sha256::digest(secret.as_bytes()).to_vec()
    );

    // The gateways' entry: enough to verify the key, never the secret.
    let active = entry(&auth, &id).await.expect("published for the gateways");
    assert_eq!(
        active,
        ActiveApiKey {
            tenant_id: acme.tenant_id,
            created_by: acme.user_id,
            secret_sha256: sha256_hex(secret),
            scopes: vec![Scope::PostsRead, Scope::PostsWrite],
            role: Role::Editor,
            expires_at: None,
        }
    );

    // Listed, never with the secret or its hash again.
    let listed = list(&auth, &owner).await;
    assert_eq!(listed, std::slice::from_ref(key));
    let text = serde_json::to_string(&listed).unwrap();
    assert!(
        !text.contains(secret) && !text.contains(&sha256_hex(secret)),
        "{text}"
    );

    // Another tenant sees none of it and cannot revoke it.
    let bobco = auth
        .register("Bobco", "bob@example.com", PASSWORD)
        .await
        .unwrap();
    let bob = owner_of(&bobco);
    assert!(list(&auth, &bob).await.is_empty());
    let error = auth
        .call::<RevokeApiKey>(Some(bob.clone()), RevokeApiKeyRequest { id })
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::NotFound);
    assert!(entry(&auth, &id).await.is_some());

    // Revoked: gone from the bucket, listed as revoked; a second revoke is a no-op.
    auth.call::<RevokeApiKey>(Some(owner.clone()), RevokeApiKeyRequest { id })
        .await
        .unwrap();
    assert_eq!(entry(&auth, &id).await, None);
    let revoked = list(&auth, &owner).await;
    assert!(revoked[0].revoked_at.is_some());
    auth.call::<RevokeApiKey>(Some(owner.clone()), RevokeApiKeyRequest { id })
        .await
        .unwrap();
    let unknown = auth
        .call::<RevokeApiKey>(
            Some(owner.clone()),
            RevokeApiKeyRequest {
                id: uuid::Uuid::new_v4(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(unknown.code, ErrorCode::NotFound);

    assert_eq!(
        key_events(&auth, &owner, id, 2).await,
        [actions::API_KEY_CREATED, actions::API_KEY_REVOKED],
        "one event each, none for the repeated revoke"
    );
    auth.stop().await;
}

#[tokio::test]
async fn only_admins_with_a_session_manage_keys_within_their_role() {
    let auth = TestAuth::start().await.unwrap();
    let acme = auth
        .register("Acme", "ada@example.com", PASSWORD)
        .await
        .unwrap();
    let owner = owner_of(&acme);
    let editor = add_member(&auth, acme.tenant_id, Role::Editor).await;
    let admin = add_member(&auth, acme.tenant_id, Role::Admin).await;

    for who in [
        &editor,
        // A key acting for the owner still cannot manage keys.
        &Identity {
            api_key_id: Some(uuid::Uuid::new_v4()),
            ..owner.clone()
        },
    ] {
        let error = auth
            .call::<CreateApiKey>(Some(who.clone()), request("x", &[Scope::PostsRead]))
            .await
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::Forbidden, "{who:?}");
        let error = auth
            .call::<ListApiKeys>(Some(who.clone()), NoParams {})
            .await
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::Forbidden, "{who:?}");
    }
    let error = auth
        .call::<CreateApiKey>(None, request("x", &[Scope::PostsRead]))
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::Unauthenticated);

    // Bad requests.
    for (bad, what) in [
        (request("ci", &[]), "no scopes"),
        (request(" ", &[Scope::PostsRead]), "blank name"),
        (
            CreateApiKeyRequest {
                expires_at: Some(Utc::now() - chrono::Duration::seconds(1)),
                ..request("ci", &[Scope::PostsRead])
            },
            "expired already",
        ),
    ] {
        let error = auth
            .call::<CreateApiKey>(Some(admin.clone()), bad)
            .await
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidInput, "{what}");
    }

    // An admin holds every scope; the key acts as an admin only if a scope needs it.
    let all = create(&auth, &admin, &Scope::ALL).await;
    assert_eq!(all.key.role, Role::Admin);
    let read = create(&auth, &admin, &[Scope::PostsRead, Scope::EventsRead]).await;
    assert_eq!(read.key.role, Role::Viewer);
    let later = Utc::now().trunc_subsecs(6) + chrono::Duration::days(30);
    let expiring = auth
        .call::<CreateApiKey>(
            Some(admin.clone()),
            CreateApiKeyRequest {
                expires_at: Some(later),
                ..request("expiring", &[Scope::PostsRead])
            },
        )
        .await
        .unwrap();
    assert_eq!(expiring.key.expires_at, Some(later));
    assert_eq!(
        entry(&auth, &expiring.key.id).await.unwrap().expires_at,
        Some(later)
    );
    // Newest first, whoever made them.
    let ids: Vec<_> = list(&auth, &owner)
        .await
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(ids, [expiring.key.id, read.key.id, all.key.id]);
    auth.stop().await;
}

#[tokio::test]
async fn removing_a_member_revokes_the_keys_they_created() {
    let auth = TestAuth::start().await.unwrap();
    let acme = auth
        .register("Acme", "ada@example.com", PASSWORD)
        .await
        .unwrap();
    let owner = owner_of(&acme);
    let admin = add_member(&auth, acme.tenant_id, Role::Admin).await;
    let theirs = create(&auth, &admin, &[Scope::PostsRead]).await.key.id;
    let owners = create(&auth, &owner, &[Scope::PostsRead]).await.key.id;

    auth.call::<RemoveMember>(
        Some(owner.clone()),
        RemoveMemberRequest {
            user_id: admin.user_id,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        entry(&auth, &theirs).await,
        None,
        "the member's key is refused"
    );
    assert!(entry(&auth, &owners).await.is_some(), "others' keys stay");
    let keys = list(&auth, &owner).await;
    let state = |id| {
        keys.iter()
            .find(|k| k.id == id)
            .unwrap()
            .revoked_at
            .is_some()
    };
    assert!(state(theirs) && !state(owners));
    assert_eq!(
        key_events(&auth, &owner, theirs, 2).await,
        [actions::API_KEY_CREATED, actions::API_KEY_REVOKED]
    );
    auth.stop().await;
}

#[tokio::test]
async fn demoting_a_member_revokes_their_keys_and_promoting_keeps_them() {
    let auth = TestAuth::start().await.unwrap();
    let acme = auth
        .register("Acme", "ada@example.com", PASSWORD)
        .await
        .unwrap();
    let owner = owner_of(&acme);
    let admin = add_member(&auth, acme.tenant_id, Role::Admin).await;
    let other = add_member(&auth, acme.tenant_id, Role::Admin).await;
    let admins = create(&auth, &admin, &[Scope::UsageRead]).await.key.id;
    let others = create(&auth, &other, &[Scope::PostsWrite]).await.key.id;
    let change = |user_id, role| {
        auth.call::<ChangeMemberRole>(Some(owner.clone()), ChangeRoleRequest { user_id, role })
    };

    change(other.user_id, Role::Owner).await.unwrap();
    assert!(
        entry(&auth, &others).await.is_some(),
        "a promotion keeps the member's keys"
    );
    change(admin.user_id, Role::Viewer).await.unwrap();
    assert_eq!(
        entry(&auth, &admins).await,
        None,
        "a demoted member's key is refused by every gateway"
    );
    let keys = list(&auth, &owner).await;
    let revoked = |id| {
        keys.iter()
            .find(|k| k.id == id)
            .unwrap()
            .revoked_at
            .is_some()
    };
    assert!(revoked(admins) && !revoked(others));
    assert_eq!(
        key_events(&auth, &owner, admins, 2).await,
        [actions::API_KEY_CREATED, actions::API_KEY_REVOKED]
    );
    auth.stop().await;
}

#[tokio::test]
async fn every_start_puts_active_keys_again_and_drops_stale_entries() {
    let mut auth = TestAuth::start().await.unwrap();
    let acme = auth
        .register("Acme", "ada@example.com", PASSWORD)
        .await
        .unwrap();
    let owner = owner_of(&acme);
    let kept = create(&auth, &owner, &[Scope::PostsRead]).await.key.id;
    let revoked = create(&auth, &owner, &[Scope::PostsRead]).await.key.id;
    auth.call::<RevokeApiKey>(Some(owner.clone()), RevokeApiKeyRequest { id: revoked })
        .await
        .unwrap();

    // A lost put and a lost delete, as if the bucket writes had failed.
    let store = auth.js().get_key_value(API_KEYS_BUCKET).await.unwrap();
    let stale = entry(&auth, &kept).await.unwrap();
    store.delete(api_key_bucket_key(&kept)).await.unwrap();
    store
        .put(
            api_key_bucket_key(&revoked),
            serde_json::to_vec(&stale).unwrap().into(),
        )
        .await
        .unwrap();

    let second = start(auth.env()).await.unwrap();
    auth.apps.push(Running::spawn(second));
    assert_eq!(entry(&auth, &kept).await, Some(stale));
    assert_eq!(entry(&auth, &revoked).await, None);
    auth.stop().await;
}

#[tokio::test]
async fn use_reports_set_last_used_to_the_latest() {
    let auth = TestAuth::start().await.unwrap();
    let acme = auth
        .register("Acme", "ada@example.com", PASSWORD)
        .await
        .unwrap();
    let owner = owner_of(&acme);
    let first = create(&auth, &owner, &[Scope::PostsRead]).await.key.id;
    let second = create(&auth, &owner, &[Scope::PostsRead]).await.key.id;
    let report = |key_id, used_at| {
        let envelope = Envelope::new(
            acme.tenant_id,
            "req-use",
            None,
            ApiKeyUsed { key_id, used_at },
        );
        (envelope.subject(), serde_json::to_vec(&envelope).unwrap())
    };
    // All in the past: reports from the future are taken as "now".
    let newer = Utc::now().trunc_subsecs(6) - chrono::Duration::minutes(10);
    let older = newer - chrono::Duration::minutes(5);
    // One auth instance takes the reports in order: the older report of `first` is handled
    // before `second`'s, so once `second` shows its time, `first` has seen both of its own.
    for (key, at) in [(first, newer), (first, older), (second, newer)] {
        let (subject, body) = report(key, at);
        auth.client.publish(subject, body.into()).await.unwrap();
    }
    auth.client.flush().await.unwrap();
    let (auth_ref, owner_ref) = (&auth, &owner);
    let keys = wait_for(
        "second key's use recorded",
        Duration::from_secs(15),
        move || async move {
            let (auth, owner) = (auth_ref, owner_ref);
            let keys = list(auth, owner).await;
            keys.iter()
                .any(|k| k.id == second && k.last_used_at == Some(newer))
                .then_some(keys)
        },
    )
    .await
    .unwrap();
    let used = keys.iter().find(|k| k.id == first).unwrap().last_used_at;
    assert_eq!(used, Some(newer), "an older report never moves it back");

    // A report in another tenant's name touches nothing of this one's.
    let other = TenantId::new();
    let envelope = Envelope::new(
        other,
        "req-use",
        None,
        ApiKeyUsed {
            key_id: first,
            used_at: newer + chrono::Duration::minutes(1),
        },
    );
    auth.client
        .publish(
            envelope.subject(),
            serde_json::to_vec(&envelope).unwrap().into(),
        )
        .await
        .unwrap();
    let (subject, body) = report(second, newer + chrono::Duration::minutes(2));
    auth.client.publish(subject, body.into()).await.unwrap();
    let keys = wait_for(
        "the later report",
        Duration::from_secs(15),
        move || async move {
            let (auth, owner) = (auth_ref, owner_ref);
            let keys = list(auth, owner).await;
            keys.iter()
                .any(|k| {
                    k.id == second && k.last_used_at == Some(newer + chrono::Duration::minutes(2))
                })
                .then_some(keys)
        },
    )
    .await
    .unwrap();
    let used = keys.iter().find(|k| k.id == first).unwrap().last_used_at;
    assert_eq!(used, Some(newer));
    auth.stop().await;
}
