//! `GET /api/v1/events` across processes: an event made through one API
//! process reaches a subscriber of another within a second, `Last-Event-ID`
//! replays exactly what was missed, a client that stops reading does not
//! hold up the others, and events written concurrently arrive in id order
//! with none skipped (the log's horizon waits for writers in flight).

use std::time::{Duration, Instant};

use ondeck_testkit::sse::{self, Subscriber};
use ondeck_testkit::{Mode, Ondeck, Stack};
use serde_json::Value;
use sqlx::Connection;

fn game_id(player: &Value) -> i64 {
    player["active_game"]["id"]
        .as_i64()
        .expect("the player's game")
}

async fn transition(stack: &Stack, ondeck: &Ondeck, game: i64, name: &str) -> Value {
    stack
        .post(
            ondeck,
            &stack.tokens.admin,
            &format!("/api/v1/games/{game}/{name}"),
            serde_json::json!({}),
        )
        .await
        .expect(200)
}

#[tokio::test]
async fn a_transition_through_one_process_reaches_a_subscriber_of_another_within_a_second() {
    let stack = Stack::new().await;
    let writer = stack.spawn(Mode::Serve, &[]).await;
    let reader = stack.spawn(Mode::Serve, &[]).await;
    let mut subscriber = Subscriber::connect(&stack, &reader, None).await;

    let player = stack.signup(&writer, "Ada", "+14155550101").await;
    let signup = subscriber.next(Duration::from_secs(2)).await;
    assert_eq!(
        (signup.event.as_str(), signup.data["state"].as_str()),
        ("game", Some("new"))
    );
    assert!(
        signup.data["previous_state"].is_null(),
        "a new game has no previous state: {:?}",
        signup.data
    );

    let game = game_id(&player);
    let started = Instant::now();
    transition(&stack, &writer, game, "queue").await;
    let queued = subscriber.next(Duration::from_secs(1)).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(1),
        "the event took {elapsed:?}"
    );
    assert_eq!(queued.data["id"].as_i64(), Some(game));
    assert_eq!(queued.data["state"], "queued");
    assert_eq!(queued.data["previous_state"], "new");
    assert!(queued.id > signup.id, "event ids increase");
    let text = queued.data.to_string();
    assert!(
        !text.contains("mobile_number") && !text.contains("email") && !text.contains("4155550101"),
        "no PII in events: {text}"
    );
}

