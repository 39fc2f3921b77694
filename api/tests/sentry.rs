//! Error reporting (`SENTRY_DSN`) of the API against a local HTTP server
//! standing in for Sentry's ingestion endpoint: a panic and a 500 in a
//! handler give one event each with the route (a busy database's 503 a
//! warning), a 4xx or a bare 503 none, and no phone
//! number, token or cookie is ever in what is sent. The worker's reports
//! are in `sentry_jobs.rs` (this test process reports its own panics, so it
//! holds this one test).

use axum::extract::Path;
use axum::routing::post;
use ondeck_api::app_state::AppState;
use ondeck_api::error::ApiError;
use ondeck_domain::models::Role;
use ondeck_testkit::TestApp;
use ondeck_testkit::sentry::{FakeSentry, assert_error_level};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

const MOBILE: &str = "+14155552671";

/// Waits until the stand-in has exactly `n` events; returns the newest,
/// which must be tagged with `route`.
async fn newest(sentry: &FakeSentry, n: usize, route: &str) -> Value {
    let events = sentry.exactly(n).await;
    let event = events[n - 1].clone();
    assert_eq!(event["tags"]["route"], route, "{event:#}");
    event
}

/// Routes production does not have, served under every layer of the app.
fn failing_routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/api/v1/test/panic/{mobile}",
            post(|Path(mobile): Path<String>| async move {
                if !mobile.is_empty() {
                    panic!("cannot reach {mobile}");
                }
                "unreachable"
            }),
        )
        .route(
            "/api/v1/test/fail/{mobile}",
            post(|Path(mobile): Path<String>| async move {
                Err::<(), _>(ApiError::Internal(anyhow::anyhow!(
                    "the provider lost the text to {mobile}"
                )))
            }),
        )
        .route(
            "/api/v1/test/busy",
            post(|| async {
                Err::<(), _>(ApiError::Unavailable(
                    "the database is unavailable; try again shortly".into(),
                ))
            }),
        )
        // A 503 that is an answer, not an error (as `/readyz` gives).
        .route(
            "/api/v1/test/not-ready",
            post(|| async { axum::http::StatusCode::SERVICE_UNAVAILABLE }),
        )
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn a_panic_a_500_and_a_503_give_one_event_each_with_the_route_and_no_pii(pool: PgPool) {
    let sentry = FakeSentry::start().await;
    let guard = ondeck_api::reporting::init(sentry.dsn.parse().expect("a DSN"));
    let app = TestApp::spawn_with_routes(pool, &[], failing_routes()).await;
    let token = app.token(Role::Admin).to_owned();
    let body = json!({"mobile_number": MOBILE, "note": "(415) 555-2671"});
    let query = "?q=4155552671&token=odk_inthequery";

    let reply = app
        .send(
            Method::POST,
            &format!("/api/v1/test/panic/{MOBILE}{query}"),
            Some(&token),
            Some(&body),
            &[
                ("x-request-id", "req-7f3a"),
                ("cookie", "ondeck_admin=odk_cookie"),
            ],
        )
        .await;
    let problem = reply.problem(500);
    assert_eq!(problem["type"], "/problems/internal");
    let panic = &newest(&sentry, 1, "/api/v1/test/panic/{mobile}").await;
    assert_eq!(panic["tags"]["method"], "POST");
    assert_eq!(panic["tags"]["request_id"], "req-7f3a");
    assert_eq!(panic["transaction"], "POST /api/v1/test/panic/{mobile}");
    assert_eq!(panic["level"], "fatal", "the panic integration's level");
    let exception = &panic["exception"]["values"][0];
    assert_eq!(exception["mechanism"]["type"], "panic", "{exception:#}");
    assert_eq!(exception["value"], "cannot reach [phone]");
    assert_eq!(panic["request"]["method"], "POST");
    assert_eq!(
        panic["request"]["url"],
        format!("{}/api/v1/test/panic/[phone]", app.base)
    );
    assert!(panic["request"].get("query_string").is_none(), "{panic:#}");
    assert!(
        panic["release"]
            .as_str()
            .is_some_and(|r| r.starts_with(concat!("ondeck@", env!("CARGO_PKG_VERSION")))),
        "the release: {}",
        panic["release"]
    );

    // A 500 from a handler: one more event, an error with the cause.
    let reply = app
        .send(
            Method::POST,
            &format!("/api/v1/test/fail/{MOBILE}"),
            Some(&token),
            Some(&body),
            &[],
        )
        .await;
    reply.problem(500);
    // A 4xx is the client's business: no event.
    app.get(Role::Admin, "/api/v1/games/999999")
        .await
        .problem(404);
    let failure = &newest(&sentry, 2, "/api/v1/test/fail/{mobile}").await;
    assert_eq!(failure["tags"]["status"], "500");
    assert_error_level(failure);
    assert_eq!(
        failure["exception"]["values"][0]["value"],
        "the provider lost the text to [phone]"
    );

    // A 503 of ours (a busy database) is a warning; a bare 503 is no event.
    for path in ["/api/v1/test/busy", "/api/v1/test/not-ready"] {
        let reply = app.send(Method::POST, path, Some(&token), None, &[]).await;
        assert_eq!(reply.status, 503, "{path}: {}", reply.text());
    }
    let busy = &newest(&sentry, 3, "/api/v1/test/busy").await;
    assert_eq!(busy["tags"]["status"], "503");
    assert_eq!(busy["level"], "warning");

    drop(guard);
    sentry.assert_nothing_secret(&[
        "4155552671",
        "555-2671",
        &token,
        "odk_",
        "ondeck_admin",
        "Bearer",
    ]);
}
