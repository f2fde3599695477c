//! The verdict: what reached the sandbox (its ledger, counted per post text), where the
//! publisher left each target, what billing metered (one unit per `post.target.published`,
//! read through `billing.usage.get`) and what the notifier wrote (read from its table: the
//! `notifier.notifications.list` RPC returns at most 200 and has no cursor). Counting waits
//! (bounded) for billing and the notifier to consume the last events.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::Result;
use herald_contracts::TenantId;
use herald_contracts::messages::Platform;
use herald_contracts::rpc::Identity;
use herald_contracts::rpc::billing::{GetUsage, GetUsageRequest};
use herald_kit::async_nats;
use herald_sandbox::LedgerPost;

use super::db::{self, TargetRow};
use super::plan::Plan;
use crate::up::log::say;

/// The metric billing meters `post.published` under.
const PUBLISHED_TARGETS: &str = "published_targets";
/// At least this long after settling, so a late duplicate would still be seen.
const STRAGGLERS_MIN: Duration = Duration::from_secs(3);
const STRAGGLERS_MAX: Duration = Duration::from_secs(60);
const RPC_TIMEOUT: Duration = Duration::from_secs(10);
/// Problem lines printed at most.
const SHOWN_PROBLEMS: usize = 30;

#[derive(Debug, Default, Clone, Copy)]
pub struct Line {
    pub targets: usize,
    pub published_once: usize,
    pub duplicates: usize,
    pub missing: usize,
    /// Published without the image the post carries.
    pub without_image: usize,
}

#[derive(Debug, Default)]
pub struct Tally {
    pub total: Line,
    pub by_platform: BTreeMap<Platform, Line>,
    pub usage: i64,
    pub notifications: i64,
    /// One per terminal event: `post.published` (one per post with a published target) and
    /// `post.target.failed` (failed or needs-attention targets).
    pub expected_notifications: i64,
    pub notification_kinds: Vec<(String, i64)>,
    pub states: BTreeMap<String, usize>,
    /// Lateness of published targets (p50, p95, max), seconds, of all and by platform.
    pub lateness: Option<Lateness>,
    pub lateness_by_platform: BTreeMap<Platform, Lateness>,
    pub problems: Vec<String>,
}

pub struct Counter<'a> {
    pub client: &'a async_nats::Client,
    pub caller: &'a Identity,
    pub database_url: &'a str,
    pub plan: &'a Plan,
    /// The run's card, as the platforms must have received it.
    pub card_hash: &'a str,
}

