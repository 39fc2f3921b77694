//! What the venue screens read, through HTTP: team daily scores, automatic team
//! assignment, the queue with its estimated waits, the leaderboard, and the
//! auto-recall window with the texts it writes to the outbox.

use ondeck_domain::models::Role;
use ondeck_testkit::TestApp;
use serde_json::{Value, json};
use sqlx::PgPool;

/// Signs up "First Last" on `team` (if not empty), plays one game to the end
/// and, unless `at` is empty, moves its end to `2026-{at}:00Z` (UTC).
async fn played(app: &TestApp, name: &str, team: &str, result: [i64; 3], at: &str) -> i64 {
    let (first, last) = name.split_once(' ').unwrap_or((name, ""));
    let mut body = json!({"first_name": first, "handedness": "R"});
    for (key, value) in [("last_name", last), ("team", team)] {
        if !value.is_empty() {
            body[key] = json!(value);
        }
    }
    let game = id(&app.signup(body).await["active_game"]);
    for transition in ["confirm", "play"] {
        app.transition(game, transition).await.expect(200);
    }
    app.complete(game, result[0], result[1], result[2]).await;
    if !at.is_empty() {
        finished_at(app, game, &format!("2026-{at}:00Z"), 120).await;
    }
    game
}

/// Sets a game's `completed_at` (RFC 3339) and its `playing_at` `play_secs` before.
async fn finished_at(app: &TestApp, game: i64, at: &str, play_secs: i32) {
    let sql = "UPDATE games SET completed_at = $1::timestamptz, \
               playing_at = $1::timestamptz - $2::int * interval '1 second' WHERE id = $3";
    let update = sqlx::query(sql).bind(at).bind(play_secs).bind(game);
    update.execute(&app.pool).await.expect("set completed_at");
}

/// A GET as the display board, which must answer 200.
async fn read(app: &TestApp, path: &str) -> Value {
    app.get(Role::Display, path).await.expect(200)
}

fn id(object: &Value) -> i64 {
    object["id"].as_i64().expect("an id")
}

/// `key` of every row of a list.
fn ids(rows: &Value, key: &str) -> Vec<i64> {
    let number = |r: &Value| r[key].as_i64().expect("a number");
    let rows = rows.as_array().expect("a list");
    rows.iter().map(number).collect()
}

/// The states of these games.
async fn states(app: &TestApp, games: &[i64]) -> Vec<Value> {
    let mut states = vec![];
    for game in games {
        states.push(app.game(*game).await["state"].clone());
    }
    states
}

/// The payloads of the outbox's `sms` rows for `message`, oldest first.
async fn texts(app: &TestApp, message: &str) -> Vec<Value> {
    let sql = "SELECT payload FROM outbox WHERE kind = 'sms' AND payload->>'message' = $1 \
               ORDER BY id";
    let rows = sqlx::query_scalar(sql).bind(message).fetch_all(&app.pool);
    rows.await.expect("outbox rows")
}

fn recall_texts(games: &[i64]) -> Vec<Value> {
    let text = |g: &i64| json!({"kind": "sms", "game_id": g, "message": "recall"});
    games.iter().map(text).collect()
}

