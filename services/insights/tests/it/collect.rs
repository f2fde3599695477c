//! post.published → tracked targets → round 1 collected from the platform, exactly one sample
//! per target and round, readable by the owning tenant only.

use crate::support::{eventually, identity, spawn_insights};
use anyhow::Result;
use chrono::Utc;
use herald_contracts::messages::{CollectMetrics, Platform, PostPublished, PublishedTarget};
use herald_contracts::rpc::insights::{GetPostMetrics, GetPostMetricsRequest};
use herald_contracts::streams::{DLQ, INSIGHTS, POSTS, dlq_subject, headers};
use herald_contracts::{AccountId, Envelope, PostId, TenantId};
use herald_insights::repo::{samples, tracked};
use herald_kit::rpc::call;
use std::time::Duration;

fn published(tenant: TenantId, instance_url: &str, remote_id: &str) -> Envelope<PostPublished> {
    Envelope::new(
        tenant,
        "req-test",
        None,
        PostPublished {
            post_id: PostId::new(),
            targets: vec![PublishedTarget {
                account_id: AccountId::new(),
                platform: Platform::Mastodon,
                instance_url: instance_url.to_owned(),
                remote_id: remote_id.to_owned(),
                remote_url: None,
                published_at: Utc::now(),
            }],
            partial: false,
        },
    )
}

#[tokio::test]
async fn a_published_post_gets_exactly_one_sample_per_round_from_the_platform() -> Result<()> {
    let insights = spawn_insights().await?;
    let status_id = insights.create_status("hi").await?;
    let status = insights.status(&status_id).await?;
    let tenant = TenantId::new();
    let post = published(tenant, insights.sandbox.base_url(), &status_id);
    let post_id = post.data.post_id;
    let account_id = post.data.targets[0].account_id;

    insights.publish(&post, &post.id).await?;
    eventually("the first sample", || async {
        let mut conn = insights.db.tenant(tenant).await?;
        Ok(samples::count(&mut conn, tenant, post_id).await? == 1)
    })
    .await?;
    let mut conn = insights.db.tenant(tenant).await?;
    assert_eq!(tracked::count(&mut conn, tenant, post_id).await?, 1);

    let timeout = Duration::from_secs(5);
    let metrics = call::<GetPostMetrics>(
        &insights.client,
        "req-metrics",
        Some(identity(tenant)),
        GetPostMetricsRequest { post_id },
        timeout,
    )
    .await?;
    assert_eq!(metrics.post_id, post_id);
    assert_eq!(metrics.samples.len(), 1);
    let sample = &metrics.samples[0];
    assert_eq!(sample.account_id, account_id);
    assert_eq!(sample.platform, Platform::Mastodon);
    assert_eq!(sample.remote_id, status_id);
    assert_eq!(sample.likes, status["favourites_count"].as_i64().unwrap());
    assert_eq!(sample.reposts, status["reblogs_count"].as_i64().unwrap());
    assert_eq!(sample.replies, status["replies_count"].as_i64().unwrap());

    // The same event re-published (after the duplicate window), and round 1 requested again.
    let sequence = insights
        .publish(&post, &format!("{}:republished", post.id))
        .await?;
    insights
        .wait_consumed(POSTS, "insights-track", sequence)
        .await?;
    let collect = post.caused(CollectMetrics { post_id, round: 1 });
    let sequence = insights
        .publish(&collect, &format!("{}:republished", collect.id))
        .await?;
    insights
        .wait_consumed(INSIGHTS, "insights-collect", sequence)
        .await?;
    assert_eq!(tracked::count(&mut conn, tenant, post_id).await?, 1);
    assert_eq!(samples::count(&mut conn, tenant, post_id).await?, 1);

    // Another tenant asking for the post sees nothing.
    let theirs = call::<GetPostMetrics>(
        &insights.client,
        "req-metrics-other",
        Some(identity(TenantId::new())),
        GetPostMetricsRequest { post_id },
        timeout,
    )
    .await?;
    assert!(theirs.samples.is_empty());

    drop(conn);
    insights.stop().await
}

#[tokio::test]
async fn a_post_whose_every_target_is_gone_is_dead_lettered_without_samples() -> Result<()> {
    let insights = spawn_insights().await?;
    let tenant = TenantId::new();
    let post = published(tenant, insights.sandbox.base_url(), "987654321");
    let post_id = post.data.post_id;
    insights.publish(&post, &post.id).await?;

    let dlq = herald_kit::async_nats::jetstream::new(insights.client.clone())
        .get_stream(DLQ)
        .await?;
    let subject = dlq_subject(INSIGHTS, "insights-collect");
    eventually("the dead letter", || async {
        Ok(dlq.get_last_raw_message_by_subject(&subject).await.is_ok())
    })
    .await?;
    let dead = dlq.get_last_raw_message_by_subject(&subject).await?;
    let envelope: Envelope<CollectMetrics> = serde_json::from_slice(&dead.payload)?;
    assert_eq!(envelope.data.post_id, post_id);
    let reason = dead
        .headers
        .get(headers::DLQ_REASON)
        .map(|value| value.as_str().to_owned())
        .unwrap_or_default();
    assert!(reason.contains("can be read"), "{reason}");

    let mut conn = insights.db.tenant(tenant).await?;
    assert_eq!(tracked::count(&mut conn, tenant, post_id).await?, 1);
    assert_eq!(samples::count(&mut conn, tenant, post_id).await?, 0);
    drop(conn);
    insights.stop().await
}
