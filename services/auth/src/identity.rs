//! Emailed, single-use tokens (email verification, password reset, invitations): their
//! settings, the links built from the public app URL, and the `identity.email-requested`
//! message that asks the notifier to send one.
//!
//! A token is 32 random bytes, base64url; the database keeps only its sha256. The link puts
//! it in the URL fragment (`#token=`), which browsers never send to a server, so it stays out
//! of access logs and `Referer` headers. The message that carries it is published with a
//! per-message TTL (`Nats-TTL`) equal to the token's remaining life, so the `IDENTITY` stream
//! keeps it no longer than the link works.

use crate::throttle::Limit;
use chrono::{DateTime, Utc};
use herald_contracts::messages::identity::{EmailKind, EmailRequested};
use herald_contracts::rpc::Role;
use herald_contracts::{Envelope, TenantId};
use herald_kit::{ConfigError, Env, Outgoing};
use std::time::Duration;

/// `HERALD_AUTH_*` settings of emailed tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityPolicy {
    /// `PUBLIC_APP_URL`: the web app's origin (and path prefix) links point to, no trailing `/`.
    pub app_url: String,
    /// `VERIFY_TOKEN_TTL_SECS` (24 h).
    pub verify_ttl: Duration,
    /// `RESET_TOKEN_TTL_SECS` (1 h).
    pub reset_ttl: Duration,
    /// `INVITATION_TTL_SECS` (7 days).
    pub invitation_ttl: Duration,
    /// `RESET_MAX_PER_EMAIL` (3) per `RESET_WINDOW_SECS` (3600): reset and verification
    /// emails asked for one address; the next is refused until the window has passed.
    pub per_email: Limit,
    /// `RESET_MAX_PER_IP` (20) per window: reset emails asked for from one client IP.
    pub per_ip: Limit,
}

pub const RESET_EMAIL: &str = "reset.account";
pub const RESET_IP: &str = "reset.ip";
pub const VERIFY_RESEND: &str = "verify.account";

impl IdentityPolicy {
    /// `env` is scoped to auth.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let app_url: String = env.optional("PUBLIC_APP_URL", "http://localhost:8080".to_owned())?;
        let app_url = app_url.trim().trim_end_matches('/').to_owned();
        let plain = app_url
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '#' | '?' | '"' | '<' | '>'));
        let scheme = app_url.starts_with("https://") || app_url.starts_with("http://");
        if !plain || !scheme || app_url.split("//").nth(1).is_none_or(str::is_empty) {
            return Err(ConfigError {
                var: "HERALD_AUTH_PUBLIC_APP_URL".into(),
                problem:
                    "must be an http(s) URL without query or fragment, e.g. https://app.example.com"
                        .into(),
            });
        }
        let positive = |var: &str, default: u64| -> Result<u64, ConfigError> {
            let value: u64 = env.optional(var, default)?;
            if value == 0 {
                return Err(ConfigError {
                    var: format!("HERALD_AUTH_{var}"),
                    problem: "must be at least 1".into(),
                });
            }
            Ok(value)
        };
        let secs = |var: &str, default: u64| positive(var, default).map(Duration::from_secs);
        let window = secs("RESET_WINDOW_SECS", 3600)?;
        let limit = |max: u64| Limit {
            max_failures: u32::try_from(max).unwrap_or(u32::MAX),
            window,
            // A refused key waits out the window; no doubling (nobody guesses anything here).
            lock: window,
            lock_max: window,
        };
        Ok(Self {
            app_url,
            verify_ttl: secs("VERIFY_TOKEN_TTL_SECS", 24 * 3600)?,
            reset_ttl: secs("RESET_TOKEN_TTL_SECS", 3600)?,
            invitation_ttl: secs("INVITATION_TTL_SECS", 7 * 24 * 3600)?,
            per_email: limit(positive("RESET_MAX_PER_EMAIL", 3)?),
            per_ip: limit(positive("RESET_MAX_PER_IP", 20)?),
        })
    }

    /// The app page that takes the token, with the token in the fragment.
    pub fn link(&self, kind: EmailKind, token: &str) -> String {
        let page = match kind {
            EmailKind::VerifyEmail => "verify-email",
            EmailKind::PasswordReset => "reset-password",
            EmailKind::Invitation => "accept-invitation",
        };
        format!("{}/{page}#token={token}", self.app_url)
    }

    pub fn ttl(&self, kind: EmailKind) -> Duration {
        match kind {
            EmailKind::VerifyEmail => self.verify_ttl,
            EmailKind::PasswordReset => self.reset_ttl,
            EmailKind::Invitation => self.invitation_ttl,
        }
    }

    /// When a token of `kind` made `now` expires.
    pub fn expiry(&self, kind: EmailKind, now: DateTime<Utc>) -> DateTime<Utc> {
        now + chrono::TimeDelta::from_std(self.ttl(kind)).unwrap_or(chrono::TimeDelta::days(7))
    }
}

