//! The `ondeck` binary run as a process (docs/api.md, section Command line): migrations, tokens,
//! shows, start-up refusals of bad settings, and a real `serve` that answers
//! and stops cleanly on SIGTERM. Each test makes a database of its own on the
//! server `DATABASE_URL` names, and drops it at the end.

use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use ondeck_domain::models::Role;
use ondeck_domain::store::tokens;
use ondeck_testkit::process::{ondeck_binary, run_ondeck as ondeck};
use ondeck_testkit::redis::redis_url;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::AssertSqlSafe;
use tokio::process::Command;

/// A database of the test's own, empty (the tests migrate it), with the
/// CLI's calls written as command lines.
struct Db(ondeck_testkit::Db);

impl std::ops::Deref for Db {
    type Target = ondeck_testkit::Db;

    fn deref(&self) -> &ondeck_testkit::Db {
        &self.0
    }
}

impl Db {
    async fn create() -> Db {
        Db(ondeck_testkit::Db::empty().await)
    }

    /// Runs `ondeck` (arguments split at spaces) with this database and
    /// nothing else in its environment.
    async fn run(&self, args: &str) -> Output {
        let args: Vec<&str> = args.split_whitespace().collect();
        self.0.run(&args).await
    }

    /// Runs `ondeck`, which must succeed, and returns what it printed.
    async fn ok(&self, args: &str) -> String {
        let output = self.run(args).await;
        assert!(output.status.success(), "ondeck {args} failed: {output:?}");
        stdout(&output)
    }

