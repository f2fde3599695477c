//! The decision on one key's row, without I/O: admit, wait, lock, and how the window, the
//! run of lockouts and abandoned attempts age.

use super::Limit;
use chrono::{DateTime, TimeDelta, Utc};
use std::time::Duration;

/// An attempt admitted this long ago and never resolved (its replica died while verifying)
/// counts as a failure: longer than any request may run (`HERALD_RPC_TIMEOUT_SECS`).
pub const ABANDONED_AFTER: Duration = Duration::from_secs(60);

/// A key's row: failures in the current window, attempts being verified, and its lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub failures: u32,
    /// Admitted attempts not yet resolved (being verified now, on any replica).
    pub pending: u32,
    pub window_started_at: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
    /// Lockouts in a row; forgotten after a whole window without attempts or lock.
    pub lockouts: u32,
    pub last_attempt_at: Option<DateTime<Utc>>,
}

/// What a key says about one more attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead: counted as pending until [`failed`] or [`succeeded`] resolves it.
    Admitted(Counter),
    /// Failures and attempts still being verified use up the allowance: wait for them.
    Busy,
    /// Locked until then. `newly` carries the row to store when this attempt set the lock.
    Locked {
        until: DateTime<Utc>,
        newly: Option<Counter>,
    },
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

impl Counter {
    #[cfg(test)]
    fn fresh(now: DateTime<Utc>) -> Self {
        Self {
            failures: 0,
            pending: 0,
            window_started_at: now,
            locked_until: None,
            lockouts: 0,
            last_attempt_at: None,
        }
    }

