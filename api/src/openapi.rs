//! What the OpenAPI document says beyond what each handler declares: the
//! title, the bearer scheme, the problem format of every error, and the
//! schema of a new show.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, OpenApi, Ref, RefOr, ResponseBuilder, SecurityRequirement,
};
use utoipa::{PartialSchema, ToSchema};

use crate::error::Problem;

/// Completes the document collected from the handlers' annotations.
pub fn finish(doc: &mut OpenApi) {
    doc.info = InfoBuilder::new()
        .title("ondeck")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "The queue, scoreboard and jobs of a walk-up venue attraction. Every `/api/v1` request \
             carries `Authorization: Bearer <token>`; Twilio's webhooks (`/hooks/twilio/*`) carry \
             Twilio's `X-Twilio-Signature` instead. Errors are RFC 9457 problem details.",
        ))
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    doc.security = Some(vec![SecurityRequirement::new(
        "bearer",
        Vec::<String>::new(),
    )]);
    components
        .schemas
        .insert(Problem::name().into_owned(), Problem::schema());
    new_show_schema(doc);
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            document_errors(operation);
        }
    }
}

/// `POST /shows` and `PATCH /shows/{id}` share `ShowInput`, but creating a
/// show needs a name and a date: the document says so with `NewShow`, the
/// same fields with those two required and not null.
fn new_show_schema(doc: &mut OpenApi) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let Some(mut schema) = components
        .schemas
        .get("ShowInput")
        .and_then(|s| serde_json::to_value(s).ok())
    else {
        return;
    };
    for field in ["name", "date"] {
        schema["properties"][field]["type"] = "string".into();
    }
    schema["required"] = serde_json::json!(["name", "date"]);
    let Ok(schema) = serde_json::from_value(schema) else {
        return;
    };
    components.schemas.insert("NewShow".to_owned(), schema);
    let body = doc
        .paths
        .paths
        .get_mut("/api/v1/shows")
        .and_then(|item| item.post.as_mut())
        .and_then(|op| op.request_body.as_mut());
    if let Some(RefOr::T(body)) = body {
        for content in body.content.values_mut() {
            if let RefOr::T(content) = content {
                content.schema = Some(Ref::from_schema_name("NewShow").into());
            }
        }
    }
}

/// An operation that needs no token: its security is one empty requirement
/// (`security(())`), which lifts the document's global bearer requirement.
pub fn is_public(operation: &Operation) -> bool {
    operation.security.as_ref().is_some_and(|requirements| {
        !requirements.is_empty()
            && requirements
                .iter()
                .all(|r| serde_json::to_value(r).is_ok_and(|v| v == serde_json::json!({})))
    })
}

/// The errors any operation may answer, described once rather than on every
/// handler: 401 (no valid token), 403 (a role not allowed), 429 (rate
/// limited) and 503 (the database unavailable) everywhere; 404 where the path
/// names a resource; 400 and 422 where there is a query string or a body
/// (malformed, or a value not valid); 413 where there is a body. Every error
/// status, these and those a handler lists, gets the problem document.
fn document_errors(operation: &mut Operation) {
    let has_path_id = operation.parameters.iter().flatten().any(
        |p| matches!(p, RefOr::T(p) if p.parameter_in == utoipa::openapi::path::ParameterIn::Path),
    );
    let has_query = operation.parameters.iter().flatten().any(
        |p| matches!(p, RefOr::T(p) if p.parameter_in == utoipa::openapi::path::ParameterIn::Query),
    );
    let has_body = operation.request_body.is_some();
    let mut statuses = vec![
        ("429", "too many requests; see Retry-After"),
        ("503", "the database is unavailable; see Retry-After"),
    ];
    if !is_public(operation) {
        statuses.push(("401", "no valid bearer token"));
        statuses.push(("403", "the token's role may not do this"));
    }
    if has_path_id {
        statuses.push(("404", "no such resource"));
    }
    if has_query || has_body {
        statuses.push(("400", "a malformed query string or body"));
        statuses.push(("422", "a value is not valid; see errors"));
    }
    if has_body {
        statuses.push(("413", "the body is too large"));
    }
    let responses = &mut operation.responses.responses;
    for (status, description) in statuses {
        responses.entry(status.to_owned()).or_insert_with(|| {
            ResponseBuilder::new()
                .description(description)
                .build()
                .into()
        });
    }
    for (status, response) in responses.iter_mut() {
        if !status.starts_with('4') && !status.starts_with('5') {
            continue;
        }
        if let RefOr::T(response) = response
            && response.content.is_empty()
        {
            response.content.insert(
                "application/problem+json".to_owned(),
                RefOr::T(
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(Problem::name())))
                        .build(),
                ),
            );
        }
    }
}
