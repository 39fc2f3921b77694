//! The game lifecycle through HTTP: every (state, transition) pair, the
//! timestamps, and the races the conditional write must win.

use futures::future::join_all;
use ondeck_domain::models::Role;
use ondeck_domain::{GameState, Transition};
use ondeck_testkit::TestApp;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn every_state_and_transition_pair_follows_the_table(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    for from in GameState::ALL {
        for transition in Transition::ALL {
            let game = app.game_in(from.as_str()).await;
            let before = app.game(game).await;
            let reply = app.transition(game, transition.as_str()).await;
            match from.apply(transition) {
                Ok(to) => {
                    let body = reply.expect(200);
                    assert_eq!(
                        body["state"],
                        to.as_str(),
                        "{transition} from {from} should reach {to}"
                    );
                    let stamp = format!("{to}_at");
                    assert!(
                        body[&stamp].is_string(),
                        "{transition} from {from} should set {stamp}: {body}"
                    );
                }
                Err(_) => {
                    let problem = reply.problem(409);
                    assert_eq!(
                        problem["current_state"],
                        from.as_str(),
                        "{transition} from {from}"
                    );
                    assert_eq!(
                        problem["transition"],
                        transition.as_str(),
                        "{transition} from {from}"
                    );
                    let after = app.game(game).await;
                    assert_eq!(
                        before, after,
                        "a refused {transition} from {from} must change nothing"
                    );
                }
            }
        }
    }
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn sixteen_racing_plays_give_one_200_and_fifteen_409s(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    let game = app.game_in("confirmed").await;
    let path = format!("/api/v1/games/{game}/play");
    let replies = join_all((0..16).map(|_| app.post(Role::Game, &path, json!({})))).await;
    let wins = replies.iter().filter(|r| r.status == 200).count();
    let conflicts: Vec<_> = replies
        .iter()
        .filter(|r| r.status == 409)
        .map(|r| r.problem(409))
        .collect();
    assert_eq!((wins, conflicts.len()), (1, 15), "{replies:?}");
    for problem in conflicts {
        assert_eq!(problem["current_state"], "playing");
    }
    assert_eq!(app.game(game).await["state"], "playing");
}

/// The overfill this guards against needs an unlucky interleaving, so the
/// race is run in several shows (each with its own queue) to catch it.
#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn ten_racing_completions_never_overfill_the_recall_window(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("RECALL_WINDOW_SIZE", "2")]).await;
    for round in 0..4u32 {
        let show = app
            .create_show(
                &format!("Round {round}"),
                &format!("2026-11-{:02}", 10 + round),
            )
            .await;
        let mut playing = Vec::new();
        for _ in 0..10 {
            playing.push(app.game_in("playing").await);
        }
        let mut queued = Vec::new();
        for i in 0..20 {
            let game = app
                .new_game_with_mobile(&format!("Waiting {i}"), round * 100 + i)
                .await;
            app.transition(game, "queue").await.expect(200);
            queued.push(game);
        }
        let paths: Vec<String> = playing
            .iter()
            .map(|g| format!("/api/v1/games/{g}/complete"))
            .collect();
        let body = json!({"score": 1, "distance": 2, "homeruns": 3});
        let replies = join_all(paths.iter().map(|p| app.post(Role::Game, p, body.clone()))).await;
        assert!(replies.iter().all(|r| r.status == 200), "{replies:?}");
        let recalled: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM games WHERE state = 'recalled' AND show_id = $1 ORDER BY queued_at, id",
        )
        .bind(show["id"].as_i64())
        .fetch_all(&app.pool)
        .await
        .expect("query");
        assert_eq!(
            recalled,
            queued[..2],
            "round {round}: exactly the two longest-queued games are recalled"
        );
        let recall_texts: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM outbox WHERE payload->>'message' = 'recall' AND (payload->>'game_id')::bigint = ANY($1)",
        )
        .bind(&queued)
        .fetch_one(&app.pool)
        .await
        .expect("query");
        assert_eq!(recall_texts, 2, "round {round}: one recall text per recall");
    }
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn each_timestamp_records_the_first_entry_into_its_state(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    let game = app.new_game("Twice").await;
    let first = app.transition(game, "queue").await.expect(200);
    app.transition(game, "recall").await.expect(200);
    let requeued = app.transition(game, "queue").await.expect(200);
    assert_eq!(
        requeued["queued_at"], first["queued_at"],
        "queued_at keeps the first time"
    );
    assert!(requeued["recalled_at"].is_string());
    for stamp in ["confirmed_at", "playing_at", "completed_at", "cancelled_at"] {
        assert!(
            requeued[stamp].is_null(),
            "{stamp} is null until the game gets there"
        );
    }
    app.transition(game, "confirm").await.expect(200);
    let playing = app.transition(game, "play").await.expect(200);
    let done = app.complete(game, 10, 20, 1).await;
    for (earlier, later) in [
        ("queued_at", "confirmed_at"),
        ("confirmed_at", "playing_at"),
        ("playing_at", "completed_at"),
    ] {
        let (a, b) = (
            done[earlier].as_str().expect(earlier),
            done[later].as_str().expect(later),
        );
        let (a, b) = (
            chrono::DateTime::parse_from_rfc3339(a).expect("rfc3339"),
            chrono::DateTime::parse_from_rfc3339(b).expect("rfc3339"),
        );
        assert!(a <= b, "{earlier} ({a}) must not be after {later} ({b})");
    }
    assert_eq!(done["playing_at"], playing["playing_at"]);
    assert_eq!(
        (
            done["score"].as_i64(),
            done["distance"].as_i64(),
            done["homeruns"].as_i64()
        ),
        (Some(10), Some(20), Some(1))
    );
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn a_refused_complete_does_not_record_the_score(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    let game = app.game_in("confirmed").await;
    let reply = app
        .post(
            Role::Game,
            &format!("/api/v1/games/{game}/complete"),
            json!({"score": 9, "distance": 9, "homeruns": 9}),
        )
        .await;
    assert_eq!(reply.problem(409)["current_state"], "confirmed");
    let after = app.game(game).await;
    assert!(
        after["score"].is_null() && after["completed_at"].is_null(),
        "{after}"
    );
    let souvenirs = app.count("outbox WHERE kind = 'souvenir'").await;
    assert_eq!(souvenirs, 0, "a refused complete queues no souvenir");
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn completing_queues_one_souvenir_job_in_the_outbox(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    let game = app.game_in("playing").await;
    app.complete(game, 1, 1, 1).await;
    let jobs: Vec<serde_json::Value> =
        sqlx::query_scalar("SELECT payload FROM outbox WHERE kind = 'souvenir'")
            .fetch_all(&app.pool)
            .await
            .expect("query");
    assert_eq!(jobs, vec![json!({"kind": "souvenir", "game_id": game})]);
}

/// Auto-recall never waits for a game that another transaction holds: it
/// holds the show's recall lock meanwhile, and the holder may be a complete
/// or cancel of that very game waiting for the same lock (a deadlock the
/// fault tests met under load). It recalls the next one instead; the game
/// passed over is recalled by a later complete, cancel or sweep.
#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn auto_recall_passes_over_a_queued_game_another_transaction_holds(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    let oldest = app.new_game_with_mobile("Oldest", 1).await;
    let next = app.new_game_with_mobile("Next", 2).await;
    for game in [oldest, next] {
        app.transition(game, "queue").await.expect(200);
    }
    let playing = app.game_in("playing").await;

    // A transaction of the test's own holds the oldest queued game, as a
    // tablet's transition in progress would.
    let mut holder = app.pool.begin().await.expect("a transaction");
    sqlx::query("SELECT 1 FROM games WHERE id = $1 FOR UPDATE")
        .bind(oldest)
        .execute(&mut *holder)
        .await
        .expect("the row lock");
    let completed = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        app.transition(playing, "complete"),
    )
    .await
    .expect("the complete does not wait for the held game");
    completed.expect(200);
    assert_eq!(app.game(next).await["state"], "recalled");
    holder.rollback().await.expect("rollback");
    assert_eq!(
        app.game(oldest).await["state"],
        "queued",
        "passed over, not changed"
    );

    // The next complete fills the window with it.
    let another = app.game_in("playing").await;
    app.transition(another, "complete").await.expect(200);
    assert_eq!(app.game(oldest).await["state"], "recalled");
}
