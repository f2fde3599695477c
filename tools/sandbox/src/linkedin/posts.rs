//! `POST /rest/posts` (with the injected faults and the duplicate-content refusal) and the
//! `GET /rest/posts?q=author&author=<urn>` finder adapters reconcile against.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{self, Member};
use super::error::ApiError;
use super::images;
use super::little_text;
use super::store::{NewPost, Post};
use super::version::{self, Version};
use crate::conn;
use crate::faults;
use crate::ledger::LedgerEntry;
use crate::platform::Platform;
use crate::state::{SandboxState, Shared};

const MAX_COMMENTARY_CHARS: usize = 3000;
const DEFAULT_COUNT: usize = 10;
const MAX_COUNT: usize = 100;
const VISIBILITIES: &[&str] = &["PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER"];
const FEED_DISTRIBUTIONS: &[&str] = &["MAIN_FEED", "NONE"];

pub(crate) async fn create(
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let faults = faults::delayed(&shared, Platform::Linkedin).await;
    // An outage answers before the application sees the request.
    if faults::roll(faults.error_rate) {
        tracing::info!(fault = "error", "linkedin create failed by injected fault");
        return ApiError::Unavailable.error_response();
    }
    let now = Utc::now();
    let committed =
        admit(&req, &body, faults.rate_limit_rate, now).and_then(|(member, new_post, images)| {
            commit(&mut shared.lock(), &member, new_post, &images, now)
        });
    let post = match committed {
        Ok(post) => post,
        Err(error) => return error.error_response(),
    };
    tracing::info!(post.urn = %post.urn(), "linkedin post accepted");
    if faults::roll(faults.drop_after_commit_rate) {
        if conn::abort(&req) {
            tracing::info!(
                post.urn = %post.urn(),
                fault = "drop_after_commit",
                "connection cut after commit"
            );
            // Never reaches the client: the socket is already shut down.
            return HttpResponse::Created().finish();
        }
        return ApiError::DropUnavailable.error_response();
    }
    HttpResponse::Created()
        .insert_header(("x-restli-id", post.urn()))
        .finish()
}

/// Everything checked before the post is looked at under the lock: version, token, the
/// throttling fault, write permission, and the body.
fn admit(
    req: &HttpRequest,
    body: &[u8],
    rate_limit_rate: f64,
    now: DateTime<Utc>,
) -> Result<(Member, NewPost, Images), ApiError> {
    let version = version::require(req, now)?;
    let member = auth::required(req)?;
    if faults::roll(rate_limit_rate) {
        tracing::info!(
            fault = "rate_limit",
            "linkedin create throttled by injected fault"
        );
        return Err(ApiError::RateLimited);
    }
    if !member.can_write {
        return Err(denied("CREATE", &version));
    }
    let (new_post, images) = parse(body)?;
    check_author(&member, &new_post.author, "CREATE", &version)?;
    Ok((member, new_post, images))
}

/// Under the lock: refuse a duplicate, create, record in the ledger.
fn commit(
    state: &mut SandboxState,
    member: &Member,
    new_post: NewPost,
    images: &Images,
    now: DateTime<Utc>,
) -> Result<Post, ApiError> {
    if let Some(earlier) = state
        .linkedin
        .duplicate_of(&new_post.author, &new_post.commentary, now)
    {
        return Err(ApiError::Duplicate(earlier.urn()));
    }
    let media = images::resolve(state, &new_post.author, images)?;
    let post = state.linkedin.create(new_post, now);
    tracing::debug!(member.sub = %member.sub, "linkedin post created");
    state.ledger.record_with_media(
        LedgerEntry {
            platform: Platform::Linkedin,
            account_id: post.author.clone(),
            status_id: post.urn(),
            text: little_text::render(&post.commentary),
            media_ids: images.iter().map(|(urn, _)| urn.clone()).collect(),
            idempotency_key: None,
            created_at: post.created_at,
        },
        media,
    );
    Ok(post)
}

fn denied(method: &str, version: &Version) -> ApiError {
    ApiError::AccessDenied(format!(
        "partnerApiPostsExternal.{method}.{}",
        version.as_str()
    ))
}

/// A member may act as themself; organizations are open to anyone here (page roles are not
/// modelled).
pub(crate) fn check_author(
    member: &Member,
    author: &str,
    method: &str,
    version: &Version,
) -> Result<(), ApiError> {
    if author.starts_with("urn:li:organization:") {
        return Ok(());
    }
    if author.starts_with("urn:li:person:") {
        return if author == member.urn() {
            Ok(())
        } else {
            Err(denied(method, version))
        };
    }
    Err(ApiError::validation(
        "/author",
        format!("\"{author}\" is not a person or organization URN"),
    ))
}

/// The images a post references: URN and alt text, in order.
type Images = Vec<(String, Option<String>)>;

