//! The LinkedIn adapter against the sandbox: connecting as a member or an organization,
//! little-text escaping, the duplicate refusal, classification of every outcome, and
//! reconciliation by the author finder (or not, without the read scope).

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

/// A harness whose `LinkedIn-Version` is the current month, so it never ages out.
async fn harness() -> anyhow::Result<Harness> {
    let version = herald_sandbox::linkedin::current_version(Utc::now());
    Harness::start_with(&[("LINKEDIN_VERSION", &version)]).await
}

fn adapter(h: &Harness) -> &Arc<dyn PlatformAdapter> {
    let Some(adapter) = h.adapters.get(Platform::Linkedin) else {
        panic!("no Linkedin adapter");
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

async fn connected(h: &Harness, token: &str, account_ref: Option<&str>) -> anyhow::Result<Creds> {
    let account = adapter(h).connect(&input(token, account_ref)).await?;
    Ok(Creds {
        base_url: h.config.linkedin_url.clone(),
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
        .set_faults(herald_sandbox::Platform::Linkedin, faults)?)
}

fn drop_after_commit() -> Faults {
    Faults {
        drop_after_commit_rate: 1.0,
        ..Faults::default()
    }
}

#[tokio::test]
async fn connects_as_the_member_or_as_an_organization() -> anyhow::Result<()> {
    let h = harness().await?;
    let member = adapter(&h).connect(&input("li-a1", None)).await?;
    assert!(
        member.remote_account_id.starts_with("urn:li:person:"),
        "{}",
        member.remote_account_id
    );
    assert!(
        member.handle.starts_with("Sandbox Member"),
        "{}",
        member.handle
    );
    let again = adapter(&h).connect(&input("li-a1", None)).await?;
    assert_eq!(again.remote_account_id, member.remote_account_id);

    let org = adapter(&h)
        .connect(&input("li-a1", Some("urn:li:organization:2414183")))
        .await?;
    assert_eq!(org.remote_account_id, "urn:li:organization:2414183");
    assert_eq!(org.handle, "Sandbox Organization 2414183");

    for (token, account_ref, field) in [
        ("li-a1", Some("2414183"), "account_ref"),
        ("li-a1", Some("urn:li:organization:0"), "account_ref"),
        ("expired-li", None, "access_token"),
        ("expired-li", Some("urn:li:organization:1"), "access_token"),
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
async fn publishes_reserved_characters_escaped_so_readers_see_them_all() -> anyhow::Result<()> {
    let h = harness().await?;
    let creds = connected(&h, "li-a2", None).await?;
    let text = "Launch (today) #rust @team [beta] 50% off_now *wow* ~ok~ a|b {x} <y> \\o/";
    let reply = adapter(&h).publish(&creds, &publication(text)).await;
    let PublishOutcome::Published {
        remote_id,
        remote_url,
    } = reply.value
    else {
        panic!("not published: {reply:?}");
    };
    assert!(remote_id.starts_with("urn:li:share:"), "{remote_id}");
    assert_eq!(
        remote_url.as_deref(),
        Some(format!("https://www.linkedin.com/feed/update/{remote_id}/").as_str())
    );
    let ledger = h.sandbox.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].text, text, "nothing was cut");
    assert_eq!(ledger[0].account_id, creds.remote_account_id);
    assert_eq!(ledger[0].status_id, remote_id);
    Ok(())
}

#[tokio::test]
async fn a_dropped_response_is_ambiguous_and_the_finder_reconciles_it() -> anyhow::Result<()> {
    let h = harness().await?;
    let creds = connected(&h, "li-a3", None).await?;
    let post = publication("did it (really) post?");
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
        Reconciled::Found {
            remote_id,
            remote_url,
        } => {
            assert_eq!(remote_id, ledger[0].status_id);
            assert!(remote_url.is_some());
        }
        other => panic!("expected found, got {other:?}"),
    }
    // Another text is not mistaken for it.
    assert_eq!(
        adapter(&h)
            .reconcile(&creds, &publication("did it post?"))
            .await
            .value,
        Reconciled::Absent
    );
    assert_eq!(h.sandbox.ledger().len(), 1);
    Ok(())
}

#[tokio::test]
async fn publishing_the_same_text_again_finds_the_first_post() -> anyhow::Result<()> {
    let h = harness().await?;
    let creds = connected(&h, "li-a4", Some("urn:li:organization:77")).await?;
    let post = publication("company news");
    let PublishOutcome::Published { remote_id, .. } =
        adapter(&h).publish(&creds, &post).await.value
    else {
        panic!("not published");
    };
    let again = adapter(&h).publish(&creds, &post).await.value;
    assert_eq!(
        again,
        PublishOutcome::Published {
            remote_url: Some(format!("https://www.linkedin.com/feed/update/{remote_id}/")),
            remote_id: remote_id.clone(),
        }
    );
    assert_eq!(h.sandbox.ledger().len(), 1);
    assert_eq!(h.sandbox.ledger()[0].account_id, "urn:li:organization:77");
    match adapter(&h).reconcile(&creds, &post).await.value {
        Reconciled::Found {
            remote_id: found, ..
        } => assert_eq!(found, remote_id),
        other => panic!("expected found, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn throttling_outages_and_refused_tokens_are_classified() -> anyhow::Result<()> {
    let h = harness().await?;
    let creds = connected(&h, "li-a5", None).await?;
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
                retry_after: Some(wait),
                ..
            } if wait == std::time::Duration::from_secs(2)
        ),
        "the injected throttle says when to come back: {reply:?}"
    );
    let Some(rate) = reply.rate else {
        panic!("a daily limit is reported as spent: {reply:?}");
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

    for token in ["expired-li", "readonly-li", ""] {
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
async fn a_retired_version_is_a_configuration_problem() -> anyhow::Result<()> {
    let h = Harness::start_with(&[("LINKEDIN_VERSION", "202001")]).await?;
    // userinfo is unversioned, so connecting a member still works.
    let creds = connected(&h, "li-a6", None).await?;
    let post = publication("too old");
    match adapter(&h).publish(&creds, &post).await.value {
        PublishOutcome::Terminal { reason } => {
            assert!(reason.contains("LinkedIn-Version 202001"), "{reason}")
        }
        other => panic!("expected terminal, got {other:?}"),
    }
    assert!(matches!(
        adapter(&h).reconcile(&creds, &post).await.value,
        Reconciled::Unverifiable { .. }
    ));
    assert!(matches!(
        adapter(&h)
            .connect(&input("li-a6", Some("urn:li:organization:5")))
            .await,
        Err(ConnectError::Unreachable(_))
    ));
    assert!(h.sandbox.ledger().is_empty());
    Ok(())
}

#[tokio::test]
async fn without_the_read_scope_an_ambiguous_post_needs_a_person() -> anyhow::Result<()> {
    let h = harness().await?;
    let creds = connected(&h, "noscope-li-a7", None).await?;
    let post = publication("who can tell?");
    set_faults(&h, drop_after_commit())?;
    let first = adapter(&h).publish(&creds, &post).await.value;
    assert!(
        matches!(first, PublishOutcome::Ambiguous { .. }),
        "{first:?}"
    );
    set_faults(&h, Faults::default())?;
    match adapter(&h).reconcile(&creds, &post).await.value {
        Reconciled::Unverifiable { reason } => assert!(reason.contains("403"), "{reason}"),
        other => panic!("expected unverifiable, got {other:?}"),
    }
    assert_eq!(h.sandbox.ledger().len(), 1);
    Ok(())
}

#[tokio::test]
async fn tokens_cannot_be_refreshed() -> anyhow::Result<()> {
    let h = harness().await?;
    let creds = connected(&h, "li-a8", None).await?;
    let refreshed = adapter(&h)
        .refresh(&creds, &Secret::new("refresh-token"))
        .await;
    assert!(matches!(refreshed, Err(RefreshError::Unsupported)));
    Ok(())
}

#[tokio::test]
async fn one_image_is_uploaded_and_posted_as_media_with_its_alt_text() -> anyhow::Result<()> {
    let h = harness().await?;
    let creds = connected(&h, "member-token-media", None).await?;
    let mut post = publication("a post with one image");
    post.media = super::image(None);
    let outcome = adapter(&h).publish(&creds, &post).await.value;
    assert!(
        matches!(outcome, PublishOutcome::Published { .. }),
        "{outcome:?}"
    );
    super::assert_carries(&h.sandbox, &post.media, true);
    let ledger = h.sandbox.ledger();
    assert!(ledger[0].media_ids[0].starts_with("urn:li:image:"));
    Ok(())
}

#[tokio::test]
async fn several_images_are_posted_as_a_multi_image_post() -> anyhow::Result<()> {
    let h = harness().await?;
    let creds = connected(
        &h,
        "member-token-media-2",
        Some("urn:li:organization:2414183"),
    )
    .await?;
    let mut post = publication("a post with two images");
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
async fn a_failed_image_upload_is_retryable_and_posts_nothing() -> anyhow::Result<()> {
    let h = harness().await?;
    let creds = connected(&h, "member-token-media-3", None).await?;
    let mut post = publication("a post whose image fails");
    post.media = super::image(None);
    super::assert_failed_uploads_are_retryable(
        &h,
        herald_sandbox::Platform::Linkedin,
        adapter(&h).as_ref(),
        &creds,
        &post,
    )
    .await?;
    Ok(())
}
