//! `POST /{ver}/{page-id}/feed` (with the injected faults and the duplicate-message refusal)
//! and `GET /{ver}/{page-id}/posts` (also `/feed`), the listing adapters reconcile against.

use std::collections::HashMap;

use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value, json};

use super::auth;
use super::error::GraphError;
use super::fields::{self, Field};
use super::photos;
use super::store::{Post, rfc3339};
use super::usage::{self, Usage};
use crate::conn;
use crate::faults;
use crate::ledger::LedgerEntry;
use crate::platform::Platform;
use crate::state::{SandboxState, Shared};

const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;
/// The fields a listed post can show.
const POST_FIELDS: &[&str] = &["id", "message", "created_time", "permalink_url"];

pub(crate) async fn create(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let faults = faults::delayed(&shared, Platform::Facebook).await;
    // An outage answers before the application sees the request.
    if faults::roll(faults.error_rate) {
        tracing::info!(fault = "error", "facebook publish failed by injected fault");
        return GraphError::Temporary.error_response();
    }
    let (version, node) = path.into_inner();
    let now = Utc::now();
    let mut usage = None;
    let result = publish(
        &req,
        &shared,
        (&version, &node),
        &body,
        faults.rate_limit_rate,
        now,
        &mut usage,
    );
    let post = match result {
        Ok(post) => post,
        Err(error) => return usage::respond(Err(error), usage),
    };
    tracing::info!(post.id = %post.id(), "facebook post accepted");
    if faults::roll(faults.drop_after_commit_rate) {
        if conn::abort(&req) {
            tracing::info!(
                post.id = %post.id(),
                fault = "drop_after_commit",
                "connection cut after commit"
            );
            // Never reaches the client: the socket is already shut down.
            return HttpResponse::Ok().finish();
        }
        return usage::respond(Err(GraphError::DropUnavailable), usage);
    }
    usage::respond(
        Ok(HttpResponse::Ok().json(json!({ "id": post.id() }))),
        usage,
    )
}

/// Graph's order: path, token, the page's budget (and the throttling fault), permission,
/// parameters, then under the lock the duplicate check, the insert and the ledger.
fn publish(
    req: &HttpRequest,
    shared: &Shared,
    (version, node): (&str, &str),
    body: &[u8],
    rate_limit_rate: f64,
    now: DateTime<Utc>,
    usage: &mut Option<Usage>,
) -> Result<Post, GraphError> {
    let params = merged_params(req, body)?;
    check_version(version, node, "feed")?;
    let token = auth::required(req, params.get("access_token").map(String::as_str))?;
    let page_id = auth::page_id(node).ok_or_else(|| GraphError::UnknownObject {
        method: "post",
        id: node.to_owned(),
    })?;
    let counted = shared
        .lock()
        .facebook
        .usage
        .hit(page_id, now)
        .map_err(GraphError::PageRateLimited)?;
    *usage = Some(counted);
    if faults::roll(rate_limit_rate) {
        tracing::info!(
            fault = "rate_limit",
            "facebook publish throttled by injected fault"
        );
        return Err(GraphError::PageRateLimited(counted.throttled()));
    }
    if !token.can_publish {
        return Err(GraphError::PublishPermission);
    }
    if params.contains_key("link") {
        return Err(GraphError::InvalidParameter(
            "Links are not supported by the sandbox".to_owned(),
        ));
    }
    let attached = photos::attached_ids(&params)?;
    let message = params
        .get("message")
        .filter(|m| !m.trim().is_empty())
        .cloned();
    if message.is_none() && attached.is_empty() {
        return Err(GraphError::InvalidParameter(
            "Missing message or attachment".to_owned(),
        ));
    }
    commit(
        &mut shared.lock(),
        page_id,
        message.unwrap_or_default(),
        &attached,
        now,
    )
}

