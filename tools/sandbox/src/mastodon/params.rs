//! The parameters of `POST /api/v1/statuses`, from a JSON body, a urlencoded form or the
//! query string (Rails merges all three), then validated the way Mastodon validates them.

use actix_web::{HttpMessage, HttpRequest, web};
use serde_json::Value;

use super::error::ApiError;
use super::store::Visibility;

const MAX_MEDIA: usize = 4;
const MAX_CHARS: usize = 500;
/// Mastodon counts every URL as this many characters, whatever its length.
const URL_CHARS: usize = 23;

/// Parameters as sent, before validation.
#[derive(Debug, Default)]
pub(crate) struct StatusParams {
    status: Option<String>,
    visibility: Option<String>,
    spoiler_text: Option<String>,
    sensitive: Option<String>,
    language: Option<String>,
    media_ids: Vec<String>,
}

/// A status that passed validation.
#[derive(Debug, Clone)]
pub(crate) struct NewStatus {
    pub(crate) text: String,
    pub(crate) visibility: Visibility,
    pub(crate) spoiler_text: String,
    pub(crate) sensitive: bool,
    pub(crate) language: Option<String>,
    pub(crate) media_ids: Vec<String>,
}

impl StatusParams {
    fn set(&mut self, key: &str, value: String) {
        match key {
            "status" => self.status = Some(value),
            "visibility" => self.visibility = Some(value),
            "spoiler_text" => self.spoiler_text = Some(value),
            "sensitive" => self.sensitive = Some(value),
            "language" => self.language = Some(value),
            "media_ids[]" | "media_ids" => self.media_ids.push(value),
            _ => {}
        }
    }

    fn merge_pairs(&mut self, encoded: &str) -> Result<(), ApiError> {
        // actix's Query parser is serde_urlencoded, the same format a form body uses.
        let pairs = web::Query::<Vec<(String, String)>>::from_query(encoded)
            .map_err(|_| parse_error())?
            .into_inner();
        for (key, value) in pairs {
            self.set(&key, value);
        }
        Ok(())
    }

    fn merge_json(&mut self, body: &[u8]) -> Result<(), ApiError> {
        let Value::Object(fields) = serde_json::from_slice(body).map_err(|_| parse_error())? else {
            return Ok(());
        };
        for (key, value) in fields {
            match value {
                Value::Array(items) if key == "media_ids" => {
                    self.media_ids.extend(items.into_iter().filter_map(scalar));
                }
                other => {
                    if let Some(text) = scalar(other) {
                        self.set(&key, text);
                    }
                }
            }
        }
        Ok(())
    }

    pub(crate) fn validate(self) -> Result<NewStatus, ApiError> {
        if self.media_ids.len() > MAX_MEDIA {
            return Err(ApiError::Unprocessable(
                "Cannot attach more than 4 files.".to_owned(),
            ));
        }
        let text = self.status.unwrap_or_default();
        if text.trim().is_empty() && self.media_ids.is_empty() {
            return Err(ApiError::validation("Text can't be blank"));
        }
        let spoiler_text = self.spoiler_text.unwrap_or_default();
        if counted_length(&text) + spoiler_text.chars().count() > MAX_CHARS {
            return Err(ApiError::validation("Text character limit of 500 exceeded"));
        }
        let visibility = match self.visibility.filter(|v| !v.is_empty()) {
            None => Visibility::Public,
            Some(v) => Visibility::parse(&v)
                .ok_or_else(|| ApiError::validation("Visibility is not included in the list"))?,
        };
        let sensitive = self
            .sensitive
            .is_some_and(|s| matches!(s.as_str(), "true" | "1" | "on"));
        Ok(NewStatus {
            text,
            visibility,
            // A content warning always marks the status sensitive, as Mastodon's model does.
            sensitive: sensitive || !spoiler_text.is_empty(),
            spoiler_text,
            language: self.language.filter(|l| !l.is_empty()),
            media_ids: self.media_ids,
        })
    }
}

/// Reads the parameters; fails only on a body that cannot be parsed at all.
pub(crate) fn parse(req: &HttpRequest, body: &[u8]) -> Result<StatusParams, ApiError> {
    let mut params = StatusParams::default();
    params.merge_pairs(req.query_string())?;
    let content_type = req.content_type().to_ascii_lowercase();
    if content_type == "application/json" || content_type.ends_with("+json") {
        params.merge_json(body)?;
    } else if content_type == "application/x-www-form-urlencoded" {
        let form = std::str::from_utf8(body).map_err(|_| parse_error())?;
        params.merge_pairs(form)?;
    } else if content_type == "multipart/form-data" {
        // Real Mastodon accepts it; say so plainly rather than answer "Text can't be blank".
        return Err(ApiError::UnsupportedMediaType(
            "multipart/form-data is not supported by the sandbox; send JSON or a urlencoded form"
                .to_owned(),
        ));
    }
    // Any other type: Rails leaves the body unparsed, so only the query string counts.
    Ok(params)
}

fn parse_error() -> ApiError {
    ApiError::BadRequest("Error occurred while parsing request parameters".to_owned())
}

fn scalar(value: Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Length as Mastodon's StatusLengthValidator counts it (URLs as 23 characters).
fn counted_length(text: &str) -> usize {
    text.split_whitespace()
        .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
        .fold(text.chars().count(), |length, url| {
            length - url.chars().count() + URL_CHARS
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_count_as_23_characters() {
        let url = format!("https://example.com/{}", "a".repeat(100));
        assert_eq!(counted_length(&format!("hi {url}")), 3 + 23);
    }

    #[test]
    fn whitespace_only_text_is_blank() {
        let params = StatusParams {
            status: Some("  \n ".to_owned()),
            ..StatusParams::default()
        };
        let err = params.validate().unwrap_err();
        assert_eq!(err.to_string(), "Validation failed: Text can't be blank");
    }
}
