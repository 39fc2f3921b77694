//! The hardening of the public port and the smaller holes: `/metrics` and
//! `/readyz` cannot starve the tablets, `METRICS_ADDR` moves `/metrics` off
//! the public port, a slow request head is cut off, an abandoned
//! Idempotency-Key is free again, purge takes kept responses and text
//! errors with it, provider errors are stored scrubbed, and the staff
//! cookie is a server-side session.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::routing::post;
use ondeck_domain::models::Role;
use ondeck_domain::store::{messages, purge, tokens};
use ondeck_testkit::{Mode, Reply, Stack, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tablets_see_no_503_while_metrics_and_readyz_are_flooded() {
    let stack = Stack::new().await;
    // A small pool that gives up quickly: what a flood would exhaust first.
    // Two of the five connections listen for revocations and events, one
    // sends the NOTIFY that wakes the listeners after each of the tablet's
    // signups, one may be `/readyz` checking the database: one is left for
    // the tablet.
    let api = stack
        .spawn(
            Mode::Serve,
            &[
                ("DATABASE_POOL_SIZE", "5"),
                ("DATABASE_ACQUIRE_TIMEOUT_MS", "100"),
            ],
        )
        .await;
    let flood = reqwest::Client::new();
    let until = Instant::now() + Duration::from_secs(4);
    let mut flooders = Vec::new();
    for n in 0..64 {
        let (client, base) = (flood.clone(), api.base.clone());
        let path = if n % 2 == 0 { "/metrics" } else { "/readyz" };
        flooders.push(tokio::spawn(async move {
            let mut answered = 0u32;
            while Instant::now() < until {
                if let Ok(res) = client.get(format!("{base}{path}")).send().await {
                    let ok = res.status() == StatusCode::OK;
                    let _ = res.bytes().await;
                    answered += u32::from(ok);
                }
            }
            answered
        }));
    }
    let tablet = reqwest::Client::new();
    let mut refused = Vec::new();
    let mut done = 0;
    while Instant::now() < until {
        let signup = tablet
            .post(format!("{}/api/v1/players", api.base))
            .bearer_auth(&stack.tokens.tablet)
            .json(&json!({"first_name": format!("Flood {done}"), "handedness": "R"}))
            .send()
            .await
            .expect("the signup reaches the server");
        let queue = tablet
            .get(format!("{}/api/v1/queue", api.base))
            .bearer_auth(&stack.tokens.tablet)
            .send()
            .await
            .expect("the queue reaches the server");
        for (what, res) in [("signup", signup), ("queue", queue)] {
            let status = res.status();
            let text = res.text().await.unwrap_or_default();
            if !status.is_success() {
                refused.push(format!("{what}: {status} {text}"));
            }
        }
        done += 1;
    }
    let mut flooded = 0;
    for flooder in flooders {
        flooded += flooder.await.expect("a flooder");
    }
    assert!(refused.is_empty(), "the tablet was refused: {refused:?}");
    assert!(done >= 5, "the tablet got through only {done} rounds");
    assert!(flooded >= 100, "the flood was answered {flooded} times");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_addr_takes_metrics_off_the_public_port() {
    let stack = Stack::new().await;
    let metrics_addr = format!("127.0.0.1:{}", ondeck_testkit::free_port());
    let api = stack
        .spawn(Mode::Serve, &[("METRICS_ADDR", &metrics_addr)])
        .await;
    stack.signup(&api, "Ada", "+14155550123").await;
    let public = stack.send(&api, Method::GET, "/metrics", None, None).await;
    public.problem(404);
    let private = stack
        .http
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .expect("METRICS_ADDR answers");
    assert_eq!(private.status(), StatusCode::OK);
    let text = private.text().await.expect("the exposition");
    assert!(
        text.contains(r#"ondeck_games{state="new"} 1"#),
        "the database gauges, read after the signup: {text}"
    );
    assert!(
        text.contains("ondeck_http_requests_total"),
        "the API's own counters: {text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_head_that_never_ends_is_cut_off() {
    let stack = Stack::new().await;
    let api = stack.spawn(Mode::Serve, &[]).await;
    let addr = api.base.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("a connection");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: ondeck\r\n")
        .await
        .expect("half a request head");
    let started = Instant::now();
    let limit = ondeck_api::HEADER_READ_TIMEOUT + Duration::from_secs(5);
    let mut buf = [0u8; 512];
    let read = tokio::time::timeout(limit, slow.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(_) | Err(_))),
        "the connection is still open after {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() >= ondeck_api::HEADER_READ_TIMEOUT - Duration::from_secs(1),
        "cut off too early: {:?}",
        started.elapsed()
    );
    // Everyone else is still served.
    stack
        .send(&api, Method::GET, "/healthz", None, None)
        .await
        .expect(200);
}

/// A route that misbehaves on its first call (sleeps past the request
/// timeout, or panics) and answers 201 from then on.
fn flaky(
    misbehave: fn() -> futures::future::BoxFuture<'static, ()>,
) -> axum::Router<ondeck_api::app_state::AppState> {
    let calls = Arc::new(AtomicUsize::new(0));
    axum::Router::new().route(
        "/api/v1/flaky",
        post(move || {
            let calls = calls.clone();
            async move {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    misbehave().await;
                }
                (StatusCode::CREATED, axum::Json(json!({"ok": true})))
            }
        }),
    )
}

/// Posts to the flaky route with `key`.
async fn post_flaky(app: &TestApp, key: &str) -> Reply {
    app.send(
        Method::POST,
        "/api/v1/flaky",
        Some(app.token(Role::Tablet)),
        Some(&json!({})),
        &[("idempotency-key", key)],
    )
    .await
}

/// [`post_flaky`], retrying a 409 for up to two seconds (the abandoned
/// claim is released in the background).
async fn retry_until_not_in_progress(app: &TestApp, key: &str) -> Reply {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let reply = post_flaky(app, key).await;
        if reply.status != StatusCode::CONFLICT.as_u16() || Instant::now() > deadline {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn an_idempotency_key_is_free_again_after_its_request_timed_out(pool: PgPool) {
    let routes = flaky(|| Box::pin(tokio::time::sleep(Duration::from_secs(3))));
    // A long timeout would do as well: the claim is released when the
    // request is dropped, not when it goes stale.
    let app = TestApp::spawn_with_routes(pool, &[("REQUEST_TIMEOUT_SECONDS", "1")], routes).await;
    let first = post_flaky(&app, "k-timeout").await;
    first.problem(503);
    let retry = retry_until_not_in_progress(&app, "k-timeout").await;
    assert_eq!(retry.expect(201), json!({"ok": true}));
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn an_idempotency_key_is_free_again_after_its_handler_panicked(pool: PgPool) {
    let routes = flaky(|| Box::pin(async { panic!("the first call fails") }));
    let app = TestApp::spawn_with_routes(pool, &[], routes).await;
    let first = post_flaky(&app, "k-panic").await;
    first.problem(500);
    let retry = retry_until_not_in_progress(&app, "k-panic").await;
    assert_eq!(retry.expect(201), json!({"ok": true}));
    // Kept now: a repeat is a replay.
    let again = retry_until_not_in_progress(&app, "k-panic").await;
    assert_eq!(again.expect(201), json!({"ok": true}));
    assert_eq!(app.count("idempotency_keys WHERE status = 201").await, 1);
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn purge_deletes_the_kept_responses_and_text_errors_of_its_players(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    let signup = |name: &'static str, mobile: &'static str| {
        let app = &app;
        async move {
            app.send(
                Method::POST,
                "/api/v1/players",
                Some(app.token(Role::Tablet)),
                Some(&json!({"first_name": name, "handedness": "R", "mobile_number": mobile})),
                &[("idempotency-key", name)],
            )
            .await
            .expect(201)
        }
    };
    let ada = signup("Ada", "+14155552671").await;
    let bea = signup("Bea", "+14155552672").await;
    let ada_game = ada["active_game"]["id"].as_i64().expect("Ada's game");
    app.transition(ada_game, "cancel").await.expect(200);
    // A text to Ada that the provider refused, quoting her number.
    let outbox: i64 =
        sqlx::query_scalar("INSERT INTO outbox (kind, payload) VALUES ('sms', '{}') RETURNING id")
            .fetch_one(&app.pool)
            .await
            .expect("an outbox row");
    sqlx::query(
        "INSERT INTO messages (outbox_id, game_id, kind, \"to\", body, status, error) \
         VALUES ($1, $2, 'welcome', '+14155552671', 'Hi', 'failed', \
                 'Twilio 400: +14155552671 is not a mobile number')",
    )
    .bind(outbox)
    .bind(ada_game)
    .execute(&app.pool)
    .await
    .expect("a refused text");

    let mut tx = app.pool.begin().await.expect("a transaction");
    let purged = purge::players_before(&mut tx, chrono::Utc::now() + chrono::Duration::minutes(1))
        .await
        .expect("purge");
    tx.commit().await.expect("commit");

    assert_eq!(purged.players, 1, "Ada only: Bea's game is open");
    assert_eq!(purged.player_responses, 1);
    let kept: Vec<String> = sqlx::query_scalar("SELECT key FROM idempotency_keys ORDER BY key")
        .fetch_all(&app.pool)
        .await
        .expect("keys");
    assert_eq!(
        kept,
        vec!["Bea".to_owned()],
        "Ada's signup response is gone"
    );
    let bea_id = bea["id"].as_i64().expect("Bea's id");
    let bea_ids: Vec<i64> = sqlx::query_scalar("SELECT unnest(player_ids) FROM idempotency_keys")
        .fetch_all(&app.pool)
        .await
        .expect("player ids");
    assert_eq!(bea_ids, vec![bea_id]);
    let errors = app.count("messages WHERE error IS NOT NULL").await;
    assert_eq!(errors, 0, "the provider's error went with the number");
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn a_provider_error_is_stored_without_the_number(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    let game = app.new_game_with_mobile("Ada", 7).await;
    let mut conn = app.pool.acquire().await.expect("a connection");
    let outbox: i64 =
        sqlx::query_scalar("INSERT INTO outbox (kind, payload) VALUES ('sms', '{}') RETURNING id")
            .fetch_one(&mut *conn)
            .await
            .expect("an outbox row");
    let message = messages::prepare(
        &mut conn,
        outbox,
        ondeck_domain::GameId(game),
        messages::Kind::Welcome,
        None,
        "http://venue.example",
        "UTC",
    )
    .await
    .expect("prepare")
    .expect("Ada has a number");
    messages::mark_attempt_failed(
        &mut conn,
        message.id,
        "Twilio 400: The 'To' number +14155550007 is not valid; see https://x.example/s/Ab3dE6gH9k",
        true,
    )
    .await
    .expect("recorded");
    let error: String = sqlx::query_scalar("SELECT error FROM messages WHERE id = $1")
        .bind(message.id)
        .fetch_one(&mut *conn)
        .await
        .expect("the error");
    assert_eq!(
        error,
        "Twilio 400: The 'To' number [phone] is not valid; see https://x.example/s/[link]"
    );
}

/// Logs in on the staff page; returns the cookie's value.
async fn log_in(app: &TestApp) -> String {
    let res = app
        .client
        .post(format!("{}/admin/login", app.base))
        .json(&json!({"token": app.token(Role::Admin)}))
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), StatusCode::OK);
    let set_cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a cookie")
        .to_owned();
    let value = set_cookie
        .strip_prefix("ondeck_admin=")
        .and_then(|rest| rest.split(';').next())
        .expect("the admin cookie");
    value.to_owned()
}

/// `GET /api/v1/players` as the staff page calls it, with `cookie`.
async fn with_cookie(app: &TestApp, cookie: &str) -> StatusCode {
    app.client
        .get(format!("{}/api/v1/players?limit=1", app.base))
        .header("cookie", format!("ondeck_admin={cookie}"))
        .header("x-ondeck-csrf", "1")
        .send()
        .await
        .expect("a request")
        .status()
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn the_staff_cookie_is_a_session_that_logout_ends(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let admin = app.token(Role::Admin).to_owned();
    let session = log_in(&app).await;
    assert!(
        !session.contains(&admin) && !session.starts_with("odk_"),
        "{session}"
    );
    assert_eq!(with_cookie(&app, &session).await, StatusCode::OK);
    // Only the session's hash is kept.
    let stored: i64 = app.count("admin_sessions").await;
    assert_eq!(stored, 1);
    // The token itself is no cookie.
    assert_eq!(with_cookie(&app, &admin).await, StatusCode::UNAUTHORIZED);

    let logout = app
        .client
        .post(format!("{}/admin/logout", app.base))
        .header("cookie", format!("ondeck_admin={session}"))
        .header("content-type", "application/json")
        .send()
        .await
        .expect("logout");
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    // A copy of the cookie kept from before the logout no longer works.
    assert_eq!(with_cookie(&app, &session).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.count("admin_sessions").await, 0);
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn a_session_ends_with_its_token_and_when_it_expires(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let revoked = log_in(&app).await;
    let mut conn = app.pool.acquire().await.expect("a connection");
    tokens::revoke(&mut conn, "test-admin")
        .await
        .expect("revoked");
    assert_eq!(with_cookie(&app, &revoked).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.count("admin_sessions").await,
        0,
        "deleted with the token"
    );

    let fresh = tokens::create(&mut conn, "another-admin", Role::Admin)
        .await
        .expect("a token");
    let res = app
        .client
        .post(format!("{}/admin/login", app.base))
        .json(&json!({"token": fresh}))
        .send()
        .await
        .expect("login");
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("ondeck_admin="))
        .and_then(|v| v.split(';').next())
        .expect("a cookie")
        .to_owned();
    assert_eq!(with_cookie(&app, &cookie).await, StatusCode::OK);
    sqlx::query("UPDATE admin_sessions SET expires_at = now() - interval '1 second'")
        .execute(&mut *conn)
        .await
        .expect("expire it");
    assert_eq!(with_cookie(&app, &cookie).await, StatusCode::UNAUTHORIZED);
}