fn commit(
    state: &mut SandboxState,
    page_id: u64,
    message: String,
    attached: &[String],
    now: DateTime<Utc>,
) -> Result<Post, GraphError> {
    if !message.is_empty()
        && state
            .facebook
            .latest(page_id)
            .is_some_and(|latest| latest.message == message)
    {
        return Err(GraphError::Duplicate);
    }
    let media = photos::attach(state, page_id, attached)?;
    let post = state.facebook.create(page_id, message, now);
    state.ledger.record_with_media(
        LedgerEntry {
            platform: Platform::Facebook,
            account_id: page_id.to_string(),
            status_id: post.id(),
            text: post.message.clone(),
            media_ids: attached.to_vec(),
            idempotency_key: None,
            created_at: post.created_at,
        },
        media,
    );
    Ok(post)
}

pub(crate) fn check_version(version: &str, node: &str, edge: &str) -> Result<(), GraphError> {
    if auth::is_version(version) {
        Ok(())
    } else {
        let edge = if edge.is_empty() {
            String::new()
        } else {
            format!("/{edge}")
        };
        Err(GraphError::UnknownPath(format!("/{version}/{node}{edge}")))
    }
}

/// Graph reads parameters from the query string and a form or JSON body alike.
fn merged_params(req: &HttpRequest, body: &[u8]) -> Result<HashMap<String, String>, GraphError> {
    let mut params = query_params(req)?;
    let content_type = req.content_type().to_ascii_lowercase();
    if content_type == "application/json" {
        let value: Value = serde_json::from_slice(body).map_err(|_| {
            GraphError::InvalidParameter("The request body is not valid JSON".to_owned())
        })?;
        if let Value::Object(fields) = value {
            for (key, value) in fields {
                let text = match value {
                    Value::String(s) => s,
                    Value::Null => continue,
                    other => other.to_string(),
                };
                params.insert(key, text);
            }
        }
    } else if content_type == "application/x-www-form-urlencoded" {
        let form = std::str::from_utf8(body).map_err(|_| {
            GraphError::InvalidParameter("The request body is not valid UTF-8".to_owned())
        })?;
        params.extend(pairs(form)?);
    }
    Ok(params)
}

pub(crate) fn query_params(req: &HttpRequest) -> Result<HashMap<String, String>, GraphError> {
    Ok(pairs(req.query_string())?.into_iter().collect())
}

fn pairs(encoded: &str) -> Result<Vec<(String, String)>, GraphError> {
    web::Query::<Vec<(String, String)>>::from_query(encoded)
        .map(web::Query::into_inner)
        .map_err(|_| GraphError::InvalidParameter("Invalid parameter".to_owned()))
}

pub(crate) async fn list(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let (version, node) = path.into_inner();
    let mut usage = None;
    let result = list_posts(&req, &shared, &version, &node, &mut usage);
    usage::respond(result.map(|body| HttpResponse::Ok().json(body)), usage)
}

