//! `GET /refresh_access_token?grant_type=<ig|th>_refresh_token&access_token=<long-lived>`:
//! a new long-lived token for the same user (60 days), as Instagram and Threads refresh them.

use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde_json::json;

use super::error::GraphError;
use super::{Flavor, FlavorData, auth, params};

/// 60 days, as Meta answers for long-lived tokens.
const EXPIRES_IN_SECS: i64 = 60 * 24 * 3600;

pub(crate) async fn refresh(req: HttpRequest, flavor: FlavorData) -> HttpResponse {
    let flavor: &Flavor = &flavor;
    let result = (|| {
        let params = params::query(&req)?;
        let grant = params
            .get("grant_type")
            .ok_or_else(|| GraphError::missing_param("grant_type"))?;
        if grant != flavor.refresh_grant {
            return Err(GraphError::invalid_param(
                "Unsupported grant type",
                format!("grant_type must be {}", flavor.refresh_grant),
            ));
        }
        let token = auth::token(&req, &params).ok_or_else(GraphError::token_missing)?;
        let caller = auth::check(flavor, token)?;
        Ok(json!({
            "access_token": auth::refreshed(&caller.token),
            "token_type": "bearer",
            "expires_in": EXPIRES_IN_SECS,
        }))
    })();
    match result {
        Ok(json) => HttpResponse::Ok().json(json),
        Err(error) => error.error_response(),
    }
}
