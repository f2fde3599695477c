//! Mastodon: `GET {instance}/api/v1/statuses/{id}` is public for public statuses and carries
//! `replies_count`, `reblogs_count` and `favourites_count`.

use super::{Engagement, FetchError, classify_status};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct StatusCounts {
    replies_count: u64,
    reblogs_count: u64,
    favourites_count: u64,
}

/// The status URL, with the id as one escaped path segment (it comes from a message).
pub fn status_url(instance_url: &str, remote_id: &str) -> Result<reqwest::Url, FetchError> {
    let mut url = reqwest::Url::parse(instance_url)
        .map_err(|error| FetchError::Unusable(format!("instance url: {error}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(FetchError::Unusable("instance url must be http(s)".into()));
    }
    if remote_id.is_empty() {
        return Err(FetchError::Unusable("empty remote id".into()));
    }
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut()
        .map_err(|()| FetchError::Unusable("instance url cannot have a path".into()))?
        .pop_if_empty()
        .extend(["api", "v1", "statuses", remote_id]);
    Ok(url)
}

pub async fn fetch(
    client: &reqwest::Client,
    instance_url: &str,
    remote_id: &str,
) -> Result<Engagement, FetchError> {
    let url = status_url(instance_url, remote_id)?;
    let response = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        // Connection refused/reset and timeouts: the platform may be back later.
        .map_err(|error| FetchError::Retry(format!("request: {}", error.without_url())))?;
    let status = response.status();
    if !status.is_success() {
        return Err(classify_status(status));
    }
    let counts: StatusCounts = response
        .json()
        .await
        .map_err(|error| FetchError::Retry(format!("body: {}", error.without_url())))?;
    let count = |value: u64| {
        i64::try_from(value).map_err(|_| FetchError::Unusable("count out of range".into()))
    };
    Ok(Engagement {
        likes: count(counts.favourites_count)?,
        reposts: count(counts.reblogs_count)?,
        replies: count(counts.replies_count)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_status_urls_safely() {
        let url = status_url("https://mastodon.example/", "1234").unwrap();
        assert_eq!(
            url.as_str(),
            "https://mastodon.example/api/v1/statuses/1234"
        );
        let url = status_url("http://127.0.0.1:8080/base?x=1", "../admin").unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8080/base/api/v1/statuses/..%2Fadmin"
        );
        assert!(status_url("ftp://example", "1").is_err());
        assert!(status_url("not a url", "1").is_err());
        assert!(status_url("https://mastodon.example", "").is_err());
    }
}