fn list_posts(
    req: &HttpRequest,
    shared: &Shared,
    version: &str,
    node: &str,
    usage: &mut Option<Usage>,
) -> Result<Value, GraphError> {
    let params = query_params(req)?;
    check_version(version, node, "posts")?;
    let token = auth::required(req, params.get("access_token").map(String::as_str))?;
    let page_id = auth::page_id(node).ok_or_else(|| GraphError::UnknownObject {
        method: "get",
        id: node.to_owned(),
    })?;
    let now = Utc::now();
    let counted = shared
        .lock()
        .facebook
        .usage
        .hit(page_id, now)
        .map_err(GraphError::PageRateLimited)?;
    *usage = Some(counted);
    if !token.can_read {
        return Err(GraphError::ReadPermission);
    }
    let wanted = requested_fields(params.get("fields"), "PagePost")?;
    let since = params
        .get("since")
        .map(|s| time_param("since", s))
        .transpose()?;
    let until = params
        .get("until")
        .map(|s| time_param("until", s))
        .transpose()?;
    let limit = params
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|&l| l > 0)
        .unwrap_or(DEFAULT_LIMIT)
        .min(MAX_LIMIT);
    let after = params.get("after").and_then(|c| cursor_number(c));

    let state = shared.lock();
    let mut candidates = state
        .facebook
        .page_posts(page_id)
        .filter(|p| after.is_none_or(|a| p.number < a))
        .filter(|p| since.is_none_or(|s| p.created_at >= s))
        .filter(|p| until.is_none_or(|u| p.created_at < u));
    let shown: Vec<&Post> = candidates.by_ref().take(limit).collect();
    let more = candidates.next().is_some();
    let data: Vec<Value> = shown.iter().map(|p| post_json(p, &wanted)).collect();
    let mut paging = Map::new();
    if let (Some(first), Some(last)) = (shown.first(), shown.last()) {
        paging.insert(
            "cursors".to_owned(),
            json!({ "before": cursor(first.number), "after": cursor(last.number) }),
        );
        if more {
            // Real `next` links repeat the access token; the sandbox's never do.
            paging.insert(
                "next".to_owned(),
                json!(format!(
                    "{}/{version}/{node}/posts?limit={limit}&after={}",
                    origin(req),
                    cursor(last.number)
                )),
            );
        }
    }
    tracing::debug!(
        page.id = page_id,
        since = since.as_ref().map(rfc3339),
        listed = data.len(),
        "facebook posts listed"
    );
    Ok(json!({ "data": data, "paging": paging }))
}

fn origin(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}/facebook", info.scheme(), info.host())
}

/// The requested fields, checked against what a post has; Graph's default without `fields`.
pub(crate) fn requested_fields(
    spec: Option<&String>,
    node_type: &str,
) -> Result<Vec<Field>, GraphError> {
    let wanted = fields::parse(spec.map_or("created_time,message,id", String::as_str));
    if let Some(unknown) = wanted
        .iter()
        .find(|f| !POST_FIELDS.contains(&f.name.as_str()))
    {
        return Err(GraphError::InvalidParameter(format!(
            "Tried accessing nonexisting field ({}) on node type ({node_type})",
            unknown.name
        )));
    }
    Ok(wanted)
}

pub(crate) fn post_json(post: &Post, wanted: &[Field]) -> Value {
    let mut object = Map::new();
    for field in wanted {
        let value = match field.name.as_str() {
            "id" => json!(post.id()),
            "message" => json!(post.message),
            "created_time" => json!(post.created_time()),
            "permalink_url" => json!(post.permalink_url()),
            _ => continue,
        };
        object.insert(field.name.clone(), value);
    }
    // Graph always names the node.
    object.insert("id".to_owned(), json!(post.id()));
    Value::Object(object)
}

/// A unix timestamp, or a date/time strtotime would read (RFC 3339 or `YYYY-MM-DD` here).
fn time_param(name: &str, value: &str) -> Result<DateTime<Utc>, GraphError> {
    let parsed = if let Ok(secs) = value.trim().parse::<i64>() {
        DateTime::from_timestamp(secs, 0)
    } else if let Ok(at) = DateTime::parse_from_rfc3339(value.trim()) {
        Some(at.with_timezone(&Utc))
    } else {
        NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc())
    };
    parsed.ok_or_else(|| {
        GraphError::InvalidParameter(format!("The parameter {name} is not a valid time"))
    })
}

fn cursor(number: u64) -> String {
    hex::encode(number.to_string())
}

fn cursor_number(cursor: &str) -> Option<u64> {
    let bytes = hex::decode(cursor).ok()?;
    String::from_utf8(bytes).ok()?.parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn times_and_cursors_round_trip() {
        assert_eq!(time_param("since", "60").unwrap().timestamp(), 60);
        assert_eq!(
            time_param("since", "1970-01-02").unwrap().timestamp(),
            86_400
        );
        assert!(time_param("since", "yesterday-ish").is_err());
        assert_eq!(cursor_number(&cursor(42)), Some(42));
        assert_eq!(cursor_number("zz"), None);
    }
}
