//! The inbox, not the duplicate window, makes a second delivery harmless.

use crate::World;
use herald_contracts::rpc::Role;
use herald_contracts::rpc::billing::{GetUsage, GetUsageRequest, UsageItem};
use herald_testkit::{Running, identity, service_env, wait_for};
use std::time::Duration;

#[tokio::test]
async fn a_republish_outside_the_duplicate_window_is_metered_once() -> anyhow::Result<()> {
    let world = World::new().await?;
    let env = service_env(
        &world.nats.url(),
        Some(world.db.url()),
        &[("HERALD_DUPLICATE_WINDOW_SECS", "1")],
    );
    let service = Running::spawn(herald_billing::start(env).await?);
    let event = world.published();
    let first = world.publish(&event, &event.id).await?;
    assert!(!first.duplicate);
    wait_for("usage recorded", Duration::from_secs(20), || async {
        (world.usage_total().await.ok()? == 1).then_some(())
    })
    .await?;

    // Inside the window the stream itself drops the copy.
    assert!(world.publish(&event, &event.id).await?.duplicate);
    // Past the window the stream takes it, and the consumer receives it again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = world.publish(&event, &event.id).await?;
    assert!(
        !again.duplicate,
        "the window has expired, so the stream stores the copy"
    );
    let consumer_done = || async {
        herald_testkit::consumer_caught_up(&world.client, "POSTS", "billing-usage", again.sequence)
            .await
            .then_some(())
    };
    wait_for(
        "second copy handled",
        Duration::from_secs(20),
        consumer_done,
    )
    .await?;
    assert_eq!(world.ledger_rows().await?, 1, "one ledger row");
    assert_eq!(world.usage_total().await?, 1);

    let usage = herald_kit::rpc::call::<GetUsage>(
        &world.client,
        "t",
        Some(identity(world.tenant, Role::Admin)),
        GetUsageRequest {},
        Duration::from_secs(10),
    )
    .await?;
    assert_eq!(
        usage.items,
        vec![UsageItem {
            metric: "published_targets".into(),
            quantity: 1
        }]
    );
    let other = herald_kit::rpc::call::<GetUsage>(
        &world.client,
        "t",
        Some(identity(herald_contracts::TenantId::new(), Role::Admin)),
        GetUsageRequest {},
        Duration::from_secs(10),
    )
    .await?;
    assert!(other.items.is_empty(), "another tenant sees none of it");
    service.stop().await
}

#[tokio::test]
async fn an_invalid_event_is_dead_lettered_and_metering_goes_on() -> anyhow::Result<()> {
    let world = World::new().await?;
    let service = Running::spawn(
        herald_billing::start(service_env(&world.nats.url(), Some(world.db.url()), &[])).await?,
    );
    let mut broken = serde_json::to_value(world.published())?;
    broken["data"]["target"] = serde_json::json!("not a target");
    let js = herald_kit::async_nats::jetstream::new(world.client.clone());
    js.publish(
        format!("posts.target.published.{}.x", world.tenant),
        serde_json::to_vec(&broken)?.into(),
    )
    .await?
    .await?;
    let good = world.published();
    world.publish(&good, &good.id).await?;
    wait_for("good event metered", Duration::from_secs(20), || async {
        (world.usage_total().await.ok()? == 1).then_some(())
    })
    .await?;
    let dead = wait_for("dead letter", Duration::from_secs(20), || async {
        let stream = js.get_stream("DLQ").await.ok()?;
        stream
            .get_last_raw_message_by_subject("dlq.POSTS.billing-usage")
            .await
            .ok()
    })
    .await?;
    let reason = dead
        .headers
        .get("Herald-Dlq-Reason")
        .map(|v| v.to_string())
        .unwrap_or_default();
    assert!(
        reason.contains("/data/target"),
        "the reason names the bad field: {reason}"
    );
    service.stop().await
}
