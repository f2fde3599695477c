//! Reading XRPC inputs: a JSON object body for procedures, repeated `key=value` query
//! parameters for queries, with the lexicon validator's error texts.

use actix_web::{HttpMessage, HttpRequest, web};
use serde_json::{Map, Value};

use super::error::XrpcError;

/// A procedure's JSON body, which must be an object sent as `application/json`.
pub(crate) fn object(req: &HttpRequest, body: &[u8]) -> Result<Map<String, Value>, XrpcError> {
    let content_type = req.content_type().to_ascii_lowercase();
    if content_type != "application/json" {
        return Err(XrpcError::invalid(format!(
            "Wrong request encoding (Content-Type): {content_type}"
        )));
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(XrpcError::invalid("Input must be an object")),
        Err(_) => Err(XrpcError::invalid("Request body is not valid JSON")),
    }
}

pub(crate) fn required_str(map: &Map<String, Value>, key: &str) -> Result<String, XrpcError> {
    match map.get(key) {
        None | Some(Value::Null) => Err(XrpcError::invalid(format!(
            "Input must have the property \"{key}\""
        ))),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(XrpcError::invalid(format!("Input/{key} must be a string"))),
    }
}

pub(crate) fn optional_str(
    map: &Map<String, Value>,
    key: &str,
) -> Result<Option<String>, XrpcError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(XrpcError::invalid(format!("Input/{key} must be a string"))),
    }
}

/// A query's parameters in order; repeated keys (`uris=a&uris=b`) stay separate.
pub(crate) fn params(req: &HttpRequest) -> Result<Vec<(String, String)>, XrpcError> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|_| XrpcError::invalid("Invalid query string"))
}

pub(crate) fn required_param(params: &[(String, String)], key: &str) -> Result<String, XrpcError> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| XrpcError::invalid(format!("Params must have the property \"{key}\"")))
}
