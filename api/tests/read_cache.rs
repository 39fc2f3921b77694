//! The venue's reads answered from memory (api/src/read_cache.rs): after
//! any sequence of changes they equal the queries run on the database; a
//! change made through one process shows in another's reads within a
//! second, whether it is a transition or an edit of a player or a team; a
//! restarted process answers the same; and a read asked again with nothing
//! changed is answered from memory.

use std::time::{Duration, Instant};

use ondeck_domain::models::Role;
use ondeck_domain::store::scores;
use ondeck_domain::{ShowId, TeamId};
use ondeck_testkit::TestApp;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use sqlx::PgPool;

const TZ: &str = "UTC";

/// The reads kept in memory, as one value to compare.
async fn reads(app: &TestApp, teams: &[i64], games: &[i64]) -> Value {
    let mut team_answers = vec![];
    for team in teams {
        team_answers.push(
            app.get(Role::Display, &format!("/api/v1/teams/{team}"))
                .await
                .expect(200),
        );
    }
    let mut game_answers = vec![];
    for game in games {
        game_answers.push(app.game(*game).await);
    }
    json!({
        "queue": app.get(Role::Admin, "/api/v1/queue").await.expect(200),
        "leaderboard": app.get(Role::Display, "/api/v1/leaderboard?limit=500").await.expect(200),
        "teams": team_answers,
        "games": game_answers,
    })
}

/// Game ids of one of the queue's lists.
fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|g| g["id"].as_i64().expect("id"))
        .collect()
}

/// Checks the answers of `app` against the same queries run on the database.
async fn check_against_database(app: &TestApp, show: ShowId, teams: &[i64], games: &[i64]) {
    let answers = reads(app, teams, games).await;
    let mut conn = app.pool.acquire().await.expect("connection");

    let queue = scores::queue(&mut conn, show).await.expect("queue");
    for (state, list) in [
        ("playing", "playing"),
        ("confirmed", "confirmed"),
        ("recalled", "recalled"),
        ("queued", "waiting"),
    ] {
        let expected: Vec<i64> = queue
            .iter()
            .filter(|g| g.state.as_str() == state)
            .map(|g| g.id.0)
            .collect();
        assert_eq!(ids(&answers["queue"][list]), expected, "queue: {list}");
    }

    let players = scores::leaderboard_players(&mut conn, show, None, TZ, 500)
        .await
        .expect("leaderboard");
    let rows = answers["leaderboard"]["players"].as_array().expect("rows");
    let got: Vec<(i64, i64, String)> = rows
        .iter()
        .map(|r| {
            (
                r["game_id"].as_i64().expect("game_id"),
                r["score"].as_i64().expect("score"),
                r["name"].as_str().expect("name").to_owned(),
            )
        })
        .collect();
    let expected: Vec<(i64, i64, String)> = players
        .iter()
        .map(|p| {
            let initial = p.last_name.as_deref().and_then(|l| l.chars().next());
            let name = match initial {
                Some(c) => format!("{} {}.", p.first_name, c.to_uppercase()),
                None => p.first_name.clone(),
            };
            (p.game_id.0, i64::from(p.score), name)
        })
        .collect();
    assert_eq!(got, expected, "leaderboard: players");

    let team_ranks = scores::leaderboard_teams(&mut conn, show, None, TZ, 500)
        .await
        .expect("team ranks");
    let got: Vec<(i64, i64, i64)> = answers["leaderboard"]["teams"]
        .as_array()
        .expect("teams")
        .iter()
        .map(|t| {
            let n = |k: &str| t[k].as_i64().expect(k);
            (n("team_id"), n("score"), n("games"))
        })
        .collect();
    let expected: Vec<(i64, i64, i64)> = team_ranks
        .iter()
        .map(|t| (t.team_id.0, t.score, t.games))
        .collect();
    assert_eq!(got, expected, "leaderboard: teams");

    let ids: Vec<TeamId> = teams.iter().map(|&t| TeamId(t)).collect();
    let days = scores::team_days(&mut conn, &ids, TZ).await.expect("days");
    for (team, answer) in teams
        .iter()
        .zip(answers["teams"].as_array().expect("teams"))
    {
        let expected = serde_json::to_value(days.get(&TeamId(*team)).cloned().unwrap_or_default())
            .expect("json");
        assert_eq!(answer["scores"], expected, "team {team}'s daily scores");
    }

    for (game, answer) in games
        .iter()
        .zip(answers["games"].as_array().expect("games"))
    {
        let (state, score): (String, Option<i32>) =
            sqlx::query_as("SELECT state::text, score FROM games WHERE id = $1")
                .bind(game)
                .fetch_one(&mut *conn)
                .await
                .expect("game row");
        assert_eq!(answer["state"], json!(state), "game {game}'s state");
        assert_eq!(answer["score"], json!(score), "game {game}'s score");
    }
}

