//! The instagram adapter against the sandbox.

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

const IMAGE: &str = "https://cdn.example.com/rendered/post.jpg";

fn adapter(h: &Harness) -> Arc<dyn PlatformAdapter> {
    h.adapters
        .get(Platform::Instagram)
        .expect("adapter")
        .clone()
}

fn sandbox(h: &Harness, path: &str) -> String {
    format!("{}/instagram{path}", h.sandbox.base_url())
}

/// The Instagram user id the sandbox derives from `token`.
async fn ig_user(h: &Harness, token: &str) -> String {
    let me: serde_json::Value = h
        .http
        .get(sandbox(h, "/v23.0/me?fields=id"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    me["id"].as_str().unwrap().to_owned()
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

async fn connected(h: &Harness, token: &str) -> Creds {
    let input = ConnectInput {
        base_url: h.config.instagram_url.clone(),
        access_token: Some(Secret::new(token)),
        account_ref: Some(ig_user(h, token).await),
        ..ConnectInput::default()
    };
    let account = adapter(h).connect(&input).await.unwrap();
    Creds {
        base_url: h.config.instagram_url.clone(),
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
        media: super::image(Some(IMAGE)),
    }
}

/// Creates the container and returns the post with it as the checkpoint, as the publisher
/// stores it.
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
        .set_faults(herald_sandbox::Platform::Instagram, faults)
        .unwrap();
}

#[tokio::test]
async fn connect_needs_a_valid_token_and_the_account_ref() {
    let h = Harness::start().await.unwrap();
    let a = adapter(&h);
    let mine = ig_user(&h, "token-i1").await;
    let input = |token: &str, account_ref: Option<String>| ConnectInput {
        base_url: h.config.instagram_url.clone(),
        access_token: Some(Secret::new(token)),
        account_ref,
        ..ConnectInput::default()
    };
    let rejected = |result: Result<_, ConnectError>| match result {
        Err(ConnectError::Rejected(reason)) => reason,
        Err(other) => panic!("expected rejected, got {other:?}"),
        Ok(_) => panic!("expected rejected, got connected"),
    };
    assert!(rejected(a.connect(&input("token-i1", None)).await).starts_with("account_ref"));
    let others = ig_user(&h, "token-other").await;
    assert!(rejected(a.connect(&input("token-i1", Some(others))).await).starts_with("account_ref"));
    assert!(
        rejected(a.connect(&input("expired-i1", Some(mine.clone()))).await)
            .starts_with("access_token")
    );
    let no_token = ConnectInput {
        access_token: None,
        ..input("", Some(mine.clone()))
    };
    assert!(rejected(a.connect(&no_token).await).starts_with("access_token"));

    let connected = a
        .connect(&input("token-i1", Some(mine.clone())))
        .await
        .unwrap();
    assert_eq!(connected.remote_account_id, mine);
    assert!(connected.handle.starts_with("user_"));
    assert!(connected.tokens.refresh_token.is_none());
}

#[tokio::test]
async fn checkpoint_then_pending_then_published_once() {
    let h = Harness::start().await.unwrap();
    let a = adapter(&h);
    let creds = connected(&h, "token-i2").await;
    // Long enough that the next call surely finds the container still processing.
    set_processing(&h, 1500).await;
    let post = checkpointed(a.as_ref(), &creds, publication("hello from herald")).await;
    assert!(h.sandbox.ledger().is_empty(), "a container is not a post");

    let pending = a.publish(&creds, &post).await.value;
    assert!(
        matches!(
            pending,
            PublishOutcome::Pending {
                retry_after: Some(_),
                ..
            }
        ),
        "{pending:?}"
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let reply = a.publish(&creds, &post).await;
    let PublishOutcome::Published {
        remote_id,
        remote_url,
    } = reply.value
    else {
        panic!("not published: {:?}", reply.value);
    };
    assert!(
        remote_url
            .unwrap()
            .starts_with("https://www.instagram.com/p/")
    );
    assert!(
        reply.rate.is_some_and(|rate| rate.remaining <= 100),
        "Meta's usage headers are read"
    );
    let ledger = h.sandbox.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].status_id, remote_id);
    assert_eq!(ledger[0].text, "hello from herald");
    assert_eq!(
        ledger[0].idempotency_key.as_deref(),
        post.checkpoint.as_deref()
    );

    // A crash before the outcome was saved: the same checkpoint again finds the post.
    match a.publish(&creds, &post).await.value {
        PublishOutcome::Published {
            remote_id: again, ..
        } => assert_eq!(again, remote_id),
        other => panic!("expected published, got {other:?}"),
    }
    assert_eq!(h.sandbox.ledger().len(), 1);
    match a.reconcile(&creds, &post).await.value {
        Reconciled::Found {
            remote_id: found, ..
        } => assert_eq!(found, remote_id),
        other => panic!("expected found, got {other:?}"),
    }
}

#[tokio::test]
async fn a_dropped_publish_is_ambiguous_and_reconciles_to_found() {
    let h = Harness::start().await.unwrap();
    let a = adapter(&h);
    let creds = connected(&h, "token-i3").await;
    set_processing(&h, 0).await;
    let fresh = publication("did it post?");
    assert_eq!(a.reconcile(&creds, &fresh).await.value, Reconciled::Absent);

    // A lost container answer publishes nothing: plainly retryable.
    set_faults(
        &h,
        Faults {
            drop_after_commit_rate: 1.0,
            ..Faults::default()
        },
    );
    let lost_container = a.publish(&creds, &fresh).await.value;
    assert!(
        matches!(lost_container, PublishOutcome::Retryable { .. }),
        "{lost_container:?}"
    );
    set_faults(&h, Faults::default());

    let post = checkpointed(a.as_ref(), &creds, fresh).await;
    assert_eq!(
        a.reconcile(&creds, &post).await.value,
        Reconciled::Absent,
        "a FINISHED container is not published yet"
    );
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

    let found = a.reconcile(&creds, &post).await.value;
    let ledger = h.sandbox.ledger();
    assert_eq!(ledger.len(), 1, "exactly one post");
    match found {
        Reconciled::Found {
            remote_id,
            remote_url,
        } => {
            assert_eq!(remote_id, ledger[0].status_id);
            assert!(remote_url.is_some());
        }
        other => panic!("expected found, got {other:?}"),
    }
}

#[tokio::test]
async fn concurrent_publishes_of_one_container_make_one_post() {
    let h = Harness::start().await.unwrap();
    let a = adapter(&h);
    let creds = connected(&h, "token-i4").await;
    set_processing(&h, 0).await;
    let post = checkpointed(a.as_ref(), &creds, publication("only once")).await;
    // Both read FINISHED before either publishes; the sandbox refuses the second publish of
    // the container and the adapter finds the post the first one made.
    set_faults(
        &h,
        Faults {
            latency_ms: 300,
            ..Faults::default()
        },
    );
    let (first, second) = tokio::join!(a.publish(&creds, &post), a.publish(&creds, &post));
    let id = |outcome: PublishOutcome| match outcome {
        PublishOutcome::Published { remote_id, .. } => remote_id,
        other => panic!("expected published, got {other:?}"),
    };
    assert_eq!(id(first.value), id(second.value));
    assert_eq!(h.sandbox.ledger().len(), 1);
}

#[tokio::test]
async fn an_expired_container_is_replaced_by_a_new_checkpoint() {
    let h = Harness::start().await.unwrap();
    let a = adapter(&h);
    let creds = connected(&h, "token-i5").await;
    set_processing(&h, 0).await;
    let post = checkpointed(a.as_ref(), &creds, publication("late post")).await;
    let old = post.checkpoint.clone().unwrap();
    let expired = h
        .http
        .post(sandbox(&h, &format!("/__sandbox/containers/{old}/expire")))
        .send()
        .await
        .unwrap();
    assert!(expired.status().is_success());
    assert_eq!(a.reconcile(&creds, &post).await.value, Reconciled::Absent);
    let PublishOutcome::Checkpoint { reference } = a.publish(&creds, &post).await.value else {
        panic!("expected a new checkpoint");
    };
    assert_ne!(reference, old);
    let renewed = Publication {
        checkpoint: Some(reference),
        ..post
    };
    let published = a.publish(&creds, &renewed).await.value;
    assert!(
        matches!(published, PublishOutcome::Published { .. }),
        "{published:?}"
    );
    assert_eq!(h.sandbox.ledger().len(), 1);
}

#[tokio::test]
async fn throttling_outages_and_refusals_are_classified() {
    let h = Harness::start().await.unwrap();
    let a = adapter(&h);
    let creds = connected(&h, "token-i6").await;
    set_processing(&h, 0).await;
    let post = checkpointed(a.as_ref(), &creds, publication("classified")).await;

    set_faults(
        &h,
        Faults {
            rate_limit_rate: 1.0,
            ..Faults::default()
        },
    );
    for attempt in [publication("classified"), post.clone()] {
        let outcome = a.publish(&creds, &attempt).await.value;
        // The sandbox says two minutes in X-Business-Use-Case-Usage.
        assert!(
            matches!(outcome, PublishOutcome::Retryable { retry_after: Some(d), .. } if d == Duration::from_secs(60)),
            "{outcome:?}"
        );
    }
    set_faults(
        &h,
        Faults {
            error_rate: 1.0,
            ..Faults::default()
        },
    );
    let outage = a.publish(&creds, &post).await.value;
    assert!(
        matches!(outage, PublishOutcome::Ambiguous { .. }),
        "{outage:?}"
    );
    let no_container = a.publish(&creds, &publication("classified")).await.value;
    assert!(
        matches!(no_container, PublishOutcome::Retryable { .. }),
        "{no_container:?}"
    );
    set_faults(&h, Faults::default());

    let expired = Creds {
        access_token: Secret::new("expired-i6"),
        ..creds.clone()
    };
    for attempt in [publication("classified"), post.clone()] {
        let outcome = a.publish(&expired, &attempt).await.value;
        assert!(
            matches!(outcome, PublishOutcome::Terminal { .. }),
            "{outcome:?}"
        );
    }
    let without_image = Publication {
        media: Vec::new(),
        ..publication("text only")
    };
    assert_eq!(
        a.publish(&creds, &without_image).await.value,
        PublishOutcome::Terminal {
            reason: "Instagram needs an image".into()
        }
    );
    let failing = Publication {
        media: super::image(Some("https://cdn.example.com/sandbox-fail.jpg")),
        ..publication("unfetchable")
    };
    let failing = checkpointed(a.as_ref(), &creds, failing).await;
    let refused = a.publish(&creds, &failing).await.value;
    assert!(
        matches!(refused, PublishOutcome::Terminal { .. }),
        "{refused:?}"
    );
    assert!(h.sandbox.ledger().is_empty());

    // A token that may publish but not read cannot be reconciled: a person decides.
    let blind = connected(&h, "noscope-i6").await;
    let blind_post = checkpointed(a.as_ref(), &blind, publication("blind")).await;
    let unverifiable = a.reconcile(&blind, &blind_post).await.value;
    assert!(
        matches!(unverifiable, Reconciled::Unverifiable { .. }),
        "{unverifiable:?}"
    );
}

#[tokio::test]
async fn the_publishing_limit_is_retryable_until_the_day_moves_on() {
    let h = Harness::start().await.unwrap();
    let a = adapter(&h);
    let creds = connected(&h, "token-i7").await;
    set_processing(&h, 0).await;
    for n in 0..50 {
        let post = checkpointed(a.as_ref(), &creds, publication(&format!("post {n}"))).await;
        let outcome = a.publish(&creds, &post).await.value;
        assert!(
            matches!(outcome, PublishOutcome::Published { .. }),
            "{n}: {outcome:?}"
        );
    }
    let post = checkpointed(a.as_ref(), &creds, publication("one too many")).await;
    match a.publish(&creds, &post).await.value {
        PublishOutcome::Retryable {
            retry_after: Some(wait),
            ..
        } => {
            assert!(wait > Duration::from_secs(23 * 3600), "{wait:?}");
            assert!(wait <= Duration::from_secs(24 * 3600));
        }
        other => panic!("expected retryable, got {other:?}"),
    }
    assert_eq!(h.sandbox.ledger().len(), 50);
}

#[tokio::test]
async fn refresh_keeps_the_account_and_the_stored_refresh_token() {
    let h = Harness::start().await.unwrap();
    let a = adapter(&h);
    let creds = connected(&h, "token-i8").await;
    let tokens = a.refresh(&creds, &Secret::new("unused")).await.unwrap();
    assert_ne!(tokens.access_token.expose(), "token-i8");
    assert!(
        tokens.refresh_token.is_none(),
        "none sent: keep the stored one"
    );
    let expires_at = tokens.expires_at.unwrap();
    assert!(expires_at > Utc::now() + chrono::Duration::days(59));
    let again = connected(&h, tokens.access_token.expose()).await;
    assert_eq!(again.remote_account_id, creds.remote_account_id);

    let expired = Creds {
        access_token: Secret::new("expired-i8"),
        ..creds
    };
    assert!(matches!(
        a.refresh(&expired, &Secret::new("unused")).await,
        Err(RefreshError::Rejected(_))
    ));
}
