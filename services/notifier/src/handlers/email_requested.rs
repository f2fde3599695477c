//! `identity.email-requested` → one queued email to the address auth names (verification,
//! password reset, invitation), sent by the delivery worker (`crate::mail`) exactly once like
//! every other email. No in-app notification: the email is for one person and carries a
//! single-use link, so its body is blanked once it is sent (`redact_after_send`), and the
//! link is never logged.

use crate::mail::MailWaker;
use crate::repo::deliveries::{self, NewDelivery};
use diesel_async::AsyncPgConnection;
use herald_contracts::Envelope;
use herald_contracts::messages::identity::{EmailKind, EmailRequested};
use herald_kit::futures::future::BoxFuture;
use herald_kit::{Delivery, HandlerError, Outgoing, TxHandler};
use sha2::{Digest, Sha256};

pub struct SendIdentityEmail {
    /// The domain of Message-IDs (the sender address's domain).
    pub message_id_domain: String,
    pub mail: MailWaker,
}

/// The Message-ID of the email a request causes: the same request always gives the same id,
/// which reconciliation relies on.
fn message_id(source_message_id: &str, domain: &str) -> String {
    let hash = hex::encode(Sha256::digest(source_message_id.as_bytes()));
    format!("{}@{domain}", &hash[..32])
}

/// Subject and body; the link is the only secret and is written once.
pub fn compose(request: &EmailRequested) -> (String, String) {
    let expires = request.expires_at.format("%Y-%m-%d %H:%M UTC");
    let (subject, text) = match request.kind {
        EmailKind::VerifyEmail => (
            "Confirm your email address".to_owned(),
            "Please confirm that this is your email address by opening this link:".to_owned(),
        ),
        EmailKind::PasswordReset => (
            "Reset your password".to_owned(),
            "Someone asked to reset the password of the Herald account of this address. \
             If it was you, open this link to choose a new one; if not, ignore this email \
             and nothing changes:"
                .to_owned(),
        ),
        EmailKind::Invitation => {
            let tenant = request.tenant_name.as_deref().unwrap_or("a team");
            let role = request.role.map_or("member", |role| role.as_str());
            (
                format!("You are invited to {tenant} on Herald"),
                format!(
                    "You are invited to join {tenant} on Herald as {role}. Open this link to accept:"
                ),
            )
        }
    };
    let body = format!(
        "{text}\n\n{}\n\nThe link works once, until {expires}.\n\n-- \nHerald\n",
        request.link
    );
    (subject, body)
}

impl TxHandler<EmailRequested> for SendIdentityEmail {
    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        message: &'a Envelope<EmailRequested>,
        _delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<Vec<Outgoing>, HandlerError>> {
        Box::pin(async move {
            let request = &message.data;
            let to = request.to.trim();
            // Auth validated the address; anything that could break an email header is refused.
            if to.is_empty() || !to.contains('@') || to.chars().any(char::is_control) {
                return Err(HandlerError::terminal("unusable email address"));
            }
            if request.link.chars().any(char::is_control) {
                return Err(HandlerError::terminal("unusable link"));
            }
            let (subject, body) = compose(request);
            let queued = deliveries::insert_single(
                conn,
                message.tenant_id,
                &NewDelivery {
                    message_id: message_id(&message.id, &self.message_id_domain),
                    to_address: to.to_owned(),
                    subject,
                    body,
                },
            )
            .await?;
            tracing::info!(email.kind = request.kind.as_str(), email.id = %request.email_id, queued, "identity email queued");
            Ok(Vec::new())
        })
    }

    fn after_commit(&self) {
        self.mail.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_contracts::rpc::Role;

    #[test]
    fn invitation_names_tenant_role_and_link() {
        let request = EmailRequested {
            email_id: uuid::Uuid::now_v7(),
            kind: EmailKind::Invitation,
            to: "a@example.com".into(),
            link: "https://app.example.com/accept-invitation#token=abc".into(),
            expires_at: chrono::Utc::now(),
            tenant_name: Some("Acme".into()),
            role: Some(Role::Editor),
        };
        let (subject, body) = compose(&request);
        assert_eq!(subject, "You are invited to Acme on Herald");
        assert!(body.contains("as editor"));
        assert_eq!(body.matches("#token=abc").count(), 1);
        assert_eq!(message_id("m-1", "x.test"), message_id("m-1", "x.test"));
        assert_ne!(message_id("m-1", "x.test"), message_id("m-2", "x.test"));
    }
}
