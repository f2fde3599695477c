//! `identity.user-registered` → the user becomes a recipient of the tenant's notifications.

use crate::repo::recipients;
use diesel_async::AsyncPgConnection;
use herald_contracts::Envelope;
use herald_contracts::messages::UserRegistered;
use herald_kit::futures::future::BoxFuture;
use herald_kit::{Delivery, HandlerError, Outgoing, TxHandler};

pub struct StoreRecipient;

impl TxHandler<UserRegistered> for StoreRecipient {
    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        message: &'a Envelope<UserRegistered>,
        _delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<Vec<Outgoing>, HandlerError>> {
        Box::pin(async move {
            let user = &message.data;
            let email = user.email.trim();
            // Auth validated the address; anything that could break an email header is refused.
            if email.is_empty() || !email.contains('@') || email.chars().any(char::is_control) {
                return Err(HandlerError::terminal("unusable email address"));
            }
            recipients::upsert(conn, message.tenant_id, user.user_id, email, user.role).await?;
            tracing::info!(user.id = %user.user_id, role = user.role.as_str(), "recipient stored");
            Ok(Vec::new())
        })
    }
}
