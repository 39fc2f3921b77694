//! The periodic recall sweep changes games through the same path as the
//! API: a recall it makes texts the player, fires the cue configured on
//! `recalled`, records its event and counts in `ondeck_transitions_total`,
//! exactly like a recall made by a tablet. (A test binary of its own: the
//! counters are per process, and no other test here may move them.)

use ondeck_domain::store::wake::Wake;
use ondeck_testkit::TestApp;
use sqlx::PgPool;

const CUES: &str = r#"
[[cues.come-back.actions]]
type = "dmx"
channels = [{ channel = 1, value = 255 }]

[on]
recalled = "come-back"
"#;

/// `ondeck_transitions_total{to="recalled"}` as `/metrics` shows it now.
async fn recalled_total(app: &TestApp) -> f64 {
    let reply = app
        .send(reqwest::Method::GET, "/metrics", None, None, &[])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply
        .text()
        .lines()
        .find_map(|l| l.strip_prefix(r#"ondeck_transitions_total{to="recalled"} "#))
        .map_or(0.0, |v| v.parse().expect("a number"))
}

/// Rows the recall of `game` left behind: (cue jobs of `come-back`, recall
/// texts, events saying it was recalled).
async fn traces(app: &TestApp, game: i64) -> (i64, i64, i64) {
    let count = async |sql: &'static str| -> i64 {
        sqlx::query_scalar(sql)
            .bind(game)
            .fetch_one(&app.pool)
            .await
            .expect(sql)
    };
    (
        count(
            "SELECT count(*) FROM outbox WHERE kind = 'cue' \
             AND payload->>'name' = 'come-back' AND (payload->>'game_id')::bigint = $1",
        )
        .await,
        count(
            "SELECT count(*) FROM outbox WHERE kind = 'sms' \
             AND payload->>'message' = 'recall' AND (payload->>'game_id')::bigint = $1",
        )
        .await,
        count(
            "SELECT count(*) FROM events WHERE (payload->>'id')::bigint = $1 \
             AND payload->>'state' = 'recalled' AND payload->>'previous_state' = 'queued'",
        )
        .await,
    )
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn a_recall_by_the_sweep_fires_its_cue_and_counts_like_one_through_the_api(pool: PgPool) {
    let dir = std::env::temp_dir().join(format!("ondeck-sweep-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let cues = dir.join("cues.toml");
    std::fs::write(&cues, CUES).expect("the cue file");
    let app = TestApp::spawn_with(pool, &[("CUES_FILE", cues.to_str().expect("a path"))]).await;
    std::fs::remove_dir_all(&dir).expect("remove the cue file");
    app.create_show("Derby", "2026-11-21").await;

    // Both players have a mobile number, so each recall texts them (and the
    // sweep recalls only players it can text).
    let by_sweep = app.new_game_with_mobile("Sweep", 1).await;
    let by_api = app.new_game_with_mobile("Tablet", 2).await;
    for game in [by_sweep, by_api] {
        app.transition(game, "queue").await.expect(200);
    }
    let before = recalled_total(&app).await;

    let recalled = app
        .post(
            ondeck_domain::models::Role::Tablet,
            &format!("/api/v1/games/{by_api}/recall"),
            serde_json::json!({}),
        )
        .await
        .expect(200);
    assert_eq!(recalled["state"], "recalled");
    assert_eq!(recalled_total(&app).await - before, 1.0, "the API's recall");
    assert_eq!(traces(&app, by_api).await, (1, 1, 1), "the API's recall");

    // The sweep as the worker runs it, with the worker's settings.
    let settings = &app.config.worker;
    let lifecycle = settings.lifecycle(Wake::start(app.pool.clone()));
    let swept = ondeck_jobs::sweep::recall_sweep(&app.pool, &lifecycle)
        .await
        .expect("the sweep");
    assert_eq!(swept, 1, "the window (two) had room for one more");
    assert_eq!(app.game(by_sweep).await["state"], "recalled");
    assert_eq!(
        recalled_total(&app).await - before,
        2.0,
        "the sweep's recall"
    );
    assert_eq!(
        traces(&app, by_sweep).await,
        (1, 1, 1),
        "the sweep's recall"
    );

    // A full window: the next sweep changes and counts nothing.
    let again = ondeck_jobs::sweep::recall_sweep(&app.pool, &lifecycle)
        .await
        .expect("the sweep");
    assert_eq!(again, 0);
    assert_eq!(recalled_total(&app).await - before, 2.0);
}
