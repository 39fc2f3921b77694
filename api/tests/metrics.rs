//! `/metrics` after a game is played through HTTP: requests by route and
//! status with latency buckets, transitions by target state, games by
//! state, the outbox backlog, texts by status, jobs by kind and outcome, the
//! pools; and the Grafana dashboard in `deploy/grafana/` uses only metrics
//! that ondeck exports.

use std::collections::BTreeSet;
use std::time::Duration;

use ondeck_domain::models::Role;
use ondeck_testkit::TestApp;
use ondeck_testkit::{Mode, Stack, eventually};
use serde_json::{Value, json};
use sqlx::PgPool;

/// One sample of a Prometheus text exposition.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter(|l| !l.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').expect("label=value");
                    (k.to_owned(), v.trim_matches('"').to_owned())
                })
                .collect();
            Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().unwrap_or(f64::NAN),
            }
        })
        .collect()
}

/// The value of the series `name` with exactly these labels (in any
/// order); 0 when it is absent.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
        })
        .map_or(0.0, |s| s.value)
}

/// Families announced by `# TYPE` lines.
fn families(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

async fn scrape(app: &TestApp) -> String {
    let reply = app
        .send(reqwest::Method::GET, "/metrics", None, None, &[])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.content_type.starts_with("text/plain"), "{reply:?}");
    reply.text()
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn metrics_follow_a_game_from_signup_to_completion(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    // Counters are per process and other tests of this binary count too:
    // what this test did is the difference between two scrapes.
    let before = parse(&scrape(&app).await);

    let game = app.new_game_with_mobile("Ada", 1).await;
    for t in ["queue", "confirm", "play"] {
        app.transition(game, t).await.expect(200);
    }
    app.complete(game, 1200, 410, 4).await;
    // Queued after the completion, so no auto-recall takes it.
    let waiting = app.new_game("Bo").await;
    app.transition(waiting, "queue").await.expect(200);
    // Two refusals: a 409 and a 404.
    app.transition(game, "play").await.problem(409);
    app.get(Role::Admin, "/api/v1/games/999999")
        .await
        .problem(404);

    let text = scrape(&app).await;
    let after = parse(&text);
    let delta = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };

    // Requests by method, route template and status.
    let requests = "ondeck_http_requests_total";
    for (method, route, status, n) in [
        ("POST", "/api/v1/players", "201", 2.0),
        ("POST", "/api/v1/games/{id}/queue", "200", 2.0),
        ("POST", "/api/v1/games/{id}/play", "409", 1.0),
        ("GET", "/api/v1/games/{id}", "404", 1.0),
    ] {
        let labels = [("method", method), ("route", route), ("status", status)];
        assert_eq!(delta(requests, &labels), n, "{labels:?}: {text}");
    }

    // Latency: a histogram with buckets, not a summary.
    let players = [
        ("method", "POST"),
        ("route", "/api/v1/players"),
        ("status", "201"),
    ];
    let latency = "ondeck_http_request_duration_seconds";
    assert_eq!(delta(&format!("{latency}_count"), &players), 2.0, "{text}");
    assert!(delta(&format!("{latency}_sum"), &players) > 0.0, "{text}");
    let bucket = |le: &'static str| {
        let mut labels = players.to_vec();
        labels.push(("le", le));
        delta(&format!("{latency}_bucket"), &labels)
    };
    assert_eq!(bucket("+Inf"), 2.0, "{text}");
    assert!(bucket("0.001") <= bucket("0.25"), "{text}");
    assert!(bucket("30") == 2.0, "{text}");

    // Transitions by target state.
    let transitions = "ondeck_transitions_total";
    for (to, n) in [
        ("queued", 2.0),
        ("confirmed", 1.0),
        ("playing", 1.0),
        ("completed", 1.0),
        ("recalled", 0.0),
    ] {
        assert_eq!(delta(transitions, &[("to", to)]), n, "to {to}: {text}");
    }

    // The current show's games by state, read at the scrape.
    for (state, n) in [
        ("new", 0.0),
        ("queued", 1.0),
        ("recalled", 0.0),
        ("confirmed", 0.0),
        ("playing", 0.0),
        ("completed", 1.0),
        ("cancelled", 0.0),
    ] {
        assert_eq!(
            value(&after, "ondeck_games", &[("state", state)]),
            n,
            "{state}: {text}"
        );
    }

    // No worker runs here: the welcome text and the souvenir wait in the
    // outbox, and no text has been written yet.
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE relayed_at IS NULL")
        .fetch_one(&app.pool)
        .await
        .expect("the outbox");
    assert!(pending >= 2, "the welcome text and the souvenir: {pending}");
    let backlog = "ondeck_outbox_backlog";
    assert_eq!(
        value(&after, backlog, &[("stage", "pending")]),
        pending as f64
    );
    assert_eq!(value(&after, backlog, &[("stage", "relayed")]), 0.0);
    for status in ["queued", "sent", "failed", "delivered"] {
        let series = format!("ondeck_messages{{status=\"{status}\"}} 0\n");
        assert!(text.contains(&series), "{series}: {text}");
    }

    // The pool: connections open, idle and the most there may be.
    let pool = |state: &str| {
        value(
            &after,
            "ondeck_db_pool_connections",
            &[("pool", "primary"), ("state", state)],
        )
    };
    assert!(pool("open") >= 1.0, "{text}");
    assert!(pool("idle") <= pool("open"), "{text}");
    assert_eq!(
        value(
            &after,
            "ondeck_db_pool_max_connections",
            &[("pool", "primary")]
        ),
        24.0,
        "the test server's pool: {text}"
    );
}

