//! Reads: `GET /{ver}/{id}` (a user, container or media node with field selection), `GET
//! /{ver}/{user}/{create_edge}` (published media, newest first, with Graph's cursor paging and
//! `since`/`until` in unix seconds), the publishing-limit edge and media insights.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::auth::{self, Caller};
use super::error::GraphError;
use super::params::{self, Params};
use super::store::QUOTA_WINDOW;
use super::{Flavor, FlavorData, Kind, render, usage, version_ok};
use crate::state::Shared;

const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;

fn enter(
    flavor: &Flavor,
    req: &HttpRequest,
    version: &str,
) -> Result<(Caller, Params), GraphError> {
    if !version_ok(version) {
        return Err(GraphError::unknown_path(req.path()));
    }
    let params = params::query(req)?;
    let caller = auth::caller(flavor, req, &params)?;
    Ok((caller, params))
}

/// The answer with the caller's usage headers; errors as Graph sends them.
fn respond(
    flavor: &Flavor,
    caller: &Caller,
    calls: u32,
    result: Result<Value, GraphError>,
) -> HttpResponse {
    match result {
        Ok(json) => {
            let mut response = HttpResponse::Ok().json(json);
            usage::apply(
                &mut response,
                &caller.account.id,
                flavor.kind == Kind::Instagram,
                calls,
            );
            response
        }
        Err(error) => error.error_response(),
    }
}

fn own_user<'a>(caller: &'a Caller, user: &str) -> Result<&'a str, GraphError> {
    if user == caller.account.id || user == "me" {
        Ok(&caller.account.id)
    } else {
        Err(GraphError::unsupported("get", user))
    }
}

pub(crate) async fn node(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    shared: web::Data<Shared>,
    flavor: FlavorData,
) -> HttpResponse {
    let flavor: &Flavor = &flavor;
    let (version, id) = path.into_inner();
    let (caller, params) = match enter(flavor, &req, &version) {
        Ok(entered) => entered,
        Err(error) => return error.error_response(),
    };
    let fields = params.get("fields");
    let now = Utc::now();
    let mut state = shared.lock();
    let store = (flavor.store)(&mut state);
    let calls = store.count_call(&caller.account.id, now);
    let mine = |owner: &str| owner == caller.account.id;
    let result = if id == "me" || id == caller.account.id {
        let count = store.media_of(&caller.account.id).count();
        let (node_type, full) = render::user(flavor, &caller.account, count);
        render::select(node_type, full, fields, &[])
    } else if let Some(container) = store.container(&id).filter(|c| mine(&c.owner.id)) {
        caller.require_read().and_then(|()| {
            let (node_type, full) = render::container(flavor, container, now);
            render::select(node_type, full, fields, &[])
        })
    } else if let Some(media) = store.media(&id).filter(|m| mine(&m.owner.id)) {
        caller.require_read().and_then(|()| {
            let (node_type, full) = render::media(flavor, media);
            render::select(node_type, full, fields, &[])
        })
    } else {
        Err(GraphError::unsupported("get", &id))
    };
    drop(state);
    respond(flavor, &caller, calls, result)
}

fn unix_param(params: &Params, name: &str) -> Result<Option<DateTime<Utc>>, GraphError> {
    params
        .get(name)
        .map(|v| {
            v.parse::<i64>()
                .ok()
                .and_then(|secs| DateTime::from_timestamp(secs, 0))
                .ok_or_else(|| {
                    GraphError::invalid_param(
                        "Invalid time",
                        format!("{name} must be unix seconds"),
                    )
                })
        })
        .transpose()
}

