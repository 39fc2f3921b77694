//! The limits of docs/limits-and-faults.md, on the real `ondeck serve` with each
//! setting turned down so it is reached: the rate per token
//! (`RATE_LIMIT_PER_SECOND`, `RATE_LIMIT_BURST`), the request timeout
//! (`REQUEST_TIMEOUT_SECONDS`), the cap on event streams
//! (`SSE_MAX_SUBSCRIBERS`) and a busy connection pool
//! (`DATABASE_POOL_SIZE`, `DATABASE_ACQUIRE_TIMEOUT_MS`). Requests are made
//! slow without any test-only route: the test itself locks a game's row, so
//! a transition of that game waits, holding its pool connection. Token
//! look-ups are shown to cost nothing for made-up tokens: refused before a
//! look-up when their address is over its rate, and from memory (while the
//! test holds the tokens table locked) when malformed or refused before.

use std::time::{Duration, Instant};

use ondeck_testkit::{Ondeck, Reply, RowLock, Stack, eventually};
use reqwest::Method;
use serde_json::{Value, json};

/// A response with its `Retry-After`.
struct Answer {
    reply: Reply,
    retry_after: Option<u64>,
}

async fn call(ondeck: &Ondeck, method: Method, path: &str, token: Option<&str>) -> Answer {
    send(&ondeck.base, method, path, token, None).await
}

/// A request to the server at `base`, with an optional JSON body.
async fn send(
    base: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let client = reqwest::Client::new();
    let mut req = client.request(method.clone(), format!("{base}{path}"));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {path} reaches {base}: {e}"));
    let retry_after = res.headers().get("retry-after").map(|v| {
        v.to_str()
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("Retry-After in whole seconds, got {v:?}"))
    });
    Answer {
        reply: Reply::read(res).await,
        retry_after,
    }
}

/// Asserts a 503 problem that says when to come back.
#[track_caller]
fn assert_unavailable(answer: &Answer) -> Value {
    let problem = answer.reply.problem(503);
    assert_eq!(problem["type"], "/problems/unavailable", "{problem}");
    assert!(
        answer.retry_after.is_some_and(|s| s >= 1),
        "a 503 carries Retry-After: {problem}"
    );
    problem
}

/// [`assert_unavailable`], with a detail that says `why`.
#[track_caller]
fn assert_unavailable_for(answer: &Answer, why: &str) {
    let problem = assert_unavailable(answer);
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(why), "the detail says {why:?}: {problem}");
}

/// Signs a player up; returns the id of their (new) game.
async fn new_game(stack: &Stack, ondeck: &Ondeck, name: &str) -> i64 {
    let body = json!({"first_name": name, "last_name": "Limits", "handedness": "R"});
    let player = stack
        .post(ondeck, &stack.tokens.tablet, "/api/v1/players", body)
        .await
        .expect(201);
    player["active_game"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("an active game: {player}"))
}

async fn game_state(stack: &Stack, ondeck: &Ondeck, game: i64) -> String {
    let game = stack.game(ondeck, game).await;
    game["state"].as_str().expect("a state").to_owned()
}

