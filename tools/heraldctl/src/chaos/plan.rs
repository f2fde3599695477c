//! What one chaos run does, decided before anything starts: which posts go to which platform
//! and account, when they are due, how many accounts each platform needs, how long the run
//! may take and which faults the sandbox injects.

use std::time::Duration;

use herald_contracts::messages::Platform;
use herald_sandbox::Faults;

use super::Args;

/// The injected faults of the issue: ≥ 5 % dropped after commit, 5 % 5xx, 2 % 429.
pub const FAULTS: Faults = Faults {
    latency_ms: 0,
    error_rate: 0.05,
    rate_limit_rate: 0.02,
    drop_after_commit_rate: 0.05,
};

/// Every platform: Instagram's posts carry the run's rendered card.
pub const DEFAULT_PLATFORMS: [Platform; 7] = Platform::ALL;

#[derive(Debug)]
pub struct Plan {
    /// Makes the texts of this run unique (X, LinkedIn and Facebook refuse a repeated text).
    pub run_id: String,
    pub posts: usize,
    pub platforms: Vec<Platform>,
    /// The posts' times are spread evenly over this long, from the first due time.
    pub spread: Duration,
    /// The chaos stops, failed, if the posts have not settled this long after the first is due.
    pub deadline: Duration,
    /// No faults, no kills, no restarts: a baseline to tell chaos from plain bugs.
    pub calm: bool,
}

impl Plan {
    pub fn new(args: &Args) -> Plan {
        let posts = args.posts as usize;
        let platforms = if args.platforms.is_empty() {
            DEFAULT_PLATFORMS.to_vec()
        } else {
            let mut chosen = args.platforms.clone();
            chosen.sort();
            chosen.dedup();
            chosen
        };
        let spread = Duration::from_secs(args.spread.unwrap_or((posts as u64 / 20).max(15)));
        let deadline = Duration::from_secs(
            args.deadline
                .unwrap_or(180 + posts as u64 / 10 + spread.as_secs()),
        );
        Plan {
            run_id: format!("{:08x}", rand::random::<u32>()),
            posts,
            platforms,
            spread,
            deadline,
            calm: args.calm,
        }
    }

    /// The text of post `index`: unique within and across runs, nothing a platform rewrites
    /// (no `#`, `@` or LinkedIn's reserved characters).
    pub fn text(&self, index: usize) -> String {
        format!("chaos {} post {index:05}", self.run_id)
    }

    pub fn platform_of(&self, index: usize) -> Platform {
        self.platforms[index % self.platforms.len()]
    }

    /// Which of its platform's accounts post `index` targets.
    pub fn account_slot(&self, index: usize) -> usize {
        let platform = self.platform_of(index);
        (index / self.platforms.len()) % self.accounts_on(platform)
    }

    pub fn targets_on(&self, platform: Platform) -> usize {
        (0..self.posts)
            .filter(|&i| self.platform_of(i) == platform)
            .count()
    }

    /// Enough accounts that no platform's own posting limit is reached by this run.
    pub fn accounts_on(&self, platform: Platform) -> usize {
        self.targets_on(platform)
            .div_ceil(posts_per_account(platform))
            .max(1)
    }

    /// When post `index` is due, as an offset from the first due time.
    pub fn due_offset(&self, index: usize) -> Duration {
        let posts = self.posts.max(1) as u32;
        self.spread * u32::try_from(index).unwrap_or(u32::MAX) / posts
    }

    /// When the run is expected to be busiest: the spread plus a tail of retries. The
    /// nats-server restart lands at a third of it, Postgres' at two thirds.
    pub fn expected_run(&self) -> Duration {
        self.spread + Duration::from_secs(10)
    }
}

/// Posts one account may take in a run, well under the sandbox's limits (which follow the
/// platforms'): Mastodon 300 statuses per 3 h and 300 calls per 5 min, X 100 tweets per
/// 15 min, Instagram 50 and Threads 250 publishes per day, Facebook 4,800 calls per page per
/// day; retries and reconciliation lookups count too.
fn posts_per_account(platform: Platform) -> usize {
    match platform {
        Platform::Mastodon => 100,
        Platform::X => 40,
        Platform::Instagram => 20,
        Platform::Threads => 100,
        Platform::Bluesky | Platform::Linkedin | Platform::Facebook => 400,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(posts: usize, platforms: Vec<Platform>) -> Plan {
        Plan {
            run_id: "0badcafe".into(),
            posts,
            platforms,
            spread: Duration::from_secs(20),
            deadline: Duration::from_secs(60),
            calm: false,
        }
    }

    #[test]
    fn posts_go_round_robin_over_platforms_and_their_accounts() {
        let plan = plan(500, DEFAULT_PLATFORMS.to_vec());
        assert_eq!(plan.platform_of(0), Platform::Mastodon);
        assert_eq!(plan.platform_of(7), Platform::Mastodon);
        assert_eq!(plan.platform_of(8), Platform::Bluesky);
        // 72 X posts need two accounts of 40; consecutive X posts change account.
        assert_eq!(plan.targets_on(Platform::X), 72);
        assert_eq!(plan.accounts_on(Platform::X), 2);
        let slots: Vec<usize> = (0..500)
            .filter(|&i| plan.platform_of(i) == Platform::X)
            .map(|i| plan.account_slot(i))
            .take(4)
            .collect();
        assert_eq!(slots, [0, 1, 0, 1]);
        // Instagram's 50 publishes a day: 71 posts need four accounts of 20.
        assert_eq!(plan.targets_on(Platform::Instagram), 71);
        assert_eq!(plan.accounts_on(Platform::Instagram), 4);
        assert_eq!(plan.accounts_on(Platform::Bluesky), 1);
        let total: usize = DEFAULT_PLATFORMS.iter().map(|&p| plan.targets_on(p)).sum();
        assert_eq!(total, 500);
    }

    #[test]
    fn due_times_spread_evenly_and_texts_are_unique() {
        let plan = plan(4, vec![Platform::Mastodon]);
        let offsets: Vec<u64> = (0..4).map(|i| plan.due_offset(i).as_secs()).collect();
        assert_eq!(offsets, [0, 5, 10, 15]);
        assert_ne!(plan.text(1), plan.text(10));
        assert_eq!(plan.text(7), "chaos 0badcafe post 00007");
    }
}