/// One email to ask the notifier for.
pub struct EmailRequest<'a> {
    pub email_id: uuid::Uuid,
    pub kind: EmailKind,
    pub to: &'a str,
    pub token: &'a str,
    pub expires_at: DateTime<Utc>,
    pub tenant_name: Option<String>,
    pub role: Option<Role>,
}

/// The outbox row for `request` in `tenant`, with a `Nats-TTL` of the token's remaining life
/// (at least a second), so the stream forgets the token when it stops working.
pub fn email_message(
    policy: &IdentityPolicy,
    tenant: TenantId,
    request_id: &str,
    request: EmailRequest<'_>,
    now: DateTime<Utc>,
) -> Outgoing {
    let envelope = Envelope::new(
        tenant,
        request_id.to_owned(),
        None,
        EmailRequested {
            email_id: request.email_id,
            kind: request.kind,
            to: request.to.to_owned(),
            link: policy.link(request.kind, request.token),
            expires_at: request.expires_at,
            tenant_name: request.tenant_name,
            role: request.role,
        },
    );
    let ttl_secs = (request.expires_at - now).num_seconds().max(1);
    let mut outgoing = Outgoing::message(&envelope);
    outgoing
        .headers
        .push(("Nats-TTL".to_owned(), ttl_secs.to_string()));
    outgoing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_links() {
        let policy = IdentityPolicy::from_env(&Env::default().scoped("auth")).unwrap();
        assert_eq!(policy.app_url, "http://localhost:8080");
        assert_eq!(policy.verify_ttl, Duration::from_secs(86_400));
        assert_eq!(policy.reset_ttl, Duration::from_secs(3600));
        assert_eq!(policy.invitation_ttl, Duration::from_secs(604_800));
        assert_eq!(policy.per_email.max_failures, 3);
        assert_eq!(policy.per_ip.max_failures, 20);
        assert_eq!(
            policy.link(EmailKind::PasswordReset, "abc"),
            "http://localhost:8080/reset-password#token=abc"
        );
        let env = Env::from_pairs([("HERALD_AUTH_PUBLIC_APP_URL", "https://app.example.com/")])
            .scoped("auth");
        let policy = IdentityPolicy::from_env(&env).unwrap();
        assert_eq!(
            policy.link(EmailKind::Invitation, "t"),
            "https://app.example.com/accept-invitation#token=t"
        );
    }

    #[test]
    fn refuses_bad_settings() {
        for (var, value) in [
            ("HERALD_AUTH_PUBLIC_APP_URL", "app.example.com"),
            ("HERALD_AUTH_PUBLIC_APP_URL", "https://"),
            ("HERALD_AUTH_PUBLIC_APP_URL", "https://x/?a=b"),
            ("HERALD_AUTH_RESET_TOKEN_TTL_SECS", "0"),
            ("HERALD_AUTH_RESET_MAX_PER_IP", "0"),
        ] {
            let env = Env::from_pairs([(var, value)]).scoped("auth");
            let error = IdentityPolicy::from_env(&env).unwrap_err();
            assert_eq!(error.var, var, "{value}");
        }
    }

    #[test]
    fn the_message_expires_with_its_token() {
        let policy = IdentityPolicy::from_env(&Env::default().scoped("auth")).unwrap();
        let now = Utc::now();
        let row = email_message(
            &policy,
            TenantId::new(),
            "req",
            EmailRequest {
                email_id: uuid::Uuid::now_v7(),
                kind: EmailKind::PasswordReset,
                to: "a@example.com",
                token: "tok",
                expires_at: policy.expiry(EmailKind::PasswordReset, now),
                tenant_name: None,
                role: None,
            },
            now,
        );
        assert!(row.subject.starts_with("identity.email-requested."));
        assert!(
            row.headers
                .contains(&("Nats-TTL".to_owned(), "3600".to_owned()))
        );
    }
}
