//! Extractors that reject in the API's own problem format: malformed JSON is
//! a 400, a field of the wrong type a 422 naming it, an oversized body a 413,
//! an id that can't exist a 404.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use ondeck_domain::validation::FieldErrors;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest JSON body accepted.
pub const JSON_LIMIT: usize = 1024 * 1024;

/// `Json` that speaks problem details.
pub struct ApiJson<T>(pub T);

fn is_json(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// JSON does not tell `4` from `4.0`, and neither does JSON Schema's
/// `integer`: a whole number written with a fraction becomes an integer, so
/// `{"score": 1200.0}` is read like `{"score": 1200}`.
fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f >= i64::MIN as f64
                && f < i64::MAX as f64
            {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(map) => map.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

/// Parses a JSON body, naming the field a type error is in.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    whole_numbers_as_integers(&mut value);
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if !inner.is_data() {
            return ApiError::BadRequest(format!("the body is not valid JSON: {inner}"));
        }
        let message = inner.to_string();
        // serde's own message carries a position that means nothing to a
        // client; keep the part before it.
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_owned();
        if path == "." {
            if let Some(field) = message
                .strip_prefix("unknown field `")
                .and_then(|m| m.split('`').next())
            {
                return ApiError::Invalid(FieldErrors::single(field, "is not a known field"));
            }
            return ApiError::BadRequest(format!(
                "the body must be a JSON object of the documented shape: {message}"
            ));
        }
        ApiError::Invalid(FieldErrors::single(&path, message))
    })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if !is_json(content_type) {
            return Err(ApiError::BadRequest(
                "expected a JSON body with Content-Type: application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// An optional JSON body: none at all (no Content-Type and an empty body)
/// is `None`; anything else must be JSON that parses as `T`.
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if req.headers().contains_key(CONTENT_TYPE) {
            return ApiJson::from_request(req, state)
                .await
                .map(|ApiJson(v)| OptionalJson(Some(v)));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        if bytes.is_empty() {
            Ok(OptionalJson(None))
        } else {
            Err(ApiError::BadRequest(
                "expected no body, or a JSON body with Content-Type: application/json".into(),
            ))
        }
    }
}

pub fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge("1 MiB")
    } else {
        ApiError::BadRequest(format!("could not read the request body: {rejection}"))
    }
}

/// `Path` whose rejection is a 404: an id that doesn't parse names nothing.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e: PathRejection| {
                ApiError::NotFound(format!("no such resource: {}", e.body_text()))
            })
    }
}

/// Query strings, with repeated keys (`?state=queued&state=recalled`).
/// An empty value (`?team=`) reads as absent, except in a field marked
/// `#[serde(default, deserialize_with = "given")]`.
pub struct ApiQuery<T>(pub T);

/// For a query parameter whose values the document lists (a state, a
/// number, a date): `?state=` is kept as `Some("")`, to be refused as none
/// of them, instead of being read as absent.
pub fn given<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    <String as serde::Deserialize>::deserialize(d).map(Some)
}

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum_extra::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e| {
                ApiError::BadRequest(format!("the query string is not valid: {}", e.body_text()))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Shape {
        count: Option<i64>,
    }

    #[test]
    fn syntax_errors_are_400_and_type_errors_name_the_field() {
        assert!(matches!(
            parse_json::<Shape>(b"{"),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            parse_json::<Shape>(b"\"text\""),
            Err(ApiError::BadRequest(_))
        ));
        match parse_json::<Shape>(br#"{"count": "x"}"#) {
            Err(ApiError::Invalid(errors)) => {
                assert_eq!(errors.fields().collect::<Vec<_>>(), ["count"])
            }
            other => panic!("expected a 422, got {other:?}"),
        }
        assert_eq!(
            parse_json::<Shape>(br#"{"count": 12.0}"#)
                .expect("a whole number with a fraction is an integer")
                .count,
            Some(12)
        );
        assert!(matches!(
            parse_json::<Shape>(br#"{"count": 12.5}"#),
            Err(ApiError::Invalid(_))
        ));
        match parse_json::<Shape>(br#"{"colour": 1}"#) {
            Err(ApiError::Invalid(errors)) => {
                assert_eq!(errors.fields().collect::<Vec<_>>(), ["colour"])
            }
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn json_content_types() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("application/json; charset=utf-8")));
        assert!(is_json(Some("application/merge-patch+json")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(None));
    }
}