    async fn count(&self, sql: &str) -> i64 {
        let query = sqlx::query_scalar(AssertSqlSafe(sql.to_owned()));
        let count = query.fetch_one(&self.pool).await;
        count.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts a failure whose stderr mentions `word`.
#[track_caller]
fn refused(output: &Output, word: &str, why: &str) {
    assert!(!output.status.success(), "{why}: {output:?}");
    assert!(
        stderr(output).contains(word),
        "{why}, saying {word:?}: {output:?}"
    );
}

#[tokio::test]
async fn migrate_applies_the_schema_and_can_run_twice() {
    let db = Db::create().await;
    db.ok("migrate").await;
    db.ok("migrate").await;
    let applied = db
        .count("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .await;
    let all = ondeck_domain::MIGRATOR.iter().count() as i64;
    assert_eq!(applied, all, "every migration, once");
    let shows = db.count("SELECT count(*) FROM shows").await;
    assert_eq!(shows, 0, "the schema is there");
}

#[tokio::test]
async fn tokens_are_printed_once_stored_hashed_listed_without_secrets_and_revoked() {
    let db = Db::create().await;
    db.ok("migrate").await;
    let printed = db.ok("token create --role admin --name front-desk").await;
    assert_eq!(printed.lines().count(), 1, "one line: {printed:?}");
    let token = printed.trim();
    assert!(token.starts_with("odk_"), "only the token: {token:?}");
    let mut conn = db.pool.acquire().await.expect("connection");
    let caller = tokens::authenticate(&mut conn, token)
        .await
        .expect("lookup");
    let role = caller.map(|(_, role)| role);
    assert_eq!(role, Some(Role::Admin), "the token authenticates");
    let sql = format!("SELECT count(*) FROM api_tokens t WHERE strpos(t::text, '{token}') > 0");
    assert_eq!(db.count(&sql).await, 0, "the token itself is not stored");

    let again = db.run("token create --role tablet --name front-desk").await;
    refused(&again, "front-desk", "a duplicate name is refused");
    assert!(stdout(&again).is_empty(), "and prints no token: {again:?}");
    let wizard = db.run("token create --role wizard --name merlin").await;
    refused(&wizard, "wizard", "an unknown role is refused");
    let tokens = db.count("SELECT count(*) FROM api_tokens").await;
    assert_eq!(tokens, 1, "no token was added");

    let list = db.ok("token list").await;
    let row = list.lines().find(|l| l.contains("front-desk"));
    let row = row.unwrap_or_else(|| panic!("the list shows the name: {list}"));
    assert!(row.contains("admin"), "and the role: {row}");
    assert!(!row.contains("revoked"), "a live token: {row}");
    assert!(!list.contains("odk_"), "never a token: {list}");

    db.ok("token revoke front-desk").await;
    let list = db.ok("token list").await;
    let row = list.lines().find(|l| l.contains("front-desk"));
    assert!(row.is_some_and(|r| r.contains("revoked")), "{list}");
    let caller = tokens::authenticate(&mut conn, token)
        .await
        .expect("lookup");
    assert!(caller.is_none(), "a revoked token no longer authenticates");
    let unknown = db.run("token revoke nobody").await;
    assert!(!unknown.status.success(), "no such token: {unknown:?}");
}

#[tokio::test]
async fn show_create_gives_the_messages_defaults_and_refuses_other_date_formats() {
    let db = Db::create().await;
    db.ok("migrate").await;
    let printed = db.ok("show create --name Derby --date 2026-11-21").await;
    let sql = "SELECT id, name, date::text, welcome_message, recall_message, souvenir_message \
               FROM shows";
    let row: (i64, String, String, String, String, String) = sqlx::query_as(sql)
        .fetch_one(&db.pool)
        .await
        .expect("the show");
    let (id, name, date, welcome, recall, souvenir) = row;
    assert_eq!((name.as_str(), date.as_str()), ("Derby", "2026-11-21"));
    assert_eq!(printed.trim(), id.to_string(), "prints the show's id");
    for message in [&welcome, &recall, &souvenir] {
        let chars = message.chars().count();
        assert!(
            (1..=160).contains(&chars),
            "a default of 1-160 chars: {message:?}"
        );
    }
    assert!(souvenir.contains("{url}"), "a link: {souvenir:?}");

    let bad = db.run("show create --name Derby --date 21/11/2026").await;
    refused(&bad, "date", "21/11/2026 is refused");
    let shows = db.count("SELECT count(*) FROM shows").await;
    assert_eq!(shows, 1, "no second show");
}

#[tokio::test]
async fn a_missing_or_malformed_setting_exits_2_with_one_line_naming_it() {
    let redis = redis_url();
    // Nothing listens on port 1: a setting wrongly accepted fails differently.
    let database = "postgres://postgres@127.0.0.1:1/none";
    let base = [("DATABASE_URL", database), ("REDIS_URL", &*redis)];
    // (command, a variable left unset, a variable set): the line must name the
    // variable set, or else the one left unset.
    let cases = [
        ("serve", "DATABASE_URL", ""),
        ("serve", "REDIS_URL", ""),
        ("serve", "", "RECALL_WINDOW_SIZE=abc"),
        ("serve", "", "VENUE_TZ=Mars/Base"),
        ("serve", "", "LISTEN_ADDR=nope"),
        ("serve", "REDIS_URL", "REDIS_URL_FILE=/nonexistent"),
        ("run", "", "STATIONS=zero"),
        ("migrate", "DATABASE_URL", ""),
    ];
    for (command, unset, set) in cases {
        let mut env: Vec<_> = base.into_iter().filter(|(k, _)| *k != unset).collect();
        env.extend(set.split_once('='));
        let named = set.split_once('=').map_or(unset, |(var, _)| var);
        let output = ondeck(&[command], &env).await;
        let case = format!("ondeck {command} without {unset:?}, with {set:?}");
        assert_eq!(output.status.code(), Some(2), "{case}: {output:?}");
        let err = stderr(&output);
        let lines = err.trim_end().lines().count();
        assert_eq!(lines, 1, "{case}: one line, got {err:?}");
        assert!(err.contains(named), "{case}: naming {named}: {err:?}");
    }
}

/// The content type of a reply, or "".
fn content_type(reply: &reqwest::Response) -> String {
    let value = reply.headers().get("content-type");
    value
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn serve_answers_until_sigterm_then_exits_0() {
    let db = Db::create().await;
    db.ok("migrate").await;
    let token = db.ok("token create --role display --name board").await;
    let token = token.trim();
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let listen = free.local_addr().expect("an address").to_string();
    drop(free);
    let redis = redis_url();
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("REDIS_URL", redis.as_str()),
        ("LISTEN_ADDR", listen.as_str()),
    ];
    let mut command = Command::new(ondeck_binary());
    command
        .arg("serve")
        .env_clear()
        .envs(env)
        .kill_on_drop(true);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut server = command.spawn().expect("ondeck serve starts");

    let base = format!("http://{listen}");
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("{base}{path}")).send();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !get("/healthz")
        .await
        .is_ok_and(|r| r.status() == StatusCode::OK)
    {
        if let Some(status) = server.try_wait().expect("poll the server") {
            let output = server.wait_with_output().await;
            panic!("ondeck serve exited early with {status}: {output:?}");
        }
        assert!(
            Instant::now() < deadline,
            "/healthz answers 200 within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ready = get("/readyz").await.expect("/readyz").status();
    assert_eq!(ready, StatusCode::OK, "ready: PostgreSQL and Redis answer");
    let openapi = get("/api/v1/openapi.json").await.expect("openapi");
    let openapi: Value = openapi.json().await.expect("JSON");
    let documented = openapi["paths"].get("/api/v1/players").is_some();
    assert!(documented, "the paths document players: {openapi}");
    for (path, kind) in [("/docs", "text/html"), ("/metrics", "text/plain")] {
        let reply = get(path).await.expect(path);
        assert_eq!(reply.status(), StatusCode::OK, "{path}");
        let content_type = content_type(&reply);
        assert!(
            content_type.starts_with(kind),
            "{path} is {kind}: {content_type:?}"
        );
    }
    let shows = format!("{base}/api/v1/shows");
    let reply = client.get(&shows).bearer_auth(token).send().await;
    let status = reply.expect("GET /api/v1/shows").status();
    assert_eq!(status, StatusCode::OK, "a token from the CLI authenticates");
    db.ok("token revoke board").await;
    // The server caches the token it just saw; the revocation's NOTIFY
    // makes it forget it, which takes a moment to arrive.
    let mut status = StatusCode::OK;
    for _ in 0..20 {
        let reply = client.get(&shows).bearer_auth(token).send().await;
        status = reply.expect("GET /api/v1/shows").status();
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a revoked token is refused within a second"
    );

    let pid = server.id().expect("the server's pid").to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    assert!(kill.expect("kill runs").success(), "SIGTERM sent");
    let stopped = tokio::time::timeout(Duration::from_secs(5), server.wait_with_output());
    let output = stopped.await.expect("stops within 5 s of SIGTERM");
    let output = output.expect("an exit status");
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "a clean exit: {err}");
}

/// Inserts a row with `sql` (which ends in `RETURNING id`) and returns its id.
async fn insert(db: &Db, sql: &str) -> i64 {
    db.count(sql).await
}

/// A player of `show`, created on 2026-01-09, with a number, an email, a
/// profile id and the photo `photos/{id}-0000000a.jpg`.
async fn purge_player(db: &Db, show: i64, first_name: &str, mobile: &str) -> i64 {
    let id = insert(
        db,
        &format!(
            "INSERT INTO players (show_id, first_name, last_name, mobile_number, email, \
                 handedness, profile_id, created_at) \
             VALUES ({show}, '{first_name}', 'Lovelace', '{mobile}', '{first_name}@example.com', \
                 'R', 'profile-{first_name}', '2026-01-09T12:00:00Z') RETURNING id"
        ),
    )
    .await;
    let sql = format!(
        "UPDATE players SET photo_key = 'photos/{id}-0000000a.jpg' WHERE id = {id} RETURNING id"
    );
    insert(db, &sql).await;
    id
}

/// A game of `player` in `state`, ended (completed or cancelled) at `ended`,
/// with a souvenir, a short link, a text and an event.
async fn purge_game(db: &Db, show: i64, player: i64, state: &str, ended: &str) -> i64 {
    let (completed, cancelled) = match state {
        "completed" => (format!("'{ended}'"), "NULL".to_owned()),
        "cancelled" => ("NULL".to_owned(), format!("'{ended}'")),
        _ => ("NULL".to_owned(), "NULL".to_owned()),
    };
    let score = if state == "completed" { "900" } else { "NULL" };
    let game = insert(
        db,
        &format!(
            "INSERT INTO games (player_id, show_id, state, score, distance, homeruns, \
                 queued_at, completed_at, cancelled_at, created_at) \
             VALUES ({player}, {show}, '{state}', {score}, {score}, {score}, \
                 '2026-01-09T12:01:00Z', {completed}, {cancelled}, '2026-01-09T12:00:00Z') RETURNING id"
        ),
    )
    .await;
    let sql = format!(
        "UPDATE games SET souvenir_url = 'http://x/media/souvenirs/{game}.jpg' WHERE id = {game} RETURNING id"
    );
    insert(db, &sql).await;
    let sql = format!(
        "INSERT INTO short_links (code, game_id, object_key) \
         VALUES ('code{game}xx', {game}, 'souvenirs/{game}.jpg') RETURNING game_id"
    );
    insert(db, &sql).await;
    let outbox = insert(
        db,
        "INSERT INTO outbox (kind, payload) VALUES ('sms', '{}') RETURNING id",
    )
    .await;
    let sql = format!(
        "INSERT INTO messages (outbox_id, game_id, kind, \"to\", body, status) \
         SELECT {outbox}, {game}, 'welcome', mobile_number, 'Hi ' || first_name || ', welcome', 'queued' \
         FROM players WHERE id = {player} RETURNING id"
    );
    insert(db, &sql).await;
    let sql = format!(
        "INSERT INTO events (kind, payload) VALUES ('game', jsonb_build_object('id', {game}, \
             'souvenir_url', 'http://x/media/souvenirs/{game}.jpg', \
             'player', jsonb_build_object('id', {player}, 'first_name', 'Ada', 'last_name', 'Lovelace'))) \
         RETURNING id"
    );
    insert(db, &sql).await;
    game
}

#[tokio::test]
async fn purge_removes_the_pii_of_players_whose_games_ended_and_keeps_their_scores() {
    let db = Db::create().await;
    db.ok("migrate").await;
    let show: i64 = db
        .ok("show create --name Derby --date 2026-01-10")
        .await
        .trim()
        .parse()
        .expect("a show id");
    // Ada's game ended on January 10th; Bea's was cancelled at 22:00 on the
    // 10th in New York (03:00 UTC on the 11th); Cy played once before and
    // once after midnight; Dee is still queued.
    let ada = purge_player(&db, show, "Ada", "+14155552671").await;
    let ada_game = purge_game(&db, show, ada, "completed", "2026-01-10T20:00:00Z").await;
    let bea = purge_player(&db, show, "Bea", "+14155552672").await;
    let bea_game = purge_game(&db, show, bea, "cancelled", "2026-01-11T03:00:00Z").await;
    let cy = purge_player(&db, show, "Cy", "+14155552673").await;
    let cy_old = purge_game(&db, show, cy, "completed", "2026-01-10T20:00:00Z").await;
    purge_game(&db, show, cy, "completed", "2026-01-11T06:00:00Z").await;
    let dee = purge_player(&db, show, "Dee", "+14155552674").await;
    purge_game(&db, show, dee, "queued", "").await;
    // Eve's game was completed before midnight and cancelled after it: it
    // ended when it was cancelled.
    let eve = purge_player(&db, show, "Eve", "+14155552675").await;
    let eve_game = purge_game(&db, show, eve, "cancelled", "2026-01-11T12:00:00Z").await;
    let sql = format!(
        "UPDATE games SET completed_at = '2026-01-10T20:00:00Z' WHERE id = {eve_game} RETURNING id"
    );
    insert(&db, &sql).await;

    let data = std::env::temp_dir().join(format!("ondeck-purge-{}-{ada}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let file = |key: &str| data.join(key);
    for key in [
        format!("photos/{ada}-0000000a.jpg"),
        format!("photos/{ada}-0000000b.jpg"), // an earlier upload
        format!("photos/{dee}-0000000a.jpg"),
        format!("photos/{cy}-0000000a.jpg"),
        format!("souvenirs/{ada_game}.jpg"),
        format!("souvenirs/{cy_old}.jpg"),
        format!("souvenirs/{ada_game}0.jpg"), // another game's, by its name
    ] {
        std::fs::create_dir_all(file(&key).parent().expect("a folder")).expect("mkdir");
        std::fs::write(file(&key), b"jpeg").expect("write");
    }
    // Bea's souvenir cannot be deleted the first time: a folder in its place.
    std::fs::create_dir_all(file(&format!("souvenirs/{bea_game}.jpg/x"))).expect("mkdir");

    let data_dir = data.to_str().expect("a UTF-8 path");
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("VENUE_TZ", "America/New_York"),
        ("DATA_DIR", data_dir),
    ];
    let purge = |args: &'static str| {
        let args: Vec<&str> = args.split_whitespace().collect();
        async move { ondeck(&args, &env).await }
    };
    let pii = "SELECT count(*) FROM players WHERE mobile_number IS NOT NULL OR email IS NOT NULL \
               OR photo_key IS NOT NULL OR profile_id IS NOT NULL";
    let texts = "SELECT count(*) FROM messages WHERE \"to\" <> '' OR body <> ''";

    // Malformed dates and the future: exit 2, one line, nothing changed.
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(2)).format("%Y-%m-%d");
    let future = format!("purge --before {tomorrow}");
    for args in [
        "purge --before 2026-13-01",
        "purge --before 2026-1-11",
        "purge --before yesterday",
        "purge --before 2026-02-30",
        future.as_str(),
    ] {
        let args: Vec<&str> = args.split_whitespace().collect();
        let output = ondeck(&args, &env).await;
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        let err = stderr(&output);
        assert_eq!(err.lines().count(), 1, "one line: {err:?}");
        assert!(err.contains("--before"), "names the option: {err:?}");
    }

    // A storage setting that is wrong: exit 2 before anything changes.
    let bad_storage = [("DATABASE_URL", db.url.as_str()), ("STORAGE", "floppy")];
    let output = ondeck(&["purge", "--before", "2026-01-11"], &bad_storage).await;
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(stderr(&output).contains("STORAGE"), "{output:?}");
    assert_eq!(db.count(pii).await, 5, "nothing changed");

    let output = purge("purge --before 2026-01-11 --dry-run").await;
    assert!(output.status.success(), "dry run: {output:?}");
    let out = stdout(&output);
    assert!(out.contains(": 2 would be purged"), "Ada and Bea: {out}");
    assert!(out.contains("nothing was changed"), "{out}");
    assert_eq!(db.count(pii).await, 5, "a dry run changes nothing");
    assert_eq!(db.count(texts).await, 6, "a dry run changes nothing");
    assert!(file(&format!("photos/{ada}-0000000a.jpg")).exists());

    let output = purge("purge --before 2026-01-11").await;
    let out = stdout(&output);
    let err = stderr(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "one prefix failed: {output:?}"
    );
    assert!(out.contains(": 2 purged"), "Ada and Bea: {out}");
    assert!(out.contains("texts cleared: 2"), "{out}");
    assert!(
        err.contains(&format!("souvenirs/{bea_game}.")),
        "reported: {err}"
    );
    assert!(!err.contains("+1415"), "no number in the output: {err}");

    // Ada and Bea: no PII left in players, texts, links or the event log.
    let purged = format!(
        "SELECT count(*) FROM players WHERE id IN ({ada}, {bea}) AND mobile_number IS NULL \
         AND email IS NULL AND photo_key IS NULL AND profile_id IS NULL AND last_name = 'L' \
         AND purged_at IS NOT NULL"
    );
    assert_eq!(db.count(&purged).await, 2, "Ada and Bea purged");
    assert_eq!(db.count(pii).await, 3, "Cy, Dee and Eve untouched");
    let cleared = format!(
        "SELECT count(*) FROM messages m JOIN games g ON g.id = m.game_id \
         WHERE g.player_id IN ({ada}, {bea}) AND m.\"to\" = '' AND m.body = '' AND m.status = 'failed'"
    );
    assert_eq!(db.count(&cleared).await, 2, "their texts carry no number");
    assert_eq!(
        db.count(texts).await,
        4,
        "Cy's, Dee's and Eve's texts untouched"
    );
    let links = format!(
        "SELECT count(*) FROM short_links WHERE game_id IN ({ada_game}, {bea_game}) \
         UNION ALL SELECT count(*) FROM games WHERE id IN ({ada_game}, {bea_game}) AND souvenir_url IS NOT NULL \
         UNION ALL SELECT count(*) FROM games WHERE id IN ({ada_game}, {bea_game}) \
             AND (player_code IS NOT NULL OR code_hash IS NOT NULL) \
         UNION ALL SELECT count(*) FROM games WHERE player_code IS NOT NULL"
    );
    let links = sqlx::query_scalar::<_, i64>(AssertSqlSafe(links))
        .fetch_all(&db.pool)
        .await
        .expect("links");
    assert_eq!(links[..3], [0, 0, 0], "no souvenir link or page left");
    assert!(links[3] > 0, "the others' pages still work");
    let events = format!(
        "SELECT count(*) FROM events WHERE payload ->> 'id' IN ('{ada_game}', '{bea_game}') \
         AND payload #>> '{{player,last_name}}' = 'L' AND payload -> 'souvenir_url' = 'null'"
    );
    assert_eq!(db.count(&events).await, 2, "the event log forgot them too");

    // Their files are gone, the others' are not.
    assert!(!file(&format!("photos/{ada}-0000000a.jpg")).exists());
    assert!(
        !file(&format!("photos/{ada}-0000000b.jpg")).exists(),
        "every upload"
    );
    assert!(!file(&format!("souvenirs/{ada_game}.jpg")).exists());
    for kept in [
        format!("photos/{dee}-0000000a.jpg"),
        format!("photos/{cy}-0000000a.jpg"),
        format!("souvenirs/{cy_old}.jpg"),
        format!("souvenirs/{ada_game}0.jpg"),
    ] {
        assert!(file(&kept).exists(), "{kept} kept");
    }

    // Scores stay: Ada's game is still on the leaderboard as "Ada L.".
    let mut conn = db.pool.acquire().await.expect("connection");
    let board = ondeck_domain::store::scores::leaderboard_players(
        &mut conn,
        ondeck_domain::ids::ShowId(show),
        None,
        "UTC",
        10,
    )
    .await
    .expect("leaderboard");
    drop(conn);
    let ada_row = board.iter().find(|r| r.game_id.0 == ada_game);
    let ada_row = ada_row.expect("Ada's game is still ranked");
    assert_eq!((ada_row.first_name.as_str(), ada_row.score), ("Ada", 900));
    assert_eq!(board.len(), 3, "Ada's and Cy's two games: {board:?}");

    // The failed delete is retried by the next run, which purges nobody.
    std::fs::remove_dir_all(file(&format!("souvenirs/{bea_game}.jpg"))).expect("rmdir");
    std::fs::write(file(&format!("souvenirs/{bea_game}.png")), b"png").expect("write");
    let output = purge("purge --before 2026-01-11").await;
    let out = stdout(&output);
    assert!(output.status.success(), "the retry succeeds: {output:?}");
    assert!(out.contains(": 0 purged"), "{out}");
    assert!(out.contains("stored objects deleted: 1"), "{out}");
    assert!(!file(&format!("souvenirs/{bea_game}.png")).exists());
    assert_eq!(db.count("SELECT count(*) FROM purge_objects").await, 0);

    // And again: a no-op.
    let output = purge("purge --before 2026-01-11").await;
    let out = stdout(&output);
    assert!(output.status.success(), "{output:?}");
    assert!(
        out.contains(": 0 purged") && out.contains("texts cleared: 0"),
        "{out}"
    );
    assert!(out.contains("stored objects deleted: 0"), "{out}");
    assert_eq!(db.count(pii).await, 3, "Cy, Dee and Eve still untouched");
    let _ = std::fs::remove_dir_all(&data);
}
