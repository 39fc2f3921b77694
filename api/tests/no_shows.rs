//! No-shows and cancel reasons, against the real `ondeck run`: a game still
//! recalled `NO_SHOW_MINUTES` after its recall is cancelled by the sweep
//! with reason `no_show` and its player gets the show's no-show text once;
//! "On my way" doubles the wait; staff cancels say why.

use std::time::Duration;

use ondeck_testkit::{Mode, Stack, eventually, next_mobile};
use serde_json::{Value, json};

fn game_of(player: &Value) -> i64 {
    player["active_game"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("a player with an active game: {player}"))
}

/// Moves the current recall of `game` `seconds` into the past, as if it
/// had been made then.
async fn age_recall(stack: &Stack, game: i64, seconds: i64) {
    sqlx::query(
        "UPDATE games SET recall_started_at = now() - make_interval(secs => $2), \
                          recalled_at = now() - make_interval(secs => $2) WHERE id = $1",
    )
    .bind(game)
    .bind(seconds as f64)
    .execute(&stack.db.pool)
    .await
    .expect("age the recall");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recalled_player_who_does_not_come_is_cancelled_as_a_no_show_and_texted_once() {
    let stack = Stack::new().await;
    // The sweep every second; auto-recall off, so that only the games this
    // test recalls are recalled, and no-shows are swept all the same.
    let settings = [
        ("NO_SHOW_MINUTES", "1"),
        ("RECALL_SWEEP_SECONDS", "1"),
        ("RECALL_DISABLE", "true"),
    ];
    let ondeck = stack.spawn(Mode::Run, &settings).await;
    let (gone, coming, waiting) = (next_mobile(), next_mobile(), next_mobile());
    let mut games = Vec::new();
    for (name, number) in [("Gone", &gone), ("Coming", &coming), ("Waiting", &waiting)] {
        let player = stack.signup(&ondeck, name, number).await;
        games.push((game_of(&player), player));
    }
    let [
        (gone_game, gone_player),
        (coming_game, coming_player),
        (waiting_game, _),
    ] = <[(i64, Value); 3]>::try_from(games).expect("three games");
    stack
        .advance(&ondeck, gone_game, &["queue", "recall"])
        .await;
    stack
        .advance(&ondeck, coming_game, &["queue", "recall"])
        .await;
    stack.advance(&ondeck, waiting_game, &["queue"]).await;

    // "On my way" from the player's page doubles the wait.
    let code_of = |player: &Value| {
        let link = player["active_game"]["player_link"]
            .as_str()
            .unwrap_or_else(|| panic!("a tablet sees the player's link: {player}"))
            .to_owned();
        link.rsplit('/').next().expect("a code").to_owned()
    };
    let coming_code = code_of(&coming_player);
    let acted: Vec<(String, &str, i64)> = vec![(coming_code.clone(), "coming", coming_game)];
    for (code, action, game) in &acted {
        let reply = stack
            .send(
                &ondeck,
                reqwest::Method::POST,
                &format!("/p/{code}/{action}"),
                None,
                None,
            )
            .await;
        assert_eq!(
            reply.status,
            200,
            "{action} of game {game}: {}",
            reply.text()
        );
    }

    // 50 s after the recall nobody is a no-show yet; the sweep runs every
    // second, so five seconds more say so.
    age_recall(&stack, gone_game, 50).await;
    age_recall(&stack, coming_game, 90).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    for game in [gone_game, coming_game] {
        let state = stack.game(&ondeck, game).await;
        assert_eq!(state["state"], "recalled", "not yet a no-show: {state}");
    }

    // Past NO_SHOW_MINUTES (one minute): cancelled as a no-show.
    age_recall(&stack, gone_game, 61).await;
    let cancelled = eventually(
        "the no-show is cancelled",
        Duration::from_secs(20),
        async || {
            let game = stack.game(&ondeck, gone_game).await;
            (game["state"] == "cancelled").then_some(game)
        },
    )
    .await;
    assert_eq!(cancelled["cancel_reason"], "no_show", "{cancelled}");
    // Its text is the show's no-show message with the player's link.
    let show = stack.show(&ondeck).await;
    let link = gone_player["active_game"]["player_link"]
        .as_str()
        .expect("a link");
    let expected = show["no_show_message"]
        .as_str()
        .expect("a no-show message")
        .replace("{link}", link);
    assert!(
        expected.contains(link) && !expected.contains("{link}"),
        "the default no-show text carries the link: {expected}"
    );
    let texts = stack.texts_to(&gone, 3, Duration::from_secs(20)).await;
    assert_eq!(texts[2].body, expected, "{texts:?}");
    // The player "On my way" still has the doubled time (two minutes).
    let state = stack.game(&ondeck, coming_game).await;
    assert_eq!(
        state["state"], "recalled",
        "on the way, not a no-show yet: {state}"
    );
    assert!(state["acknowledged_at"].is_string(), "{state}");
    age_recall(&stack, coming_game, 121).await;
    eventually(
        "the late one is cancelled too",
        Duration::from_secs(20),
        async || {
            let game = stack.game(&ondeck, coming_game).await;
            (game["cancel_reason"] == "no_show").then_some(())
        },
    )
    .await;
    // A queued game is nobody's no-show.
    let state = stack.game(&ondeck, waiting_game).await;
    assert_eq!(state["state"], "queued", "{state}");

    // Once: more sweeps send nothing more (welcome, recall, no-show).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        stack.twilio.to(&gone).len(),
        3,
        "{:?}",
        stack.twilio.to(&gone)
    );
    let no_show_texts = stack.messages(&ondeck, "kind=no_show").await;
    assert_eq!(no_show_texts.len(), 2, "one per no-show: {no_show_texts:?}");
    let events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE (payload->>'id')::bigint = $1 \
         AND payload->>'state' = 'cancelled' AND payload->>'cancel_reason' = 'no_show'",
    )
    .bind(gone_game)
    .fetch_one(&stack.db.pool)
    .await
    .expect("count events");
    assert_eq!(events, 1, "the sweep's cancel is an event like any other");
    stack.assert_provider_calls_were_valid();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_show_minutes_zero_turns_the_no_show_sweep_off() {
    let stack = Stack::new().await;
    let settings = [("NO_SHOW_MINUTES", "0"), ("RECALL_SWEEP_SECONDS", "1")];
    let ondeck = stack.spawn(Mode::Run, &settings).await;
    let player = stack.signup(&ondeck, "Late", &next_mobile()).await;
    let game = game_of(&player);
    stack.advance(&ondeck, game, &["queue", "recall"]).await;
    age_recall(&stack, game, 24 * 3600).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let state = stack.game(&ondeck, game).await;
    assert_eq!(state["state"], "recalled", "{state}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_cancel_says_why_and_refuses_an_unknown_reason() {
    let stack = Stack::new().await;
    let ondeck = stack.spawn(Mode::Serve, &[]).await;
    let tablet = stack.tokens.tablet.clone();
    let mut games = Vec::new();
    for name in ["Plain", "Left", "Odd"] {
        let player = stack.signup(&ondeck, name, &next_mobile()).await;
        games.push(game_of(&player));
    }
    // No body: the reason is staff.
    let reply = stack
        .send(
            &ondeck,
            reqwest::Method::POST,
            &format!("/api/v1/games/{}/cancel", games[0]),
            Some(&tablet),
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["cancel_reason"], "staff");
    // A reason given is kept.
    let path = format!("/api/v1/games/{}/cancel", games[1]);
    let reply = stack
        .post(&ondeck, &tablet, &path, json!({"reason": "player_left"}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["cancel_reason"], "player_left");
    // An unknown reason, or a field that is not one, changes nothing.
    let path = format!("/api/v1/games/{}/cancel", games[2]);
    for body in [json!({"reason": "bored"}), json!({"why": "staff"})] {
        let reply = stack.post(&ondeck, &tablet, &path, body.clone()).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.text());
    }
    let reply = stack
        .send(
            &ondeck,
            reqwest::Method::POST,
            &path,
            Some(&tablet),
            Some(ondeck_testkit::Body::Bytes(
                "text/plain",
                b"reason=staff".to_vec(),
            )),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    let state = stack.game(&ondeck, games[2]).await;
    assert_eq!(state["state"], "new", "{state}");
    assert!(state["cancel_reason"].is_null(), "{state}");
    // CSV has the reason.
    let reply = stack
        .get(&ondeck, &tablet, "/api/v1/games?format=csv&state=cancelled")
        .await;
    assert_eq!(reply.status, 200);
    let csv = reply.text();
    let header = csv.lines().next().expect("a header");
    assert!(header.split(',').any(|c| c == "cancel_reason"), "{header}");
    assert!(!csv.contains("/p/"), "no player link in CSV: {csv}");
    assert!(csv.contains("player_left"), "{csv}");
    let reply = stack
        .get(&ondeck, &tablet, "/api/v1/players?format=csv")
        .await;
    assert_eq!(reply.status, 200);
    let csv = reply.text();
    assert!(csv.contains("Plain"), "{csv}");
    assert!(
        !csv.contains("/p/"),
        "no player link in the players' CSV: {csv}"
    );
}
