//! Merges each resource's router into the API, and collects the OpenAPI
//! document from the same handlers (finished by `openapi`).

pub mod board;
pub mod cues;
pub mod events;
pub mod games;
pub mod join;
pub mod media;
pub mod messages;
pub mod ops;
pub mod pages;
pub mod player_pages;
pub mod players;
pub mod shows;
pub mod stats;
pub mod teams;
pub mod twilio_hooks;

use axum::Router;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::app_state::AppState;

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
        .merge(stats::router())
        .merge(twilio_hooks::router())
        .split_for_parts();
    // The player's page and joining from a phone are served outside
    // `/api/v1` (see `lib.rs`), but their JSON endpoints are documented with
    // the rest.
    doc.merge(player_pages::router().split_for_parts().1);
    doc.merge(join::router().split_for_parts().1);
    crate::openapi::finish(&mut doc);
    (router, doc)
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
                let public = operation["security"] == serde_json::json!([{}]);
                // No token: a player's own page (its code is the key),
                // Twilio's webhooks (signed instead), and joining from a
                // phone, which a player does before having a page at all.
                assert_eq!(
                    public,
                    path.starts_with("/p/")
                        || path.starts_with("/hooks/")
                        || path.starts_with("/join/"),
                    "{method} {path}"
                );
                if public {
                    assert!(responses.get("401").is_none(), "{method} {path}: no 401");
                }
                let statuses: &[&str] = if public {
                    &["429", "503"]
                } else {
                    &["401", "403", "429", "503"]
                };
                for &status in statuses {
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
    fn the_players_page_is_documented_without_a_token() {
        let doc = document();
        let status = &doc["paths"]["/p/{code}/status"]["get"];
        assert_eq!(status["security"], serde_json::json!([{}]));
        assert!(status["responses"].get("401").is_none());
        let body = &status["responses"]["200"]["content"]["application/json"]["schema"];
        assert_eq!(body["$ref"], "#/components/schemas/PlayerStatus");
        let props = &doc["components"]["schemas"]["PlayerStatus"]["properties"];
        for field in [
            "state",
            "position",
            "eta_seconds",
            "paused",
            "recall_expires_at",
            "acknowledged_at",
            "cancel_reason",
            "score",
            "distance",
            "homeruns",
            "rank",
            "souvenir_url",
            "actions",
        ] {
            assert!(props[field].is_object(), "{field}");
        }
        let qr = &doc["paths"]["/p/{code}/qr.svg"]["get"];
        assert_eq!(qr["security"], serde_json::json!([{}]));
        assert!(qr["responses"]["200"]["content"]["image/svg+xml"].is_object());
        let act = &doc["paths"]["/p/{code}/{action}"]["post"];
        assert_eq!(act["security"], serde_json::json!([{}]));
        assert!(act["responses"]["409"].is_object());
    }

    #[test]
    fn joining_is_documented_as_a_form_or_json_without_a_token() {
        let doc = document();
        for (path, body, statuses) in [
            (
                "/join/start",
                "JoinForm",
                &["202", "400", "404", "409", "413", "422", "429"][..],
            ),
            (
                "/join/verify",
                "VerifyForm",
                &["303", "400", "409", "413", "422", "429"][..],
            ),
        ] {
            let operation = &doc["paths"][path]["post"];
            assert_eq!(operation["security"], serde_json::json!([{}]), "{path}");
            let content = &operation["requestBody"]["content"];
            for kind in ["application/json", "application/x-www-form-urlencoded"] {
                let schema = &content[kind]["schema"]["$ref"];
                assert_eq!(
                    schema,
                    &format!("#/components/schemas/{body}"),
                    "{path} {kind}"
                );
            }
            let responses = operation["responses"].as_object().expect("responses");
            let mut documented: Vec<_> = responses.keys().map(String::as_str).collect();
            documented.retain(|s| *s != "503");
            assert_eq!(documented, statuses, "{path}");
            // A form is answered with a page, whatever went wrong.
            for status in ["409", "422", "429"] {
                assert!(
                    responses[status]["content"]["text/html"].is_object(),
                    "{path} {status}"
                );
            }
        }
        let started = &doc["paths"]["/join/start"]["post"]["responses"]["202"]["content"];
        assert_eq!(
            started["application/json"]["schema"]["$ref"],
            "#/components/schemas/JoinStarted"
        );
        let verified = &doc["paths"]["/join/verify"]["post"]["responses"]["303"];
        assert!(verified["headers"]["Location"].is_object());
        let form = &doc["components"]["schemas"]["JoinForm"]["properties"];
        assert_eq!(form["signed_waiver"]["type"], "boolean");
        assert!(form["mobile_number"].is_object());
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
    fn every_list_documents_its_paging_and_format() {
        let doc = document();
        for path in [
            "/api/v1/games",
            "/api/v1/players",
            "/api/v1/messages",
            "/api/v1/cues/runs",
            "/api/v1/teams",
            "/api/v1/shows",
        ] {
            let params = doc["paths"][path]["get"]["parameters"]
                .as_array()
                .unwrap_or_else(|| panic!("{path} has parameters"));
            let names: Vec<_> = params.iter().filter_map(|p| p["name"].as_str()).collect();
            let paging = &names[names.len().saturating_sub(3)..];
            assert_eq!(paging, ["limit", "cursor", "format"], "{path}: {names:?}");
            for p in params {
                assert_eq!(p["in"], "query", "{path}: {p}");
            }
        }
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
    fn the_line_settings_are_documented_and_only_two_may_be_null() {
        let doc = document();
        let input = &doc["components"]["schemas"]["ShowInput"]["properties"];
        for (field, kind) in [
            ("paused", "boolean"),
            ("self_join", "boolean"),
            ("stations", "integer"),
            ("waiver_text", "string"),
        ] {
            assert_eq!(input[field]["type"], kind, "{field}: {input}");
        }
        for field in ["closes_at", "max_waiting"] {
            let kind = input[field]["type"].to_string();
            assert!(kind.contains("null"), "{field} may be null: {kind}");
        }
        let joining = &input["joining"]["$ref"];
        assert_eq!(joining, "#/components/schemas/Joining", "{input}");
        let values = &doc["components"]["schemas"]["Joining"]["enum"];
        assert_eq!(values, &serde_json::json!(["open", "closed"]));
        let new_show = &doc["components"]["schemas"]["NewShow"];
        assert_eq!(new_show["required"], serde_json::json!(["name", "date"]));
        let show = &doc["components"]["schemas"]["Show"]["properties"];
        for field in super::shows::COLUMNS {
            assert!(show.get(field).is_some(), "Show lacks {field}");
        }
        let moved = &doc["paths"]["/api/v1/games/{id}/move"]["post"];
        assert!(moved.is_object(), "the move is documented");
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