/// Random sequences of changes (signups, transitions legal or not, scores,
/// renamed players, players moved between teams, new teams), each followed
/// by every read, compared with the database.
#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn after_random_changes_the_reads_equal_the_database(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    let show = ShowId(
        app.get(Role::Admin, "/api/v1/shows").await.expect(200)["items"][0]["id"]
            .as_i64()
            .expect("show id"),
    );
    let mut teams: Vec<i64> = vec![];
    for name in ["Red", "Blue"] {
        teams.push(app.create_team(name).await["id"].as_i64().expect("team id"));
    }
    let mut games: Vec<i64> = vec![];
    let mut players: Vec<i64> = vec![];
    const TRANSITIONS: [&str; 6] = ["queue", "recall", "confirm", "play", "complete", "cancel"];
    for seed in 0..3u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        for step in 0..40 {
            let choice = rng.random_range(0..10);
            if games.is_empty() || choice == 0 {
                let player = app
                    .signup(json!({"first_name": format!("P{seed}x{step}"), "last_name": "Tester", "handedness": "R"}))
                    .await;
                players.push(player["id"].as_i64().expect("player id"));
                games.push(player["active_game"]["id"].as_i64().expect("game id"));
            } else if choice == 1 {
                let player = players[rng.random_range(0..players.len())];
                let team = if rng.random_bool(0.5) { "Red" } else { "Blue" };
                let renamed = json!({"first_name": format!("R{seed}x{step}"), "team": team});
                app.patch(Role::Admin, &format!("/api/v1/players/{player}"), renamed)
                    .await
                    .expect(200);
            } else if choice == 2 && teams.len() < 4 {
                let name = format!("Team {seed}x{step}");
                teams.push(
                    app.create_team(&name).await["id"]
                        .as_i64()
                        .expect("team id"),
                );
            } else {
                let game = games[rng.random_range(0..games.len())];
                let transition = TRANSITIONS[rng.random_range(0..TRANSITIONS.len())];
                let reply = if transition == "complete" {
                    let score = rng.random_range(0..500);
                    app.post(
                        Role::Game,
                        &format!("/api/v1/games/{game}/complete"),
                        json!({"score": score, "distance": score, "homeruns": 1}),
                    )
                    .await
                } else {
                    app.transition(game, transition).await
                };
                assert!(
                    reply.status == 200 || reply.status == 409,
                    "{transition} of {game}: {}",
                    reply.text()
                );
            }
            check_against_database(&app, show, &teams, &games).await;
        }
    }
}

