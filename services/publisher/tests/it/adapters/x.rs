//! The X adapter against the sandbox: classification of every outcome, the duplicate-content
//! refusal after an ambiguous attempt, timeline reconciliation, and OAuth 2.0 refresh.

use super::Harness;
use chrono::{Duration, Utc};
use herald_contracts::messages::Platform;
use herald_kit::Secret;
use herald_publisher::adapters::{
    ConnectError, ConnectInput, Creds, PlatformAdapter, Publication, PublishOutcome, Reconciled,
    RefreshError,
};
use herald_sandbox::Faults;

fn adapter(h: &Harness) -> &dyn PlatformAdapter {
    match h.adapters.get(Platform::X) {
        Some(adapter) => adapter.as_ref(),
        None => panic!("no X adapter"),
    }
}

async fn connected(h: &Harness, token: &str) -> anyhow::Result<Creds> {
    let input = ConnectInput {
        access_token: Some(Secret::new(token)),
        ..ConnectInput::default()
    };
    let account = adapter(h).connect(&input).await?;
    Ok(Creds {
        base_url: h.config.x_url.clone(),
        remote_account_id: account.remote_account_id,
        access_token: account.tokens.access_token,
    })
}

fn with_token(creds: &Creds, token: &str) -> Creds {
    Creds {
        access_token: Secret::new(token),
        ..creds.clone()
    }
}

fn publication(text: &str) -> Publication {
    Publication {
        text: text.into(),
        idempotency_key: "post:account".into(),
        first_attempt_at: Utc::now(),
        checkpoint: None,
        media: Vec::new(),
    }
}

fn set_faults(h: &Harness, faults: Faults) -> anyhow::Result<()> {
    Ok(h.sandbox.set_faults(herald_sandbox::Platform::X, faults)?)
}

fn drop_after_commit() -> Faults {
    Faults {
        drop_after_commit_rate: 1.0,
        ..Faults::default()
    }
}

#[tokio::test]
async fn connect_reads_the_user_behind_the_token() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let input = ConnectInput {
        access_token: Some(Secret::new("token-x1")),
        refresh_token: Some(Secret::new("refresh-x1")),
        expires_in: Some(7200),
        ..ConnectInput::default()
    };
    let account = adapter(&h).connect(&input).await?;
    assert!(account.remote_account_id.parse::<u64>().is_ok());
    assert!(account.handle.starts_with("user_"));
    assert_eq!(
        account.tokens.refresh_token.as_ref().map(Secret::expose),
        Some("refresh-x1")
    );
    let lifetime = account.tokens.expires_at.expect("expiry") - Utc::now();
    assert!(lifetime > Duration::minutes(119) && lifetime <= Duration::minutes(120));

    for token in ["expired-token-x1", "noscope-token-x1"] {
        let input = ConnectInput {
            access_token: Some(Secret::new(token)),
            ..ConnectInput::default()
        };
        let refused = adapter(&h).connect(&input).await;
        assert!(
            matches!(refused, Err(ConnectError::Rejected(_))),
            "{refused:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn publish_creates_the_tweet_and_reconcile_finds_it() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let creds = connected(&h, "token-x2").await?;
    // Escaped entities and a t.co-wrapped link must still match the text we sent.
    let post = publication("Launch day & more: https://example.com/launch?ref=herald <3");
    assert_eq!(
        adapter(&h).reconcile(&creds, &post).await.value,
        Reconciled::Absent
    );
    let reply = adapter(&h).publish(&creds, &post).await;
    let PublishOutcome::Published {
        remote_id,
        remote_url,
    } = reply.value.clone()
    else {
        panic!("not published: {reply:?}");
    };
    assert_eq!(
        remote_url.as_deref(),
        Some(format!("https://x.com/i/web/status/{remote_id}").as_str())
    );
    assert_eq!(reply.rate.map(|r| r.remaining), Some(99));
    assert_eq!(
        adapter(&h).reconcile(&creds, &post).await.value,
        Reconciled::Found {
            remote_id: remote_id.clone(),
            remote_url,
        }
    );
    let ledger = h.sandbox.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].status_id, remote_id);
    assert_eq!(ledger[0].account_id, creds.remote_account_id);
    Ok(())
}

