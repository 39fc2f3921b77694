//! Read/write routing with a real streaming replica (docs/deployments.md,
//! `DATABASE_READ_URL`): a private primary made by `initdb` and a replica of
//! it made by `pg_basebackup -R`, both on loopback, and the real `ondeck
//! serve` given both URLs. The replica's replay is paused to tell which
//! server answered a read; then each server is stopped in turn under a
//! running ondeck. See `testkit/src/postgres/cluster.rs`.

use std::time::{Duration, Instant};

use ondeck_testkit::postgres::Cluster;
use ondeck_testkit::{Mode, Ondeck, Stack, cli, eventually};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection as _, PgConnection};

/// Runs one statement on the server at `url`, over a connection of its own.
async fn execute(url: &str, sql: &str) {
    let mut conn = PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    sqlx::query(AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = conn.close().await;
}

/// `/readyz`: its status and body.
async fn readyz(stack: &Stack, ondeck: &Ondeck) -> (u16, Value) {
    let reply = stack.send(ondeck, Method::GET, "/readyz", None, None).await;
    (reply.status, reply.json())
}

/// Waits until `/readyz` reports the replica as `replica` and reads going
/// to `reads`; returns the status and body.
async fn wait_for_routing(
    stack: &Stack,
    ondeck: &Ondeck,
    replica: &str,
    reads: &str,
) -> (u16, Value) {
    let what = format!("{} to report replica {replica}, reads {reads}", ondeck.name);
    eventually(&what, Duration::from_secs(30), async || {
        let (status, body) = readyz(stack, ondeck).await;
        (body["replica"] == replica && body["reads"] == reads).then_some((status, body))
    })
    .await
}

async fn game_state(stack: &Stack, ondeck: &Ondeck, token: &str, game: i64) -> String {
    let game = stack
        .get(ondeck, token, &format!("/api/v1/games/{game}"))
        .await
        .expect(200);
    game["state"]
        .as_str()
        .unwrap_or_else(|| panic!("a state: {game}"))
        .to_owned()
}

async fn transition(
    stack: &Stack,
    ondeck: &Ondeck,
    token: &str,
    game: i64,
    name: &str,
) -> ondeck_testkit::Reply {
    let path = format!("/api/v1/games/{game}/{name}");
    stack
        .send(ondeck, Method::POST, &path, Some(token), None)
        .await
}

async fn token(url: &str, role: &str) -> String {
    named_token(url, role, role).await
}

async fn named_token(url: &str, role: &str, name: &str) -> String {
    let printed = cli(url, &["token", "create", "--role", role, "--name", name]).await;
    printed.trim().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_go_to_the_replica_and_survive_either_database_going_down() {
    let mut primary = Cluster::primary();
    let mut replica = Cluster::replica_of(&primary);
    let (primary_url, replica_url) = (primary.url("postgres"), replica.url("postgres"));
    cli(&primary_url, &["migrate"]).await;
    // Client A writes (a tablet); client B only reads (the display board).
    let writer = token(&primary_url, "tablet").await;
    let reader = token(&primary_url, "display").await;
    // Used for the first time just after the primary stops.
    let newcomer = named_token(&primary_url, "display", "newcomer").await;
    cli(
        &primary_url,
        &[
            "show",
            "create",
            "--name",
            "Replica Derby",
            "--date",
            "2026-11-21",
        ],
    )
    .await;

    let stack = Stack::new().await;
    let both = [
        ("DATABASE_URL", primary_url.as_str()),
        ("DATABASE_READ_URL", replica_url.as_str()),
    ];
    // A lag limit that a paused replay will not reach during the test...
    let patient = [
        both.as_slice(),
        &[("DATABASE_READ_MAX_LAG_SECONDS", "3600")],
    ]
    .concat();
    let mut ondeck = stack.spawn(Mode::Serve, &patient).await;
    // ... and a process that gives up on a replica one second behind.
    let strict = [both.as_slice(), &[("DATABASE_READ_MAX_LAG_SECONDS", "1")]].concat();
    let strict = stack.spawn(Mode::Serve, &strict).await;
    let (status, _) = wait_for_routing(&stack, &ondeck, "ok", "replica").await;
    assert_eq!(status, 200);
    wait_for_routing(&stack, &strict, "ok", "replica").await;

    let player = json!({"first_name": "Ada", "last_name": "Lovelace", "handedness": "R"});
    let player = stack
        .post(&ondeck, &writer, "/api/v1/players", player)
        .await
        .expect(201);
    let game = player["active_game"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("the player's game: {player}"));
    eventually(
        "the reader to see the new game",
        Duration::from_secs(10),
        async || {
            let path = format!("/api/v1/games/{game}");
            let reply = stack.get(&ondeck, &reader, &path).await;
            (reply.status == 200).then_some(())
        },
    )
    .await;

    // Replay paused: the replica keeps what it has.
    execute(&replica_url, "SELECT pg_wal_replay_pause()").await;
    let queued = transition(&stack, &ondeck, &writer, game, "queue")
        .await
        .expect(200);
    assert_eq!(
        queued["state"], "queued",
        "the answer to a write is the new state"
    );
    assert_eq!(
        game_state(&stack, &ondeck, &writer, game).await,
        "queued",
        "a client reads its own write at once (from the primary)"
    );
    assert_eq!(
        game_state(&stack, &ondeck, &reader, game).await,
        "new",
        "another client reads from the replica, which has not replayed the write"
    );
    let listed = stack
        .get(&ondeck, &reader, "/api/v1/games?state=queued")
        .await
        .expect(200);
    assert_eq!(
        listed["items"],
        json!([]),
        "lists come from the replica too"
    );
    let (status, body) = readyz(&stack, &ondeck).await;
    assert_eq!(
        (status, &body["replica"], &body["reads"]),
        (200, &json!("ok"), &json!("replica")),
        "{body}"
    );
    // Past its limit, the strict process reads from the primary.
    let (status, body) = wait_for_routing(&stack, &strict, "lagging", "primary").await;
    assert_eq!(
        status, 200,
        "a lagging replica does not make ondeck unready: {body}"
    );
    assert!(
        body["replica_lag_seconds"]
            .as_f64()
            .is_some_and(|lag| lag > 1.0),
        "{body}"
    );
    assert_eq!(game_state(&stack, &strict, &reader, game).await, "queued");

    execute(&replica_url, "SELECT pg_wal_replay_resume()").await;
    eventually(
        "the replica to replay the write",
        Duration::from_secs(10),
        async || (game_state(&stack, &ondeck, &reader, game).await == "queued").then_some(()),
    )
    .await;
    wait_for_routing(&stack, &strict, "ok", "replica").await;

    // The replica down: reads go to the primary.
    replica.stop();
    let (status, body) = wait_for_routing(&stack, &ondeck, "down", "primary").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(game_state(&stack, &ondeck, &reader, game).await, "queued");
    stack
        .get(&ondeck, &reader, "/api/v1/games")
        .await
        .expect(200);
    replica.start();
    wait_for_routing(&stack, &ondeck, "ok", "replica").await;

    // The primary down: reads from the replica, writes refused at once. A
    // token not seen before is looked up on the replica even before the
    // next check notices the primary is gone.
    primary.stop();
    assert_eq!(game_state(&stack, &ondeck, &newcomer, game).await, "queued");
    let what = "/readyz to answer 503 with writes refused";
    let (status, body) = eventually(what, Duration::from_secs(10), async || {
        let (status, body) = readyz(&stack, &ondeck).await;
        (status == 503 && body["writes"] == "refused").then_some((status, body))
    })
    .await;
    assert_eq!(
        (status, &body["database"]),
        (503, &json!("unavailable")),
        "{body}"
    );
    assert_eq!(body["reads"], "replica", "{body}");
    assert_eq!(game_state(&stack, &ondeck, &reader, game).await, "queued");
    assert_eq!(game_state(&stack, &ondeck, &writer, game).await, "queued");
    let listed = stack
        .get(&ondeck, &reader, "/api/v1/games")
        .await
        .expect(200);
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    stack
        .send(
            &ondeck,
            Method::GET,
            "/api/v1/games",
            Some("odk_not_a_token"),
            None,
        )
        .await
        .problem(401);
    let started = Instant::now();
    let refused = transition(&stack, &ondeck, &writer, game, "confirm").await;
    let problem = refused.problem(503);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a write is refused at once, not after a timeout: {:?}",
        started.elapsed()
    );
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("primary database is unavailable"),
        "{problem}"
    );

    // The primary back: writes resume in the same process.
    let pid = ondeck.pid();
    primary.start();
    let confirmed = eventually(
        "a write to succeed again",
        Duration::from_secs(30),
        async || {
            let reply = transition(&stack, &ondeck, &writer, game, "confirm").await;
            (reply.status == 200).then(|| reply.json())
        },
    )
    .await;
    assert_eq!(confirmed["state"], "confirmed");
    assert_eq!(
        game_state(&stack, &ondeck, &writer, game).await,
        "confirmed"
    );
    assert!(
        ondeck.is_running() && ondeck.pid() == pid,
        "ondeck was not restarted"
    );
    let (status, body) = readyz(&stack, &ondeck).await;
    assert_eq!((status, &body["database"]), (200, &json!("ok")), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_token_is_refused_at_once_while_the_replica_has_not_replayed_the_revocation() {
    let primary = Cluster::primary();
    let replica = Cluster::replica_of(&primary);
    let (primary_url, replica_url) = (primary.url("postgres"), replica.url("postgres"));
    cli(&primary_url, &["migrate"]).await;
    let reader = token(&primary_url, "display").await;
    let stack = Stack::new().await;
    let both = [
        ("DATABASE_URL", primary_url.as_str()),
        ("DATABASE_READ_URL", replica_url.as_str()),
        ("DATABASE_READ_MAX_LAG_SECONDS", "3600"),
    ];
    let ondeck = stack.spawn(Mode::Serve, &both).await;
    wait_for_routing(&stack, &ondeck, "ok", "replica").await;
    eventually(
        "the replica to have the token",
        Duration::from_secs(10),
        async || {
            let reply = stack.get(&ondeck, &reader, "/api/v1/shows").await;
            (reply.status == 200).then_some(())
        },
    )
    .await;

    // The replica keeps the token live: only the primary knows it is revoked.
    execute(&replica_url, "SELECT pg_wal_replay_pause()").await;
    cli(&primary_url, &["token", "revoke", "display"]).await;
    let revoked_at = Instant::now();
    let mut statuses = Vec::new();
    while revoked_at.elapsed() < Duration::from_secs(3) {
        let reply = stack.get(&ondeck, &reader, "/api/v1/shows").await;
        statuses.push((revoked_at.elapsed().as_millis(), reply.status));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let late: Vec<_> = statuses
        .iter()
        .filter(|(ms, status)| *ms >= 1000 && *status != 401)
        .collect();
    assert!(
        late.is_empty(),
        "from a second after the revocation on, every request is refused, whatever the replica says: {statuses:?}"
    );
    execute(&replica_url, "SELECT pg_wal_replay_resume()").await;
}
