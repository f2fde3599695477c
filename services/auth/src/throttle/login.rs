//! Login throttling: one key per account (the normalized email, stored hashed) and one per
//! client IP (IPv4 address, or IPv6 /64, as the gateway saw it), and the audit events of a
//! login: succeeded, failed, locked out.
//!
//! Unknown and malformed emails are throttled and locked exactly like registered ones, so a
//! lockout says nothing about whether an email exists. Their failures and lockouts, and IP
//! lockouts, belong to no tenant: they go to auth's log only (`login.key`: a prefix of the
//! hashed key; `client.ip`), not to the audit stream, which keeps no tenant-less events and
//! could otherwise be filled without bound by guesses at random emails.

use super::{Decision, Key, Limit, Lock};
use crate::domain::Email;
use crate::repo::identity;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use herald_contracts::messages::audit::{Actor, AuditEvent, Outcome, actions};
use herald_contracts::rpc::RpcError;
use herald_contracts::{TenantId, UserId};
use herald_kit::audit;
use herald_kit::db::Db;
use herald_kit::outbox::OutboxWaker;
use std::net::IpAddr;
use std::time::Duration;

pub const ACCOUNT: &str = "login.account";
pub const IP: &str = "login.ip";
/// The answer to a refused login; the same for every locked key, known email or not.
pub const LOCKED: &str = "too many failed logins; try again later";

/// The limits for logins (`HERALD_AUTH_LOGIN_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginPolicy {
    pub account: Limit,
    pub ip: Limit,
}

/// The key an IP address is throttled under: IPv4 (and IPv4-mapped IPv6) per address, IPv6
/// per /64, since one subscriber usually holds a whole /64. `None` for an unspecified address
/// (a gateway that did not record one), so such logins do not all share one key.
pub fn ip_key(ip: IpAddr) -> Option<String> {
    let ip = ip.to_canonical();
    if ip.is_unspecified() {
        return None;
    }
    Some(match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    })
}

fn internal(context: &str, cause: impl std::fmt::Display) -> RpcError {
    RpcError::new(
        herald_contracts::rpc::ErrorCode::Internal,
        format!("{context}: {cause}"),
    )
}

fn unavailable(cause: impl std::fmt::Display) -> RpcError {
    tracing::warn!(error = %cause, "database unavailable");
    RpcError::unavailable()
}

/// One login attempt on its way through the throttle.
pub struct LoginAttempt {
    /// Account first, then IP: the lock order of every attempt.
    keys: Vec<Key>,
    client_ip: Option<String>,
    request_id: String,
    /// The registered user the email names, if any.
    user: Option<UserId>,
}

/// How long an attempt waits for others at the same key to be resolved (`Decision::Busy`)
/// before it is refused, and how often it asks again.
const BUSY_WAIT: Duration = Duration::from_secs(5);
const BUSY_POLL: Duration = Duration::from_millis(50);

impl LoginAttempt {
    /// `client_ip` comes from the gateway (only the gateway calls login); one that does not
    /// parse is a bug there and is refused.
    pub fn new(
        policy: &LoginPolicy,
        email: &str,
        client_ip: Option<&str>,
        request_id: &str,
        user: Option<UserId>,
    ) -> Result<Self, RpcError> {
        let account = match Email::parse(email) {
            Ok(email) => email.as_str().to_owned(),
            Err(_) => email.trim().to_lowercase(),
        };
        let mut keys = vec![Key::hashed(ACCOUNT, &account, policy.account)];
        let ip = client_ip
            .map(|raw| {
                raw.parse::<IpAddr>()
                    .map_err(|_| RpcError::invalid("client_ip: not an IP address"))
            })
            .transpose()?;
        if let Some(key) = ip.and_then(ip_key) {
            keys.push(Key {
                scope: IP,
                key,
                limit: policy.ip,
            });
        }
        Ok(Self {
            keys,
            client_ip: ip.map(|ip| ip.to_canonical().to_string()),
            request_id: request_id.to_owned(),
            user,
        })
    }

