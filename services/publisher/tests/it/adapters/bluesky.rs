//! The Bluesky adapter against the sandbox PDS: sessions, the deterministic record key that
//! makes a retry a no-op, classification of every outcome, and getRecord reconciliation.

use super::Harness;
use chrono::{Duration, Utc};
use herald_contracts::messages::Platform;
use herald_kit::Secret;
use herald_publisher::adapters::{
    ConnectError, ConnectInput, Connected, Creds, PlatformAdapter, Publication, PublishOutcome,
    Reconciled, RefreshError,
};
use herald_sandbox::Faults;

fn adapter(h: &Harness) -> &dyn PlatformAdapter {
    match h.adapters.get(Platform::Bluesky) {
        Some(adapter) => adapter.as_ref(),
        None => panic!("no Bluesky adapter"),
    }
}

async fn connect(h: &Harness, identifier: &str, password: &str) -> Result<Connected, ConnectError> {
    let input = ConnectInput {
        identifier: Some(identifier.into()),
        password: Some(Secret::new(password)),
        ..ConnectInput::default()
    };
    adapter(h).connect(&input).await
}

async fn connected(h: &Harness, identifier: &str) -> anyhow::Result<(Creds, Connected)> {
    let account = connect(h, identifier, "app-pass-1234").await?;
    let creds = creds(
        h,
        &account.remote_account_id,
        account.tokens.access_token.clone(),
    );
    Ok((creds, account))
}

fn creds(h: &Harness, did: &str, access_token: Secret) -> Creds {
    Creds {
        base_url: h.config.bluesky_url.clone(),
        remote_account_id: did.to_owned(),
        access_token,
    }
}

fn publication(text: &str, key: &str) -> Publication {
    Publication {
        text: text.into(),
        idempotency_key: key.into(),
        first_attempt_at: Utc::now(),
        checkpoint: None,
        media: Vec::new(),
    }
}

fn set_faults(h: &Harness, faults: Faults) -> anyhow::Result<()> {
    Ok(h.sandbox
        .set_faults(herald_sandbox::Platform::Bluesky, faults)?)
}

#[tokio::test]
async fn connect_opens_a_session_for_the_account() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let account = connect(&h, "alice.test", "app-pass-1234").await?;
    assert!(account.remote_account_id.starts_with("did:plc:"));
    assert_eq!(account.handle, "alice.test");
    assert!(account.tokens.refresh_token.is_some());
    let expires_at = account
        .tokens
        .expires_at
        .expect("expiry from the access JWT");
    let lifetime = expires_at - Utc::now();
    assert!(lifetime > Duration::minutes(115) && lifetime <= Duration::minutes(120));
    assert_eq!(
        connect(&h, "alice.test", "another-app-pass")
            .await?
            .remote_account_id,
        account.remote_account_id,
        "the same account every time"
    );

    let refused = connect(&h, "alice.test", "wrong-password").await;
    assert!(
        matches!(refused, Err(ConnectError::Rejected(_))),
        "{refused:?}"
    );
    let missing = adapter(&h).connect(&ConnectInput::default()).await;
    assert!(matches!(missing, Err(ConnectError::Rejected(ref m)) if m.starts_with("identifier")));
    Ok(())
}

#[tokio::test]
async fn publish_creates_the_post_and_a_retry_does_not_duplicate_it() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let (creds, _) = connected(&h, "bob.test").await?;
    let post = publication("hello from herald", "post-1:account-1");
    assert_eq!(
        adapter(&h).reconcile(&creds, &post).await.value,
        Reconciled::Absent,
        "nothing there before the first attempt"
    );

    let reply = adapter(&h).publish(&creds, &post).await;
    let PublishOutcome::Published {
        remote_id,
        remote_url,
    } = reply.value.clone()
    else {
        panic!("not published: {reply:?}");
    };
    let rkey = remote_id.rsplit('/').next().expect("rkey").to_owned();
    assert_eq!(
        remote_id,
        format!("at://{}/app.bsky.feed.post/{rkey}", creds.remote_account_id)
    );
    assert_eq!(
        remote_url.as_deref(),
        Some(
            format!(
                "https://bsky.app/profile/{}/post/{rkey}",
                creds.remote_account_id
            )
            .as_str()
        )
    );
    let rate = reply.rate.expect("RateLimit-* headers read");
    assert_eq!(rate.remaining, 4998);

    let again = adapter(&h).publish(&creds, &post).await.value;
    assert_eq!(again, reply.value, "the same record, not a second post");
    let ledger = h.sandbox.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].status_id, rkey);
    assert_eq!(ledger[0].account_id, creds.remote_account_id);
    assert_eq!(ledger[0].text, "hello from herald");
    Ok(())
}