#[tokio::test]
async fn a_dropped_answer_is_ambiguous_and_reconcile_finds_the_one_tweet() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let creds = connected(&h, "token-x3").await?;
    let post = publication("did it post?");
    set_faults(&h, drop_after_commit())?;
    let first = adapter(&h).publish(&creds, &post).await.value;
    assert!(
        matches!(first, PublishOutcome::Ambiguous { .. }),
        "{first:?}"
    );
    set_faults(&h, Faults::default())?;

    let ledger = h.sandbox.ledger();
    assert_eq!(ledger.len(), 1, "exactly one tweet reached the network");
    let found = adapter(&h).reconcile(&creds, &post).await.value;
    assert!(
        matches!(found, Reconciled::Found { ref remote_id, .. } if *remote_id == ledger[0].status_id),
        "{found:?}"
    );

    // A publish after all is refused as duplicate content, which is our earlier tweet.
    let again = adapter(&h).publish(&creds, &post).await.value;
    assert!(
        matches!(again, PublishOutcome::Published { ref remote_id, .. } if *remote_id == ledger[0].status_id),
        "{again:?}"
    );
    assert_eq!(h.sandbox.ledger().len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_duplicate_of_an_older_tweet_is_terminal() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let creds = connected(&h, "token-x4").await?;
    let earlier = publication("good morning");
    assert!(matches!(
        adapter(&h).publish(&creds, &earlier).await.value,
        PublishOutcome::Published { .. }
    ));
    // Another post with the same text, first attempted well after the earlier tweet.
    let later = Publication {
        first_attempt_at: Utc::now() + Duration::minutes(10),
        idempotency_key: "other-post:account".into(),
        ..earlier.clone()
    };
    let reply = adapter(&h).publish(&creds, &later).await.value;
    assert!(
        matches!(reply, PublishOutcome::Terminal { ref reason } if reason.contains("duplicate")),
        "{reply:?}"
    );
    assert_eq!(h.sandbox.ledger().len(), 1);
    Ok(())
}

#[tokio::test]
async fn without_read_scope_reconciliation_is_unverifiable() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let creds = connected(&h, "token-x5").await?;
    let no_read = with_token(&creds, "noscope-token-x5");
    let post = publication("posted blind");
    set_faults(&h, drop_after_commit())?;
    let first = adapter(&h).publish(&no_read, &post).await.value;
    assert!(
        matches!(first, PublishOutcome::Ambiguous { .. }),
        "{first:?}"
    );
    set_faults(&h, Faults::default())?;

    let reconciled = adapter(&h).reconcile(&no_read, &post).await.value;
    assert!(
        matches!(reconciled, Reconciled::Unverifiable { .. }),
        "{reconciled:?}"
    );
    // The duplicate refusal cannot be checked either: still ambiguous, never "failed".
    let again = adapter(&h).publish(&no_read, &post).await.value;
    assert!(
        matches!(again, PublishOutcome::Ambiguous { .. }),
        "{again:?}"
    );
    assert_eq!(h.sandbox.ledger().len(), 1);
    Ok(())
}

#[tokio::test]
async fn throttling_outages_and_bad_tokens_are_classified() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let creds = connected(&h, "token-x6").await?;
    let post = publication("classified");
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

    let reply = adapter(&h)
        .publish(&with_token(&creds, "expired-token-x6"), &post)
        .await;
    assert!(
        matches!(reply.value, PublishOutcome::Terminal { .. }),
        "{reply:?}"
    );
    let too_long = publication(&"y".repeat(281));
    let reply = adapter(&h).publish(&creds, &too_long).await;
    assert!(
        matches!(reply.value, PublishOutcome::Terminal { ref reason } if reason.contains("too long")),
        "{reply:?}"
    );
    assert!(h.sandbox.ledger().is_empty());
    Ok(())
}

