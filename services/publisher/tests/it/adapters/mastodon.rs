//! The Mastodon adapter against the sandbox.

use super::Harness;
use chrono::Utc;
use herald_contracts::messages::Platform;
use herald_kit::Secret;
use herald_publisher::adapters::{ConnectInput, Creds, Publication, PublishOutcome, Reconciled};
use herald_sandbox::Faults;

async fn connected(h: &Harness, token: &str) -> anyhow::Result<Creds> {
    let adapter = h.adapters.get(Platform::Mastodon).expect("adapter");
    let input = ConnectInput {
        base_url: h.sandbox.base_url().to_owned(),
        access_token: Some(Secret::new(token)),
        ..ConnectInput::default()
    };
    let account = adapter.connect(&input).await?;
    Ok(Creds {
        base_url: h.sandbox.base_url().to_owned(),
        remote_account_id: account.remote_account_id,
        access_token: account.tokens.access_token,
    })
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

#[tokio::test]
async fn a_dropped_response_is_ambiguous_and_the_same_key_reconciles_it() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let adapter = h.adapters.get(Platform::Mastodon).expect("adapter");
    let creds = connected(&h, "token-m1").await?;
    let post = publication("hello once", "key-1");
    h.sandbox.set_faults(
        herald_sandbox::Platform::Mastodon,
        Faults {
            drop_after_commit_rate: 1.0,
            ..Faults::default()
        },
    )?;
    let first = adapter.publish(&creds, &post).await.value;
    assert!(
        matches!(first, PublishOutcome::Ambiguous { .. }),
        "{first:?}"
    );
    h.sandbox
        .set_faults(herald_sandbox::Platform::Mastodon, Faults::default())?;
    // Within the idempotency window a resend is the reconciliation.
    assert_eq!(
        adapter.reconcile(&creds, &post).await.value,
        Reconciled::Absent
    );
    let second = adapter.publish(&creds, &post).await.value;
    assert!(
        matches!(second, PublishOutcome::Published { .. }),
        "{second:?}"
    );
    assert_eq!(h.sandbox.ledger().len(), 1);
    Ok(())
}

#[tokio::test]
async fn past_the_window_the_status_is_found_by_its_text() -> anyhow::Result<()> {
    let h = Harness::start_with(&[("MASTODON_IDEMPOTENCY_WINDOW_SECS", "0")]).await?;
    let adapter = h.adapters.get(Platform::Mastodon).expect("adapter");
    let creds = connected(&h, "token-m2").await?;
    let post = publication("a <b> & 'c'\nnext line", "key-2");
    assert_eq!(
        adapter.reconcile(&creds, &post).await.value,
        Reconciled::Absent
    );
    let PublishOutcome::Published { remote_id, .. } = adapter.publish(&creds, &post).await.value
    else {
        panic!("not published");
    };
    match adapter.reconcile(&creds, &post).await.value {
        Reconciled::Found {
            remote_id: found, ..
        } => assert_eq!(found, remote_id),
        other => panic!("expected found, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn outages_throttling_and_bad_tokens_are_classified() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let adapter = h.adapters.get(Platform::Mastodon).expect("adapter");
    let creds = connected(&h, "token-m3").await?;
    let post = publication("classified", "key-3");
    h.sandbox.set_faults(
        herald_sandbox::Platform::Mastodon,
        Faults {
            rate_limit_rate: 1.0,
            ..Faults::default()
        },
    )?;
    let reply = adapter.publish(&creds, &post).await;
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
    h.sandbox.set_faults(
        herald_sandbox::Platform::Mastodon,
        Faults {
            error_rate: 1.0,
            ..Faults::default()
        },
    )?;
    let reply = adapter.publish(&creds, &post).await;
    assert!(
        matches!(reply.value, PublishOutcome::Ambiguous { .. }),
        "{reply:?}"
    );
    h.sandbox
        .set_faults(herald_sandbox::Platform::Mastodon, Faults::default())?;
    let no_token = Creds {
        access_token: Secret::new(""),
        ..creds.clone()
    };
    let reply = adapter.publish(&no_token, &post).await;
    assert!(
        matches!(reply.value, PublishOutcome::Terminal { .. }),
        "{reply:?}"
    );
    assert!(h.sandbox.ledger().is_empty());
    Ok(())
}

#[tokio::test]
async fn images_are_uploaded_with_their_alt_text_and_attached() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let adapter = h.adapters.get(Platform::Mastodon).expect("adapter");
    let creds = connected(&h, "token-m-media").await?;
    let mut post = publication("with pictures", "key-media");
    post.media = super::two_images();
    let outcome = adapter.publish(&creds, &post).await.value;
    assert!(
        matches!(outcome, PublishOutcome::Published { .. }),
        "{outcome:?}"
    );
    super::assert_carries(&h.sandbox, &post.media, true);
    Ok(())
}

#[tokio::test]
async fn a_failed_upload_is_retryable_and_posts_nothing() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let adapter = h.adapters.get(Platform::Mastodon).expect("adapter");
    let creds = connected(&h, "token-m-media-fail").await?;
    let mut post = publication("with a picture", "key-media-fail");
    post.media = super::image(None);
    super::assert_failed_uploads_are_retryable(
        &h,
        herald_sandbox::Platform::Mastodon,
        adapter.as_ref(),
        &creds,
        &post,
    )
    .await?;
    h.sandbox
        .set_faults(herald_sandbox::Platform::Mastodon, Faults::default())?;
    let outcome = adapter.publish(&creds, &post).await.value;
    assert!(
        matches!(outcome, PublishOutcome::Published { .. }),
        "{outcome:?}"
    );
    super::assert_carries(&h.sandbox, &post.media, true);
    Ok(())
}