    fn account_key(&self) -> &Key {
        &self.keys[0]
    }

    fn event(&self, action: &str, user: UserId, outcome: Outcome) -> AuditEvent {
        AuditEvent::new(action, Actor::User { id: user }, outcome, &self.request_id)
            .target("user", user)
            .client_ip(self.client_ip.clone())
    }

    /// The tenant a known user's events go to: the one their login lands in.
    async fn tenant_of(db: &Db, user: UserId) -> Result<Option<TenantId>, RpcError> {
        // Before sign-in there is no tenant to scope the look-up to: that is what it finds.
        let mut conn = db
            .system("login: the tenant of a user not signed in yet")
            .await
            .map_err(unavailable)?;
        identity::login_membership(&mut conn, user)
            .await
            .map(|found| found.map(|(tenant, _)| tenant))
            .map_err(|e| internal("finding the membership", e))
    }

    /// Lockout events for the new account locks in `locks`, and log lines for all new locks.
    fn lockout_events(
        &self,
        locks: &[Lock],
        tenant: Option<TenantId>,
    ) -> Vec<(TenantId, AuditEvent)> {
        let mut events = Vec::new();
        for lock in locks.iter().filter(|lock| lock.new) {
            tracing::warn!(
                throttle.scope = lock.scope,
                login.key = %short(self.key_of(lock.scope)),
                client.ip = self.client_ip.as_deref().unwrap_or(""),
                locked_until = %lock.until,
                "login locked out"
            );
            if let (ACCOUNT, Some(user), Some(tenant)) = (lock.scope, self.user, tenant) {
                let event = self
                    .event(actions::LOGIN_LOCKED_OUT, user, Outcome::Denied)
                    .reason(format!(
                        "too many failed logins; locked until {}",
                        lock.until
                    ));
                events.push((tenant, event));
            }
        }
        events
    }

    fn key_of(&self, scope: &str) -> &str {
        self.keys
            .iter()
            .find(|key| key.scope == scope)
            .map_or("", |key| key.key.as_str())
    }

    /// Counts the attempt, or refuses it (`rate_limited` with the seconds until it may be
    /// retried) before any password is verified. While other attempts at the same key are
    /// being verified and could use up its allowance, waits for them (a few seconds at most).
    pub async fn admit(&self, db: &Db, outbox: &OutboxWaker) -> Result<(), RpcError> {
        let tenant = match self.user {
            Some(user) => Self::tenant_of(db, user).await?,
            None => None,
        };
        let deadline = tokio::time::Instant::now() + BUSY_WAIT;
        loop {
            let decision = self.try_admit(db, outbox, tenant).await?;
            let retry_after = match decision {
                Decision::Admitted => return Ok(()),
                Decision::Busy if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(BUSY_POLL).await;
                    continue;
                }
                Decision::Busy => 1,
                refused @ Decision::Refused { .. } => refused.retry_after_secs().unwrap_or(1),
            };
            tracing::info!(
                login.key = %short(&self.account_key().key),
                client.ip = self.client_ip.as_deref().unwrap_or(""),
                retry_after_secs = retry_after,
                "login refused: locked"
            );
            return Err(RpcError::rate_limited(LOCKED, retry_after));
        }
    }

    async fn try_admit(
        &self,
        db: &Db,
        outbox: &OutboxWaker,
        tenant: Option<TenantId>,
    ) -> Result<Decision, RpcError> {
        let mut conn = db.conn().await.map_err(unavailable)?;
        let (decision, written) = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                let decision = super::admit(conn, &self.keys).await?;
                let events = match &decision {
                    Decision::Refused { locks, .. } => self.lockout_events(locks, tenant),
                    _ => Vec::new(),
                };
                let written = record(conn, events).await?;
                Ok((decision, written))
            })
            .await
            .map_err(|e| internal("throttling the login", e))?;
        if written {
            outbox.wake();
        }
        Ok(decision)
    }

    /// The attempt failed: a failure on every key (the one that uses up an allowance locks
    /// it, with a `login_locked_out` event), and a known user's tenant gets `login_failed`.
    pub async fn failed(
        &self,
        db: &Db,
        outbox: &OutboxWaker,
        reason: &str,
    ) -> Result<(), RpcError> {
        let tenant = match self.user {
            Some(user) => Self::tenant_of(db, user).await?,
            None => None,
        };
        if tenant.is_none() {
            tracing::info!(
                login.key = %short(&self.account_key().key),
                client.ip = self.client_ip.as_deref().unwrap_or(""),
                reason,
                "login failed for an email with no tenant"
            );
        }
        let mut conn = db.conn().await.map_err(unavailable)?;
        let written = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                let mut events = Vec::new();
                if let (Some(user), Some(tenant)) = (self.user, tenant) {
                    let event = self
                        .event(actions::LOGIN_FAILED, user, Outcome::Failure)
                        .reason(reason);
                    events.push((tenant, event));
                }
                let locks = super::failed(conn, &self.keys).await?;
                events.extend(self.lockout_events(&locks, tenant));
                record(conn, events).await
            })
            .await
            .map_err(|e| internal("recording the failed login", e))?;
        if written {
            outbox.wake();
        }
        Ok(())
    }

    /// The attempt succeeded: the account forgets its failures, the IP only resolves the
    /// attempt, and the tenant gets a `login_succeeded` event.
    pub async fn succeeded(
        &self,
        db: &Db,
        outbox: &OutboxWaker,
        tenant: TenantId,
        user: UserId,
    ) -> Result<(), RpcError> {
        let mut conn = db.conn().await.map_err(unavailable)?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            super::succeeded(conn, &self.keys[..1], &self.keys[1..]).await?;
            let event = self.event(actions::LOGIN_SUCCEEDED, user, Outcome::Success);
            record(conn, vec![(tenant, event)]).await
        })
        .await
        .map_err(|e| internal("recording the login", e))?;
        outbox.wake();
        Ok(())
    }
}