#[tokio::test]
async fn a_dropped_answer_is_ambiguous_and_reconcile_finds_the_post() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let (creds, _) = connected(&h, "carol.test").await?;
    let post = publication("did it post?", "post-2:account-1");
    set_faults(
        &h,
        Faults {
            drop_after_commit_rate: 1.0,
            ..Faults::default()
        },
    )?;
    let first = adapter(&h).publish(&creds, &post).await.value;
    assert!(
        matches!(first, PublishOutcome::Ambiguous { .. }),
        "{first:?}"
    );
    set_faults(&h, Faults::default())?;

    let found = adapter(&h).reconcile(&creds, &post).await.value;
    let Reconciled::Found { remote_id, .. } = found.clone() else {
        panic!("expected found, got {found:?}");
    };
    let ledger = h.sandbox.ledger();
    assert_eq!(ledger.len(), 1, "exactly one post reached the network");
    assert!(remote_id.ends_with(&format!("/{}", ledger[0].status_id)));

    // Even a publish after all (say, a stale worker) cannot add a second post.
    let again = adapter(&h).publish(&creds, &post).await.value;
    assert!(
        matches!(again, PublishOutcome::Published { remote_id: ref id, .. } if *id == remote_id)
    );
    assert_eq!(h.sandbox.ledger().len(), 1);
    Ok(())
}

#[tokio::test]
async fn throttling_outages_and_bad_tokens_are_classified() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let (creds, _) = connected(&h, "dave.test").await?;
    let post = publication("classified", "post-3:account-1");

    set_faults(
        &h,
        Faults {
            rate_limit_rate: 1.0,
            ..Faults::default()
        },
    )?;
    let reply = adapter(&h).publish(&creds, &post).await;
    assert!(
        matches!(
            reply.value,
            PublishOutcome::Retryable {
                retry_after: Some(_),
                ..
            }
        ),
        "{reply:?}"
    );
    assert_eq!(reply.rate.map(|r| r.remaining), Some(0));

    set_faults(
        &h,
        Faults {
            error_rate: 1.0,
            ..Faults::default()
        },
    )?;
    let reply = adapter(&h).publish(&creds, &post).await;
    assert!(
        matches!(reply.value, PublishOutcome::Ambiguous { .. }),
        "{reply:?}"
    );
    set_faults(&h, Faults::default())?;

    let garbage = creds.clone_with_token("not-a-session-token");
    let reply = adapter(&h).publish(&garbage, &post).await;
    assert!(
        matches!(reply.value, PublishOutcome::Terminal { .. }),
        "{reply:?}"
    );

    // An expired access token proves nothing was written; a refreshed one will pass.
    let expired = herald_sandbox::bluesky::access_jwt(
        &creds.remote_account_id,
        Utc::now() - Duration::minutes(1),
    );
    let reply = adapter(&h)
        .publish(&creds.clone_with_token(&expired), &post)
        .await;
    assert!(
        matches!(reply.value, PublishOutcome::Retryable { .. }),
        "{reply:?}"
    );

    let too_long = publication(&"x".repeat(301), "post-4:account-1");
    let reply = adapter(&h).publish(&creds, &too_long).await;
    assert!(
        matches!(reply.value, PublishOutcome::Terminal { ref reason } if reason.contains("refused the post")),
        "{reply:?}"
    );
    assert!(h.sandbox.ledger().is_empty());
    Ok(())
}

#[tokio::test]
async fn a_different_record_under_the_key_is_never_overwritten() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let (creds, _) = connected(&h, "erin.test").await?;
    let original = publication("the original", "post-5:account-1");
    assert!(matches!(
        adapter(&h).publish(&creds, &original).await.value,
        PublishOutcome::Published { .. }
    ));
    // Same key and time, other text: the record key is taken by something that is not ours.
    let other = Publication {
        text: "something else".into(),
        ..original.clone()
    };
    let reply = adapter(&h).publish(&creds, &other).await;
    assert!(
        matches!(reply.value, PublishOutcome::Terminal { .. }),
        "{reply:?}"
    );
    let reconciled = adapter(&h).reconcile(&creds, &other).await.value;
    assert!(
        matches!(reconciled, Reconciled::Unverifiable { .. }),
        "{reconciled:?}"
    );
    let ledger = h.sandbox.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].text, "the original");
    Ok(())
}

