//! Who a token is: `GET /v2/userinfo` (OpenID Connect, unversioned) for the member, and
//! `GET /rest/organizations/{id}` for an organization to post as.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::Utc;
use serde_json::json;

use super::auth;
use super::error::ApiError;
use super::version;

pub(crate) async fn userinfo(req: HttpRequest) -> HttpResponse {
    let member = match auth::required(&req) {
        Ok(member) => member,
        Err(error) => return error.error_response(),
    };
    HttpResponse::Ok().json(json!({
        "sub": member.sub,
        "email_verified": true,
        "name": member.name(),
        "locale": { "country": "US", "language": "en" },
        "given_name": member.given_name,
        "family_name": member.family_name,
        "email": format!("{}@members.sandbox.invalid", member.sub.to_lowercase()),
    }))
}

/// Every positive numeric id is an organization; its names derive from the id.
pub(crate) async fn show(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let found = version::require(&req, Utc::now())
        .and_then(|_| auth::required(&req))
        .and_then(|_| {
            path.parse::<u64>()
                .ok()
                .filter(|&id| id > 0)
                .ok_or(ApiError::NotFound)
        });
    match found {
        Ok(id) => {
            let name = format!("Sandbox Organization {id}");
            HttpResponse::Ok().json(json!({
                "id": id,
                "localizedName": name,
                "vanityName": format!("sandbox-organization-{id}"),
                "name": {
                    "localized": { "en_US": name },
                    "preferredLocale": { "country": "US", "language": "en" },
                },
                "primaryOrganizationType": "NONE",
                "locations": [],
            }))
        }
        Err(error) => error.error_response(),
    }
}