/// Writes the events into the outbox; whether there were any.
async fn record(
    conn: &mut AsyncPgConnection,
    events: Vec<(TenantId, AuditEvent)>,
) -> diesel::QueryResult<bool> {
    let any = !events.is_empty();
    for (tenant, event) in events {
        audit::record(conn, tenant, event).await?;
    }
    Ok(any)
}

/// Enough of a hashed key to follow it through the log.
fn short(key: &str) -> &str {
    key.get(..12).unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_is_throttled_per_64() {
        let key = |raw: &str| ip_key(raw.parse().unwrap());
        assert_eq!(key("203.0.113.7").as_deref(), Some("203.0.113.7"));
        assert_eq!(key("::ffff:203.0.113.7").as_deref(), Some("203.0.113.7"));
        assert_eq!(
            key("2001:db8:1:2:aaaa::1"),
            key("2001:db8:1:2:bbbb::2"),
            "one /64, one key"
        );
        assert_eq!(key("2001:db8:1:2::1").as_deref(), Some("2001:db8:1:2::/64"));
        assert_eq!(key("0.0.0.0"), None);
        assert_eq!(key("::"), None);
    }

    #[test]
    fn account_keys_are_hashed_and_normalized() {
        let limit = Limit {
            max_failures: 1,
            window: std::time::Duration::from_secs(1),
            lock: std::time::Duration::from_secs(1),
            lock_max: std::time::Duration::from_secs(1),
        };
        let policy = LoginPolicy {
            account: limit,
            ip: limit,
        };
        let a =
            LoginAttempt::new(&policy, " Ada@Example.com", Some("10.0.0.1"), "r", None).unwrap();
        let b = LoginAttempt::new(&policy, "ada@example.com", None, "r", None).unwrap();
        assert_eq!(a.account_key(), b.account_key());
        assert!(!a.account_key().key.contains("ada"));
        assert_eq!(a.keys.len(), 2);
        assert_eq!(b.keys.len(), 1);
        assert!(LoginAttempt::new(&policy, "ada@example.com", Some("nope"), "r", None).is_err());
    }
}
