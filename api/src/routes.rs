//! Merges each resource's router into the API, and collects the OpenAPI
//! document from the same handlers.

pub mod board;
pub mod cues;
pub mod events;
pub mod games;
pub mod media;
pub mod messages;
pub mod ops;
pub mod pages;
pub mod players;
pub mod shows;
pub mod teams;

use axum::Router;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, OpenApi, Ref, RefOr, ResponseBuilder, SecurityRequirement,
};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::app_state::AppState;
use crate::error::Problem;

/// The `/api/v1` routes and the OpenAPI document that describes them.
pub fn api() -> (Router<AppState>, OpenApi) {
    let (router, mut doc) = OpenApiRouter::new()
        .merge(shows::router())
        .merge(teams::router())
        .merge(players::router())
        .merge(games::router())
        .merge(board::router())
        .merge(media::router())
        .merge(messages::router())
        .merge(events::router())
        .merge(cues::router())
        .split_for_parts();
    doc.info = InfoBuilder::new()
        .title("ondeck")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "The queue, scoreboard and jobs of a walk-up venue attraction. Every request carries \
             `Authorization: Bearer <token>`; errors are RFC 9457 problem details.",
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
    new_show_schema(&mut doc);
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
    (router, doc)
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
        ("401", "no valid bearer token"),
        ("403", "the token's role may not do this"),
        ("429", "too many requests; see Retry-After"),
        ("503", "the database is unavailable; see Retry-After"),
    ];
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

/// Schemas of query parameters that the handlers take as text and check
/// themselves: the document says exactly which values are accepted.
pub(crate) mod params {
    use utoipa::openapi::schema::{
        Array, ArrayBuilder, KnownFormat, Object, ObjectBuilder, OneOfBuilder, Schema,
        SchemaFormat, Type,
    };

    pub(crate) fn one_of(values: &[&str]) -> Object {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(values.iter().copied()))
            .build()
    }

    /// `format`: `json` (default) or `csv`.
    pub(crate) fn format() -> Object {
        one_of(&["json", "csv"])
    }

    /// `order` of players and games.
    pub(crate) fn order() -> Object {
        one_of(&["score", "-score", "created_at", "-created_at"])
    }

    /// A game state.
    pub(crate) fn game_state() -> Object {
        one_of(&ondeck_domain::GameState::ALL.map(|g| g.as_str()))
    }

    /// Game states, the key repeated: `?state=queued&state=recalled`.
    pub(crate) fn game_states() -> Array {
        ArrayBuilder::new().items(game_state()).build()
    }

    /// `day`: a date; an empty value is the same as none.
    pub(crate) fn day() -> Schema {
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(0)),
            )
            .build()
            .into()
    }

    pub(crate) fn handedness() -> Object {
        one_of(&["L", "R"])
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn document() -> Value {
        serde_json::to_value(super::api().1).expect("the document serializes")
    }

    #[test]
    fn every_operation_documents_its_errors_as_problems() {
        let doc = document();
        let paths = doc["paths"].as_object().expect("paths");
        assert!(paths.len() > 20, "all routes are there: {}", paths.len());
        for (path, item) in paths {
            for (method, operation) in item.as_object().expect("path item") {
                let responses = &operation["responses"];
                for status in ["401", "403", "429", "503"] {
                    let schema =
                        &responses[status]["content"]["application/problem+json"]["schema"];
                    assert_eq!(
                        schema["$ref"], "#/components/schemas/Problem",
                        "{method} {path} documents {status}"
                    );
                }
                if path.contains('{') {
                    let schema = &responses["404"]["content"]["application/problem+json"]["schema"];
                    assert!(schema.is_object(), "{method} {path} documents 404");
                }
                if operation.get("parameters").is_none() && operation.get("requestBody").is_none() {
                    assert!(responses.get("422").is_none(), "{method} {path}: no 422");
                }
            }
        }
        assert!(doc["components"]["schemas"]["Problem"]["properties"]["type"].is_object());
    }

    #[test]
    fn query_parameters_say_which_values_are_accepted() {
        let doc = document();
        let params = doc["paths"]["/api/v1/games"]["get"]["parameters"]
            .as_array()
            .expect("parameters");
        let schema = |name: &str| {
            params
                .iter()
                .find(|p| p["name"] == name)
                .map(|p| p["schema"].clone())
                .unwrap_or_else(|| panic!("no parameter {name}"))
        };
        assert_eq!(schema("limit")["maximum"], 500);
        assert_eq!(schema("format")["enum"], serde_json::json!(["json", "csv"]));
        assert_eq!(schema("state")["items"]["enum"][0], "new");
        assert_eq!(schema("day")["oneOf"][0]["format"], "date");
    }

    #[test]
    fn a_new_show_needs_a_name_and_a_date() {
        let doc = document();
        let body = &doc["paths"]["/api/v1/shows"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"];
        assert_eq!(body["$ref"], "#/components/schemas/NewShow");
        let new_show = &doc["components"]["schemas"]["NewShow"];
        assert_eq!(new_show["required"], serde_json::json!(["name", "date"]));
        assert_eq!(new_show["properties"]["date"]["type"], "string");
        let patch = &doc["paths"]["/api/v1/shows/{id}"]["patch"]["requestBody"]["content"]["application/json"]
            ["schema"];
        assert_eq!(patch["$ref"], "#/components/schemas/ShowInput");
    }

    #[test]
    fn booleans_of_a_player_are_never_null() {
        let doc = document();
        let player = &doc["components"]["schemas"]["PlayerInput"];
        for field in ["signed_waiver", "is_finalist"] {
            assert_eq!(player["properties"][field]["type"], "boolean", "{field}");
        }
        assert!(
            player.get("required").is_none(),
            "every field is optional: {player}"
        );
    }
}