impl Counter<'_> {
    /// Waits for billing and the notifier to catch up with the settled posts (bounded), then
    /// counts against `ledger()` read at that moment.
    pub async fn count(&self, ledger: impl Fn() -> Vec<LedgerPost>) -> Result<Tally> {
        let started = Instant::now();
        loop {
            let tally = self.tally(&ledger()).await?;
            let caught_up = tally.usage == tally.done() as i64
                && tally.notifications == tally.expected_notifications;
            let waited = started.elapsed();
            if (caught_up && waited >= STRAGGLERS_MIN) || waited >= STRAGGLERS_MAX {
                if !caught_up {
                    say(format!(
                        "billing or the notifier did not catch up within {}s",
                        STRAGGLERS_MAX.as_secs()
                    ));
                }
                return Ok(tally);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn tally(&self, ledger: &[LedgerPost]) -> Result<Tally> {
        let tenant = self.caller.tenant_id;
        let targets = db::targets(self.database_url, tenant).await?;
        let kinds = db::notification_kinds(self.database_url, tenant).await?;
        let usage = self.usage(tenant).await;
        let mut tally = count(self.plan, ledger, &targets, self.card_hash);
        tally.usage = usage;
        tally.notifications = kinds.iter().map(|k| k.count).sum();
        tally.notification_kinds = kinds.into_iter().map(|k| (k.key, k.count)).collect();
        Ok(tally)
    }

    /// The tenant's metered published targets; -1 if billing cannot be asked.
    async fn usage(&self, tenant: TenantId) -> i64 {
        let answer = herald_kit::rpc::call::<GetUsage>(
            self.client,
            &format!("chaos-{}-usage-{tenant}", self.plan.run_id),
            Some(self.caller.clone()),
            GetUsageRequest {},
            RPC_TIMEOUT,
        )
        .await;
        match answer {
            Ok(usage) => usage
                .items
                .iter()
                .filter(|item| item.metric == PUBLISHED_TARGETS)
                .map(|item| item.quantity)
                .sum(),
            Err(error) => {
                say(format!("billing's usage cannot be read: {error}"));
                -1
            }
        }
    }
}

impl Tally {
    pub fn done(&self) -> usize {
        self.states.get("done").copied().unwrap_or(0)
    }

    /// Every target published exactly once and metered once, every terminal event notified.
    pub fn passed(&self) -> bool {
        self.total.duplicates == 0
            && self.total.missing == 0
            && self.total.without_image == 0
            && self.usage == self.total.published_once as i64
            && self.notifications == self.expected_notifications
    }

    pub fn last_line(&self) -> String {
        format!(
            "chaos: targets={} published_once={} duplicates={} missing={} usage={} notifications={}",
            self.total.targets,
            self.total.published_once,
            self.total.duplicates,
            self.total.missing,
            self.usage,
            self.notifications
        )
    }
}

/// Counts the plan's posts against the ledger (by text: every text is unique to one post and
/// one target) and the targets' states.
fn count(plan: &Plan, ledger: &[LedgerPost], targets: &[TargetRow], card_hash: &str) -> Tally {
    let mut published: HashMap<&str, Vec<&LedgerPost>> = HashMap::new();
    for post in ledger {
        published
            .entry(post.entry.text.as_str())
            .or_default()
            .push(post);
    }
    let rows: HashMap<&str, &TargetRow> = targets.iter().map(|t| (t.text.as_str(), t)).collect();
    let mut tally = Tally::default();
    let mut lateness: Vec<f64> = Vec::new();
    let mut lateness_by_platform: BTreeMap<Platform, Vec<f64>> = BTreeMap::new();
    for index in 0..plan.posts {
        let text = plan.text(index);
        let platform = plan.platform_of(index);
        let entries = published.get(text.as_str()).map_or(&[][..], Vec::as_slice);
        let row = rows.get(text.as_str());
        let state = row.map_or("absent", |r| r.state.as_str());
        *tally.states.entry(state.to_owned()).or_default() += 1;
        let mut line = Line {
            targets: 1,
            ..Line::default()
        };
        if entries.len() == 1 {
            line.published_once = 1;
        }
        if entries.len() > 1 {
            line.duplicates = entries.len() - 1;
            let ids: Vec<&str> = entries.iter().map(|e| e.entry.status_id.as_str()).collect();
            tally.problems.push(format!(
                "duplicate: post {index:05} on {platform} published {} times (ids {}); target {state}{}",
                entries.len(),
                ids.join(", "),
                describe(row)
            ));
        }
        if entries.is_empty() || state != "done" {
            line.missing = 1;
            tally.problems.push(format!(
                "missing: post {index:05} on {platform}: {} in the ledger; target {state}{}",
                entries.len(),
                describe(row)
            ));
        }
        if super::media::carries_card(platform, index)
            && let Some(post) = entries.first()
            && !carries(post, card_hash)
        {
            line.without_image = 1;
            tally.problems.push(format!(
                "without its image: post {index:05} on {platform} (media ids {:?}, {} upload(s))",
                post.entry.media_ids,
                post.media.len()
            ));
        }
        if let Some(late) = row.and_then(|r| r.lateness_secs) {
            lateness.push(late);
            lateness_by_platform.entry(platform).or_default().push(late);
        }
        if let Some(row) = row
            && matches!(row.state.as_str(), "failed" | "needs_attention")
        {
            tally.expected_notifications += 1;
        }
        let sum = tally.by_platform.entry(platform).or_default();
        add(sum, line);
        add(&mut tally.total, line);
    }
    // One `post.published` per post with a published target (each post has one target).
    tally.expected_notifications += tally.done() as i64;
    tally.lateness = Lateness::of(lateness);
    tally.lateness_by_platform = lateness_by_platform
        .into_iter()
        .filter_map(|(platform, secs)| Some((platform, Lateness::of(secs)?)))
        .collect();
    tally
}

/// Whether a published post carries the card: uploaded bytes that hash to it, or (Instagram,
/// Threads) the public URL that names it.
fn carries(post: &LedgerPost, card_hash: &str) -> bool {
    post.media.iter().any(|m| m.sha256 == card_hash)
        || post
            .entry
            .media_ids
            .iter()
            .any(|id| id.ends_with(&format!("/{card_hash}.png")))
}

/// How long after their time targets were published, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Lateness {
    pub p50: f64,
    pub p95: f64,
    pub max: f64,
}

impl Lateness {
    fn of(mut secs: Vec<f64>) -> Option<Lateness> {
        secs.sort_by(f64::total_cmp);
        let max = *secs.last()?;
        let at = |q: f64| secs[((secs.len() - 1) as f64 * q).round() as usize];
        Some(Lateness {
            p50: at(0.5),
            p95: at(0.95),
            max,
        })
    }
}

fn add(sum: &mut Line, line: Line) {
    sum.targets += line.targets;
    sum.published_once += line.published_once;
    sum.duplicates += line.duplicates;
    sum.missing += line.missing;
    sum.without_image += line.without_image;
}

fn describe(row: Option<&&TargetRow>) -> String {
    match row {
        None => " (no such target in the database)".into(),
        Some(row) => {
            let ahead = |label: &str, secs: Option<f64>| {
                secs.filter(|s| *s > 0.0)
                    .map_or_else(String::new, |s| format!(", {label} in {s:.0}s"))
            };
            format!(
                " after {} attempt(s), post {}, remote id {}{}{}, last error: {}",
                row.attempts,
                row.post_status,
                row.remote_id.as_deref().unwrap_or("-"),
                ahead("next try", row.retry_in_secs),
                ahead("account's rate limit ends", row.account_paused_secs),
                row.last_error.as_deref().unwrap_or("-")
            )
        }
    }
}

/// The per-platform table and the problems, for the summary.
pub fn table(tally: &Tally) -> String {
    let mut out = format!(
        "  {:<10} {:>7} {:>6} {:>10} {:>7} {:>9}   {}\n",
        "platform", "targets", "once", "duplicates", "missing", "no image", "late p50 / p95 / max"
    );
    let row = |name: &str, line: &Line, late: Option<&Lateness>| {
        let late = late.map_or_else(String::new, |l| {
            format!("{:.1}s / {:.1}s / {:.1}s", l.p50, l.p95, l.max)
        });
        let row = format!(
            "  {name:<10} {:>7} {:>6} {:>10} {:>7} {:>9}   {late}",
            line.targets, line.published_once, line.duplicates, line.missing, line.without_image
        );
        format!("{}\n", row.trim_end())
    };
    for (platform, line) in &tally.by_platform {
        let late = tally.lateness_by_platform.get(platform);
        out.push_str(&row(platform.as_str(), line, late));
    }
    out.push_str(&row("all", &tally.total, tally.lateness.as_ref()));
    let states: Vec<String> = tally
        .states
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    out.push_str(&format!("  target states: {}\n", states.join(", ")));
    let kinds: Vec<String> = tally
        .notification_kinds
        .iter()
        .map(|(k, n)| format!(", {k} {n}"))
        .collect();
    out.push_str(&format!(
        "  notifications: {} (expected {}: one per terminal event){}\n",
        tally.notifications,
        tally.expected_notifications,
        kinds.concat()
    ));
    out.push_str(&format!(
        "  usage: {} published targets metered (published once: {})\n",
        tally.usage, tally.total.published_once
    ));
    for problem in tally.problems.iter().take(SHOWN_PROBLEMS) {
        out.push_str(&format!("  {problem}\n"));
    }
    if tally.problems.len() > SHOWN_PROBLEMS {
        out.push_str(&format!(
            "  ... and {} more problem(s)\n",
            tally.problems.len() - SHOWN_PROBLEMS
        ));
    }
    out
}
