//! The Facebook Pages adapter against the sandbox: connecting a page, classification of every
//! outcome by Graph error code, usage headers, and reconciliation by listing the page's posts
//! (or not, without the read permission).

use super::Harness;
use chrono::Utc;
use herald_contracts::messages::Platform;
use herald_kit::Secret;
use herald_publisher::adapters::{
    ConnectError, ConnectInput, Creds, PlatformAdapter, Publication, PublishOutcome, Reconciled,
    RefreshError,
};
use herald_sandbox::Faults;
use std::sync::Arc;
use std::time::Duration;

const PAGE: &str = "104857600";

fn adapter(h: &Harness) -> &Arc<dyn PlatformAdapter> {
    let Some(adapter) = h.adapters.get(Platform::Facebook) else {
        panic!("no Facebook adapter");
    };
    adapter
}

fn input(token: &str, account_ref: Option<&str>) -> ConnectInput {
    ConnectInput {
        access_token: Some(Secret::new(token)),
        account_ref: account_ref.map(str::to_owned),
        ..ConnectInput::default()
    }
}

async fn connected(h: &Harness, token: &str) -> anyhow::Result<Creds> {
    let account = adapter(h).connect(&input(token, Some(PAGE))).await?;
    Ok(Creds {
        base_url: h.config.facebook_url.clone(),
        remote_account_id: account.remote_account_id,
        access_token: account.tokens.access_token,
    })
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
    Ok(h.sandbox
        .set_faults(herald_sandbox::Platform::Facebook, faults)?)
}

fn drop_after_commit() -> Faults {
    Faults {
        drop_after_commit_rate: 1.0,
        ..Faults::default()
    }
}

#[tokio::test]
async fn connects_the_page_named_by_account_ref() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let page = adapter(&h).connect(&input("fb-a1", Some(PAGE))).await?;
    assert_eq!(page.remote_account_id, PAGE);
    assert_eq!(page.handle, format!("Sandbox Page {PAGE}"));
    assert!(page.tokens.refresh_token.is_none());

    for (token, account_ref, field) in [
        ("fb-a1", None, "account_ref"),
        ("fb-a1", Some("my-page"), "account_ref"),
        ("fb-a1", Some("0"), "account_ref"),
        ("expired-fb", Some(PAGE), "access_token"),
    ] {
        match adapter(&h).connect(&input(token, account_ref)).await {
            Err(ConnectError::Rejected(reason)) => {
                assert!(reason.starts_with(field), "{reason}")
            }
            other => panic!("expected a rejection naming {field}, got {other:?}"),
        }
    }
    Ok(())
}

#[tokio::test]
async fn publishes_to_the_page_feed() -> anyhow::Result<()> {
    let h = Harness::start_with(&[("GRAPH_VERSION", "v19.0")]).await?;
    let creds = connected(&h, "fb-a2").await?;
    let text = "Hello page & friends\n<b>not html</b>";
    let reply = adapter(&h).publish(&creds, &publication(text)).await;
    let PublishOutcome::Published {
        remote_id,
        remote_url,
    } = reply.value
    else {
        panic!("not published: {reply:?}");
    };
    let Some((page, post)) = remote_id.split_once('_') else {
        panic!("not <page>_<post>: {remote_id}");
    };
    assert_eq!(page, PAGE);
    assert_eq!(
        remote_url.as_deref(),
        Some(format!("https://www.facebook.com/{PAGE}/posts/{post}").as_str())
    );
    assert!(reply.rate.is_none(), "usage is far below 100 %");
    let ledger = h.sandbox.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].text, text);
    assert_eq!(ledger[0].account_id, PAGE);
    assert_eq!(ledger[0].status_id, remote_id);
    Ok(())
}

#[tokio::test]
async fn a_dropped_response_is_ambiguous_and_the_page_posts_reconcile_it() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let creds = connected(&h, "fb-a3").await?;
    let post = publication("did it  post?");
    assert_eq!(
        adapter(&h).reconcile(&creds, &post).await.value,
        Reconciled::Absent,
        "nothing before the first attempt"
    );
    set_faults(&h, drop_after_commit())?;
    let first = adapter(&h).publish(&creds, &post).await.value;
    assert!(
        matches!(first, PublishOutcome::Ambiguous { .. }),
        "{first:?}"
    );
    set_faults(&h, Faults::default())?;

    let ledger = h.sandbox.ledger();
    assert_eq!(ledger.len(), 1);
    match adapter(&h).reconcile(&creds, &post).await.value {
        Reconciled::Found { remote_id, .. } => assert_eq!(remote_id, ledger[0].status_id),
        other => panic!("expected found, got {other:?}"),
    }
    assert_eq!(
        adapter(&h)
            .reconcile(&creds, &publication("something else"))
            .await
            .value,
        Reconciled::Absent
    );
    assert_eq!(h.sandbox.ledger().len(), 1);
    Ok(())
}