/// Reads through `reader` until they equal `expected`, within a second.
async fn equal_within_a_second(
    reader: &TestApp,
    expected: &Value,
    teams: &[i64],
    games: &[i64],
    what: &str,
) {
    let start = Instant::now();
    loop {
        let got = reads(reader, teams, games).await;
        if &got == expected {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{what}: the other process still answers\n{got:#}\nnot\n{expected:#}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Changes through one process, reads through another that answered
/// before: equal within a second, every time.
#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn a_change_through_one_process_shows_in_the_reads_of_another_within_a_second(pool: PgPool) {
    let writer = TestApp::with_show(pool.clone()).await;
    let reader = TestApp::spawn(pool).await;
    let team = writer.create_team("Red").await["id"]
        .as_i64()
        .expect("team id");
    let teams = [team];
    let first = writer.new_game("Ada").await;
    let second = writer.new_game("Grace").await;
    let games = [first, second];
    // The reader keeps its answers.
    let before = reads(&reader, &teams, &games).await;
    assert_eq!(reads(&reader, &teams, &games).await, before);

    let steps: Vec<(&str, String, Value)> = vec![
        ("queue", format!("/api/v1/games/{first}/queue"), json!({})),
        ("queue", format!("/api/v1/games/{second}/queue"), json!({})),
        (
            "confirm",
            format!("/api/v1/games/{first}/confirm"),
            json!({}),
        ),
        ("play", format!("/api/v1/games/{first}/play"), json!({})),
        (
            "complete",
            format!("/api/v1/games/{first}/complete"),
            json!({"score": 310, "distance": 402, "homeruns": 3}),
        ),
    ];
    for (what, path, body) in steps {
        writer.post(Role::Admin, &path, body).await.expect(200);
        let expected = reads(&writer, &teams, &games).await;
        equal_within_a_second(&reader, &expected, &teams, &games, what).await;
    }
    // Edits that are not transitions: a renamed player (the leaderboard's
    // name) and a team's new member.
    let player = writer.game(first).await["player"]["id"]
        .as_i64()
        .expect("player id");
    writer
        .patch(
            Role::Admin,
            &format!("/api/v1/players/{player}"),
            json!({"first_name": "Augusta"}),
        )
        .await
        .expect(200);
    let expected = reads(&writer, &teams, &games).await;
    assert_eq!(expected["leaderboard"]["players"][0]["name"], "Augusta T.");
    equal_within_a_second(&reader, &expected, &teams, &games, "a renamed player").await;
    writer
        .patch(
            Role::Admin,
            &format!("/api/v1/players/{player}"),
            json!({"team": "Red"}),
        )
        .await
        .expect(200);
    let expected = reads(&writer, &teams, &games).await;
    assert_eq!(expected["teams"][0]["scores"][0]["score"], 310);
    equal_within_a_second(&reader, &expected, &teams, &games, "a team's new member").await;
}

/// A process stopped mid-show and started again answers as before.
#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn a_restarted_process_answers_the_same(pool: PgPool) {
    let app = TestApp::with_show(pool.clone()).await;
    let team = app.create_team("Red").await["id"]
        .as_i64()
        .expect("team id");
    let mut games = vec![];
    for (name, score) in [("Ada", 120), ("Grace", 340), ("Edsger", 200)] {
        let game = app.new_game(name).await;
        for t in ["confirm", "play"] {
            app.transition(game, t).await.expect(200);
        }
        app.complete(game, score, score, 1).await;
        games.push(game);
    }
    let waiting = app.game_in("queued").await;
    games.push(waiting);
    let before = reads(&app, &[team], &games).await;
    drop(app);
    let again = TestApp::spawn(pool).await;
    assert_eq!(reads(&again, &[team], &games).await, before);
}

/// Asked again with nothing changed, every read is answered from memory:
/// it answers at once while the games cannot be read at all (a test holds
/// them locked). Once something changes, it is read again.
#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn a_read_asked_again_with_nothing_changed_is_answered_from_memory(pool: PgPool) {
    let app = TestApp::with_show(pool.clone()).await;
    let team = app.create_team("Red").await["id"]
        .as_i64()
        .expect("team id");
    let game = app.game_in("queued").await;
    // The wake-ups of those writes land (each outdates what was read).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let first = reads(&app, &[team], &[game]).await;
    assert_eq!(ids(&first["queue"]["waiting"]), vec![game]);

    let mut lock = pool.begin().await.expect("transaction");
    sqlx::query("LOCK TABLE games, players, teams, shows IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .expect("lock");
    for _ in 0..3 {
        let again = tokio::time::timeout(Duration::from_secs(2), reads(&app, &[team], &[game]))
            .await
            .expect("answered without reading the locked tables");
        assert_eq!(again, first);
    }
    lock.rollback().await.expect("unlock");

    app.transition(game, "cancel").await.expect(200);
    let after = reads(&app, &[team], &[game]).await;
    assert_eq!(
        after["queue"]["waiting"],
        json!([]),
        "the cancelled game left the line"
    );
    assert_eq!(after["games"][0]["state"], "cancelled");
}

/// A board's browser takes gzip: the answer comes gzipped, and unzips to
/// the answer a client without gzip gets.
#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn a_client_that_takes_gzip_gets_the_same_answer_gzipped(pool: PgPool) {
    use std::io::Read as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let app = TestApp::with_show(pool).await;
    for name in ["Ada", "Grace", "Edsger", "Barbara", "Donald", "Frances"] {
        let game = app.new_game(name).await;
        app.transition(game, "queue").await.expect(200);
    }
    let plain = app.get(Role::Display, "/api/v1/queue").await.expect(200);
    // By hand, so that no client unzips it on the way.
    let host = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request = format!(
        "GET /api/v1/queue HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\n\
         Accept-Encoding: gzip, deflate, br\r\nConnection: close\r\n\r\n",
        app.token(Role::Display)
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = vec![];
    stream.read_to_end(&mut raw).await.expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers end");
    let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(head.contains("vary: accept-encoding"), "{head}");
    let body = &raw[split + 4..];
    let mut json = String::new();
    flate2::read::GzDecoder::new(body)
        .read_to_string(&mut json)
        .expect("gunzips");
    let unzipped: Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(unzipped, plain);
    assert!(
        body.len() < json.len() / 3,
        "{} of {}",
        body.len(),
        json.len()
    );
}
