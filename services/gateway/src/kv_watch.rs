//! Following a KV bucket that auth writes (signing keys, revocations, API keys): open it
//! (creating it as auth would, so a gateway may start first), replay its contents, then apply
//! every change; re-attach with backoff when the watch ends or NATS is away.

use futures::StreamExt;
use herald_kit::async_nats::jetstream::{self, kv};
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The bucket `config.bucket`, created with `config` if auth has not created it yet (a
/// concurrent creation elsewhere is not an error: the bucket is then opened).
pub async fn open_or_create(
    js: &jetstream::Context,
    config: kv::Config,
) -> Result<kv::Store, String> {
    if let Ok(store) = js.get_key_value(&config.bucket).await {
        return Ok(store);
    }
    let bucket = config.bucket.clone();
    match js.create_key_value(config).await {
        Ok(store) => Ok(store),
        Err(create_error) => js
            .get_key_value(&bucket)
            .await
            .map_err(|_| create_error.to_string()),
    }
}

/// Runs `follow` until `stop`, again after it ends or fails, backing off from 200 ms to 5 s
/// while it fails; the first failure in a row is a warning naming `what`.
pub async fn follow_forever<F, Fut>(
    bucket: &'static str,
    what: &'static str,
    stop: CancellationToken,
    mut follow: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut delay = Duration::from_millis(200);
    let mut failing = false;
    loop {
        let outcome = tokio::select! {
            _ = stop.cancelled() => return,
            outcome = follow() => outcome,
        };
        match outcome {
            Ok(()) => {
                delay = Duration::from_millis(200);
                failing = false;
            }
            Err(error) if !failing => {
                tracing::warn!(bucket, error = %error, "cannot watch {what}; retrying");
                failing = true;
            }
            Err(error) => tracing::debug!(bucket, error = %error, "watch retry failed"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Applies the bucket's contents and then its changes to `apply`, setting `ready` once the
/// contents held when the watch began have all been applied (at once for an empty bucket).
/// Returns when the watch ends.
pub async fn replay_and_follow(
    store: &kv::Store,
    ready: &watch::Sender<bool>,
    mut apply: impl FnMut(kv::Entry),
) -> Result<(), String> {
    let mut watch = store
        .watch_with_history(">")
        .await
        .map_err(|error| error.to_string())?;
    let held = store
        .status()
        .await
        .map_err(|error| error.to_string())?
        .values();
    if held == 0 {
        ready.send_replace(true);
    }
    while let Some(entry) = watch.next().await {
        let entry = entry.map_err(|error| error.to_string())?;
        let caught_up = entry.delta == 0;
        apply(entry);
        if caught_up {
            ready.send_replace(true);
        }
    }
    Ok(())
}
