//! Two or more processes on one database, end to end: two API processes
//! and two workers keep the races, the recall window, idempotency, texts and
//! events; two workers run a periodic sweep once per period between them.

use std::time::{Duration, Instant};

use ondeck_testkit::sse::Subscriber;
use ondeck_testkit::{Mode, Ondeck, Stack, eventually, field, next_mobile};
use serde_json::{Value, json};

/// Signs up a player with a mobile number through `ondeck` and moves its game
/// along `steps`; returns the game's id.
async fn game_in(stack: &Stack, ondeck: &Ondeck, name: &str, steps: &[&str]) -> i64 {
    let player = stack.signup(ondeck, name, &next_mobile()).await;
    let game = player["active_game"]["id"].as_i64().expect("the game");
    stack.advance(ondeck, game, steps).await;
    game
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_api_processes_and_two_workers_keep_every_invariant() {
    let stack = Stack::new().await;
    let apis = [
        stack.spawn(Mode::Serve, &[]).await,
        stack.spawn(Mode::Serve, &[]).await,
    ];
    let _workers = [
        stack.spawn(Mode::Work, &[]).await,
        stack.spawn(Mode::Work, &[]).await,
    ];
    let show = stack.show(&apis[0]).await;
    let mut subscriber = Subscriber::connect(&stack, &apis[0], None).await;

    // Sixteen racing plays of one game, through both processes: one wins.
    let game = game_in(&stack, &apis[1], "Racer", &["confirm"]).await;
    let plays = (0..16).map(|i| {
        let path = format!("/api/v1/games/{game}/play");
        let (stack, api) = (&stack, &apis[i % 2]);
        async move {
            stack
                .post(api, &stack.tokens.game, &path, json!({}))
                .await
                .status
        }
    });
    let mut statuses = futures::future::join_all(plays).await;
    statuses.sort_unstable();
    assert_eq!(statuses[0], 200, "{statuses:?}");
    assert_eq!(&statuses[1..], &[409; 15], "one play wins: {statuses:?}");
    stack
        .post(
            &apis[0],
            &stack.tokens.game,
            &format!("/api/v1/games/{game}/complete"),
            json!({"score": 1, "distance": 1, "homeruns": 0}),
        )
        .await
        .expect(200);

    // Ten completes at once, half through each process, with twenty players
    // waiting: the recall window (2) holds.
    let mut playing = Vec::new();
    for i in 0..10 {
        let name = format!("Player{i}");
        playing.push(game_in(&stack, &apis[i % 2], &name, &["confirm", "play"]).await);
    }
    for i in 0..20 {
        let name = format!("Waiting{i}");
        game_in(&stack, &apis[i % 2], &name, &["queue"]).await;
    }
    let completes = playing.iter().enumerate().map(|(i, game)| {
        let path = format!("/api/v1/games/{game}/complete");
        let (stack, api) = (&stack, &apis[i % 2]);
        async move {
            let body = json!({"score": 100 + i, "distance": 400, "homeruns": 2});
            stack
                .post(api, &stack.tokens.game, &path, body)
                .await
                .status
        }
    });
    let statuses = futures::future::join_all(completes).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let recalled = stack.db.count("games WHERE state = 'recalled'").await;
    assert_eq!(recalled, 2, "active recalls after ten completes");

    // The same Idempotency-Key through both processes: one player.
    let key = "faults-two-processes";
    let body = json!({"first_name": "Once", "handedness": "L"});
    let mut ids = Vec::new();
    for api in &apis {
        let response = stack
            .http
            .post(format!("{}/api/v1/players", api.base))
            .bearer_auth(&stack.tokens.tablet)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
            .await
            .expect("a signup");
        assert_eq!(response.status(), 201);
        let player: Value = response.json().await.expect("a player");
        ids.push(player["id"].clone());
    }
    assert_eq!(ids[0], ids[1], "one player for one Idempotency-Key");

    // Texts: one welcome per player and one recall per recalled game, from
    // two workers.
    let numbers = eventually(
        "a welcome per player with a number (31)",
        Duration::from_secs(60),
        async || {
            let items = stack.messages(&apis[0], "kind=welcome").await;
            (items.len() == 31).then(|| items.iter().map(|m| field(m, "to")).collect::<Vec<_>>())
        },
    )
    .await;
    let welcome = field(&show, "welcome_message");
    stack
        .assert_texted_once(&numbers, &welcome, Duration::from_secs(60))
        .await;
    let recall_texts = stack
        .sent_messages(
            &apis[1],
            "kind=recall&status=sent",
            2,
            Duration::from_secs(30),
        )
        .await;
    let recalled_numbers: Vec<String> = recall_texts.iter().map(|m| field(m, "to")).collect();
    let recall = field(&show, "recall_message");
    stack
        .assert_texted_once(&recalled_numbers, &recall, Duration::from_secs(5))
        .await;

    // Events: the subscriber of one process got every event, written
    // through either, in id order, none skipped.
    let events = subscriber.drain(Duration::from_secs(2)).await;
    let logged: Vec<i64> = sqlx::query_scalar("SELECT id FROM events ORDER BY id")
        .fetch_all(&stack.db.pool)
        .await
        .expect("the event log");
    let got: Vec<i64> = events.iter().map(|e| e.id).collect();
    assert_eq!(got, logged, "the stream is the log");
    stack.assert_provider_calls_were_valid();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_run_the_recall_sweep_once_per_period_between_them() {
    let stack = Stack::new().await;
    let every_second = [("RECALL_SWEEP_SECONDS", "1")];
    let mut workers = [
        stack.spawn(Mode::Work, &every_second).await,
        stack.spawn(Mode::Work, &every_second).await,
    ];
    for worker in &mut workers {
        worker
            .wait_for_log("recall sweep running", Duration::from_secs(20))
            .await;
    }
    let sql = "SELECT runs FROM periodic_runs WHERE name = 'recall_sweep'";
    let first = eventually("a first sweep", Duration::from_secs(10), async || {
        stack.db.scalar_i64(sql).await.filter(|runs| *runs >= 1)
    })
    .await;
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let last = stack.db.scalar_i64(sql).await.unwrap_or_default();
    let seconds = start.elapsed().as_secs_f64();
    for worker in &mut workers {
        assert!(worker.is_running(), "{} still runs", worker.name);
    }
    let runs = (last - first) as f64;
    eprintln!("{runs} sweeps in {seconds:.1} s between two workers");
    // One sweep a second between the two workers; each running its own
    // would make it two a second.
    assert!(
        runs <= seconds * 1.25 + 1.0,
        "{runs} sweeps in {seconds:.1} s with RECALL_SWEEP_SECONDS=1: both workers swept"
    );
    assert!(
        runs >= seconds * 0.5,
        "{runs} sweeps in {seconds:.1} s: the sweep hardly ran"
    );
}