#[tokio::test]
async fn throttling_outages_and_refused_tokens_are_classified() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let creds = connected(&h, "fb-a4").await?;
    let post = publication("classified");
    set_faults(
        &h,
        Faults {
            rate_limit_rate: 1.0,
            ..Faults::default()
        },
    )?;
    let reply = adapter(&h).publish(&creds, &post).await;
    match &reply.value {
        PublishOutcome::Retryable { retry_after, .. } => {
            // The sandbox's throttle reports one minute to regain access.
            assert_eq!(*retry_after, Some(Duration::from_secs(60)))
        }
        other => panic!("expected retryable, got {other:?}"),
    }
    let Some(rate) = reply.rate else {
        panic!("usage at 100 % is reported: {reply:?}");
    };
    assert_eq!(rate.remaining, 0);
    assert!(rate.reset_at > Utc::now());

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

    for token in ["expired-fb", "readonly-fb", ""] {
        let bad = Creds {
            access_token: Secret::new(token),
            ..creds.clone()
        };
        let reply = adapter(&h).publish(&bad, &post).await;
        assert!(
            matches!(reply.value, PublishOutcome::Terminal { .. }),
            "{token}: {reply:?}"
        );
    }
    assert!(h.sandbox.ledger().is_empty());
    Ok(())
}

#[tokio::test]
async fn a_repeat_of_the_latest_post_is_refused_not_retried() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let creds = connected(&h, "fb-a5").await?;
    let post = publication("say it once");
    assert!(matches!(
        adapter(&h).publish(&creds, &post).await.value,
        PublishOutcome::Published { .. }
    ));
    match adapter(&h).publish(&creds, &post).await.value {
        PublishOutcome::Terminal { reason } => assert!(reason.contains("506"), "{reason}"),
        other => panic!("expected terminal, got {other:?}"),
    }
    assert_eq!(h.sandbox.ledger().len(), 1);
    Ok(())
}

#[tokio::test]
async fn without_the_read_permission_an_ambiguous_post_needs_a_person() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let creds = connected(&h, "noscope-fb-a6").await?;
    let post = publication("who can tell?");
    set_faults(&h, drop_after_commit())?;
    let first = adapter(&h).publish(&creds, &post).await.value;
    assert!(
        matches!(first, PublishOutcome::Ambiguous { .. }),
        "{first:?}"
    );
    set_faults(&h, Faults::default())?;
    match adapter(&h).reconcile(&creds, &post).await.value {
        Reconciled::Unverifiable { reason } => {
            assert!(reason.contains("pages_read_engagement"), "{reason}")
        }
        other => panic!("expected unverifiable, got {other:?}"),
    }
    let expired = Creds {
        access_token: Secret::new("expired-fb"),
        ..creds.clone()
    };
    assert!(matches!(
        adapter(&h).reconcile(&expired, &post).await.value,
        Reconciled::Unverifiable { .. }
    ));
    assert_eq!(h.sandbox.ledger().len(), 1);
    Ok(())
}

#[tokio::test]
async fn page_tokens_are_not_refreshed() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let creds = connected(&h, "fb-a7").await?;
    let refreshed = adapter(&h).refresh(&creds, &Secret::new("nothing")).await;
    assert!(matches!(refreshed, Err(RefreshError::Unsupported)));
    Ok(())
}

#[tokio::test]
async fn photos_are_uploaded_unpublished_and_attached_to_the_post() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let creds = connected(&h, "page-token-media").await?;
    let mut post = publication("a page post with photos");
    post.media = super::two_images();
    let outcome = adapter(&h).publish(&creds, &post).await.value;
    assert!(
        matches!(outcome, PublishOutcome::Published { .. }),
        "{outcome:?}"
    );
    super::assert_carries(&h.sandbox, &post.media, true);
    Ok(())
}

#[tokio::test]
async fn a_throttled_photo_upload_is_retryable_and_posts_nothing() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let creds = connected(&h, "page-token-media-fail").await?;
    let mut post = publication("a page post whose photo fails");
    post.media = super::image(None);
    super::assert_failed_uploads_are_retryable(
        &h,
        herald_sandbox::Platform::Facebook,
        adapter(&h).as_ref(),
        &creds,
        &post,
    )
    .await?;
    Ok(())
}
