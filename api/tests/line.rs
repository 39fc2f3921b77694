//! Running the line (docs/running-the-line.md): a show's settings and who
//! may change them, each rule on each way a game begins (a tablet's signup,
//! `POST /api/v1/games`, a player's "Join again"), the last place taken by
//! two at once, admissions waiting for a change of the line (and for one
//! another only where a rule counts it), a paused show (no recalls, no
//! ETAs, no no-shows), per-show stations, and staff moving a game, sixteen
//! moves at once included.

use ondeck_domain::line::LineRule;
use ondeck_domain::models::Role;
use ondeck_domain::store::recall::RecallPolicy;
use ondeck_domain::store::wake::Wake;
use ondeck_domain::{DomainError, Lifecycle};
use ondeck_testkit::pages::waiting_ids;
use ondeck_testkit::{Reply, TestApp};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

/// The settings of the current show, as `GET /api/v1/shows/{id}` has them.
async fn show(app: &TestApp) -> Value {
    let shows = app.get(Role::Admin, "/api/v1/shows").await.expect(200);
    shows["items"][0].clone()
}

async fn set(app: &TestApp, changes: Value) -> Value {
    let id = show(app).await["id"].as_i64().expect("show id");
    app.patch(Role::Admin, &format!("/api/v1/shows/{id}"), changes)
        .await
        .expect(200)
}

/// The player's code, from the link staff see on a game.
async fn code_of(app: &TestApp, game: i64) -> String {
    let link = app.game(game).await["player_link"].clone();
    let link = link.as_str().expect("player_link");
    link.rsplit("/p/").next().expect("a /p/ link").to_owned()
}

async fn player_status(app: &TestApp, code: &str) -> Value {
    app.send(Method::GET, &format!("/p/{code}/status"), None, None, &[])
        .await
        .expect(200)
}

async fn queue(app: &TestApp) -> Value {
    app.get(Role::Admin, "/api/v1/queue").await.expect(200)
}