/// Every `ondeck_*` name in the dashboard's PromQL, without the suffixes a
/// histogram's series add.
fn dashboard_metrics() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/grafana/ondeck.json");
    let text = std::fs::read_to_string(path).expect("the dashboard");
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        let targets = panel["targets"].as_array();
        if panel["type"] == "row" {
            continue;
        }
        let targets = targets.unwrap_or_else(|| panic!("a panel without targets: {panel}"));
        assert!(!targets.is_empty(), "a panel without targets: {panel}");
        for target in targets {
            let expr = target["expr"].as_str().expect("a PromQL expr");
            exprs.push(expr.to_owned());
        }
    }
    let mut names = BTreeSet::new();
    for expr in exprs {
        let mut rest = expr.as_str();
        while let Some(at) = rest.find("ondeck_") {
            let name: String = rest[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[at + name.len()..];
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(&name);
            names.insert(base.to_owned());
        }
    }
    names
}

/// The body of a 200 answer to a GET of `url`.
async fn fetch(stack: &Stack, url: &str) -> Option<String> {
    let response = stack.http.get(url).send().await.ok()?;
    if response.status() != 200 {
        return None;
    }
    response.text().await.ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_uses_only_metrics_that_ondeck_exports() {
    let stack = Stack::new().await;
    let ondeck = stack.spawn(Mode::Run, &[]).await;
    let mobile = "+14155550101";
    let player = stack.signup(&ondeck, "Ada", mobile).await;
    let game = player["active_game"]["id"].as_i64().expect("a game");
    for t in ["queue", "confirm", "play"] {
        stack
            .post(
                &ondeck,
                &stack.tokens.admin,
                &format!("/api/v1/games/{game}/{t}"),
                json!({}),
            )
            .await
            .expect(200);
    }
    stack
        .post(
            &ondeck,
            &stack.tokens.game,
            &format!("/api/v1/games/{game}/complete"),
            json!({"score": 900, "distance": 380, "homeruns": 3}),
        )
        .await
        .expect(200);
    // The welcome and the souvenir texts, after the souvenir's render.
    stack.texts_to(mobile, 2, Duration::from_secs(30)).await;
    let text = eventually(
        "the jobs in /metrics",
        Duration::from_secs(10),
        async || {
            let text = fetch(&stack, &format!("{}/metrics", ondeck.base)).await?;
            let samples = parse(&text);
            let sent = value(
                &samples,
                "ondeck_jobs_total",
                &[("kind", "text"), ("outcome", "sent")],
            );
            let rendered = value(
                &samples,
                "ondeck_jobs_total",
                &[("kind", "souvenir"), ("outcome", "rendered")],
            );
            let texts = value(&samples, "ondeck_messages", &[("status", "sent")]);
            (sent == 2.0 && rendered == 1.0 && texts == 2.0).then_some(text)
        },
    )
    .await;

    let exported = families(&text);
    let used = dashboard_metrics();
    assert!(used.len() >= 8, "the dashboard's metrics: {used:?}");
    let missing: Vec<_> = used.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "the dashboard uses {missing:?}, which /metrics does not export; it exports {exported:?}"
    );
    stack.assert_provider_calls_were_valid();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_separate_worker_serves_its_own_metrics_on_metrics_addr() {
    let stack = Stack::new().await;
    let api = stack.spawn(Mode::Serve, &[]).await;
    let metrics_addr = format!("127.0.0.1:{}", ondeck_testkit::free_port());
    let _worker = stack
        .spawn(Mode::Work, &[("METRICS_ADDR", &metrics_addr)])
        .await;
    let mobile = "+14155550102";
    stack.signup(&api, "Ada", mobile).await;
    stack.texts_to(mobile, 1, Duration::from_secs(30)).await;

    let samples = eventually(
        "the worker's /metrics",
        Duration::from_secs(15),
        async || {
            let text = fetch(&stack, &format!("http://{metrics_addr}/metrics")).await?;
            let samples = parse(&text);
            let sent = value(
                &samples,
                "ondeck_jobs_total",
                &[("kind", "text"), ("outcome", "sent")],
            );
            (sent == 1.0).then_some(samples)
        },
    )
    .await;
    assert!(
        value(&samples, "ondeck_outbox_relayed_total", &[]) >= 1.0,
        "{samples:?}"
    );
    assert_eq!(
        value(
            &samples,
            "ondeck_db_pool_max_connections",
            &[("pool", "primary")]
        ),
        6.0,
        "DATABASE_POOL_SIZE of the stack: {samples:?}"
    );
    // The API process counted no job: the worker did the work.
    let api_metrics = fetch(&stack, &format!("{}/metrics", api.base))
        .await
        .expect("the API's /metrics");
    assert!(!api_metrics.contains("ondeck_jobs_total"), "{api_metrics}");
    assert!(
        api_metrics.contains(r#"ondeck_messages{status="sent"} 1"#),
        "the API reads the texts from the database: {api_metrics}"
    );
}
