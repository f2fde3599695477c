//! The threads adapter against the sandbox.

// A failed unwrap is a failed test, with the value in the message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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

fn adapter(h: &Harness) -> Arc<dyn PlatformAdapter> {
    h.adapters.get(Platform::Threads).expect("adapter").clone()
}

fn sandbox(h: &Harness, path: &str) -> String {
    format!("{}/threads{path}", h.sandbox.base_url())
}

async fn set_processing(h: &Harness, millis: u64) {
    let response = h
        .http
        .put(sandbox(h, "/__sandbox/processing"))
        .json(&serde_json::json!({ "processing_ms": millis }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

fn input(h: &Harness, token: &str) -> ConnectInput {
    ConnectInput {
        base_url: h.config.threads_url.clone(),
        access_token: Some(Secret::new(token)),
        ..ConnectInput::default()
    }
}

async fn connected(h: &Harness, token: &str) -> Creds {
    let account = adapter(h).connect(&input(h, token)).await.unwrap();
    Creds {
        base_url: h.config.threads_url.clone(),
        remote_account_id: account.remote_account_id,
        access_token: account.tokens.access_token,
    }
}

fn publication(text: &str) -> Publication {
    Publication {
        text: text.into(),
        idempotency_key: format!("key-{text}"),
        first_attempt_at: Utc::now(),
        checkpoint: None,
        media: Vec::new(),
    }
}

async fn checkpointed(a: &dyn PlatformAdapter, creds: &Creds, post: Publication) -> Publication {
    match a.publish(creds, &post).await.value {
        PublishOutcome::Checkpoint { reference } => Publication {
            checkpoint: Some(reference),
            ..post
        },
        other => panic!("expected a checkpoint, got {other:?}"),
    }
}

fn set_faults(h: &Harness, faults: Faults) {
    h.sandbox
        .set_faults(herald_sandbox::Platform::Threads, faults)
        .unwrap();
}

#[tokio::test]
async fn connect_verifies_the_token() {
    let h = Harness::start().await.unwrap();
    let a = adapter(&h);
    let connected = a.connect(&input(&h, "token-t1")).await.unwrap();
    assert!(connected.handle.starts_with("user_"));
    assert!(!connected.remote_account_id.is_empty());
    let same = ConnectInput {
        account_ref: Some(connected.remote_account_id.clone()),
        ..input(&h, "token-t1")
    };
    assert!(a.connect(&same).await.is_ok());
    let other = ConnectInput {
        account_ref: Some("25000000000000001".into()),
        ..input(&h, "token-t1")
    };
    assert!(
        matches!(a.connect(&other).await, Err(ConnectError::Rejected(r)) if r.starts_with("account_ref"))
    );
    assert!(matches!(
        a.connect(&input(&h, "expired-t1")).await,
        Err(ConnectError::Rejected(r)) if r.starts_with("access_token")
    ));
}

#[tokio::test]
async fn a_text_post_goes_checkpoint_pending_published() {
    let h = Harness::start().await.unwrap();
    let a = adapter(&h);
    let creds = connected(&h, "token-t2").await;
    set_processing(&h, 1500).await;
    let post = checkpointed(a.as_ref(), &creds, publication("a thread, once 🧵")).await;
    let pending = a.publish(&creds, &post).await.value;
    assert!(
        matches!(pending, PublishOutcome::Pending { .. }),
        "{pending:?}"
    );
    assert!(h.sandbox.ledger().is_empty());
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let PublishOutcome::Published {
        remote_id,
        remote_url,
    } = a.publish(&creds, &post).await.value
    else {
        panic!("not published");
    };
    assert!(
        remote_url
            .unwrap()
            .starts_with("https://www.threads.net/@user_")
    );
    let ledger = h.sandbox.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].status_id, remote_id);
    assert!(ledger[0].media_ids.is_empty(), "a TEXT post");
    match a.publish(&creds, &post).await.value {
        PublishOutcome::Published {
            remote_id: again, ..
        } => assert_eq!(again, remote_id),
        other => panic!("expected published, got {other:?}"),
    }

    set_processing(&h, 0).await;
    let image = Publication {
        media: super::image(Some("https://cdn.example.com/card.png")),
        ..publication("with a picture")
    };
    let image = checkpointed(a.as_ref(), &creds, image).await;
    assert!(matches!(
        a.publish(&creds, &image).await.value,
        PublishOutcome::Published { .. }
    ));
    let ledger = h.sandbox.ledger();
    assert_eq!(
        ledger[1].media_ids,
        vec!["https://cdn.example.com/card.png".to_owned()]
    );
}

#[tokio::test]
async fn a_dropped_publish_reconciles_to_found_with_one_post() {
    let h = Harness::start().await.unwrap();
    let a = adapter(&h);
    let creds = connected(&h, "token-t3").await;
    set_processing(&h, 0).await;
    let fresh = publication("did it thread?");
    assert_eq!(a.reconcile(&creds, &fresh).await.value, Reconciled::Absent);
    let post = checkpointed(a.as_ref(), &creds, fresh).await;
    set_faults(
        &h,
        Faults {
            drop_after_commit_rate: 1.0,
            ..Faults::default()
        },
    );
    let dropped = a.publish(&creds, &post).await.value;
    assert!(
        matches!(dropped, PublishOutcome::Ambiguous { .. }),
        "{dropped:?}"
    );
    set_faults(&h, Faults::default());
    let ledger = h.sandbox.ledger();
    assert_eq!(ledger.len(), 1);
    match a.reconcile(&creds, &post).await.value {
        Reconciled::Found { remote_id, .. } => assert_eq!(remote_id, ledger[0].status_id),
        other => panic!("expected found, got {other:?}"),
    }
    // Publishing again after the reconciliation cannot duplicate either.
    assert!(matches!(
        a.publish(&creds, &post).await.value,
        PublishOutcome::Published { .. }
    ));
    assert_eq!(h.sandbox.ledger().len(), 1);
}

#[tokio::test]
async fn concurrent_publishes_and_expiry() {
    let h = Harness::start().await.unwrap();
    let a = adapter(&h);
    let creds = connected(&h, "token-t4").await;
    set_processing(&h, 0).await;
    let post = checkpointed(a.as_ref(), &creds, publication("raced")).await;
    set_faults(
        &h,
        Faults {
            latency_ms: 300,
            ..Faults::default()
        },
    );
    let (first, second) = tokio::join!(a.publish(&creds, &post), a.publish(&creds, &post));
    set_faults(&h, Faults::default());
    assert_eq!(first.value, second.value);
    assert!(
        matches!(first.value, PublishOutcome::Published { .. }),
        "{:?}",
        first.value
    );
    assert_eq!(h.sandbox.ledger().len(), 1);

    let late = checkpointed(a.as_ref(), &creds, publication("expiring")).await;
    let old = late.checkpoint.clone().unwrap();
    let expired = h
        .http
        .post(sandbox(&h, &format!("/__sandbox/containers/{old}/expire")))
        .send()
        .await
        .unwrap();
    assert!(expired.status().is_success());
    assert_eq!(a.reconcile(&creds, &late).await.value, Reconciled::Absent);
    match a.publish(&creds, &late).await.value {
        PublishOutcome::Checkpoint { reference } => assert_ne!(reference, old),
        other => panic!("expected a new checkpoint, got {other:?}"),
    }
}

#[tokio::test]
async fn throttling_outages_refusals_and_the_daily_limit() {
    let h = Harness::start().await.unwrap();
    let a = adapter(&h);
    let creds = connected(&h, "token-t5").await;
    set_processing(&h, 0).await;
    let post = checkpointed(a.as_ref(), &creds, publication("classified")).await;

    set_faults(
        &h,
        Faults {
            rate_limit_rate: 1.0,
            ..Faults::default()
        },
    );
    let throttled = a.publish(&creds, &post).await.value;
    // The injected throttle carries Retry-After (Threads sends no time to regain access).
    assert!(
        matches!(throttled, PublishOutcome::Retryable { retry_after: Some(d), .. } if d == Duration::from_secs(2)),
        "{throttled:?}"
    );
    set_faults(
        &h,
        Faults {
            error_rate: 1.0,
            ..Faults::default()
        },
    );
    assert!(matches!(
        a.publish(&creds, &post).await.value,
        PublishOutcome::Ambiguous { .. }
    ));
    set_faults(&h, Faults::default());
    let too_long = a
        .publish(&creds, &publication(&"x".repeat(501)))
        .await
        .value;
    assert!(
        matches!(too_long, PublishOutcome::Terminal { .. }),
        "{too_long:?}"
    );
    let expired = Creds {
        access_token: Secret::new("expired-t5"),
        ..creds.clone()
    };
    assert!(matches!(
        a.publish(&expired, &post).await.value,
        PublishOutcome::Terminal { .. }
    ));
    assert!(h.sandbox.ledger().is_empty());

    assert!(matches!(
        a.publish(&creds, &post).await.value,
        PublishOutcome::Published { .. }
    ));
    for n in 1..250 {
        let post = checkpointed(a.as_ref(), &creds, publication(&format!("post {n}"))).await;
        let outcome = a.publish(&creds, &post).await.value;
        assert!(
            matches!(outcome, PublishOutcome::Published { .. }),
            "{n}: {outcome:?}"
        );
    }
    let over = checkpointed(a.as_ref(), &creds, publication("one too many")).await;
    match a.publish(&creds, &over).await.value {
        PublishOutcome::Retryable {
            retry_after: Some(wait),
            ..
        } => {
            assert!(wait > Duration::from_secs(23 * 3600), "{wait:?}");
        }
        other => panic!("expected retryable, got {other:?}"),
    }
    assert_eq!(h.sandbox.ledger().len(), 250);
}

#[tokio::test]
async fn refresh_keeps_the_account() {
    let h = Harness::start().await.unwrap();
    let a = adapter(&h);
    let creds = connected(&h, "token-t6").await;
    let tokens = a.refresh(&creds, &Secret::new("unused")).await.unwrap();
    assert!(tokens.refresh_token.is_none());
    assert!(tokens.expires_at.is_some());
    let again = connected(&h, tokens.access_token.expose()).await;
    assert_eq!(again.remote_account_id, creds.remote_account_id);
    let expired = Creds {
        access_token: Secret::new("expired-t6"),
        ..creds
    };
    assert!(matches!(
        a.refresh(&expired, &Secret::new("unused")).await,
        Err(RefreshError::Rejected(_))
    ));
}