#[tokio::test]
async fn refresh_rotates_the_session_for_the_same_account() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let (creds, account) = connected(&h, "frank.test").await?;
    let refresh_token = account.tokens.refresh_token.expect("refresh token");
    let tokens = adapter(&h).refresh(&creds, &refresh_token).await?;
    let rotated = tokens.refresh_token.expect("a rotated refresh token");
    assert_ne!(rotated.expose(), refresh_token.expose());
    assert!(tokens.expires_at.is_some_and(|at| at > Utc::now()));

    // The new access token acts for the same account.
    let refreshed = creds.clone_with_token(tokens.access_token.expose());
    let post = publication("after refresh", "post-6:account-1");
    assert!(matches!(
        adapter(&h).publish(&refreshed, &post).await.value,
        PublishOutcome::Published { .. }
    ));
    assert_eq!(h.sandbox.ledger()[0].account_id, creds.remote_account_id);

    // A session whose refresh answer carries no new refresh token: keep the stored one.
    let (kept_creds, kept) = {
        let account = connect(&h, "gina.test", "norotate-pass").await?;
        (
            creds_for(&h, &account),
            account.tokens.refresh_token.expect("refresh token"),
        )
    };
    let tokens = adapter(&h).refresh(&kept_creds, &kept).await?;
    assert!(tokens.refresh_token.is_none());

    let expired = herald_sandbox::bluesky::refresh_jwt(
        &creds.remote_account_id,
        Utc::now() - Duration::minutes(1),
    );
    let refused = adapter(&h).refresh(&creds, &Secret::new(expired)).await;
    assert!(
        matches!(refused, Err(RefreshError::Rejected(ref m)) if m.contains("ExpiredToken")),
        "{refused:?}"
    );
    Ok(())
}

fn creds_for(h: &Harness, account: &Connected) -> Creds {
    creds(
        h,
        &account.remote_account_id,
        account.tokens.access_token.clone(),
    )
}

trait WithToken {
    fn clone_with_token(&self, token: &str) -> Creds;
}

impl WithToken for Creds {
    fn clone_with_token(&self, token: &str) -> Creds {
        Creds {
            access_token: Secret::new(token),
            ..self.clone()
        }
    }
}

/// The stored record under `rkey`: its CID (a hash of its canonical bytes) and its value.
async fn stored_record(
    h: &Harness,
    did: &str,
    rkey: &str,
) -> anyhow::Result<(String, serde_json::Value)> {
    let body: serde_json::Value = h
        .http
        .get(format!(
            "{}/xrpc/com.atproto.repo.getRecord",
            h.config.bluesky_url
        ))
        .query(&[
            ("repo", did),
            ("collection", "app.bsky.feed.post"),
            ("rkey", rkey),
        ])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok((
        body["cid"].as_str().unwrap_or_default().to_owned(),
        body["value"].clone(),
    ))
}

#[tokio::test]
async fn images_are_uploaded_as_blobs_and_embedded_with_alt_text() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let (creds, _) = connected(&h, "media.test").await?;
    let mut post = publication("two pictures", "post-media:account-1");
    post.media = super::two_images();
    let outcome = adapter(&h).publish(&creds, &post).await.value;
    assert!(
        matches!(outcome, PublishOutcome::Published { .. }),
        "{outcome:?}"
    );
    super::assert_carries(&h.sandbox, &post.media, true);
    let rkey = h.sandbox.ledger()[0].status_id.clone();
    let (_, value) = stored_record(&h, &creds.remote_account_id, &rkey).await?;
    assert_eq!(value["embed"]["$type"], "app.bsky.embed.images");
    assert_eq!(value["embed"]["images"][1]["alt"], "another card");
    assert_eq!(
        value["embed"]["images"][0]["image"]["mimeType"],
        "image/png"
    );
    Ok(())
}

#[tokio::test]
async fn a_retry_after_a_dropped_answer_writes_the_identical_record() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let (creds, _) = connected(&h, "media-retry.test").await?;
    let mut post = publication("a picture, once", "post-media-2:account-1");
    post.media = super::image(None);
    set_faults(
        &h,
        Faults {
            drop_after_commit_rate: 1.0,
            ..Faults::default()
        },
    )?;
    let first = adapter(&h).publish(&creds, &post).await.value;
    assert!(
        matches!(first, PublishOutcome::Ambiguous { .. }),
        "{first:?}"
    );
    set_faults(&h, Faults::default())?;
    let found = adapter(&h).reconcile(&creds, &post).await.value;
    let Reconciled::Found { remote_id, .. } = found.clone() else {
        panic!("expected found, got {found:?}");
    };
    // A publish after all re-uploads the image and writes the same record: a no-op.
    let again = adapter(&h).publish(&creds, &post).await.value;
    assert!(
        matches!(again, PublishOutcome::Published { remote_id: ref id, .. } if *id == remote_id),
        "{again:?}"
    );
    super::assert_carries(&h.sandbox, &post.media, true);
    let rkey = h.sandbox.ledger()[0].status_id.clone();
    let (first_cid, first_value) = stored_record(&h, &creds.remote_account_id, &rkey).await?;

    // On a PDS that never saw the first try, the retry writes a record with the same CID:
    // the same bytes, blob refs included.
    h.sandbox.reset();
    let fresh = adapter(&h).publish(&creds, &post).await.value;
    assert!(
        matches!(fresh, PublishOutcome::Published { remote_id: ref id, .. } if *id == remote_id),
        "{fresh:?}"
    );
    let (retry_cid, retry_value) = stored_record(&h, &creds.remote_account_id, &rkey).await?;
    assert_eq!(retry_value, first_value);
    assert_eq!(retry_cid, first_cid);
    super::assert_carries(&h.sandbox, &post.media, true);
    Ok(())
}
