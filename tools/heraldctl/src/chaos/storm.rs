//! The chaos itself, while the posts publish: every 3–5 s a random publisher replica gets
//! SIGKILL and is started again a second later; at a third of the expected run nats-server is
//! restarted, at two thirds Postgres. It goes on until every post has settled (and every
//! planned restart has happened) or the deadline passes. A service that exits on its own is
//! restarted too, and reported.

use std::time::Duration;

use anyhow::Result;
use herald_contracts::TenantId;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use super::db;
use super::plan::Plan;
use super::stack::{PUBLISHER_SLOTS, Stack};
use crate::up::log::say;

const TICK: Duration = Duration::from_millis(250);
const POLL_EVERY: Duration = Duration::from_secs(1);
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
const RESTART_AFTER: Duration = Duration::from_secs(1);

/// What the chaos did.
#[derive(Debug, Default)]
pub struct StormLog {
    pub kills: usize,
    pub restarts: usize,
    /// Seconds into the chaos when nats-server and Postgres were restarted.
    pub nats_restarted_at: Option<f64>,
    pub postgres_restarted_at: Option<f64>,
    /// Services that exited without being killed: name, how, when, last log lines.
    pub unexpected_exits: Vec<String>,
    /// Seconds until every post had settled.
    pub settled_after: Option<f64>,
    pub timed_out: bool,
}

pub async fn run(stack: &mut Stack, plan: &Plan, tenant: TenantId) -> Result<StormLog> {
    let mut log = StormLog::default();
    let mut rng = StdRng::from_entropy();
    let start = Instant::now();
    let deadline = start + plan.deadline;
    let expected = plan.expected_run();
    let mut next_kill = start + kill_interval(&mut rng);
    let (mut nats_due, mut postgres_due) =
        (Some(start + expected / 3), Some(start + expected * 2 / 3));
    if plan.calm {
        (nats_due, postgres_due) = (None, None);
    }
    // Slot → when to start it again; `killed` marks the deaths we caused.
    let mut restart_at: Vec<Option<Instant>> = vec![None; stack.slots()];
    let mut killed = vec![false; stack.slots()];
    let mut next_poll = start;
    let mut next_progress = start + PROGRESS_EVERY;
    let mut settled = false;
    loop {
        let now = Instant::now();
        let elapsed = (now - start).as_secs_f64();
        for slot in 0..stack.slots() {
            if restart_at[slot].is_some() {
                continue;
            }
            if let Some(exit) = stack.exit(slot) {
                if !std::mem::take(&mut killed[slot]) {
                    // Let the pumps copy its last lines before they are quoted.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    let report = format!(
                        "{} exited on its own with {exit} at {elapsed:.1}s; its last log lines:\n{}",
                        stack.name(slot),
                        stack.tail(slot)
                    );
                    say(&report);
                    log.unexpected_exits.push(report);
                }
                restart_at[slot] = Some(now + RESTART_AFTER);
            }
        }
        for (slot, at) in restart_at.iter_mut().enumerate() {
            if at.is_some_and(|at| at <= now) {
                match stack.respawn(slot).await {
                    Ok(()) => {
                        *at = None;
                        log.restarts += 1;
                    }
                    Err(error) => {
                        say(format!(
                            "restarting {}: {error:#}; trying again",
                            stack.name(slot)
                        ));
                        *at = Some(now + RESTART_AFTER);
                    }
                }
            }
        }
        if !plan.calm && !settled && now >= next_kill {
            let running: Vec<usize> = PUBLISHER_SLOTS
                .into_iter()
                .filter(|&slot| restart_at[slot].is_none() && stack.exit(slot).is_none())
                .collect();
            if !running.is_empty() {
                let slot = running[rng.gen_range(0..running.len())];
                say(format!("kill -9 {} at {elapsed:.1}s", stack.name(slot)));
                stack.kill(slot).await?;
                killed[slot] = true;
                log.kills += 1;
            }
            next_kill = now + kill_interval(&mut rng);
        }
        // Due, or the posts settled before it came: the restart must happen in every run.
        if nats_due.is_some_and(|at| at <= now || settled) {
            say(format!("restarting nats-server at {elapsed:.1}s"));
            stack.restart_nats().await?;
            say(format!(
                "nats-server is back after {:.1}s",
                (Instant::now() - now).as_secs_f64()
            ));
            log.nats_restarted_at = Some(elapsed);
            nats_due = None;
        }
        if postgres_due.is_some_and(|at| at <= now || settled) {
            say(format!("restarting Postgres at {elapsed:.1}s"));
            stack.restart_postgres().await?;
            say(format!(
                "Postgres is back after {:.1}s",
                (Instant::now() - now).as_secs_f64()
            ));
            log.postgres_restarted_at = Some(elapsed);
            postgres_due = None;
        }
        if now >= next_poll {
            next_poll = now + POLL_EVERY;
            match db::post_statuses(stack.database_url(), tenant).await {
                Ok(counts) => {
                    let open: i64 = counts
                        .iter()
                        .filter(|c| matches!(c.key.as_str(), "scheduled" | "publishing" | "draft"))
                        .map(|c| c.count)
                        .sum();
                    let total: i64 = counts.iter().map(|c| c.count).sum();
                    if !settled && open == 0 && total == plan.posts as i64 {
                        settled = true;
                        log.settled_after = Some(elapsed);
                        say(format!("every post settled after {elapsed:.1}s"));
                    }
                    if now >= next_progress {
                        next_progress = now + PROGRESS_EVERY;
                        let shown: Vec<String> = counts
                            .iter()
                            .map(|c| format!("{} {}", c.key, c.count))
                            .collect();
                        say(format!("{elapsed:.0}s: {}", shown.join(", ")));
                    }
                }
                Err(error) => say(format!(
                    "{elapsed:.0}s: cannot read the posts now: {error:#}"
                )),
            }
        }
        let quiet =
            restart_at.iter().all(Option::is_none) && nats_due.is_none() && postgres_due.is_none();
        if settled && quiet && (plan.calm || log.kills > 0) {
            return Ok(log);
        }
        if now >= deadline {
            say(format!(
                "deadline: the posts have not settled after {}s",
                plan.deadline.as_secs()
            ));
            log.timed_out = true;
            // Leave every service running for the counts.
            for slot in 0..stack.slots() {
                if stack.exit(slot).is_some() {
                    stack.respawn(slot).await?;
                    log.restarts += 1;
                }
            }
            return Ok(log);
        }
        tokio::time::sleep(TICK).await;
    }
}

fn kill_interval(rng: &mut StdRng) -> Duration {
    Duration::from_millis(rng.gen_range(3_000..=5_000))
}
