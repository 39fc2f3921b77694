//! The backup drill (docs/deployments.md, section Backups): data made through the HTTP API,
//! `deploy/backup` (a local dump and its copy in a real S3-compatible server,
//! s3s-fs, which checks signatures), the database dropped, `deploy/restore`
//! from the file and then from S3 over changed data, and the row counts,
//! sequences and a checksum of the games table compared; then ondeck serves
//! the restored data. Also the image's health probe, `compose/healthz`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use ondeck_testkit::{
    Db, Mode, Ondeck, S3_ACCESS_KEY, S3_BUCKET, Stack, TempDir, field, free_port,
};
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection as _, PgConnection};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// Runs a script of the repository with only `env` (and PATH, HOME).
fn script(name: &str, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut command = Command::new(repo().join(name));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .stdin(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    command
        .output()
        .unwrap_or_else(|e| panic!("{name} runs: {e}"))
}

#[track_caller]
fn succeeded(name: &str, output: &Output) -> Vec<String> {
    assert!(
        output.status.success(),
        "{name} failed with {}:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// What must survive a backup and restore: every table's row count, every
/// sequence's position, and a checksum over the games table's rows.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    rows: BTreeMap<String, i64>,
    sequences: BTreeMap<String, Option<i64>>,
    games_md5: Option<String>,
}

async fn snapshot(url: &str) -> Snapshot {
    let mut conn = PgConnection::connect(url)
        .await
        .expect("connect to the test database");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .expect("list the tables");
    let mut rows = BTreeMap::new();
    for table in tables {
        let sql = format!("SELECT count(*) FROM \"{table}\"");
        let count: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_one(&mut conn)
            .await
            .expect("count a table");
        rows.insert(table, count);
    }
    let sequences = sqlx::query_as::<_, (String, Option<i64>)>(
        "SELECT sequencename::text, last_value FROM pg_sequences WHERE schemaname = 'public'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("read the sequences")
    .into_iter()
    .collect();
    let games_md5: Option<String> =
        sqlx::query_scalar("SELECT md5(string_agg(g::text, ',' ORDER BY g.id)) FROM games g")
            .fetch_one(&mut conn)
            .await
            .expect("checksum the games");
    conn.close().await.expect("close the connection");
    Snapshot {
        rows,
        sequences,
        games_md5,
    }
}

/// Players and games in every state but `new`, with scores and a team.
async fn make_show(stack: &Stack, ondeck: &Ondeck) {
    let tokens = &stack.tokens;
    for team in ["Red Sox", "Cubs"] {
        stack
            .post(
                ondeck,
                &tokens.admin,
                "/api/v1/teams",
                json!({"name": team}),
            )
            .await
            .expect(201);
    }
    // (transitions after signup, the token for each)
    let plans: [&[&str]; 6] = [
        &["queue", "confirm", "play", "complete"],
        &["queue", "confirm", "play", "complete"],
        &["queue", "confirm", "play", "complete", "cancel"],
        &["queue", "confirm", "play"],
        &["queue", "recall"],
        &["queue"],
    ];
    for (n, plan) in plans.iter().enumerate() {
        let team = if n % 2 == 0 { "Red Sox" } else { "Cubs" };
        let body = json!({"first_name": format!("Player{n}"), "last_name": "Tester",
                          "handedness": "L", "team": team,
                          "mobile_number": format!("+1415555{:04}", 300 + n)});
        let player = stack
            .post(ondeck, &tokens.tablet, "/api/v1/players", body)
            .await
            .expect(201);
        let game = player["active_game"]["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("a game: {player}"));
        for transition in *plan {
            let (token, body) = match *transition {
                "play" => (&tokens.game, json!({})),
                "complete" => (
                    &tokens.game,
                    json!({"score": 1000 + 111 * n, "distance": 400 + n, "homeruns": n}),
                ),
                _ => (&tokens.tablet, json!({})),
            };
            let path = format!("/api/v1/games/{game}/{transition}");
            stack.post(ondeck, token, &path, body).await.expect(200);
        }
    }
}

/// What the API shows of the data: the leaderboard and every game.
async fn api_view(stack: &Stack, ondeck: &Ondeck) -> (Value, Value) {
    let admin = &stack.tokens.admin;
    let leaderboard = stack
        .get(ondeck, admin, "/api/v1/leaderboard")
        .await
        .expect(200);
    let mut games = stack
        .get(ondeck, admin, "/api/v1/games?limit=500")
        .await
        .expect(200);
    // Each server has a port of its own: a page's link is compared by its
    // code, which the restore must bring back.
    for game in games["items"].as_array_mut().expect("items") {
        let link = field(game, "player_link");
        let code = link.rsplit_once("/p/").expect("a player's page").1;
        game["player_link"] = Value::from(code);
    }
    (leaderboard, games)
}

/// The S3 settings of ondeck's storage, as deploy/backup and deploy/restore
/// read them, with the credentials in an AWS profile file written to `dir`
/// (the form compose/make-secrets gives them as a Docker secret).
fn s3_env(stack: &Stack, dir: &Path) -> Vec<(&'static str, String)> {
    let profile = dir.join("aws_credentials");
    let text = format!(
        "[default]\naws_access_key_id = {S3_ACCESS_KEY}\naws_secret_access_key = {}\n",
        stack.s3.secret
    );
    std::fs::write(&profile, text).expect("write the AWS profile file");
    vec![
        ("S3_BUCKET", S3_BUCKET.to_owned()),
        ("S3_REGION", "us-east-1".to_owned()),
        ("S3_ENDPOINT", stack.s3.endpoint()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            profile.to_str().expect("a UTF-8 path").to_owned(),
        ),
    ]
}

/// `deploy/restore --target <the test database> SOURCE`, which must succeed.
fn restore(stack: &Stack, dir: &Path, source: &str) {
    let output = script(
        "deploy/restore",
        &["--target", &stack.db.url, source],
        &s3_env(stack, dir),
    );
    succeeded(&format!("deploy/restore {source}"), &output);
}

async fn on_server(sql: &str) {
    let server = std::env::var("DATABASE_URL").expect("DATABASE_URL names the test server");
    let mut conn = PgConnection::connect(&server)
        .await
        .expect("connect to the server");
    sqlx::query(AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    conn.close().await.expect("close the connection");
}

fn healthz(ondeck_base: &str) -> bool {
    let listen = ondeck_base.trim_start_matches("http://").to_owned();
    script("compose/healthz", &[], &[("LISTEN_ADDR", listen)])
        .status
        .success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_drop_and_restore_from_file_and_s3_bring_back_the_same_data() {
    let stack = Stack::new().await;
    // The API only: no worker changes rows while the drill runs.
    let mut ondeck = stack.spawn(Mode::Serve, &[]).await;
    make_show(&stack, &ondeck).await;
    let view_before = api_view(&stack, &ondeck).await;
    assert!(
        healthz(&ondeck.base),
        "compose/healthz passes while ondeck answers"
    );
    ondeck.terminate(Duration::from_secs(15)).await;
    assert!(
        !healthz(&ondeck.base),
        "compose/healthz fails once ondeck is gone"
    );

    let before = snapshot(&stack.db.url).await;
    assert_eq!(before.rows["games"], 6, "six games made: {before:?}");
    assert_eq!(before.rows["players"], 6, "six players made: {before:?}");
    assert_eq!(before.rows["teams"], 2, "two teams made: {before:?}");
    assert!(before.rows["outbox"] > 0, "jobs were written: {before:?}");

    let dir = TempDir::new("backup");
    let dump = dir.path().join("drill.dump");
    let dump_arg = dump.to_str().expect("a UTF-8 path");
    // As the backup service of compose.onsite.yaml runs it: the URL in a
    // secret file, STORAGE=s3 asking for the upload, keys in the environment.
    let url_file = dir.path().join("database_url");
    std::fs::write(&url_file, format!("{}\n", stack.db.url)).expect("write the URL file");
    let backup_env = [
        (
            "DATABASE_URL_FILE",
            url_file.to_str().expect("a UTF-8 path").to_owned(),
        ),
        ("STORAGE", "s3".to_owned()),
        ("S3_BUCKET", S3_BUCKET.to_owned()),
        ("S3_ENDPOINT", stack.s3.endpoint()),
        ("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", stack.s3.secret.clone()),
    ];
    let printed = succeeded(
        "deploy/backup",
        &script("deploy/backup", &["--out", dump_arg], &backup_env),
    );
    let key = "backups/drill.dump";
    assert_eq!(
        printed,
        [dump_arg.to_owned(), format!("s3://{S3_BUCKET}/{key}")],
        "deploy/backup prints the file and the S3 URI"
    );
    let local = std::fs::read(&dump).expect("the dump file");
    assert!(local.starts_with(b"PGDMP"), "a pg_dump custom archive");
    let uploaded = std::fs::read(stack.s3.object_path(key)).expect("the object in the bucket");
    assert!(uploaded == local, "the S3 copy is the dump, byte for byte");

    // Lose the database entirely.
    on_server(&format!("DROP DATABASE {} WITH (FORCE)", stack.db.name)).await;
    assert!(
        PgConnection::connect(&stack.db.url).await.is_err(),
        "the database is gone"
    );

    // 1. From the file: restore creates the database again.
    restore(&stack, dir.path(), dump_arg);
    assert_eq!(
        snapshot(&stack.db.url).await,
        before,
        "restored from the file"
    );

    // Change the data, then 2. restore from S3 over it.
    let ondeck = stack.spawn(Mode::Serve, &[]).await;
    stack.signup(&ondeck, "Late", "+14155550399").await;
    drop(ondeck);
    let changed = snapshot(&stack.db.url).await;
    assert_ne!(
        changed, before,
        "a signup after the backup changes the data"
    );
    restore(&stack, dir.path(), &format!("s3://{S3_BUCKET}/{key}"));
    assert_eq!(
        snapshot(&stack.db.url).await,
        before,
        "restored from S3 over changed data"
    );

    // ondeck serves the restored data as before (tokens and the show too).
    let ondeck = stack.spawn(Mode::Serve, &[]).await;
    assert_eq!(
        api_view(&stack, &ondeck).await,
        view_before,
        "the leaderboard and games after the restore"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_bad_input_and_changes_nothing() {
    let db = Db::create().await;
    db.cli(&["show", "create", "--name", "Kept", "--date", "2026-11-21"])
        .await;
    let before = snapshot(&db.url).await;
    let dir = TempDir::new("restore-bad");
    let garbage = dir.path().join("garbage.dump");
    std::fs::write(&garbage, b"not a dump").expect("write a file");
    let garbage = garbage.to_str().expect("a UTF-8 path");

    let no_target = script(
        "deploy/restore",
        &[garbage],
        &[("DATABASE_URL", db.url.clone())],
    );
    assert!(
        !no_target.status.success(),
        "no --target: refused even with DATABASE_URL set"
    );
    assert!(
        String::from_utf8_lossy(&no_target.stderr).contains("--target"),
        "the refusal says what is missing: {}",
        String::from_utf8_lossy(&no_target.stderr)
    );

    for source in [garbage, "/nonexistent/ondeck.dump"] {
        let bad = script("deploy/restore", &["--target", &db.url, source], &[]);
        assert!(!bad.status.success(), "{source}: refused");
        assert!(
            String::from_utf8_lossy(&bad.stderr).contains("nothing was changed"),
            "{source}: says nothing changed: {}",
            String::from_utf8_lossy(&bad.stderr)
        );
    }
    assert_eq!(snapshot(&db.url).await, before, "the database is untouched");

    // A server that does not answer: a clear failure that never prints the
    // URL's password.
    let mut url = reqwest::Url::parse(&db.url).expect("a URL");
    url.set_password(Some("hunter2-secret"))
        .expect("set a password");
    url.set_port(Some(free_port())).expect("set a port");
    let out = dir.path().join("x.dump");
    let failed = script(
        "deploy/backup",
        &["--out", out.to_str().expect("a UTF-8 path")],
        &[("DATABASE_URL", url.to_string())],
    );
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        !failed.status.success(),
        "a backup that cannot connect fails"
    );
    assert!(
        !stderr.contains("hunter2-secret"),
        "the password is never printed: {stderr}"
    );
    assert!(!out.exists(), "no dump is left behind");
}