/// An access/refresh pair issued by the sandbox's token endpoint for the user `code` stands for.
async fn issued_tokens(h: &Harness, code: &str) -> anyhow::Result<(String, String)> {
    let body: serde_json::Value = h
        .http
        .post(format!("{}/2/oauth2/token", h.config.x_url))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", "herald"),
        ])
        .send()
        .await?
        .json()
        .await?;
    Ok((
        body["access_token"].as_str().unwrap_or_default().to_owned(),
        body["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    ))
}

#[tokio::test]
async fn refresh_rotates_tokens_for_the_same_user() -> anyhow::Result<()> {
    let h =
        Harness::start_with(&[("X_CLIENT_ID", "herald"), ("X_CLIENT_SECRET", "s3cret")]).await?;
    let (access, refresh) = issued_tokens(&h, "user-x7").await?;
    let creds = connected(&h, &access).await?;
    let tokens = adapter(&h).refresh(&creds, &Secret::new(&refresh)).await?;
    let rotated = tokens.refresh_token.expect("rotated refresh token");
    assert_ne!(rotated.expose(), refresh);
    assert!(tokens.expires_at.is_some_and(|at| at > Utc::now()));
    let again = connected(&h, tokens.access_token.expose()).await?;
    assert_eq!(again.remote_account_id, creds.remote_account_id);

    // X's refresh tokens are single use.
    let spent = adapter(&h).refresh(&creds, &Secret::new(&refresh)).await;
    assert!(matches!(spent, Err(RefreshError::Rejected(_))), "{spent:?}");

    // A refresh answer without a refresh token means "keep the stored one".
    let kept = adapter(&h)
        .refresh(&creds, &Secret::new("keep-user-x7"))
        .await?;
    assert!(kept.refresh_token.is_none());
    assert_eq!(
        connected(&h, kept.access_token.expose())
            .await?
            .remote_account_id,
        creds.remote_account_id
    );
    Ok(())
}

#[tokio::test]
async fn refresh_needs_a_configured_client() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let creds = connected(&h, "token-x8").await?;
    let refused = adapter(&h).refresh(&creds, &Secret::new("xrt.1.abc")).await;
    assert!(
        matches!(refused, Err(RefreshError::Unavailable(_))),
        "{refused:?}"
    );
    Ok(())
}

#[tokio::test]
async fn images_are_uploaded_described_and_attached() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let creds = connected(&h, "token-x-media").await?;
    let mut post = publication("a tweet with pictures");
    post.media = super::two_images();
    let outcome = adapter(&h).publish(&creds, &post).await.value;
    assert!(
        matches!(outcome, PublishOutcome::Published { .. }),
        "{outcome:?}"
    );
    super::assert_carries(&h.sandbox, &post.media, true);
    assert_eq!(h.sandbox.ledger()[0].media_ids.len(), 2);
    Ok(())
}

#[tokio::test]
async fn a_throttled_or_failed_upload_is_retryable_and_tweets_nothing() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let creds = connected(&h, "token-x-media-fail").await?;
    let mut post = publication("a tweet whose picture fails");
    post.media = super::image(None);
    super::assert_failed_uploads_are_retryable(
        &h,
        herald_sandbox::Platform::X,
        adapter(&h),
        &creds,
        &post,
    )
    .await?;
    set_faults(&h, Faults::default())?;
    let bad_token = with_token(&creds, "expired-token-x-media-fail");
    let outcome = adapter(&h).publish(&bad_token, &post).await.value;
    assert!(
        matches!(outcome, PublishOutcome::Terminal { .. }),
        "{outcome:?}"
    );
    Ok(())
}
