//! The one API error type. Every failure, including extractor rejections,
//! answers an RFC 9457 problem (`application/problem+json`); internal errors
//! are logged with their cause chain and answer a generic 500.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ondeck_domain::game_state::PlayerAction;
use ondeck_domain::line::LineRule;
use ondeck_domain::validation::FieldErrors;
use ondeck_domain::{Actor, DomainError, GameState, Transition};
use serde_json::{Map, Value, json};

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// What every request answers while the one database is unreachable.
pub const DATABASE_DOWN: &str = "the database is unavailable; try again shortly";

/// The body of every error (`application/problem+json`), as the OpenAPI
/// document describes it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Problem {
    /// `/problems/<kind>`.
    #[schema(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    detail: String,
    /// With 422 `validation`: the messages of each field that is not valid.
    errors: Option<std::collections::BTreeMap<String, Vec<String>>>,
    /// With 409 `illegal-transition`: the game's state.
    current_state: Option<String>,
    /// With 409 `illegal-transition`: the transition refused.
    transition: Option<String>,
    /// With 409 `line-closed`, `line-full` and `line-full-today`: the show
    /// setting that refused (`joining`, `max_waiting`, `closes_at`).
    rule: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("a valid bearer token is required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("cannot {transition} a game that is {current}")]
    IllegalTransition {
        current: GameState,
        transition: Transition,
    },
    #[error("{action} is not possible now: the game is {current}")]
    IllegalAction {
        current: GameState,
        action: PlayerAction,
    },
    /// A show's line takes no new game now (see `ondeck_domain::line`).
    #[error("{}", .0.explain())]
    LineRefused(LineRule),
    #[error("{0}")]
    Invalid(FieldErrors),
    #[error("{0}")]
    Unprocessable(String),
    #[error("the request body is larger than {0}")]
    PayloadTooLarge(&'static str),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_)
            | ApiError::IllegalTransition { .. }
            | ApiError::IllegalAction { .. }
            | ApiError::LineRefused(_) => StatusCode::CONFLICT,
            ApiError::Invalid(_) | ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad-request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not-found",
            ApiError::MethodNotAllowed => "method-not-allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::IllegalTransition { .. } => "illegal-transition",
            ApiError::IllegalAction { .. } => "illegal-action",
            ApiError::LineRefused(rule) => rule.slug(),
            ApiError::Invalid(_) | ApiError::Unprocessable(_) => "validation",
            ApiError::PayloadTooLarge(_) => "payload-too-large",
            ApiError::TooManyRequests(_) => "rate-limited",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError::Invalid(FieldErrors::single(field, message))
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            DomainError::IllegalTransition(t) => ApiError::IllegalTransition {
                current: t.current,
                transition: t.transition,
            },
            DomainError::IllegalAction { current, action } => {
                ApiError::IllegalAction { current, action }
            }
            // The message speaks of the caller's token, as every other 403 does.
            DomainError::NotPermitted(refused) => ApiError::Forbidden(match refused.actor {
                Actor::Staff(role) => format!("a {role} token may not do this"),
                Actor::System | Actor::Player => refused.to_string(),
            }),
            DomainError::Conflict(detail) => ApiError::Conflict(detail),
            DomainError::LineRefused(rule) => ApiError::LineRefused(rule),
            DomainError::Invalid(errors) => ApiError::Invalid(errors),
            DomainError::TooMany(detail) => ApiError::TooManyRequests(detail),
            DomainError::Database(e) => e.into(),
        }
    }
}

/// Whether `e` says the database is away rather than that the query is
/// wrong: every connection busy, none to be had, or a server going away or
/// unable to take the session (SQLSTATE class 08, connection exception;
/// class 57, operator intervention: a shutdown, a restart, "cannot connect
/// now"; 53300, too many connections). The request did not happen, or its
/// outcome is unknown: the client should come back shortly.
fn is_outage(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57") || c == "53300"),
        _ => false,
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if is_outage(&e) {
            // Tell the client to come back rather than hang or blame it.
            tracing::warn!(error = %e, "database unavailable");
            return ApiError::Unavailable(DATABASE_DOWN.into());
        }
        ApiError::Internal(anyhow::Error::new(e).context("database query failed"))
    }
}

/// A problem document (RFC 9457) with optional extension members.
pub fn problem(
    status: StatusCode,
    slug: &str,
    detail: &str,
    extra: Map<String, Value>,
) -> Response {
    let mut body = json!({
        "type": format!("/problems/{slug}"),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    if let Value::Object(map) = &mut body {
        map.extend(extra);
    }
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut extra = Map::new();
        let detail = match &self {
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                "something went wrong on our side; it has been logged".to_owned()
            }
            ApiError::IllegalTransition {
                current,
                transition,
            } => {
                extra.insert("current_state".into(), json!(current));
                extra.insert("transition".into(), json!(transition));
                self.to_string()
            }
            ApiError::IllegalAction { current, action } => {
                extra.insert("current_state".into(), json!(current));
                extra.insert("action".into(), json!(action));
                self.to_string()
            }
            ApiError::LineRefused(rule) => {
                extra.insert("rule".into(), json!(rule.field()));
                self.to_string()
            }
            ApiError::Invalid(errors) => {
                extra.insert("errors".into(), json!(errors));
                "some fields are not valid: see errors".to_owned()
            }
            other => other.to_string(),
        };
        let mut response = problem(status, self.slug(), &detail, extra);
        if matches!(self, ApiError::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if matches!(self, ApiError::Unavailable(_)) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        }
        // For the error report, made where the request's hub is bound.
        let cause = match self {
            ApiError::Internal(cause) => Some(cause),
            ApiError::Unavailable(detail) => Some(anyhow::anyhow!(detail)),
            _ => None,
        };
        if let Some(cause) = cause {
            let cause = crate::reporting::Cause(std::sync::Arc::new(cause));
            response.extensions_mut().insert(cause);
        }
        response
    }
}