/// After `wait` seconds (what a `Retry-After` named), `token` is served
/// again.
async fn served_again_after(ondeck: &Ondeck, wait: u64, token: Option<&str>) {
    tokio::time::sleep(Duration::from_secs(wait)).await;
    call(ondeck, Method::GET, "/api/v1/queue", token)
        .await
        .reply
        .expect(200);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_token_has_its_own_rate_limit() {
    let (stack, ondeck) =
        Stack::serve(&[("RATE_LIMIT_PER_SECOND", "1"), ("RATE_LIMIT_BURST", "5")]).await;
    let tablet = Some(stack.tokens.tablet.as_str());

    // A burst of signups: the first five pass, then 429s that changed nothing.
    let mut created: i64 = 0;
    let mut limited = None;
    for i in 0..12 {
        let body = json!({"first_name": format!("Burst{i}"), "handedness": "L"});
        let answer = send(
            &ondeck.base,
            Method::POST,
            "/api/v1/players",
            tablet,
            Some(body),
        )
        .await;
        match answer.reply.status {
            201 => created += 1,
            429 => limited = Some(answer),
            other => panic!("a signup answered {other}: {}", answer.reply.text()),
        }
    }
    assert!(
        (5..=7).contains(&created),
        "the burst of five passes, and little more: {created} created"
    );
    let limited = limited.expect("twelve signups at once meet the limit");
    let problem = limited.reply.problem(429);
    assert_eq!(problem["type"], "/problems/rate-limited", "{problem}");
    let wait = limited
        .retry_after
        .expect("a 429 carries Retry-After in whole seconds");
    assert!((1..=2).contains(&wait), "Retry-After {wait} at 1 request/s");
    let players = stack
        .db
        .scalar_i64("SELECT count(*) FROM players")
        .await
        .expect("a count");
    assert_eq!(players, created, "a refused signup writes nothing");

    // Other tokens are not held back by the tablet's burst.
    for token in [&stack.tokens.display, &stack.tokens.admin] {
        call(&ondeck, Method::GET, "/api/v1/queue", Some(token))
            .await
            .reply
            .expect(200);
    }
    // Health checks are never limited.
    for _ in 0..10 {
        for path in ["/healthz", "/readyz", "/metrics"] {
            let answer = call(&ondeck, Method::GET, path, None).await;
            assert_eq!(answer.reply.status, 200, "{path}: {}", answer.reply.text());
        }
    }
    // Requests without a valid token share their address's bucket: a
    // stream of bad tokens meets the limit too.
    let statuses: Vec<u16> = {
        let mut statuses = Vec::new();
        for _ in 0..10 {
            let answer = call(&ondeck, Method::GET, "/api/v1/queue", Some("odk_nonsense")).await;
            statuses.push(answer.reply.status);
        }
        statuses
    };
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429) && statuses.contains(&429),
        "unknown tokens answer 401 until their address is limited: {statuses:?}"
    );

    // After the wait it names, the tablet is served again.
    served_again_after(&ondeck, wait, tablet).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_request_times_out_and_changes_nothing_while_streams_go_on() {
    let (stack, ondeck) = Stack::serve(&[("REQUEST_TIMEOUT_SECONDS", "1")]).await;
    let game = new_game(&stack, &ondeck, "Slow").await;
    assert_eq!(game_state(&stack, &ondeck, game).await, "new");

    // An event stream outlives the request timeout.
    let mut stream = reqwest::Client::new()
        .get(format!("{}/api/v1/events", ondeck.base))
        .bearer_auth(&stack.tokens.display)
        .send()
        .await
        .expect("GET /api/v1/events");
    assert_eq!(stream.status(), 200);

    let lock = RowLock::take(&stack.db, game).await;
    let started = Instant::now();
    let path = format!("/api/v1/games/{game}/queue");
    let answer = call(&ondeck, Method::POST, &path, Some(&stack.tokens.tablet)).await;
    let took = started.elapsed();
    eprintln!("a request past REQUEST_TIMEOUT_SECONDS=1 answered 503 after {took:?}");
    assert_unavailable_for(&answer, "1 s");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "answered after the 1 s limit, not when the lock went: {took:?}"
    );
    // Let the abandoned transition's statement finish: it was rolled back.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    lock.release().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        game_state(&stack, &ondeck, game).await,
        "new",
        "a request that timed out changed nothing"
    );

    // The stream, open for well over the limit, still carries events.
    stack
        .send(
            &ondeck,
            Method::POST,
            &path,
            Some(&stack.tokens.tablet),
            None,
        )
        .await
        .expect(200);
    let mut seen = String::new();
    let event = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(chunk)) = stream.chunk().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("event: game") && seen.contains("\"queued\"") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(
        event,
        Ok(true),
        "the stream delivers the queue event: {seen}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn event_streams_are_capped_per_process() {
    let (stack, ondeck) = Stack::serve(&[("SSE_MAX_SUBSCRIBERS", "2")]).await;
    let open = |token: String| {
        let url = format!("{}/api/v1/events", ondeck.base);
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("GET /api/v1/events")
        }
    };
    let one_more = || {
        call(
            &ondeck,
            Method::GET,
            "/api/v1/events",
            Some(&stack.tokens.display),
        )
    };
    let first = open(stack.tokens.display.clone()).await;
    let second = open(stack.tokens.admin.clone()).await;
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );

    let refused = one_more().await;
    assert_unavailable_for(&refused, "2 subscribers");
    // Other requests are not affected by the cap.
    call(
        &ondeck,
        Method::GET,
        "/api/v1/queue",
        Some(&stack.tokens.display),
    )
    .await
    .reply
    .expect(200);

    // One client leaves: its place is free again (the server notices the
    // closed connection at the latest at its next keep-alive, 15 s).
    drop(first);
    let left = Instant::now();
    let third = eventually(
        "a new subscriber accepted after one left",
        Duration::from_secs(25),
        async || {
            let res = open(stack.tokens.display.clone()).await;
            (res.status() == 200).then_some(res)
        },
    )
    .await;
    eprintln!(
        "a stream's place was free again {:?} after its client left",
        left.elapsed()
    );
    // And the cap holds again with it.
    let refused = one_more().await;
    assert_unavailable(&refused);
    drop((second, third));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_pool_answers_503_quickly_and_recovers() {
    // Two of the four connections are the token and event listeners.
    let (stack, ondeck) = Stack::serve(&[
        ("DATABASE_POOL_SIZE", "4"),
        ("DATABASE_ACQUIRE_TIMEOUT_MS", "1000"),
    ])
    .await;
    let game = new_game(&stack, &ondeck, "Busy").await;
    let other = new_game(&stack, &ondeck, "Other").await;
    // The admin token is known (cached) before the pool fills up.
    assert_eq!(game_state(&stack, &ondeck, other).await, "new");

    let lock = RowLock::take(&stack.db, game).await;
    // More waiting transitions than the pool has connections.
    let path = format!("/api/v1/games/{game}/queue");
    let waiting: Vec<_> = (0..6)
        .map(|_| {
            let (base, token, path) = (
                ondeck.base.clone(),
                stack.tokens.tablet.clone(),
                path.clone(),
            );
            tokio::spawn(async move { send(&base, Method::POST, &path, Some(&token), None).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A read meanwhile: no connection is free, and it says so at once.
    let other_path = format!("/api/v1/games/{other}");
    let read_other = || call(&ondeck, Method::GET, &other_path, Some(&stack.tokens.admin));
    let started = Instant::now();
    let answer = read_other().await;
    let took = started.elapsed();
    eprintln!("a read with the pool full answered 503 after {took:?} (acquire timeout 1 s)");
    assert_unavailable(&answer);
    assert!(
        took < Duration::from_secs(3),
        "a busy pool answers within the 1 s acquire timeout and a margin, not when the lock goes: {took:?}"
    );

    lock.release().await;
    let mut statuses = Vec::new();
    for task in waiting {
        let answer = task.await.expect("the request task");
        if answer.reply.status == 503 {
            assert_unavailable(&answer);
        }
        statuses.push(answer.reply.status);
    }
    statuses.sort_unstable();
    assert!(
        statuses.contains(&503),
        "the transitions beyond the pool were refused: {statuses:?}"
    );
    assert!(
        statuses.iter().filter(|s| **s == 200).count() == 1
            && statuses.iter().all(|s| [200, 409, 503].contains(s)),
        "exactly one queued the game once the lock went: {statuses:?}"
    );

    // Without a restart, everything answers again.
    eventually(
        "the pool serves reads again",
        Duration::from_secs(10),
        async || (read_other().await.reply.status == 200).then_some(()),
    )
    .await;
    assert_eq!(game_state(&stack, &ondeck, game).await, "queued");
}

/// A bearer string of a token's exact shape that no token has.
fn made_up_token(n: u32) -> String {
    format!("odk_{:A>43}", format!("madeup{n}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_address_over_its_rate_gets_a_429_before_any_token_is_looked_up() {
    let (stack, ondeck) =
        Stack::serve(&[("RATE_LIMIT_PER_SECOND", "1"), ("RATE_LIMIT_BURST", "3")]).await;
    // Made-up tokens from one address: 401s until the address's bucket is
    // empty, then 429s.
    let mut statuses = Vec::new();
    for n in 0..10 {
        let token = made_up_token(n);
        let answer = call(&ondeck, Method::GET, "/api/v1/queue", Some(&token)).await;
        statuses.push(answer.reply.status);
        if answer.reply.status == 429 {
            break;
        }
    }
    assert_eq!(
        statuses.last(),
        Some(&429),
        "made-up tokens meet the address's limit: {statuses:?}"
    );
    // A real token this server has not seen yet would need a look-up: the
    // address is over its rate, so it is refused before one.
    let admin = call(
        &ondeck,
        Method::GET,
        "/api/v1/queue",
        Some(&stack.tokens.admin),
    )
    .await;
    assert_eq!(
        admin.reply.status,
        429,
        "no look-up for an address over its rate: {}",
        admin.reply.text()
    );
    let wait = admin.retry_after.expect("Retry-After");
    served_again_after(&ondeck, wait, Some(&stack.tokens.admin)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_and_recently_refused_tokens_are_refused_without_a_query() {
    let (stack, ondeck) = Stack::serve(&[("REQUEST_TIMEOUT_SECONDS", "2")]).await;
    let refused = made_up_token(1);
    call(&ondeck, Method::GET, "/api/v1/queue", Some(&refused))
        .await
        .reply
        .problem(401);

    // From here on every token look-up waits for the test's lock.
    let lock = RowLock::tokens(&stack.db).await;

    for (token, why) in [
        ("odk_nonsense", "not a token's shape"),
        ("odk_", "a prefix alone"),
        (refused.as_str(), "refused a moment ago"),
    ] {
        let started = Instant::now();
        let answer = call(&ondeck, Method::GET, "/api/v1/queue", Some(token)).await;
        answer.reply.problem(401);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{why}: refused at once, without waiting for the database ({:?})",
            started.elapsed()
        );
    }
    // A token never seen does need the database, which is held up.
    let unseen = call(
        &ondeck,
        Method::GET,
        "/api/v1/queue",
        Some(&made_up_token(2)),
    )
    .await;
    assert_unavailable(&unseen);
    lock.release().await;
}