    fn locked_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.locked_until.filter(|until| *until > now)
    }

    /// The window, abandoned attempts and the run of lockouts, brought up to `now`.
    fn aged(&self, limit: &Limit, now: DateTime<Utc>) -> Self {
        let mut next = self.clone();
        let window = delta(limit.window);
        if self
            .last_attempt_at
            .is_none_or(|at| at + delta(ABANDONED_AFTER) <= now)
        {
            next.failures = next.failures.saturating_add(next.pending);
            next.pending = 0;
        }
        let last_activity = self.last_attempt_at.max(self.locked_until);
        if last_activity.is_none_or(|at| at + window <= now) {
            next.lockouts = 0;
        }
        if self.window_started_at + window <= now {
            next.failures = 0;
            next.window_started_at = now;
        }
        next
    }

    fn lock(mut self, limit: &Limit, now: DateTime<Utc>) -> (DateTime<Utc>, Counter) {
        let until = now + delta(limit.lock_period(self.lockouts));
        self.locked_until = Some(until);
        self.lockouts = self.lockouts.saturating_add(1);
        self.failures = 0;
        self.window_started_at = now;
        (until, self)
    }

    /// Whether one more attempt may go ahead at `now`.
    pub fn admit(&self, limit: &Limit, now: DateTime<Utc>) -> Admission {
        if let Some(until) = self.locked_at(now) {
            return Admission::Locked { until, newly: None };
        }
        let mut next = self.aged(limit, now);
        if next.failures >= limit.max_failures {
            let (until, locked) = next.lock(limit, now);
            return Admission::Locked {
                until,
                newly: Some(locked),
            };
        }
        if next.failures + next.pending >= limit.max_failures {
            return Admission::Busy;
        }
        next.pending += 1;
        next.last_attempt_at = Some(now);
        Admission::Admitted(next)
    }

    /// An admitted attempt failed: one failure more; the one that uses up the allowance locks
    /// the key now (unless a lock is in force). Returns the new row and the lock it set.
    pub fn failed(&self, limit: &Limit, now: DateTime<Utc>) -> (Counter, Option<DateTime<Utc>>) {
        let mut next = self.aged(limit, now);
        next.pending = next.pending.saturating_sub(1);
        next.failures = next.failures.saturating_add(1);
        if self.locked_at(now).is_none() && next.failures >= limit.max_failures {
            let (until, locked) = next.lock(limit, now);
            return (locked, Some(until));
        }
        (next, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit() -> Limit {
        Limit {
            max_failures: 3,
            window: Duration::from_secs(60),
            lock: Duration::from_secs(10),
            lock_max: Duration::from_secs(25),
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn admitted(admission: Admission) -> Counter {
        match admission {
            Admission::Admitted(counter) => counter,
            other => panic!("expected admitted, got {other:?}"),
        }
    }

    /// One admitted attempt that fails at `now`.
    fn fail(counter: &Counter, now: DateTime<Utc>) -> (Counter, Option<DateTime<Utc>>) {
        admitted(counter.admit(&limit(), now)).failed(&limit(), now)
    }

    #[test]
    fn locks_after_max_failures_and_escalates() {
        let limit = limit();
        let mut counter = Counter::fresh(at(0));
        for n in 1..=2 {
            let (next, lock) = fail(&counter, at(n));
            assert_eq!((next.failures, next.pending, lock), (n as u32, 0, None));
            counter = next;
        }
        // The third failure locks at once; a fourth attempt is refused.
        let (locked, until) = fail(&counter, at(3));
        assert_eq!(until, Some(at(13)));
        assert_eq!(
            locked.admit(&limit, at(5)),
            Admission::Locked {
                until: at(13),
                newly: None
            }
        );
        // After the lock, three more failures lock for twice as long, then at most lock_max.
        counter = locked;
        for (start, period) in [(13, 20), (40, 25)] {
            for n in 0..2 {
                counter = fail(&counter, at(start + n)).0;
            }
            let (next, until) = fail(&counter, at(start + 2));
            assert_eq!(until, Some(at(start + 2 + period)));
            counter = next;
        }
    }

    #[test]
    fn attempts_being_verified_hold_back_more_than_the_allowance() {
        let limit = limit();
        let mut counter = Counter::fresh(at(0));
        for _ in 0..3 {
            counter = admitted(counter.admit(&limit, at(0)));
        }
        assert_eq!(counter.pending, 3);
        // A fourth waits while three could still fail.
        assert_eq!(counter.admit(&limit, at(0)), Admission::Busy);
        // One fails: still busy (two pending + one failure). One more fails, the third fails
        // and locks: then refused.
        let (counter, _) = counter.failed(&limit, at(1));
        assert_eq!(counter.admit(&limit, at(1)), Admission::Busy);
        let (counter, _) = counter.failed(&limit, at(1));
        let (counter, lock) = counter.failed(&limit, at(1));
        assert_eq!(lock, Some(at(11)));
        assert!(matches!(
            counter.admit(&limit, at(2)),
            Admission::Locked { .. }
        ));
    }

    #[test]
    fn abandoned_attempts_count_as_failures() {
        let limit = Limit {
            window: Duration::from_secs(600),
            ..limit()
        };
        let mut counter = Counter::fresh(at(0));
        for _ in 0..3 {
            counter = admitted(counter.admit(&limit, at(0)));
        }
        let later = at(0) + delta(ABANDONED_AFTER);
        // Three attempts whose replica died: the allowance is used up, the next one locks.
        assert!(matches!(
            counter.admit(&limit, later),
            Admission::Locked { newly: Some(_), .. }
        ));
    }

    #[test]
    fn a_quiet_window_forgets_failures_and_lockouts() {
        let limit = limit();
        let mut counter = Counter::fresh(at(0));
        counter = fail(&counter, at(0)).0;
        counter = fail(&counter, at(1)).0;
        let counter = admitted(counter.admit(&limit, at(61)));
        assert_eq!((counter.failures, counter.pending), (0, 1));

        let mut locked = counter.clone();
        locked.lockouts = 2;
        locked.locked_until = Some(at(70));
        // Still within a window of the lock's end: the run of lockouts goes on.
        assert_eq!(locked.aged(&limit, at(100)).lockouts, 2);
        assert_eq!(locked.aged(&limit, at(130)).lockouts, 0);
    }
}
