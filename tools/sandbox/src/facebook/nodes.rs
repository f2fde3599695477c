//! `GET /{ver}/{id}`: a page (what connecting an account checks) or a page post, with the
//! engagement edges metrics read (`reactions.summary(total_count)`, `comments.summary(true)`,
//! `shares`).

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::auth;
use super::error::GraphError;
use super::feed::{check_version, post_json, query_params, requested_fields};
use super::fields::{self, Field};
use super::store::engagement_for;
use super::usage::{self, Usage};
use crate::state::Shared;

const PAGE_FIELDS: &[&str] = &["id", "name", "category", "link"];
const ENGAGEMENT_FIELDS: &[&str] = &["reactions", "comments", "shares"];

pub(crate) async fn show(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let (version, node) = path.into_inner();
    let mut usage = None;
    let result = node_json(&req, &shared, &version, &node, &mut usage);
    usage::respond(result.map(|body| HttpResponse::Ok().json(body)), usage)
}

fn node_json(
    req: &HttpRequest,
    shared: &Shared,
    version: &str,
    node: &str,
    usage: &mut Option<Usage>,
) -> Result<Value, GraphError> {
    let params = query_params(req)?;
    check_version(version, node, "")?;
    let token = auth::required(req, params.get("access_token").map(String::as_str))?;
    let unknown = || GraphError::UnknownObject {
        method: "get",
        id: node.to_owned(),
    };
    let now = Utc::now();
    if let Some(page_id) = auth::page_id(node) {
        let counted = shared.lock().facebook.usage.hit(page_id, now);
        *usage = Some(counted.map_err(GraphError::PageRateLimited)?);
        return page_json(page_id, params.get("fields"));
    }
    let (page_id, number) = auth::post_id(node).ok_or_else(unknown)?;
    let counted = shared.lock().facebook.usage.hit(page_id, now);
    *usage = Some(counted.map_err(GraphError::PageRateLimited)?);
    if !token.can_read {
        return Err(GraphError::ReadPermission);
    }
    let spec = params.get("fields");
    let all = fields::parse(spec.map_or("created_time,message,id", String::as_str));
    let (engagement, plain): (Vec<Field>, Vec<Field>) = all
        .into_iter()
        .partition(|f| ENGAGEMENT_FIELDS.contains(&f.name.as_str()));
    let plain_spec = plain
        .iter()
        .map(|f| format!("{}{}", f.name, f.modifiers))
        .collect::<Vec<_>>()
        .join(",");
    let plain = requested_fields(Some(&plain_spec), "PagePost")?;
    let state = shared.lock();
    let post = state.facebook.post(page_id, number).ok_or_else(unknown)?;
    let mut body = post_json(post, &plain);
    let counts = engagement_for(post.number);
    if let Value::Object(object) = &mut body {
        for field in &engagement {
            let value = match field.name.as_str() {
                "reactions" => edge(
                    counts.reactions,
                    field,
                    json!({ "viewer_reaction": "NONE" }),
                ),
                "comments" => edge(
                    counts.comments,
                    field,
                    json!({ "order": "ranked", "can_comment": true }),
                ),
                _ => json!({ "count": counts.shares }),
            };
            object.insert(field.name.clone(), value);
        }
    }
    Ok(body)
}

/// A connection edge with no listed items; the count is in `summary` when one was asked for.
fn edge(total: u64, field: &Field, extra: Value) -> Value {
    let mut object = Map::new();
    object.insert("data".to_owned(), json!([]));
    if field.wants_summary() {
        let mut summary = json!({ "total_count": total });
        if let (Value::Object(summary), Value::Object(extra)) = (&mut summary, extra) {
            summary.extend(extra);
        }
        object.insert("summary".to_owned(), summary);
    }
    Value::Object(object)
}

fn page_json(page_id: u64, spec: Option<&String>) -> Result<Value, GraphError> {
    let wanted = fields::parse(spec.map_or("id,name", String::as_str));
    if let Some(unknown) = wanted
        .iter()
        .find(|f| !PAGE_FIELDS.contains(&f.name.as_str()))
    {
        return Err(GraphError::InvalidParameter(format!(
            "Tried accessing nonexisting field ({}) on node type (Page)",
            unknown.name
        )));
    }
    let mut object = Map::new();
    for field in &wanted {
        let value = match field.name.as_str() {
            "name" => json!(format!("Sandbox Page {page_id}")),
            "category" => json!("Community"),
            "link" => json!(format!("https://www.facebook.com/{page_id}")),
            _ => continue,
        };
        object.insert(field.name.clone(), value);
    }
    // Graph always names the node.
    object.insert("id".to_owned(), json!(page_id.to_string()));
    Ok(Value::Object(object))
}