/// The waiting game ids in queue order, checking positions are 1..N.
async fn waiting(app: &TestApp) -> Vec<i64> {
    waiting_ids(&queue(app).await)
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn a_new_show_has_the_default_settings_and_stations_from_the_setting(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("STATIONS", "3")]).await;
    let show = app.create_show("Derby", "2026-11-21").await;
    for (field, default) in [
        ("joining", json!("open")),
        ("closes_at", json!(null)),
        ("max_waiting", json!(null)),
        ("paused", json!(false)),
        ("stations", json!(3)),
        ("self_join", json!(false)),
        ("waiver_text", json!("")),
    ] {
        assert_eq!(show[field], default, "{field}: {show}");
    }
    assert!(
        show["no_show_message"]
            .as_str()
            .is_some_and(|m| m.contains("{link}")),
        "{show}"
    );
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn an_admin_changes_each_setting_and_it_reads_back(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    let changes = json!({
        "joining": "closed",
        "closes_at": "2026-11-21T21:30:00Z",
        "max_waiting": 40,
        "paused": true,
        "stations": 4,
        "self_join": true,
        "waiver_text": "I play at my own risk.",
        "no_show_message": "Missed you! {link}",
    });
    let changed = set(&app, changes.clone()).await;
    let id = changed["id"].as_i64().expect("id");
    let read = app
        .get(Role::Display, &format!("/api/v1/shows/{id}"))
        .await
        .expect(200);
    for (field, value) in changes.as_object().expect("object") {
        assert_eq!(&changed[field], value, "{field} answered: {changed}");
        assert_eq!(&read[field], value, "{field} read back: {read}");
    }
    // null clears; a field left out stays.
    let cleared = set(&app, json!({"closes_at": null, "max_waiting": null})).await;
    assert_eq!(cleared["closes_at"], json!(null), "{cleared}");
    assert_eq!(cleared["max_waiting"], json!(null), "{cleared}");
    assert_eq!(cleared["stations"], 4, "{cleared}");
    assert_eq!(cleared["joining"], "closed", "{cleared}");
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn settings_out_of_range_are_422_naming_the_field(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    let id = show(&app).await["id"].as_i64().expect("id");
    let before = show(&app).await;
    let cases = [
        ("joining", json!("shut")),
        ("joining", json!(true)),
        ("closes_at", json!("tonight")),
        ("max_waiting", json!(0)),
        ("max_waiting", json!(-3)),
        ("max_waiting", json!(1_000_001)),
        ("stations", json!(0)),
        ("stations", json!(1001)),
        ("stations", json!(null)),
        ("paused", json!("yes")),
        ("self_join", json!(1)),
        ("waiver_text", json!("x".repeat(5001))),
    ];
    for (field, value) in cases {
        let reply = app
            .patch(
                Role::Admin,
                &format!("/api/v1/shows/{id}"),
                json!({ field: value }),
            )
            .await;
        reply.invalid_field(field);
    }
    assert_eq!(show(&app).await, before, "refused changes changed nothing");
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn only_an_admin_changes_the_settings(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    let id = show(&app).await["id"].as_i64().expect("id");
    for role in [Role::Tablet, Role::Game, Role::Display] {
        app.patch(
            role,
            &format!("/api/v1/shows/{id}"),
            json!({"joining": "closed"}),
        )
        .await
        .problem(403);
    }
    assert_eq!(show(&app).await["joining"], "open");
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn each_change_is_a_show_event_and_pages_follow_it(pool: PgPool) {
    let app = TestApp::with_show(pool.clone()).await;
    let game = app.game_in("queued").await;
    let code = code_of(&app, game).await;
    let new_code = code_of(&app, app.game_in("new").await).await;
    assert_eq!(player_status(&app, &code).await["paused"], false);
    let changed = set(&app, json!({"paused": true})).await;
    let (kind, payload): (String, Value) =
        sqlx::query_as("SELECT kind, payload FROM events ORDER BY id DESC LIMIT 1")
            .fetch_one(&pool)
            .await
            .expect("the last event");
    assert_eq!(kind, "show");
    assert_eq!(payload, changed, "the event carries the show as it is now");
    let status = player_status(&app, &code).await;
    assert_eq!(status["paused"], true, "{status}");
    assert_eq!(status["eta_seconds"], json!(null), "{status}");
    for code in [code, new_code] {
        let page = app
            .send(Method::GET, &format!("/p/{code}"), None, None, &[])
            .await;
        assert!(
            page.text().contains("Paused: the wait is on hold"),
            "{}",
            page.text()
        );
    }
}

/// The ways a game begins, each tried once a rule refuses.
#[derive(Debug, Clone, Copy)]
enum Way {
    Signup,
    NewGame,
    Rejoin,
}

/// A player whose game was cancelled, ready for another.
struct Ready {
    player: i64,
    code: String,
}

async fn ready(app: &TestApp) -> Ready {
    let game = app.game_in("cancelled").await;
    let player = app.game(game).await["player_id"].as_i64().expect("player");
    Ready {
        player,
        code: code_of(app, game).await,
    }
}

async fn try_way(app: &TestApp, way: Way, ready: &Ready) -> Reply {
    match way {
        Way::Signup => {
            app.post(
                Role::Tablet,
                "/api/v1/players",
                json!({"first_name": "Late", "handedness": "R"}),
            )
            .await
        }
        Way::NewGame => {
            app.post(
                Role::Tablet,
                "/api/v1/games",
                json!({"player_id": ready.player}),
            )
            .await
        }
        Way::Rejoin => {
            app.send(
                Method::POST,
                &format!("/p/{}/rejoin", ready.code),
                None,
                None,
                &[],
            )
            .await
        }
    }
}

/// How many games are new, queued or recalled in the line now.
async fn in_line(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM games WHERE state IN ('new', 'queued', 'recalled')")
        .fetch_one(pool)
        .await
        .expect("count")
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn each_rule_refuses_every_way_in_with_a_409_naming_it(pool: PgPool) {
    let app = TestApp::with_show(pool.clone()).await;
    app.game_in("queued").await;
    app.game_in("new").await;
    let open = json!({"joining": "open", "max_waiting": null, "closes_at": null});
    // (the rule's settings, problem type, rule named)
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(100)).to_rfc3339();
    let rules = [
        (
            json!({"joining": "closed"}),
            "/problems/line-closed",
            "joining",
        ),
        (
            json!({"max_waiting": "IN_LINE"}),
            "/problems/line-full",
            "max_waiting",
        ),
        // One place (180 s before any game is played) ends after it.
        (
            json!({"closes_at": soon}),
            "/problems/line-full-today",
            "closes_at",
        ),
        (
            json!({"closes_at": "2026-01-01T00:00:00Z"}),
            "/problems/line-full-today",
            "closes_at",
        ),
    ];
    for (settings, kind, rule) in rules {
        for way in [Way::Signup, Way::NewGame, Way::Rejoin] {
            let case = format!("{way:?} under {settings}");
            set(&app, open.clone()).await;
            let ready = ready(&app).await;
            let mut settings = settings.clone();
            if settings["max_waiting"] == "IN_LINE" {
                settings["max_waiting"] = json!(in_line(&pool).await);
            }
            set(&app, settings).await;
            let (games, players) = (app.count("games").await, app.count("players").await);
            let problem = try_way(&app, way, &ready).await.problem(409);
            assert_eq!(problem["type"], kind, "{case}: {problem}");
            assert_eq!(problem["rule"], rule, "{case}: {problem}");
            let detail = problem["detail"].as_str().unwrap_or_default();
            assert!(
                detail.contains("staff can"),
                "{case}: says what to do: {problem}"
            );
            assert_eq!(app.count("games").await, games, "{case}: no game");
            assert_eq!(app.count("players").await, players, "{case}: no player");
            // The same request goes through once the line is open again.
            set(&app, open.clone()).await;
            let reply = try_way(&app, way, &ready).await;
            let ok = if matches!(way, Way::Rejoin) { 200 } else { 201 };
            reply.expect(ok);
        }
    }
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn a_closed_line_offers_no_join_again(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    let ready = ready(&app).await;
    let offered = |s: &Value| {
        s["actions"]
            .as_array()
            .is_some_and(|a| a.contains(&json!("rejoin")))
    };
    assert!(offered(&player_status(&app, &ready.code).await));
    set(&app, json!({"joining": "closed"})).await;
    let status = player_status(&app, &ready.code).await;
    assert!(!offered(&status), "{status}");
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn the_last_place_goes_to_one_of_many_signups_at_once(pool: PgPool) {
    let app = TestApp::with_show(pool.clone()).await;
    app.game_in("queued").await;
    set(&app, json!({"max_waiting": 2})).await;
    let replies = futures::future::join_all((0..8).map(|i| {
        app.post(
            Role::Tablet,
            "/api/v1/players",
            json!({"first_name": format!("Racer {i}"), "handedness": "L"}),
        )
    }))
    .await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    for reply in replies.iter().filter(|r| r.status != 201) {
        assert_eq!(reply.problem(409)["type"], "/problems/line-full");
    }
    assert_eq!(created, 1, "exactly one takes the last place");
    assert_eq!(in_line(&pool).await, 2);
}

/// Whether `result` failed on `lock_timeout`: it waited for a lock.
fn waited<T, E: std::fmt::Display>(result: Result<T, E>) -> bool {
    match result {
        Ok(_) => false,
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains("lock timeout"), "failed otherwise: {text}");
            true
        }
    }
}

/// A transaction that gives up on any lock after 300 ms.
async fn impatient(pool: &PgPool) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("SET LOCAL lock_timeout = '300ms'")
        .execute(&mut *tx)
        .await
        .expect("lock_timeout");
    tx
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn admissions_wait_for_a_change_of_the_line_and_for_one_another_only_when_it_is_counted(
    pool: PgPool,
) {
    let app = TestApp::with_show(pool.clone()).await;
    let show_id = show(&app).await["id"].as_i64().expect("show id");
    let lifecycle = Lifecycle::new(RecallPolicy::default(), Wake::start(pool.clone()));
    let close = "UPDATE shows SET joining = 'closed' WHERE id = $1";

    // With no rule that counts the line, an admission under way holds up
    // the next one not at all, and a change of the settings until it ends.
    let mut first = pool.begin().await.expect("begin");
    lifecycle.admit(&mut first, None).await.expect("admitted");
    let mut second = impatient(&pool).await;
    assert!(!waited(lifecycle.admit(&mut second, None).await));
    second.rollback().await.expect("rollback");
    let mut change = impatient(&pool).await;
    assert!(waited(
        sqlx::query(close).bind(show_id).execute(&mut *change).await
    ));
    change.rollback().await.expect("rollback");
    first.rollback().await.expect("rollback");

    // A change under way holds up admissions, which then see it.
    let mut change = pool.begin().await.expect("begin");
    sqlx::query(close)
        .bind(show_id)
        .execute(&mut *change)
        .await
        .expect("closed");
    let mut admission = impatient(&pool).await;
    assert!(waited(lifecycle.admit(&mut admission, None).await));
    admission.rollback().await.expect("rollback");
    change.commit().await.expect("commit");
    let mut admission = pool.begin().await.expect("begin");
    let refused = lifecycle
        .admit(&mut admission, None)
        .await
        .expect_err("closed");
    assert!(
        matches!(refused, DomainError::LineRefused(LineRule::Closed)),
        "{refused}"
    );
    admission.rollback().await.expect("rollback");

    // With a rule that counts the line, admissions take turns.
    set(&app, json!({"joining": "open", "max_waiting": 5})).await;
    let mut first = pool.begin().await.expect("begin");
    lifecycle.admit(&mut first, None).await.expect("admitted");
    let mut second = impatient(&pool).await;
    assert!(waited(lifecycle.admit(&mut second, None).await));
    second.rollback().await.expect("rollback");
    first.rollback().await.expect("rollback");
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn a_paused_show_recalls_no_one_and_quotes_no_wait_until_resumed(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    let playing = app.game_in("playing").await;
    set(&app, json!({"paused": true})).await;
    let mut line = Vec::new();
    for n in 0..2 {
        let game = app.new_game_with_mobile(&format!("Waiting {n}"), n).await;
        app.transition(game, "queue").await.expect(200);
        line.push(game);
    }
    let paused = queue(&app).await;
    assert_eq!(paused["paused"], true, "{paused}");
    for item in paused["waiting"].as_array().expect("waiting") {
        assert_eq!(item["eta_seconds"], json!(null), "{paused}");
    }
    // A completion makes room in the recall window: no one is recalled.
    app.transition(playing, "complete").await.expect(200);
    for &game in &line {
        assert_eq!(app.game(game).await["state"], "queued", "paused: no recall");
    }
    set(&app, json!({"paused": false})).await;
    for &game in &line {
        assert_eq!(
            app.game(game).await["state"],
            "recalled",
            "resumed: recalled"
        );
    }
    assert_eq!(queue(&app).await["paused"], false);
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn waits_divide_by_the_shows_stations(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    for _ in 0..2 {
        app.game_in("queued").await;
    }
    let etas = |q: Value| -> Vec<Value> {
        q["waiting"]
            .as_array()
            .expect("waiting")
            .iter()
            .map(|g| g["eta_seconds"].clone())
            .collect()
    };
    assert_eq!(etas(queue(&app).await), vec![json!(180), json!(360)]);
    set(&app, json!({"stations": 3})).await;
    assert_eq!(etas(queue(&app).await), vec![json!(60), json!(120)]);
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn staff_move_a_queued_game_to_a_position(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    let mut games = Vec::new();
    for _ in 0..4 {
        games.push(app.game_in("queued").await);
    }
    let (a, b, c, d) = (games[0], games[1], games[2], games[3]);
    let app = &app;
    let move_to = |game: i64, position: Value| async move {
        let path = format!("/api/v1/games/{game}/move");
        app.post(Role::Tablet, &path, json!({ "position": position }))
            .await
    };
    // (game, position asked, line after)
    let cases = [
        (d, json!(1), vec![d, a, b, c]),
        (d, json!(3), vec![a, b, d, c]),
        (a, json!(4), vec![b, d, c, a]),
        (c, json!(99), vec![b, d, a, c]),
        (b, json!(i64::MAX), vec![d, a, c, b]),
        (c, json!(2), vec![d, c, a, b]),
    ];
    for (game, position, after) in cases {
        let moved = move_to(game, position.clone()).await.expect(200);
        assert_eq!(moved["state"], "queued");
        assert_eq!(waiting(app).await, after, "move {game} to {position}");
    }
    let line = waiting(app).await;
    for bad in [json!(0), json!(-1), json!("first"), json!(null)] {
        move_to(a, bad).await.invalid_field("position");
    }
    let recalled = app.game_in("recalled").await;
    let problem = move_to(recalled, json!(1)).await.problem(409);
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("queued")),
        "{problem}"
    );
    app.post(
        Role::Display,
        &format!("/api/v1/games/{a}/move"),
        json!({"position": 1}),
    )
    .await
    .problem(403);
    app.post(
        Role::Admin,
        "/api/v1/games/999999/move",
        json!({"position": 1}),
    )
    .await
    .problem(404);
    assert_eq!(waiting(app).await, line, "refused moves changed nothing");
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn sixteen_moves_at_once_leave_positions_without_gap_or_repeat(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    let mut games = Vec::new();
    for _ in 0..8 {
        games.push(app.game_in("queued").await);
    }
    let app = &app;
    let moves = (0..16).map(|i| {
        let game = games[(i * 5) % games.len()];
        let position = (i * 3) % 9 + 1;
        async move {
            let path = format!("/api/v1/games/{game}/move");
            app.post(Role::Tablet, &path, json!({ "position": position }))
                .await
        }
    });
    for reply in futures::future::join_all(moves).await {
        reply.expect(200);
    }
    let mut line = waiting(app).await;
    line.sort_unstable();
    let mut all = games.clone();
    all.sort_unstable();
    assert_eq!(line, all, "every game once, positions 1..N");
}

/// Runs the no-show sweep once, as the worker does.
async fn sweep_no_shows(pool: &PgPool) -> usize {
    let lifecycle = Lifecycle::new(RecallPolicy::default(), Wake::start(pool.clone()));
    let mut tx = pool.begin().await.expect("begin");
    let swept = lifecycle.cancel_no_shows(&mut tx).await.expect("sweep");
    swept.commit(tx).await.expect("commit").len()
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn a_paused_show_has_no_no_shows_and_resuming_restarts_their_time(pool: PgPool) {
    let app = TestApp::with_show(pool.clone()).await;
    let game = app.game_in("recalled").await;
    let age = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query(sql).execute(&pool).await.expect("age") }
    };
    // Recalled two hours ago: long past NO_SHOW_MINUTES.
    age("UPDATE games SET recall_started_at = now() - interval '2 hours'").await;
    set(&app, json!({"paused": true})).await;
    assert_eq!(sweep_no_shows(&pool).await, 0, "paused: no no-shows");
    set(&app, json!({"paused": false})).await;
    assert_eq!(
        sweep_no_shows(&pool).await,
        0,
        "just resumed: time counts again"
    );
    assert_eq!(app.game(game).await["state"], "recalled");
    age("UPDATE shows SET resumed_at = now() - interval '2 hours'").await;
    assert_eq!(
        sweep_no_shows(&pool).await,
        1,
        "long after resuming: a no-show"
    );
    let cancelled = app.game(game).await;
    assert_eq!(cancelled["cancel_reason"], "no_show", "{cancelled}");
}