fn parse(body: &[u8]) -> Result<(NewPost, Images), ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::BadRequest("Unable to parse the request body as JSON".to_owned()))?;
    let field = |name: &str| value.get(name).and_then(Value::as_str);
    let required = |name: &str| {
        field(name).ok_or_else(|| {
            ApiError::validation(
                &format!("/{name}"),
                "field is required but not found and has no default value",
            )
        })
    };
    let author = required("author")?.to_owned();
    let visibility = required("visibility")?;
    if !VISIBILITIES.contains(&visibility) {
        return Err(ApiError::validation(
            "/visibility",
            format!("\"{visibility}\" is not an enum symbol"),
        ));
    }
    let lifecycle = required("lifecycleState")?;
    if lifecycle != "PUBLISHED" {
        return Err(ApiError::validation(
            "/lifecycleState",
            format!("\"{lifecycle}\" is not supported by the sandbox (PUBLISHED only)"),
        ));
    }
    let feed_distribution = value
        .pointer("/distribution/feedDistribution")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ApiError::validation(
                "/distribution/feedDistribution",
                "field is required but not found and has no default value",
            )
        })?;
    if !FEED_DISTRIBUTIONS.contains(&feed_distribution) {
        return Err(ApiError::validation(
            "/distribution/feedDistribution",
            format!("\"{feed_distribution}\" is not an enum symbol"),
        ));
    }
    let images = match value.get("content") {
        Some(content) => images::referenced(content)?,
        None => Vec::new(),
    };
    let commentary = field("commentary").unwrap_or_default().to_owned();
    if commentary.trim().is_empty() && images.is_empty() {
        return Err(ApiError::validation(
            "/commentary",
            "a post without content needs commentary",
        ));
    }
    if commentary.chars().count() > MAX_COMMENTARY_CHARS {
        return Err(ApiError::validation(
            "/commentary",
            format!("length is out of range 0 to {MAX_COMMENTARY_CHARS}"),
        ));
    }
    let post = NewPost {
        author,
        commentary,
        visibility: visibility.to_owned(),
        feed_distribution: feed_distribution.to_owned(),
        reshare_disabled: value
            .get("isReshareDisabledByAuthor")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    Ok((post, images))
}

#[derive(Debug, Deserialize)]
pub(crate) struct FindQuery {
    q: Option<String>,
    author: Option<String>,
    count: Option<String>,
    start: Option<String>,
    #[serde(rename = "sortBy")]
    sort_by: Option<String>,
}

pub(crate) async fn find(
    req: HttpRequest,
    query: web::Query<FindQuery>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    match find_posts(&req, &query, &shared) {
        Ok(response) => response,
        Err(error) => error.error_response(),
    }
}

fn find_posts(
    req: &HttpRequest,
    query: &FindQuery,
    shared: &Shared,
) -> Result<HttpResponse, ApiError> {
    let version = version::require(req, Utc::now())?;
    let member = auth::required(req)?;
    if query.q.as_deref() != Some("author") {
        return Err(ApiError::BadRequest(
            "Resource method could not be resolved from request parameters.".to_owned(),
        ));
    }
    let author = query
        .author
        .as_deref()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::BadRequest("Missing required parameter: author".to_owned()))?;
    if !member.can_read {
        return Err(denied("FINDER-author", &version));
    }
    check_author(&member, author, "FINDER-author", &version)?;
    if let Some(sort) = query.sort_by.as_deref()
        && !matches!(sort, "LAST_MODIFIED" | "CREATED")
    {
        return Err(ApiError::BadRequest(format!(
            "Invalid value for parameter sortBy: {sort}"
        )));
    }
    let number = |v: &Option<String>| v.as_deref().and_then(|s| s.parse::<usize>().ok());
    let count = number(&query.count).unwrap_or(DEFAULT_COUNT).min(MAX_COUNT);
    let start = number(&query.start).unwrap_or(0);

    let (elements, more) = {
        let state = shared.lock();
        let mut matching = state.linkedin.by_author(author).skip(start);
        let elements: Vec<Value> = matching.by_ref().take(count).map(post_json).collect();
        (elements, matching.next().is_some())
    };

    let mut links = Vec::new();
    if more {
        links.push(json!({
            "type": "application/json",
            "rel": "next",
            "href": format!(
                "/rest/posts?author={}&count={count}&q=author&start={}",
                encode_urn(author),
                start + count
            ),
        }));
    }
    Ok(HttpResponse::Ok().json(json!({
        "paging": { "start": start, "count": count, "links": links },
        "elements": elements,
    })))
}

/// A URN as Rest.li 2.0 puts it in a query string.
fn encode_urn(urn: &str) -> String {
    urn.replace(':', "%3A")
}

pub(crate) fn post_json(post: &Post) -> Value {
    let at = post.created_at.timestamp_millis();
    json!({
        "id": post.urn(),
        "author": post.author,
        "commentary": post.commentary,
        "visibility": post.visibility,
        "distribution": {
            "feedDistribution": post.feed_distribution,
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "lifecycleStateInfo": { "isEditedByAuthor": false },
        "isReshareDisabledByAuthor": post.reshare_disabled,
        "createdAt": at,
        "lastModifiedAt": at,
        "publishedAt": at,
    })
}
