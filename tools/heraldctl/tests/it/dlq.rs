//! `heraldctl dlq`, the built binary against a real nats-server: messages dead-lettered the
//! real way (a consumer sends `+TERM <reason>`, the server's advisory is captured, the kit's
//! mover copies the message to the DLQ), then listed, shown and replayed exactly once.

use anyhow::Context as _;
use herald_contracts::messages::UserRegistered;
use herald_contracts::rpc::Role;
use herald_contracts::streams::{ADVISORIES, DLQ, IDENTITY, dlq_subject};
use herald_contracts::{Envelope, TenantId, UserId};
use herald_kit::ConsumerSpec;
use herald_kit::async_nats::{self, jetstream};
use herald_kit::futures::StreamExt;
use herald_testkit::{NatsServer, publish_envelope, read_stream, wait_for};
use serde_json::Value;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
/// Short, so the tests can show that replaying twice is safe after the window has passed.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(1);

struct Bench {
    nats: NatsServer,
    client: async_nats::Client,
    js: jetstream::Context,
    tenant: TenantId,
    mover: tokio::task::JoinHandle<()>,
}

struct Run {
    success: bool,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Bench {
    async fn start() -> anyhow::Result<Self> {
        let nats = NatsServer::start()?;
        let client = async_nats::connect(nats.url()).await?;
        let js = jetstream::new(client.clone());
        herald_kit::nats::ensure_streams(&js, &[IDENTITY, ADVISORIES, DLQ], 1, DUPLICATE_WINDOW)
            .await?;
        // The mover every service runs; it stops when the test's runtime does.
        let mover = tokio::spawn(herald_kit::dlq::run_mover(js.clone(), Default::default()));
        Ok(Self {
            nats,
            client,
            js,
            tenant: TenantId::new(),
            mover,
        })
    }

    fn user(&self, email: &str) -> Envelope<UserRegistered> {
        Envelope::new(
            self.tenant,
            "dlq-test",
            None,
            UserRegistered {
                user_id: UserId::new(),
                email: email.to_owned(),
                role: Role::Admin,
            },
        )
    }

    /// Publishes `envelope` as a relay would, lets durable consumer `consumer` terminate it with
    /// `reason` as the kit's consumer does, and returns the dead letter's DLQ sequence.
    async fn dead_letter(
        &self,
        envelope: &Envelope<UserRegistered>,
        consumer: &str,
        reason: &str,
    ) -> anyhow::Result<u64> {
        publish_envelope(&self.client, envelope, &envelope.id).await?;
        let durable = herald_kit::nats::ensure_consumer(
            &self.js,
            &ConsumerSpec::new(IDENTITY, consumer, envelope.subject()),
        )
        .await?;
        let mut batch = durable
            .fetch()
            .max_messages(1)
            .expires(Duration::from_secs(5))
            .messages()
            .await?;
        let delivered = batch
            .next()
            .await
            .context("nothing delivered")?
            .map_err(|e| anyhow::anyhow!(e))?;
        let reply = delivered.reply.clone().context("no ack subject")?;
        self.client
            .request(reply, format!("+TERM {reason}").into())
            .await?;
        let subject = dlq_subject(IDENTITY, consumer);
        wait_for("the dead letter", WAIT, || async {
            let dlq = self.js.get_stream(DLQ).await.ok()?;
            let letter = dlq.get_last_raw_message_by_subject(&subject).await.ok()?;
            Some(letter.sequence)
        })
        .await
    }

    async fn heraldctl(&self, args: &[&str]) -> anyhow::Result<Run> {
        run_heraldctl(Some(&self.nats.url()), args).await
    }

    /// Every message the original stream holds on `subject`.
    async fn on_subject(&self, subject: &str) -> anyhow::Result<Vec<jetstream::Message>> {
        read_stream(&self.client, IDENTITY, subject).await
    }
}

async fn run_heraldctl(env_url: Option<&str>, args: &[&str]) -> anyhow::Result<Run> {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_heraldctl"));
    command.arg("dlq").args(args).env_remove("HERALD_NATS_URL");
    if let Some(url) = env_url {
        command.env("HERALD_NATS_URL", url);
    }
    let output = command.output().await?;
    Ok(Run {
        success: output.status.success(),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

fn header(message: &jetstream::Message, name: &str) -> Option<String> {
    message
        .headers
        .as_ref()?
        .get(name)
        .map(|value| value.as_str().to_owned())
}

/// The table row of DLQ sequence `sequence`, split into columns.
fn row(listing: &str, sequence: u64) -> Option<Vec<String>> {
    listing
        .lines()
        .find(|line| line.split_whitespace().next() == Some(&sequence.to_string()))
        .map(|line| line.split_whitespace().map(str::to_owned).collect())
}

#[tokio::test]
async fn dead_letters_are_listed_shown_and_replayed_once() -> anyhow::Result<()> {
    let bench = Bench::start().await?;
    let alice = bench.user("alice@a.test");
    let long_reason = format!(
        "schema: /data/email {} is not an email address the notifier can use",
        "x".repeat(60)
    );
    let alice_dlq = bench
        .dead_letter(&alice, "dlq-test-recipients", &long_reason)
        .await?;
    let bob = bench.user("bob@b.test");
    let bob_dlq = bench
        .dead_letter(&bob, "dlq-test-welcome", "terminal: no such tenant")
        .await?;

    // list: one row each, nothing consumed or left behind.
    let list = bench.heraldctl(&["list"]).await?;
    assert!(list.success, "{}", list.stderr);
    let columns = row(&list.stdout, alice_dlq).context(list.stdout.clone())?;
    assert_eq!(columns[2], IDENTITY);
    assert_eq!(columns[3], "dlq-test-recipients");
    assert_eq!(columns[4], alice.subject());
    assert_eq!(columns[5], "1", "the original's stream sequence");
    assert_eq!(columns[6], "identity.user-registered.v1");
    assert_eq!(columns[7], bench.tenant.to_string());
    assert_eq!(columns[8], "dead");
    let line = list
        .stdout
        .lines()
        .find(|line| line.starts_with(&format!("{alice_dlq} ")))
        .unwrap_or_default();
    assert!(
        line.contains("schema: /data/email") && line.ends_with('…'),
        "{line}"
    );
    assert!(
        !line.contains(&long_reason),
        "the reason is truncated: {line}"
    );
    assert_eq!(row(&list.stdout, bob_dlq).context("bob")?[8], "dead");

    let json = bench
        .heraldctl(&["list", "--json", "--consumer", "dlq-test-recipients"])
        .await?;
    assert!(json.success, "{}", json.stderr);
    let rows: Vec<Value> = serde_json::from_str(&json.stdout)?;
    assert_eq!(rows.len(), 1, "{}", json.stdout);
    assert_eq!(rows[0]["dlq_sequence"], alice_dlq);
    assert_eq!(rows[0]["stream"], IDENTITY);
    assert_eq!(rows[0]["subject"], alice.subject());
    assert_eq!(rows[0]["sequence"], 1);
    assert_eq!(rows[0]["reason"], long_reason.as_str());
    assert_eq!(rows[0]["tenant"], bench.tenant.to_string());
    assert_eq!(rows[0]["replayed"], Value::Null);

    // show: every header and the payload, pretty-printed.
    let show = bench.heraldctl(&["show", &alice_dlq.to_string()]).await?;
    assert!(show.success, "{}", show.stderr);
    for expected in [
        format!("  Herald-Dlq-Reason: {long_reason}"),
        format!("  Herald-Dlq-Stream: {IDENTITY}"),
        "  Herald-Dlq-Consumer: dlq-test-recipients".to_owned(),
        "  Herald-Dlq-Sequence: 1".to_owned(),
        format!("  Herald-Dlq-Subject: {}", alice.subject()),
        "  Herald-Type: identity.user-registered.v1".to_owned(),
        format!("  Herald-Tenant: {}", bench.tenant),
        format!("  Nats-Msg-Id: dlq-{IDENTITY}-dlq-test-recipients-1"),
        "status:       dead (not replayed)".to_owned(),
    ] {
        assert!(
            show.stdout.contains(&expected),
            "{expected:?} in\n{}",
            show.stdout
        );
    }
    let payload = show
        .stdout
        .split_once("payload:\n")
        .context("no payload section")?
        .1;
    assert!(
        payload.contains(&format!("\n  \"id\": \"{}\"", alice.id)),
        "{payload}"
    );
    assert_eq!(
        serde_json::from_str::<Value>(payload)?,
        serde_json::to_value(&alice)?
    );

    // replay: one copy on the original subject, original headers, a new message id.
    let replay = run_heraldctl(
        None,
        &[
            "replay",
            &alice_dlq.to_string(),
            "--nats-url",
            &bench.nats.url(),
        ],
    )
    .await?;
    assert!(replay.success, "{}", replay.stderr);
    let replay_id = format!("replay-{alice_dlq}-{}", alice.id);
    assert!(
        replay
            .stdout
            .contains(&format!("replayed DLQ {alice_dlq} to {}", alice.subject()))
            && replay.stdout.contains(&replay_id),
        "{}",
        replay.stdout
    );
    let copies = bench.on_subject(&alice.subject()).await?;
    assert_eq!(copies.len(), 2, "the original and one replayed copy");
    let (original, copy) = (&copies[0], &copies[1]);
    assert_eq!(
        header(original, "Nats-Msg-Id").as_deref(),
        Some(alice.id.as_str())
    );
    assert_eq!(header(copy, "Nats-Msg-Id"), Some(replay_id.clone()));
    assert_eq!(copy.payload, original.payload, "the envelope is unchanged");
    for name in ["Herald-Type", "Herald-Tenant"] {
        assert_eq!(header(copy, name), header(original, name), "{name}");
    }
    assert_eq!(header(copy, "Herald-Dlq-Reason"), None);
    // The consumer that gave up on it gets it again (to validate and dedup as usual).
    let redelivered = herald_kit::nats::ensure_consumer(
        &bench.js,
        &ConsumerSpec::new(IDENTITY, "dlq-test-recipients", alice.subject()),
    )
    .await?
    .fetch()
    .max_messages(1)
    .expires(Duration::from_secs(5))
    .messages()
    .await?
    .next()
    .await
    .context("the replayed copy was not delivered")?
    .map_err(|e| anyhow::anyhow!(e))?;
    assert_eq!(header(&redelivered, "Nats-Msg-Id"), Some(replay_id.clone()));

    // A second replay publishes nothing, even once the duplicate window has passed: the marker
    // in the DLQ stream says it is done.
    tokio::time::sleep(DUPLICATE_WINDOW + Duration::from_millis(500)).await;
    let again = bench.heraldctl(&["replay", &alice_dlq.to_string()]).await?;
    assert!(again.success, "{}", again.stderr);
    assert_eq!(
        bench.on_subject(&alice.subject()).await?.len(),
        2,
        "no second copy"
    );
    assert!(
        again.stdout.contains("already replayed"),
        "{}",
        again.stdout
    );

    let list = bench.heraldctl(&["list"]).await?;
    assert_eq!(
        row(&list.stdout, alice_dlq).context("alice")?[8],
        "replayed"
    );
    assert_eq!(row(&list.stdout, bob_dlq).context("bob")?[8], "dead");
    let json = bench.heraldctl(&["list", "--json"]).await?;
    let rows: Vec<Value> = serde_json::from_str(&json.stdout)?;
    assert_eq!(rows.len(), 2, "markers are not listed as dead letters");
    assert_eq!(rows[0]["replayed"]["msg_id"], replay_id.as_str());
    assert_eq!(
        rows[0]["replayed"]["sequence"],
        copy.info().map_err(|e| anyhow::anyhow!(e))?.stream_sequence
    );
    let show = bench.heraldctl(&["show", &alice_dlq.to_string()]).await?;
    assert!(
        show.stdout.contains("status:       replayed at"),
        "{}",
        show.stdout
    );

    // --all with a filter replays only what matches and is not replayed yet.
    let all = bench
        .heraldctl(&[
            "replay",
            "--all",
            "--stream",
            IDENTITY,
            "--consumer",
            "dlq-test-welcome",
        ])
        .await?;
    assert!(all.success, "{}", all.stderr);
    assert!(
        all.stdout
            .contains(&format!("replayed DLQ {bob_dlq} to {}", bob.subject())),
        "{}",
        all.stdout
    );
    assert!(
        !all.stdout.contains(&format!("DLQ {alice_dlq}")),
        "{}",
        all.stdout
    );
    assert_eq!(bench.on_subject(&bob.subject()).await?.len(), 2);
    let none = bench.heraldctl(&["replay", "--all"]).await?;
    assert!(none.success, "{}", none.stderr);
    assert_eq!(none.stdout.trim(), "nothing to replay");
    assert_eq!(bench.on_subject(&alice.subject()).await?.len(), 2);
    assert_eq!(bench.on_subject(&bob.subject()).await?.len(), 2);

    // The dead letters are still there (plus one marker each), and no reader was left behind.
    let info = bench.js.get_stream(DLQ).await?.get_info().await?;
    assert_eq!(info.state.messages, 4);
    assert_eq!(info.state.consumer_count, 0, "the readers were deleted");
    bench.mover.abort();
    Ok(())
}

#[tokio::test]
async fn mistakes_fail_with_one_line() -> anyhow::Result<()> {
    let bench = Bench::start().await?;
    let alice = bench.user("alice@a.test");
    let dead = bench
        .dead_letter(&alice, "dlq-test-errors", "terminal: bad")
        .await?;

    let empty = bench.heraldctl(&["list", "--consumer", "nobody"]).await?;
    assert!(empty.success, "{}", empty.stderr);
    assert_eq!(empty.stdout.trim(), "no dead letters");
    let info = bench.js.get_stream(DLQ).await?.get_info().await?;
    assert_eq!(
        info.state.consumer_count, 0,
        "an empty read deletes its reader too"
    );

    let missing = bench.heraldctl(&["show", "999"]).await?;
    assert!(!missing.success);
    assert_eq!(missing.stderr.lines().count(), 1, "{}", missing.stderr);
    assert!(
        missing
            .stderr
            .starts_with("heraldctl: no message 999 in the DLQ stream"),
        "{}",
        missing.stderr
    );

    // One bad sequence does not stop the good one, but the exit status says it failed.
    let mixed = bench
        .heraldctl(&["replay", "999", &dead.to_string()])
        .await?;
    assert!(!mixed.success);
    assert!(
        mixed.stderr.contains("heraldctl: DLQ 999: no message 999"),
        "{}",
        mixed.stderr
    );
    assert!(
        mixed.stderr.contains("1 of 2 dead letter(s) not replayed"),
        "{}",
        mixed.stderr
    );
    assert!(
        mixed.stdout.contains(&format!("replayed DLQ {dead}")),
        "{}",
        mixed.stdout
    );
    assert_eq!(bench.on_subject(&alice.subject()).await?.len(), 2);

    let nothing = bench.heraldctl(&["replay"]).await?;
    assert_eq!(nothing.code, Some(2), "usage error: {}", nothing.stderr);
    let unknown = bench.heraldctl(&["list", "--stream", "NOPE"]).await?;
    assert_eq!(unknown.code, Some(2), "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("unknown stream"),
        "{}",
        unknown.stderr
    );

    let port = herald_testkit::free_port()?;
    let down = run_heraldctl(Some(&format!("nats://127.0.0.1:{port}")), &["list"]).await?;
    assert!(!down.success);
    assert_eq!(down.stderr.lines().count(), 1, "{}", down.stderr);
    assert!(
        down.stderr
            .starts_with("heraldctl: cannot connect to NATS at"),
        "{}",
        down.stderr
    );
    bench.mover.abort();
    Ok(())
}
