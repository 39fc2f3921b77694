//! Request plumbing that sits in front of the handlers: the method override
//! for web views that can only POST, `Idempotency-Key`, and HTTP metrics.

use std::time::Instant;

use axum::body::{Body, to_bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ondeck_domain::store::idempotency::{self, Claim};
use sha2::{Digest, Sha256};

use crate::auth::authenticate;
use crate::error::ApiError;
use crate::extract::JSON_LIMIT;
use crate::state::AppState;

/// `X-HTTP-Method-Override: PATCH|PUT|DELETE` on a POST. This must run
/// before routing, so it wraps the whole router (see `lib.rs`).
pub async fn method_override(mut req: Request, next: Next) -> Response {
    if req.method() == Method::POST {
        let wanted = req
            .headers()
            .get("x-http-method-override")
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_uppercase);
        match wanted.as_deref() {
            Some("PATCH") => *req.method_mut() = Method::PATCH,
            Some("PUT") => *req.method_mut() = Method::PUT,
            Some("DELETE") => *req.method_mut() = Method::DELETE,
            Some("POST") | None => {}
            Some(other) => {
                return ApiError::BadRequest(format!(
                    "X-HTTP-Method-Override {other:?} is not one of PATCH, PUT, DELETE"
                ))
                .into_response();
            }
        }
    }
    next.run(req).await
}

const MAX_KEY_LEN: usize = 255;

/// `Idempotency-Key` on a POST (or an overridden one): the first response is
/// kept for 24 hours and replayed for a repeat with the same body; the same
/// key with another body is a 422.
pub async fn idempotency(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(key) = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_owned))
    else {
        return next.run(req).await;
    };
    // POSTs (and POSTs overridden to PATCH): photo PUTs are idempotent by nature.
    if req.method() != Method::POST && req.method() != Method::PATCH {
        return next.run(req).await;
    }
    let key = match key {
        Ok(k) if !k.trim().is_empty() && k.len() <= MAX_KEY_LEN => k,
        _ => {
            return ApiError::BadRequest(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible characters"
            ))
            .into_response();
        }
    };
    let (mut parts, body) = req.into_parts();
    // Keys are per token: without a valid one the request fails anyway.
    let caller = match authenticate(&state, &parts).await {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    parts.extensions.insert(caller);
    let bytes = match to_bytes(body, JSON_LIMIT).await {
        Ok(b) => b,
        Err(_) => return ApiError::PayloadTooLarge("1 MiB").into_response(),
    };
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update([0]);
    hasher.update(parts.uri.path());
    hasher.update([0]);
    hasher.update(&bytes);
    let hash = hasher.finalize().to_vec();

    let claim = async {
        let mut conn = state.db.acquire().await?;
        Ok::<_, ApiError>(idempotency::claim(&mut conn, caller.token_id, &key, &hash).await?)
    };
    match claim.await {
        Err(e) => return e.into_response(),
        Ok(Claim::Mismatch) => {
            return ApiError::Unprocessable(
                "this Idempotency-Key was used with a different request".into(),
            )
            .into_response();
        }
        Ok(Claim::InProgress) => {
            return ApiError::Conflict(
                "a request with this Idempotency-Key is still being processed".into(),
            )
            .into_response();
        }
        Ok(Claim::Replay {
            status,
            content_type,
            body,
        }) => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = axum::http::StatusCode::from_u16(status).unwrap_or_default();
            if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                response.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return response;
        }
        Ok(Claim::New) => {}
    }

    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (parts, body) = response.into_parts();
    // Our responses to POSTs are small JSON documents.
    let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let outcome = async {
        let mut conn = state.db.acquire().await?;
        if parts.status.is_server_error() {
            // A failure on our side changed nothing: let a retry run again.
            idempotency::release(&mut conn, caller.token_id, &key).await
        } else {
            let content_type = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            idempotency::save(
                &mut conn,
                caller.token_id,
                &key,
                parts.status.as_u16(),
                content_type,
                &body,
            )
            .await
        }
        .map_err(ApiError::from)
    };
    if let Err(e) = outcome.await {
        tracing::error!(error = %e, "could not record an idempotent response");
    }
    Response::from_parts(parts, Body::from(body))
}

/// Counts requests by route and status, with their latency.
pub async fn http_metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("ondeck_http_requests_total", &labels).increment(1);
    metrics::histogram!("ondeck_http_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    response
}
