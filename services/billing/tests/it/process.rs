//! What only a real process shows: redelivery after a crash between commit and ack,
//! readiness while NATS is down, SIGTERM mid-work, and configuration errors.

use crate::World;
use herald_testkit::{
    ServiceProcess, check_readiness_follows_nats, check_sigterm_mid_work, wait_for,
};
use std::path::Path;
use std::time::Duration;

const BINARY: &str = env!("CARGO_BIN_EXE_herald-billing");

#[tokio::test]
async fn a_redelivery_after_a_crash_before_the_ack_has_no_effect() -> anyhow::Result<()> {
    let world = World::new().await?;
    let mut env = world.pairs();
    // A crashed process cannot hand its message back: the server redelivers after ack_wait.
    env.push(("HERALD_ACK_WAIT_SECS".into(), "2".into()));
    env.push((
        "HERALD_FAILPOINTS".into(),
        "consumer.before_ack=abort@posts.target.published".into(),
    ));
    let mut crashing = ServiceProcess::spawn(Path::new(BINARY), &env)?;
    wait_for("ready", Duration::from_secs(60), || async {
        (crashing.ops_status("/readyz").await == Some(200)).then_some(())
    })
    .await?;
    let event = world.published();
    world.publish(&event, &event.id).await?;
    let status = crashing.wait(Duration::from_secs(60)).await?;
    assert!(!status.success(), "aborted after commit, before the ack");
    assert_eq!(world.usage_total().await?, 1, "the effect was committed");

    env.retain(|(k, _)| k != "HERALD_FAILPOINTS");
    let _restarted = ServiceProcess::spawn(Path::new(BINARY), &env)?;
    let redelivered = wait_for(
        "redelivery acknowledged",
        Duration::from_secs(60),
        || async {
            let js = herald_kit::async_nats::jetstream::new(world.client.clone());
            let stream = js.get_stream("POSTS").await.ok()?;
            let info = stream.consumer_info("billing-usage").await.ok()?;
            (info.num_ack_pending == 0 && info.ack_floor.stream_sequence >= 1).then_some(info)
        },
    )
    .await?;
    assert!(
        redelivered.delivered.consumer_sequence >= 2,
        "the message was delivered again"
    );
    assert_eq!(world.ledger_rows().await?, 1);
    assert_eq!(world.usage_total().await?, 1, "and metered once");
    Ok(())
}

#[tokio::test]
async fn readiness_follows_nats_and_sigterm_exits_cleanly() -> anyhow::Result<()> {
    let mut world = World::new().await?;
    let pairs = world.pairs();
    check_readiness_follows_nats(Path::new(BINARY), &pairs, &mut world.nats).await
}

#[tokio::test]
async fn sigterm_mid_work_loses_and_duplicates_nothing() -> anyhow::Result<()> {
    let world = World::new().await?;
    const EVENTS: i64 = 300;
    let events: Vec<_> = (0..EVENTS).map(|_| world.published()).collect();
    check_sigterm_mid_work(
        Path::new(BINARY),
        &world.pairs(),
        || async {
            for event in &events {
                world.publish(event, &event.id).await?;
            }
            Ok(())
        },
        || async { (world.ledger_rows().await.ok()? > 0).then_some(()) },
        || async { (world.ledger_rows().await.ok()? >= EVENTS).then_some(()) },
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        world.ledger_rows().await?,
        EVENTS,
        "each event metered exactly once"
    );
    Ok(())
}

#[tokio::test]
async fn a_missing_or_invalid_setting_exits_2_naming_the_variable() -> anyhow::Result<()> {
    let world = World::new().await?;
    let secret_url = "postgres://billing:s3cr3t-pw@127.0.0.1:1/x";
    let cases: Vec<(Vec<(String, String)>, &str)> = vec![
        (
            vec![("HERALD_DATABASE_URL".into(), secret_url.into())],
            "HERALD_NATS_URL",
        ),
        (
            vec![("HERALD_NATS_URL".into(), world.nats.url())],
            "HERALD_BILLING_DATABASE_URL",
        ),
        (
            vec![
                ("HERALD_NATS_URL".into(), world.nats.url()),
                ("HERALD_DATABASE_URL".into(), secret_url.into()),
                ("HERALD_DB_POOL_SIZE".into(), "lots".into()),
            ],
            "HERALD_DB_POOL_SIZE",
        ),
        (
            vec![
                ("HERALD_NATS_URL".into(), "http://wrong".into()),
                ("HERALD_DATABASE_URL".into(), secret_url.into()),
            ],
            "HERALD_NATS_URL",
        ),
    ];
    for (env, variable) in cases {
        let mut service = ServiceProcess::spawn(Path::new(BINARY), &env)?;
        let status = service.wait(Duration::from_secs(20)).await?;
        let log = service.log_tail();
        assert_eq!(status.code(), Some(2), "{variable}: {log}");
        assert!(
            log.contains(variable),
            "the message names {variable}: {log}"
        );
        assert!(
            !log.contains("s3cr3t-pw"),
            "no secret in the message: {log}"
        );
    }
    Ok(())
}
