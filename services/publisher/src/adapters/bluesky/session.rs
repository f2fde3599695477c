//! Sessions: `com.atproto.server.createSession` at connect time (identifier and app
//! password, used once) and `refreshSession` (the refresh JWT as bearer, both tokens rotated),
//! with the access token's expiry read from its `exp` claim.

use super::xrpc_error;
use crate::adapters::util::without_url;
use crate::adapters::{ConnectError, Creds, RefreshError, Tokens};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use herald_kit::Secret;
use reqwest::StatusCode;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Session {
    pub(super) did: String,
    pub(super) handle: String,
    pub(super) access_jwt: String,
    /// Always sent by the reference PDS; tolerated missing (then the stored one is kept).
    pub(super) refresh_jwt: Option<String>,
}

pub(super) async fn create_session(
    http: &reqwest::Client,
    base: &str,
    identifier: &str,
    password: &Secret,
) -> Result<Session, ConnectError> {
    let response = http
        .post(format!("{base}/xrpc/com.atproto.server.createSession"))
        .json(&serde_json::json!({ "identifier": identifier, "password": password.expose() }))
        .send()
        .await
        .map_err(|error| ConnectError::Unreachable(without_url(&error)))?;
    let status = response.status();
    if status.is_success() {
        return response.json().await.map_err(|error| {
            ConnectError::Unreachable(format!("unreadable session: {}", without_url(&error)))
        });
    }
    Err(match status {
        StatusCode::UNAUTHORIZED => {
            ConnectError::Rejected("identifier or password: the platform refused them".into())
        }
        StatusCode::BAD_REQUEST => ConnectError::Rejected(format!(
            "the platform refused the session: {}",
            xrpc_error(response).await.describe()
        )),
        StatusCode::TOO_MANY_REQUESTS => ConnectError::Unreachable("rate limited (429)".into()),
        status => ConnectError::Unreachable(format!("unexpected status {status}")),
    })
}

pub(super) async fn refresh_session(
    http: &reqwest::Client,
    creds: &Creds,
    refresh_token: &Secret,
) -> Result<Tokens, RefreshError> {
    let response = http
        .post(format!(
            "{}/xrpc/com.atproto.server.refreshSession",
            creds.base_url
        ))
        .bearer_auth(refresh_token.expose())
        .send()
        .await
        .map_err(|error| RefreshError::Unavailable(without_url(&error)))?;
    let status = response.status();
    if status.is_success() {
        let session: Session = response.json().await.map_err(|error| {
            RefreshError::Unavailable(format!("unreadable session: {}", without_url(&error)))
        })?;
        if !creds.remote_account_id.is_empty() && session.did != creds.remote_account_id {
            return Err(RefreshError::Rejected(
                "the refreshed session belongs to another account".into(),
            ));
        }
        return Ok(Tokens {
            expires_at: jwt_expiry(&session.access_jwt),
            access_token: Secret::new(session.access_jwt),
            refresh_token: session.refresh_jwt.map(Secret::new),
        });
    }
    Err(match status {
        // ExpiredToken, InvalidToken ("Token has been revoked", ...), a taken-down account.
        StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED => {
            RefreshError::Rejected(xrpc_error(response).await.describe())
        }
        StatusCode::TOO_MANY_REQUESTS => RefreshError::Unavailable("rate limited (429)".into()),
        status => RefreshError::Unavailable(format!("unexpected status {status}")),
    })
}

/// The `exp` claim of a JWT, read without verifying it (only the PDS can, and need, verify).
pub(super) fn jwt_expiry(jwt: &str) -> Option<DateTime<Utc>> {
    #[derive(Deserialize)]
    struct Claims {
        exp: i64,
    }
    let payload = jwt.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Claims = serde_json::from_slice(&bytes).ok()?;
    DateTime::from_timestamp(claims.exp, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_expiry_of_a_jwt() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"did:plc:x","exp":1900000000}"#);
        let jwt = format!("e30.{payload}.sig");
        assert_eq!(jwt_expiry(&jwt), DateTime::from_timestamp(1_900_000_000, 0));
        assert_eq!(jwt_expiry("not a jwt"), None);
    }
}
