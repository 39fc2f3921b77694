//! Running the line against the real `ondeck serve`: a change of a show's
//! settings made through one API process reaches the event stream and the
//! players' pages of another at once, and shows made before shows had
//! their own stations take `STATIONS` when ondeck starts.

use std::time::Duration;

use ondeck_testkit::pages::{sign_up, status};
use ondeck_testkit::sse::Subscriber;
use ondeck_testkit::{Body, Mode, Stack, eventually};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settings_change_reaches_another_processs_stream_and_pages_within_a_second() {
    let stack = Stack::new().await;
    let (one, other) = (
        stack.spawn(Mode::Serve, &[]).await,
        stack.spawn(Mode::Serve, &[]).await,
    );
    let player = sign_up(&stack, &other, "Casey").await;
    stack.advance(&other, player.game, &["queue"]).await;
    // Read once, so the other process serves the page from memory.
    let before = status(&stack, &other, &player.code).await;
    assert_eq!(before["paused"], false, "{before}");
    assert!(before["eta_seconds"].is_i64(), "{before}");
    let mut subscriber = Subscriber::connect(&stack, &other, None).await;

    let path = format!("/api/v1/shows/{}", stack.show_id);
    let body = Some(Body::Json(json!({"paused": true})));
    stack
        .send(&one, Method::PATCH, &path, Some(&stack.tokens.admin), body)
        .await
        .expect(200);

    let event = subscriber.next(Duration::from_secs(1)).await;
    assert_eq!(event.event, "show", "{:?}", event.data);
    assert_eq!(event.data["paused"], true, "{}", event.data);
    let paused = eventually("the page says paused", Duration::from_secs(1), async || {
        let now = status(&stack, &other, &player.code).await;
        (now["paused"] == true).then_some(now)
    })
    .await;
    assert_eq!(paused["eta_seconds"], json!(null), "{paused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_show_from_before_per_show_stations_takes_stations_at_start() {
    let stack = Stack::new().await;
    sqlx::query("UPDATE shows SET stations = NULL")
        .execute(&stack.db.pool)
        .await
        .expect("a show as the upgrade leaves it");
    let ondeck = stack.spawn(Mode::Serve, &[("STATIONS", "4")]).await;
    assert_eq!(stack.show(&ondeck).await["stations"], 4);
    let stored: Option<i32> = sqlx::query_scalar("SELECT stations FROM shows")
        .fetch_one(&stack.db.pool)
        .await
        .expect("stations");
    assert_eq!(stored, Some(4), "kept, not only answered");
}
