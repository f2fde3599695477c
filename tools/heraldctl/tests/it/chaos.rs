//! `heraldctl chaos`, the built binary: a CI-sized run of the exactly-once acceptance test
//! (its own nats-server, Postgres, sandbox and service processes from the build directory,
//! so `cargo build --bins` must have run). The short run is 500 posts, the long one
//! 10,000: run those by hand with `heraldctl chaos --posts 500`.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

/// Far above what 100 posts take (about two minutes on two cores); the binary bounds itself.
const LIMIT: Duration = Duration::from_secs(600);
const POSTS: usize = 100;
/// Every platform; Instagram's posts (and half of Threads') carry a rendered image that the
/// platform fetches from the gateway's public media origin.
const PLATFORMS: &str = "mastodon,bluesky,x,linkedin,facebook,instagram,threads";

#[tokio::test]
async fn posts_are_published_exactly_once_while_publishers_nats_and_postgres_are_broken()
-> anyhow::Result<()> {
    let output = tokio::time::timeout(
        LIMIT,
        tokio::process::Command::new(env!("CARGO_BIN_EXE_heraldctl"))
            .args([
                "chaos",
                "--posts",
                &POSTS.to_string(),
                "--platforms",
                PLATFORMS,
            ])
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stdout.lines().rev().take(60).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    let shown = format!("stdout (tail):\n{}\nstderr:\n{stderr}", tail.join("\n"));
    assert!(output.status.success(), "heraldctl chaos failed\n{shown}");

    // The summary shows the chaos happened: kills, and both restarts.
    assert!(
        stdout.contains("nats-server restarted at") && stdout.contains("Postgres restarted at"),
        "{shown}"
    );
    assert!(!stdout.contains(" 0 kill -9"), "{shown}");

    let last = stdout.lines().last().unwrap_or_default();
    let rest = last
        .strip_prefix("chaos: ")
        .unwrap_or_else(|| panic!("the last line is not the verdict: {last:?}\n{shown}"));
    let fields: HashMap<&str, usize> = rest
        .split(' ')
        .map(|pair| {
            let (key, value) = pair.split_once('=').expect("key=value");
            (key, value.parse().expect("a count"))
        })
        .collect();
    let keys: Vec<&str> = rest
        .split(' ')
        .filter_map(|pair| pair.split_once('=').map(|(k, _)| k))
        .collect();
    assert_eq!(
        keys,
        [
            "targets",
            "published_once",
            "duplicates",
            "missing",
            "usage",
            "notifications"
        ],
        "{last}"
    );
    assert_eq!(fields["targets"], POSTS, "{last}");
    assert_eq!(fields["published_once"], POSTS, "{last}");
    assert_eq!(fields["duplicates"], 0, "{last}");
    assert_eq!(fields["missing"], 0, "{last}");
    assert_eq!(fields["usage"], POSTS, "{last}");
    assert_eq!(fields["notifications"], POSTS, "{last}");
    Ok(())
}