fn origin(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

pub(crate) async fn list(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    shared: web::Data<Shared>,
    flavor: FlavorData,
) -> HttpResponse {
    let flavor: &Flavor = &flavor;
    let (version, user) = path.into_inner();
    let (caller, params) = match enter(flavor, &req, &version) {
        Ok(entered) => entered,
        Err(error) => return error.error_response(),
    };
    let now = Utc::now();
    let mut state = shared.lock();
    let store = (flavor.store)(&mut state);
    let calls = store.count_call(&caller.account.id, now);
    let result = (|| {
        let owner = own_user(&caller, &user)?;
        caller.require_read()?;
        let since = unix_param(&params, "since")?;
        let until = unix_param(&params, "until")?;
        let limit = params
            .get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .filter(|&l| l > 0)
            .unwrap_or(DEFAULT_LIMIT)
            .min(MAX_LIMIT);
        let after = params.get("after").and_then(|c| hex::decode(c).ok());
        let after = after.and_then(|bytes| String::from_utf8(bytes).ok());
        let mut newest_first = store
            .media_of(owner)
            .rev()
            .filter(|m| since.is_none_or(|s| m.created_at >= s))
            .filter(|m| until.is_none_or(|u| m.created_at <= u))
            .skip_while(|m| after.as_deref().is_some_and(|a| m.id != a));
        if after.is_some() {
            // Skip the cursor's own item.
            newest_first.next();
        }
        let page: Vec<_> = newest_first.take(limit + 1).collect();
        let more = page.len() > limit;
        let mut data = Vec::new();
        for media in page.iter().take(limit) {
            let (node_type, full) = render::media(flavor, media);
            data.push(render::select(node_type, full, params.get("fields"), &[])?);
        }
        let mut body = json!({ "data": data });
        if let (Some(first), Some(last)) = (
            page.first(),
            page.get(page.len().min(limit).saturating_sub(1)),
        ) {
            let after_cursor = hex::encode(&last.id);
            let mut paging = json!({
                "cursors": { "before": hex::encode(&first.id), "after": after_cursor },
            });
            if more {
                paging["next"] = json!(next_url(&req, &params, &after_cursor, limit));
            }
            body["paging"] = paging;
        }
        Ok(body)
    })();
    drop(state);
    respond(flavor, &caller, calls, result)
}

/// The next page's URL. Unlike Graph, it never repeats an `access_token`.
fn next_url(req: &HttpRequest, params: &Params, after: &str, limit: usize) -> String {
    let mut query = vec![format!("limit={limit}"), format!("after={after}")];
    let safe = |v: &str| {
        v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_,.()".contains(&b))
    };
    for name in ["fields", "since", "until"] {
        if let Some(value) = params.get(name).filter(|v| safe(v)) {
            query.push(format!("{name}={value}"));
        }
    }
    format!("{}{}?{}", origin(req), req.path(), query.join("&"))
}

pub(crate) async fn limit(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    shared: web::Data<Shared>,
    flavor: FlavorData,
) -> HttpResponse {
    let flavor: &Flavor = &flavor;
    let (version, user) = path.into_inner();
    let (caller, params) = match enter(flavor, &req, &version) {
        Ok(entered) => entered,
        Err(error) => return error.error_response(),
    };
    let now = Utc::now();
    let mut state = shared.lock();
    let store = (flavor.store)(&mut state);
    let calls = store.count_call(&caller.account.id, now);
    let result = own_user(&caller, &user).and_then(|owner| {
        let mut full = Map::new();
        full.insert("quota_usage".into(), json!(store.quota_usage(owner, now)));
        full.insert(
            "config".into(),
            json!({
                "quota_total": flavor.quota_total,
                "quota_duration": QUOTA_WINDOW.num_seconds(),
            }),
        );
        let entry = render::select(
            "ContentPublishingLimit",
            full,
            params.get("fields"),
            &["quota_usage", "config"],
        )?;
        Ok(json!({ "data": [entry] }))
    });
    drop(state);
    respond(flavor, &caller, calls, result)
}

pub(crate) async fn insights(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    shared: web::Data<Shared>,
    flavor: FlavorData,
) -> HttpResponse {
    let flavor: &Flavor = &flavor;
    let (version, id) = path.into_inner();
    let (caller, params) = match enter(flavor, &req, &version) {
        Ok(entered) => entered,
        Err(error) => return error.error_response(),
    };
    let now = Utc::now();
    let mut state = shared.lock();
    let store = (flavor.store)(&mut state);
    let calls = store.count_call(&caller.account.id, now);
    let exists = store
        .media(&id)
        .is_some_and(|m| m.owner.id == caller.account.id);
    drop(state);
    let result = (|| {
        if !exists {
            return Err(GraphError::unsupported("get", &id));
        }
        caller.require_read()?;
        let metrics = params
            .get("metric")
            .ok_or_else(|| GraphError::missing_param("metric"))?;
        let mut data = Vec::new();
        for (index, name) in metrics.split(',').map(str::trim).enumerate() {
            if !flavor.metrics.contains(&name) {
                return Err(GraphError::invalid_param(
                    "Invalid metric",
                    format!(
                        "metric[{index}] must be one of the following values: {}",
                        flavor.metrics.join(", ")
                    ),
                ));
            }
            data.push(json!({
                "name": name,
                "period": "lifetime",
                "values": [{ "value": super::insight_value(&id, name) }],
                "title": name,
                "description": format!("The number of {name} of the media object."),
                "id": format!("{id}/insights/{name}/lifetime"),
            }));
        }
        Ok(json!({ "data": data }))
    })();
    respond(flavor, &caller, calls, result)
}
