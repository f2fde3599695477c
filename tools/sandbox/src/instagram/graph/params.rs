//! Graph parameters arrive in the query string, a urlencoded form or a JSON body (all three
//! are accepted by Graph for `POST`); the body wins over the query.

use std::collections::HashMap;

use actix_web::{HttpMessage, HttpRequest, web};
use serde_json::Value;

use super::error::GraphError;

#[derive(Debug, Default)]
pub(crate) struct Params(HashMap<String, String>);

impl Params {
    /// A non-empty value.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    fn merge_pairs(&mut self, pairs: &str) -> Result<(), GraphError> {
        let parsed = web::Query::<HashMap<String, String>>::from_query(pairs)
            .map_err(|_| GraphError::invalid_param("Invalid parameters", "Cannot parse them"))?;
        self.0.extend(parsed.into_inner());
        Ok(())
    }
}

pub(crate) fn query(req: &HttpRequest) -> Result<Params, GraphError> {
    let mut params = Params::default();
    params.merge_pairs(req.query_string())?;
    Ok(params)
}

pub(crate) fn parse(req: &HttpRequest, body: &[u8]) -> Result<Params, GraphError> {
    let mut params = query(req)?;
    let content_type = req.content_type().to_ascii_lowercase();
    if content_type == "application/json" {
        let json: Value = serde_json::from_slice(body)
            .map_err(|_| GraphError::invalid_param("Invalid JSON", "The body is not JSON"))?;
        let Value::Object(map) = json else {
            return Err(GraphError::invalid_param(
                "Invalid JSON",
                "The body must be a JSON object",
            ));
        };
        for (key, value) in map {
            let value = match value {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            params.0.insert(key, value);
        }
    } else if content_type == "application/x-www-form-urlencoded" {
        let form = std::str::from_utf8(body)
            .map_err(|_| GraphError::invalid_param("Invalid form", "The form is not UTF-8"))?;
        params.merge_pairs(form)?;
    }
    Ok(params)
}
