//! `GET /rest/organizationalEntityShareStatistics?q=organizationalEntity&organizationalEntity=
//! <org urn>[&shares=List(<share urn>,...)]`: per-post statistics of an organization's posts,
//! or its lifetime totals without `shares`. The sandbox has no audience, so the counts derive
//! from the post id: deterministic and non-zero, so tests can predict the metrics they read.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};

use super::auth;
use super::error::ApiError;
use super::store::share_urn;
use super::version;
use crate::state::Shared;

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShareStatistics {
    pub impression_count: u64,
    pub unique_impressions_count: u64,
    pub click_count: u64,
    pub like_count: u64,
    pub comment_count: u64,
    pub share_count: u64,
    /// (clicks + likes + comments + shares) / impressions.
    pub engagement: f64,
}

impl ShareStatistics {
    fn with_engagement(mut self) -> Self {
        let engaged = self.click_count + self.like_count + self.comment_count + self.share_count;
        self.engagement = if self.impression_count == 0 {
            0.0
        } else {
            engaged as f64 / self.impression_count as f64
        };
        self
    }

    fn add(self, other: ShareStatistics) -> Self {
        ShareStatistics {
            impression_count: self.impression_count + other.impression_count,
            unique_impressions_count: self.unique_impressions_count
                + other.unique_impressions_count,
            click_count: self.click_count + other.click_count,
            like_count: self.like_count + other.like_count,
            comment_count: self.comment_count + other.comment_count,
            share_count: self.share_count + other.share_count,
            engagement: 0.0,
        }
        .with_engagement()
    }
}

/// The statistics the sandbox reports for the post with activity id `id`
/// (`urn:li:share:<id>`).
pub fn share_statistics_for(id: u64) -> ShareStatistics {
    let impressions = 100 + id % 900;
    ShareStatistics {
        impression_count: impressions,
        unique_impressions_count: impressions - impressions / 4,
        click_count: 1 + id % 11,
        like_count: 1 + id % 7,
        comment_count: 1 + id % 5,
        share_count: 1 + id % 3,
        engagement: 0.0,
    }
    .with_engagement()
}

pub(crate) async fn show(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    match statistics(&req, &shared) {
        Ok(body) => HttpResponse::Ok().json(body),
        Err(error) => error.error_response(),
    }
}

fn statistics(req: &HttpRequest, shared: &Shared) -> Result<Value, ApiError> {
    let version = version::require(req, Utc::now())?;
    let member = auth::required(req)?;
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|_| ApiError::BadRequest("Invalid query parameters".to_owned()))?
        .into_inner();
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if param("q") != Some("organizationalEntity") {
        return Err(ApiError::BadRequest(
            "Resource method could not be resolved from request parameters.".to_owned(),
        ));
    }
    let organization = param("organizationalEntity")
        .filter(|o| o.starts_with("urn:li:organization:"))
        .ok_or_else(|| {
            ApiError::BadRequest("organizationalEntity must be an organization URN".to_owned())
        })?;
    if !member.can_read {
        return Err(ApiError::AccessDenied(format!(
            "organizationalEntityShareStatistics.FINDER-organizationalEntity.{}",
            version.as_str()
        )));
    }
    let requested = requested_shares(&pairs);
    let state = shared.lock();
    let elements: Vec<Value> = match requested {
        None => {
            let total = state
                .linkedin
                .by_author(organization)
                .map(|p| share_statistics_for(p.id))
                .fold(ShareStatistics::default(), ShareStatistics::add);
            vec![json!({
                "totalShareStatistics": total,
                "organizationalEntity": organization,
            })]
        }
        Some(urns) => urns
            .iter()
            .filter_map(|urn| urn.strip_prefix("urn:li:share:")?.parse::<u64>().ok())
            .filter_map(|id| state.linkedin.post(id))
            // Posts of other authors are left out, as LinkedIn leaves them out.
            .filter(|p| p.author == organization)
            .map(|p| {
                json!({
                    "totalShareStatistics": share_statistics_for(p.id),
                    "share": share_urn(p.id),
                    "organizationalEntity": organization,
                })
            })
            .collect(),
    };
    Ok(json!({
        "paging": { "start": 0, "count": 10, "links": [] },
        "elements": elements,
    }))
}

/// `shares=List(a,b)` (Rest.li 2.0) or `shares[0]=a&shares[1]=b` (1.0); `None` without any.
fn requested_shares(pairs: &[(String, String)]) -> Option<Vec<String>> {
    let mut urns = Vec::new();
    let mut any = false;
    for (key, value) in pairs {
        if key == "shares" {
            any = true;
            let inner = value
                .strip_prefix("List(")
                .and_then(|v| v.strip_suffix(')'))
                .unwrap_or(value);
            urns.extend(
                inner
                    .split(',')
                    .map(|u| u.trim().replace("%3A", ":").replace("%3a", ":"))
                    .filter(|u| !u.is_empty()),
            );
        } else if key.starts_with("shares[") {
            any = true;
            urns.push(value.clone());
        }
    }
    any.then_some(urns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_are_never_zero() {
        for id in [0, 1, 6, 105, u64::MAX] {
            let s = share_statistics_for(id);
            assert!(s.impression_count > 0 && s.like_count > 0 && s.comment_count > 0);
            assert!(s.engagement > 0.0);
        }
    }

    #[test]
    fn reads_both_list_syntaxes() {
        let pairs = vec![
            ("q".to_owned(), "organizationalEntity".to_owned()),
            (
                "shares".to_owned(),
                "List(urn%3Ali%3Ashare%3A1,urn:li:share:2)".to_owned(),
            ),
        ];
        assert_eq!(
            requested_shares(&pairs),
            Some(vec![
                "urn:li:share:1".to_owned(),
                "urn:li:share:2".to_owned()
            ])
        );
        let pairs = vec![("shares[0]".to_owned(), "urn:li:share:3".to_owned())];
        assert_eq!(
            requested_shares(&pairs),
            Some(vec!["urn:li:share:3".to_owned()])
        );
        assert_eq!(requested_shares(&[]), None);
    }
}