fn day(day: &str, score: i64, distance: i64, homeruns: i64) -> Value {
    json!({"day": day, "score": score, "distance": distance, "homeruns": homeruns})
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn team_scores_sum_each_venue_day_and_drop_a_cancelled_game(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("VENUE_TZ", "America/New_York")]).await;
    app.create_show("Derby", "2026-11-21").await;
    let red = format!("/api/v1/teams/{}", id(&app.create_team("Red").await));
    let blue = format!("/api/v1/teams/{}", id(&app.create_team("Blue").await));
    // Completion times are UTC: 03:30 on the 20th is still the 19th in New York.
    let late = played(&app, "Ada Lovelace", "Red", [100, 300, 1], "11-20T03:30").await;
    let early = played(&app, "Alan Turing", "Red", [50, 200, 2], "11-19T14:00").await;
    let next = played(&app, "Grace Hopper", "Red", [70, 250, 3], "11-20T15:00").await;
    let other = played(&app, "Ed Blue", "Blue", [999, 400, 5], "11-20T15:00").await;
    // A member who has not finished a game still counts as a member.
    let body = json!({"first_name": "Barbara", "handedness": "L", "team": "Red"});
    app.signup(body).await;

    let team = read(&app, &red).await;
    assert_eq!(team["members"], 4, "Red has four players: {team}");
    let both = json!([
        day("2026-11-19", 150, 500, 3),
        day("2026-11-20", 70, 250, 3)
    ]);
    assert_eq!(team["scores"], both, "one row per venue day, ascending");
    let team = read(&app, &blue).await;
    assert_eq!(team["members"], 1, "{team}");
    let only = json!([day("2026-11-20", 999, 400, 5)]);
    assert_eq!(team["scores"], only, "Blue counts only its member");

    app.transition(late, "cancel").await.expect(200);
    let team = read(&app, &red).await;
    let left = json!([day("2026-11-19", 50, 200, 2), day("2026-11-20", 70, 250, 3)]);
    assert_eq!(team["scores"], left, "a cancelled game leaves them");
    let board = read(&app, "/api/v1/leaderboard").await;
    let players = ids(&board["players"], "game_id");
    assert_eq!(players, [other, next, early], "and the leaderboard");
    let teams = json!([board["teams"][0]["score"], board["teams"][1]["score"]]);
    assert_eq!(teams, json!([999, 120]), "and its teams: {board}");
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn confirming_puts_a_teamless_player_on_the_smallest_team_lowest_id_first(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    for team in ["Alpha", "Beta", "Gamma"] {
        app.create_team(team).await;
    }
    for team in ["Alpha", "Alpha", "Beta", "Gamma"] {
        let body = json!({"first_name": "Member", "handedness": "R", "team": team});
        app.signup(body).await;
    }
    let steps = [
        ("Beta", "Beta and Gamma have one each: lower id"),
        ("Gamma", "Gamma alone has the fewest members"),
        ("Alpha", "all three have two: lowest id"),
        ("Beta", "Beta and Gamma have two, Alpha three"),
    ];
    for (expected, why) in steps {
        let body = json!({"first_name": "Walkup", "handedness": "L"});
        let player = app.signup(body).await;
        assert!(player["team"].is_null(), "no team yet: {player}");
        let game = id(&player["active_game"]);
        let confirmed = app.transition(game, "confirm").await.expect(200);
        assert_eq!(confirmed["player"]["team"], expected, "{why}");
        let path = format!("/api/v1/players/{}", id(&player));
        let player = app.get(Role::Admin, &path).await.expect(200);
        assert_eq!(player["team"], expected, "{why}");
    }
    let keeps = app.game_in("queued").await;
    let path = format!("/api/v1/players/{}", app.game(keeps).await["player_id"]);
    let team = json!({"team": "Alpha"});
    app.patch(Role::Admin, &path, team).await.expect(200);
    let confirmed = app.transition(keeps, "confirm").await.expect(200);
    assert_eq!(confirmed["player"]["team"], "Alpha", "a team is kept");
    let waiting = app.game_in("queued").await;
    let team = &app.game(waiting).await["player"]["team"];
    assert!(team.is_null(), "queueing assigns no team: {team}");
    let teams = read(&app, "/api/v1/teams").await;
    let members = ids(&teams["items"], "members");
    assert_eq!(members, [4, 3, 2], "members count players: {teams}");
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn queue_splits_games_by_state_and_lists_the_waiting_in_queue_order(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    let old = app.create_show("Spring", "2026-04-01").await;
    let playing = app.game_in("playing").await;
    let confirmed = app.game_in("confirmed").await;
    let recalled = app.game_in("recalled").await;
    for other in ["new", "completed", "cancelled"] {
        app.game_in(other).await;
    }
    let body = json!({"first_name": "Old", "handedness": "R", "show_id": old["id"]});
    let elsewhere = id(&app.signup(body).await["active_game"]);
    app.transition(elsewhere, "queue").await.expect(200);
    let mut queued = vec![];
    // The line is ordered by queue key ("later" moves games back), ties by
    // id; the time a game was first queued does not count.
    for key in ["10.5", "10", "10.5", "9"] {
        let game = app.game_in("queued").await;
        let sql = "UPDATE games SET queue_key = $1::numeric, queued_at = now() - interval '1 hour' WHERE id = $2";
        let update = sqlx::query(sql).bind(key).bind(game);
        update.execute(&app.pool).await.expect("set queue_key");
        queued.push(game);
    }

    let queue = read(&app, "/api/v1/queue").await;
    assert_eq!(ids(&queue["playing"], "id"), [playing], "{queue}");
    assert_eq!(ids(&queue["confirmed"], "id"), [confirmed], "{queue}");
    assert_eq!(ids(&queue["recalled"], "id"), [recalled], "{queue}");
    let order = [queued[3], queued[1], queued[0], queued[2]];
    let waiting = ids(&queue["waiting"], "id");
    assert_eq!(waiting, order, "by queue key, then id: {queue}");
    let positions = ids(&queue["waiting"], "position");
    assert_eq!(positions, [1, 2, 3, 4], "1-based positions");
}

/// Waits before and after completed games, for a venue with `stations` stations.
async fn waits_follow_the_median_play_time(pool: PgPool, stations: i64) {
    let app = TestApp::spawn_with(pool, &[("STATIONS", &stations.to_string())]).await;
    app.create_show("Derby", "2026-11-21").await;
    for _ in 0..3 {
        app.game_in("queued").await;
    }
    let etas = |queue: &Value| ids(&queue["waiting"], "eta_seconds");
    let queue = read(&app, "/api/v1/queue").await;
    let expected: Vec<i64> = (1..=3).map(|p| p * 180 / stations).collect();
    let why = format!("180 s a game before any is completed, {stations} station(s)");
    assert_eq!(etas(&queue), expected, "{why}");

    // Of the last 20 games 11 took 60 s and 9 took 300 s; five older ones of
    // 1000 s would make the median 300 s if they were counted.
    for i in 0..25 {
        let game = app.game_in("completed").await;
        let secs = match i {
            0..5 => 1000,
            _ if i % 2 == 1 || i == 24 => 60,
            _ => 300,
        };
        finished_at(&app, game, &format!("2026-11-21T12:{i:02}:00Z"), secs).await;
    }
    let queue = read(&app, "/api/v1/queue").await;
    let expected: Vec<i64> = (1..=3).map(|p| p * 60 / stations).collect();
    let why = format!("the median of the last 20 games, {stations} station(s)");
    assert_eq!(etas(&queue), expected, "{why}");
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn waits_with_one_station_are_position_times_the_median_play_time(pool: PgPool) {
    waits_follow_the_median_play_time(pool, 1).await;
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn waits_with_two_stations_are_half_as_long(pool: PgPool) {
    waits_follow_the_median_play_time(pool, 2).await;
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn leaderboard_orders_by_score_then_distance_then_earlier_finish(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    for team in ["Red", "Blue", "Green", "Gold"] {
        app.create_team(team).await;
    }
    let ada = played(&app, "Ada Lovelace", "Red", [500, 300, 1], "11-21T10:00").await;
    let grace = played(&app, "Grace Hopper", "Blue", [800, 100, 2], "11-21T10:01").await;
    let alan = played(&app, "Alan Turing", "Red", [500, 350, 3], "11-21T10:02").await;
    let edsger = played(&app, "Ed Dijkstra", "Blue", [500, 350, 4], "11-21T09:00").await;
    let linus = played(&app, "Linus", "Green", [10, 10, 0], "11-21T10:03").await;

    let board = read(&app, "/api/v1/leaderboard").await;
    #[rustfmt::skip]
    let expected = [
        (grace, "Grace H.", "Blue", [800, 100, 2], "the highest score"),
        (edsger, "Ed D.", "Blue", [500, 350, 4], "same score and distance, finished earlier"),
        (alan, "Alan T.", "Red", [500, 350, 3], "same score and distance, finished later"),
        (ada, "Ada L.", "Red", [500, 300, 1], "same score, shorter distance"),
        (linus, "Linus", "Green", [10, 10, 0], "no last name: the first name alone"),
    ];
    let players = board["players"].as_array().expect("players");
    assert_eq!(players.len(), expected.len(), "{board}");
    for (rank, (row, (game, name, team, result, why))) in (1..).zip(players.iter().zip(expected)) {
        let want = json!({"rank": rank, "game_id": game, "name": name, "team": team,
            "score": result[0], "distance": result[1], "homeruns": result[2]});
        let keys = want.as_object().expect("object").keys();
        let got: serde_json::Map<_, _> = keys.map(|k| (k.clone(), row[k].clone())).collect();
        assert_eq!(Value::Object(got), want, "rank {rank}: {why}");
    }
    let teams = board["teams"].as_array().expect("teams").iter();
    let row = |t: &Value| json!([t["rank"], t["name"], t["score"]]);
    let teams: Vec<_> = teams.map(row).collect();
    #[rustfmt::skip]
    let want = [json!([1, "Blue", 1300]), json!([2, "Red", 1000]), json!([3, "Green", 10]), json!([4, "Gold", 0])];
    assert_eq!(teams, want, "teams by summed score: {board}");
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn leaderboard_defaults_to_the_current_show_and_narrows_to_a_venue_day(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("VENUE_TZ", "America/New_York")]).await;
    // Created first, but the current show is the one with the latest date.
    let current = app.create_show("Derby", "2026-11-21").await;
    let old = app.create_show("Spring", "2026-04-01").await;
    app.create_team("Red").await;
    let on_19th = played(&app, "Ada Lovelace", "Red", [300, 300, 3], "11-20T03:30").await;
    let on_20th = played(&app, "Alan Turing", "Red", [200, 200, 2], "11-20T15:00").await;
    let body = json!({"first_name": "Old", "handedness": "R", "team": "Red", "show_id": old["id"]});
    let old_game = id(&app.signup(body).await["active_game"]);
    for transition in ["confirm", "play"] {
        app.transition(old_game, transition).await.expect(200);
    }
    app.complete(old_game, 900, 900, 9).await;

    let cases = [
        ("", vec![on_19th, on_20th], 500, "every day"),
        (
            "?day=2026-11-19",
            vec![on_19th],
            300,
            "the 19th in New York",
        ),
        (
            "?day=2026-11-20",
            vec![on_20th],
            200,
            "the 20th in New York",
        ),
        ("?day=2026-11-22", vec![], 0, "a day without games"),
    ];
    for (query, games, red, why) in cases {
        let board = read(&app, &format!("/api/v1/leaderboard{query}")).await;
        assert_eq!(ids(&board["players"], "game_id"), games, "{why}: {board}");
        assert_eq!(board["teams"][0]["score"], red, "{why}: team Red");
        assert_eq!(board["show_id"], current["id"], "{why}");
    }
    let board = read(&app, &format!("/api/v1/leaderboard?show_id={}", old["id"])).await;
    let games = ids(&board["players"], "game_id");
    assert_eq!(games, [old_game], "another show: {board}");
    assert_eq!(board["teams"][0]["score"], 900, "its team score");
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn leaderboard_limit_caps_both_rankings(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    let teams = ["T0", "T1", "T2"];
    for team in teams {
        app.create_team(team).await;
    }
    for i in 0..12 {
        let score = i as i64 * 10;
        played(&app, "Player One", teams[i % 3], [score, 100, 0], "").await;
    }
    let cases = [("", 10, 3), ("?limit=2", 2, 2), ("?limit=500", 12, 3)];
    for (query, players, teams) in cases {
        let board = read(&app, &format!("/api/v1/leaderboard{query}")).await;
        let rows = board["players"].as_array().expect("players");
        assert_eq!(rows.len(), players, "players for {query:?}");
        assert_eq!(rows[0]["score"], 110, "the best first for {query:?}");
        let team_rows = board["teams"].as_array().expect("teams");
        assert_eq!(team_rows.len(), teams, "teams for {query:?}");
    }
    for bad in ["0", "501", "ten"] {
        let path = format!("/api/v1/leaderboard?limit={bad}");
        app.get(Role::Display, &path).await.invalid_field("limit");
    }
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn completing_and_cancelling_keep_two_players_with_a_mobile_recalled(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("RECALL_WINDOW_SIZE", "2")]).await;
    app.create_show("Derby", "2026-11-21").await;
    let no_mobile = app.game_in("queued").await;
    let mut m = vec![no_mobile];
    for i in 1..=4 {
        let name = format!("Mobile{i}");
        let game = app.new_game_with_mobile(&name, 100 + i).await;
        app.transition(game, "queue").await.expect(200);
        m.push(game);
    }
    let runner = app.game_in("playing").await;
    let sent = texts(&app, "recall").await;
    assert!(sent.is_empty(), "no recall before a complete: {sent:?}");
    let (q, r) = ("queued", "recalled");

    app.complete(runner, 10, 10, 0).await;
    let why = "the two oldest-queued with a mobile number";
    assert_eq!(states(&app, &m).await, [q, r, r, q, q], "{why}");
    let sent = texts(&app, "recall").await;
    assert_eq!(sent, recall_texts(&m[1..3]), "one text per recall");

    app.game_in("completed").await;
    let why = "the window is full";
    assert_eq!(states(&app, &m).await, [q, r, r, q, q], "{why}");
    let sent = texts(&app, "recall").await;
    assert_eq!(sent, recall_texts(&m[1..3]), "no more texts");

    app.transition(m[1], "cancel").await.expect(200);
    let why = "a cancel frees a slot and refills it";
    assert_eq!(states(&app, &m).await, [q, "cancelled", r, r, q], "{why}");

    app.transition(m[2], "confirm").await.expect(200);
    let why = "a confirm frees a slot but does not fill it";
    assert_eq!(states(&app, &m[3..]).await, [r, q], "{why}");
    app.game_in("cancelled").await;
    assert_eq!(states(&app, &m).await[4], r, "the next cancel fills it");
    assert_eq!(states(&app, &m).await[0], q, "no mobile number: never");
    let sent = texts(&app, "recall").await;
    assert_eq!(sent, recall_texts(&m[1..]), "one text per recall");

    // A recall older than RECALL_WINDOW_MINUTES (20) no longer counts.
    let late = app.new_game_with_mobile("Late", 200).await;
    app.transition(late, "queue").await.expect(200);
    let sql = "UPDATE games SET recalled_at = now() - interval '21 minutes', \
               recall_started_at = now() - interval '21 minutes' WHERE id = $1";
    let update = sqlx::query(sql).bind(m[3]);
    update.execute(&app.pool).await.expect("age a recall");
    app.game_in("completed").await;
    let why = "an expired recall leaves the window";
    assert_eq!(states(&app, &[late]).await, [r], "{why}");
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn recall_disable_recalls_nothing_but_a_manual_recall_still_texts(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("RECALL_DISABLE", "true")]).await;
    app.create_show("Derby", "2026-11-21").await;
    let a = app.new_game_with_mobile("A", 101).await;
    let b = app.new_game_with_mobile("B", 102).await;
    for game in [a, b] {
        app.transition(game, "queue").await.expect(200);
    }
    app.game_in("completed").await;
    app.game_in("cancelled").await;
    let why = "nothing is recalled automatically";
    assert_eq!(states(&app, &[a, b]).await, ["queued", "queued"], "{why}");
    assert!(texts(&app, "recall").await.is_empty(), "no recall texts");

    app.transition(a, "recall").await.expect(200);
    let sent = texts(&app, "recall").await;
    assert_eq!(sent, recall_texts(&[a]), "a manual recall texts");
    let silent = app.game_in("recalled").await;
    assert_eq!(states(&app, &[silent]).await, ["recalled"]);
    let sent = texts(&app, "recall").await;
    assert_eq!(sent, recall_texts(&[a]), "no mobile, no text");
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn signup_with_a_mobile_number_writes_one_welcome_text(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    app.new_game("Nomobile").await;
    assert_eq!(app.count("outbox").await, 0, "no mobile number, no text");
    let game = app.new_game_with_mobile("Mobile", 101).await;
    let welcome = json!({"kind": "sms", "game_id": game, "message": "welcome"});
    assert_eq!(texts(&app, "welcome").await, [welcome], "one welcome text");
    assert_eq!(app.count("outbox").await, 1, "and nothing else");
}