#[tokio::test]
async fn reconnecting_with_last_event_id_replays_exactly_the_missed_events() {
    let (stack, ondeck) = Stack::serve(&[]).await;
    let player = stack.signup(&ondeck, "Grace", "+14155550102").await;
    let game = game_id(&player);

    let mut first = Subscriber::connect(&stack, &ondeck, None).await;
    transition(&stack, &ondeck, game, "queue").await;
    // The signup's event may still be on its way when `first` subscribes.
    let mut seen = first.next(Duration::from_secs(2)).await;
    if seen.data["state"] == "new" {
        seen = first.next(Duration::from_secs(2)).await;
    }
    assert_eq!(seen.data["state"], "queued");
    drop(first);

    for name in ["recall", "queue", "confirm"] {
        transition(&stack, &ondeck, game, name).await;
    }
    let mut again = Subscriber::connect(&stack, &ondeck, Some(seen.id)).await;
    let missed = again.drain(Duration::from_millis(1500)).await;
    let states: Vec<&str> = missed
        .iter()
        .filter_map(|e| e.data["state"].as_str())
        .collect();
    assert_eq!(
        states,
        ["recalled", "queued", "confirmed"],
        "exactly the missed events, in order"
    );
    let ids: Vec<i64> = missed.iter().map(|e| e.id).collect();
    assert_eq!(
        ids,
        [seen.id + 1, seen.id + 2, seen.id + 3],
        "the ids that were missed"
    );

    // And then live, without repeating any of them.
    transition(&stack, &ondeck, game, "play").await;
    let live = again.next(Duration::from_secs(2)).await;
    assert_eq!(
        (live.id, live.data["state"].as_str()),
        (seen.id + 4, Some("playing"))
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_does_not_stall_the_others() {
    let (stack, ondeck) = Stack::serve(&[]).await;
    // Connected, and never read: its socket buffers fill, then the server
    // must drop it rather than wait for it.
    let stalled = stack
        .http
        .get(format!("{}/api/v1/events", ondeck.base))
        .bearer_auth(&stack.tokens.display)
        .send()
        .await
        .expect("the stalled client connects");
    let mut reader = Subscriber::connect(&stack, &ondeck, None).await;

    // Many large events at once, straight into the log (as a burst of
    // activity would write them).
    let burst = 3_000;
    let mut conn = sqlx::PgConnection::connect(&stack.db.url)
        .await
        .expect("a connection");
    sqlx::query(
        "INSERT INTO events (kind, payload) \
         SELECT 'game', jsonb_build_object('id', n, 'state', 'queued', 'padding', repeat('x', 2000)) \
         FROM generate_series(1, $1) n",
    )
    .bind(burst)
    .execute(&mut conn)
    .await
    .expect("events written");
    // Closed here, on this test's runtime (the harness drops the database
    // from a runtime of its own).
    conn.close().await.expect("close");
    let started = Instant::now();
    let mut received = 0;
    while received < burst {
        reader.next(Duration::from_secs(5)).await;
        received += 1;
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the reading client got {burst} events in {:?}",
        started.elapsed()
    );

    // The server is still answering, and new events still flow.
    let player = stack.signup(&ondeck, "Linus", "+14155550103").await;
    let next = reader.next(Duration::from_secs(2)).await;
    assert_eq!(next.data["id"].as_i64(), Some(game_id(&player)));
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_horizon_waits_for_an_event_still_in_flight() {
    use ondeck_domain::store::{event_log, games};
    let (stack, ondeck) = Stack::serve(&[]).await;
    let (first, second) = (
        game_id(&stack.signup(&ondeck, "Ada", "+14155550104").await),
        game_id(&stack.signup(&ondeck, "Bob", "+14155550105").await),
    );
    // No API process from here on: its event hub would queue for the lock
    // behind the writer this test holds open, and the next writer behind it.
    drop(ondeck);
    let connect = || sqlx::PgConnection::connect(&stack.db.url);
    let (mut slow, mut fast, mut reader) = (
        connect().await.expect("connect"),
        connect().await.expect("connect"),
        connect().await.expect("connect"),
    );
    let known = event_log::horizon(&mut reader, 0).await.expect("horizon");

    // One writer takes the lower id and has not committed; another takes
    // the next id and commits.
    let mut slow_tx = slow.begin().await.expect("begin");
    let game = games::get(&mut slow_tx, ondeck_domain::GameId(first))
        .await
        .expect("game");
    event_log::game_changed(&mut slow_tx, &game, None, 20)
        .await
        .expect("event");
    let game = games::get(&mut fast, ondeck_domain::GameId(second))
        .await
        .expect("game");
    let mut fast_tx = fast.begin().await.expect("begin");
    event_log::game_changed(&mut fast_tx, &game, None, 20)
        .await
        .expect("event");
    fast_tx.commit().await.expect("commit");
    let committed: i64 = sqlx::query_scalar("SELECT max(id) FROM events")
        .fetch_one(&mut fast)
        .await
        .expect("max id");

    // The reader must not pass the lower id while it is in flight.
    let waiting = tokio::spawn(async move {
        let horizon = event_log::horizon(&mut reader, known)
            .await
            .expect("horizon");
        let seen = event_log::after(&mut reader, known, horizon, 100)
            .await
            .expect("events");
        reader.close().await.expect("close");
        (horizon, seen)
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !waiting.is_finished(),
        "the horizon moved past an event in flight"
    );
    slow_tx.commit().await.expect("commit");
    let (horizon, seen) = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the horizon is found once the writer commits")
        .expect("the reader ran");
    assert!(horizon >= committed, "horizon {horizon} < {committed}");
    let ids: Vec<i64> = seen.iter().map(|e| e.id).collect();
    assert_eq!(ids, [committed - 1, committed], "both events, in id order");
    slow.close().await.expect("close");
    fast.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_writers_reach_a_subscriber_in_id_order_with_none_skipped() {
    // Enough connections for every writer: this is about order, not about
    // how a pool copes with a crowd (on a machine that may be busy).
    let (stack, ondeck) = Stack::serve(&[("DATABASE_POOL_SIZE", "20")]).await;
    let mut subscriber = Subscriber::connect(&stack, &ondeck, None).await;
    let (players, steps) = (12, ["queue", "recall", "queue", "confirm"]);
    let runs = (0..players).map(|n| {
        let (stack, ondeck) = (&stack, &ondeck);
        async move {
            let player = stack
                .signup(ondeck, "Racer", &format!("+1415555{:04}", 200 + n))
                .await;
            for name in steps {
                transition(stack, ondeck, game_id(&player), name).await;
            }
        }
    });
    futures::future::join_all(runs).await;

    let expected = players * (1 + steps.len());
    let mut got = Vec::new();
    while got.len() < expected {
        got.push(subscriber.next(Duration::from_secs(5)).await.id);
    }
    let mut conn = sqlx::PgConnection::connect(&stack.db.url)
        .await
        .expect("a connection");
    let logged: Vec<i64> = sqlx::query_scalar("SELECT id FROM events ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .expect("event ids");
    conn.close().await.expect("close");
    assert_eq!(got, logged, "every logged event, once, in id order");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recall_by_the_periodic_sweep_reaches_subscribers() {
    let (stack, ondeck) = Stack::serve(&[]).await;
    let player = stack.signup(&ondeck, "Margaret", "+14155550106").await;
    let game = game_id(&player);
    transition(&stack, &ondeck, game, "queue").await;
    let mut subscriber = Subscriber::connect(&stack, &ondeck, None).await;

    // Queueing recalls nobody; the worker's sweep does.
    let _worker = stack
        .spawn(Mode::Work, &[("RECALL_SWEEP_SECONDS", "1")])
        .await;
    let recalled = loop {
        let event = subscriber.next(Duration::from_secs(10)).await;
        if event.data["state"] == "recalled" {
            break event;
        }
    };
    assert_eq!(recalled.data["id"].as_i64(), Some(game));
    assert_eq!(recalled.data["previous_state"], "queued");
}

#[tokio::test(flavor = "multi_thread")]
async fn revoking_a_token_ends_its_open_event_streams_within_a_second() {
    let (stack, ondeck) = Stack::serve(&[]).await;
    let board = Subscriber::connect(&stack, &ondeck, None).await;
    let mut staff = Subscriber::connect_as(&stack, &ondeck, &stack.tokens.admin, None).await;

    stack.db.cli(&["token", "revoke", "e2e-display"]).await;
    let started = Instant::now();
    let rest = board.end(Duration::from_secs(1)).await;
    assert!(
        rest.is_ok(),
        "the revoked token's stream is ended by the server within a second: {rest:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));

    // Another token's stream goes on, and the revoked token opens no other.
    stack.signup(&ondeck, "Ada", "+14155550101").await;
    let signup = staff.next(Duration::from_secs(2)).await;
    assert_eq!(signup.data["state"], "new", "the admin's stream is live");
    let again = sse::request(&stack, &ondeck, &stack.tokens.display)
        .send()
        .await
        .expect("GET /api/v1/events");
    assert_eq!(again.status(), 401, "a revoked token opens no stream");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_token_holds_at_most_sse_max_per_token_streams() {
    let (stack, ondeck) = Stack::serve(&[("SSE_MAX_PER_TOKEN", "2")]).await;
    let first = Subscriber::connect(&stack, &ondeck, None).await;
    let _second = Subscriber::connect(&stack, &ondeck, None).await;
    let open = |token: String| {
        let request = sse::request(&stack, &ondeck, &token);
        async move { request.send().await.expect("GET /api/v1/events") }
    };
    let third = open(stack.tokens.display.clone()).await;
    assert_eq!(third.status(), 503, "a third stream with the same token");
    let problem: Value = third.json().await.expect("a problem body");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("this token"), "{problem}");

    // Other tokens are not held back by the display token's streams.
    let _staff = Subscriber::connect_as(&stack, &ondeck, &stack.tokens.admin, None).await;

    // A stream that closes gives its place back.
    drop(first);
    let mut status = 0;
    for _ in 0..40 {
        let reply = open(stack.tokens.display.clone()).await;
        status = reply.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 200, "the closed stream's place is free again");
}
