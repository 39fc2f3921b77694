//! Faults under load, end to end with real processes:
//!
//! - PostgreSQL stopped and started again under load: requests answer 503
//!   at once during the outage and succeed after it, without restarting
//!   ondeck; every signup answered 201 is kept and texted exactly once.
//! - Redis killed (losing everything it held) and started again under
//!   load: requests never notice, and no job is lost or sent twice.
//! - SIGTERM under load: requests in progress finish, event streams end
//!   cleanly, jobs in progress finish, and the process exits within
//!   `SHUTDOWN_TIMEOUT_SECONDS`; a job that would take longer goes back to
//!   the queue and runs once after a restart.
//! - Two API processes and two workers on one database: the races, the
//!   recall window, idempotency, texts and events hold across them.
//!
//! The load is a few tablets each running signup → queue → confirm →
//! cancel over and over (cancels make the server auto-recall waiting
//! players, so recall texts go out too).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ondeck_testkit::postgres::Cluster;
use ondeck_testkit::sse::Subscriber;
use ondeck_testkit::{Mode, Ondeck, Stack, eventually, signal};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;

/// One request of the load, as its client saw it.
#[derive(Debug, Clone)]
struct Outcome {
    step: &'static str,
    started: Instant,
    took: Duration,
    /// The status, or why no response came.
    status: Result<u16, String>,
    content_type: String,
}

impl Outcome {
    fn ok(&self) -> bool {
        self.status.as_ref().is_ok_and(|s| (200..300).contains(s))
    }

    /// A 503 with a problem body: the only failure an outage may cause.
    fn unavailable(&self) -> bool {
        self.status == Ok(503) && self.content_type.starts_with("application/problem+json")
    }
}

/// What the tablets did: every request, and each signup's number with its
/// status.
#[derive(Default)]
struct Record {
    outcomes: Vec<Outcome>,
    signups: Vec<(String, Result<u16, String>, Option<i64>)>,
}

/// Tablets running the lifecycle until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    record: Arc<Mutex<Record>>,
    tablets: Vec<tokio::task::JoinHandle<()>>,
}

/// Numbers no other test of this file's run uses.
static NEXT_NUMBER: AtomicU32 = AtomicU32::new(0);

fn next_mobile() -> String {
    let n = NEXT_NUMBER.fetch_add(1, Ordering::Relaxed);
    format!("+1415556{:04}", n % 10_000)
}

impl Load {
    fn start(stack: &Stack, ondeck: &Ondeck, tablets: usize) -> Load {
        // A request may not hang: past this it counts as failed.
        Load::start_with(stack, ondeck, tablets, Duration::from_secs(20))
    }

    /// Tablets that give up on a request after `patience`: the request
    /// counts as failed and its connection is dropped.
    fn start_with(stack: &Stack, ondeck: &Ondeck, tablets: usize, patience: Duration) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let record = Arc::new(Mutex::new(Record::default()));
        let tablets = (0..tablets)
            .map(|_| {
                let tablet = Tablet {
                    http: reqwest::Client::builder()
                        .timeout(patience)
                        .pool_max_idle_per_host(0)
                        .build()
                        .expect("an HTTP client"),
                    base: ondeck.base.clone(),
                    token: stack.tokens.tablet.clone(),
                    record: record.clone(),
                };
                tokio::spawn(tablet.run(stop.clone()))
            })
            .collect();
        Load {
            stop,
            record,
            tablets,
        }
    }

    async fn stop(self) -> Record {
        self.stop.store(true, Ordering::Relaxed);
        for tablet in self.tablets {
            tablet.await.expect("a tablet's task");
        }
        std::mem::take(&mut *self.record.lock().expect("the record"))
    }
}

struct Tablet {
    http: reqwest::Client,
    base: String,
    token: String,
    record: Arc<Mutex<Record>>,
}

impl Tablet {
    async fn run(self, stop: Arc<AtomicBool>) {
        while !stop.load(Ordering::Relaxed) {
            let mobile = next_mobile();
            let body = json!({"first_name": "Fault", "handedness": "R", "mobile_number": mobile});
            let (outcome, player) = self.call("signup", "/api/v1/players", body).await;
            let game = player.and_then(|p| p["active_game"]["id"].as_i64());
            let status = outcome.status.clone();
            {
                let mut record = self.record.lock().expect("the record");
                record.signups.push((mobile, status, game));
                record.outcomes.push(outcome.clone());
            }
            let Some(game) = game.filter(|_| outcome.ok()) else {
                // The database is away: a tablet tries again shortly.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            for step in ["queue", "confirm", "cancel"] {
                let path = format!("/api/v1/games/{game}/{step}");
                let (outcome, _) = self.call(step, &path, json!({})).await;
                let ok = outcome.ok();
                self.record
                    .lock()
                    .expect("the record")
                    .outcomes
                    .push(outcome);
                if !ok {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    break;
                }
            }
        }
    }

    async fn call(&self, step: &'static str, path: &str, body: Value) -> (Outcome, Option<Value>) {
        let started = Instant::now();
        let sent = self
            .http
            .request(Method::POST, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await;
        let (status, content_type, body) = match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let content_type = response
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                match response.bytes().await {
                    Ok(bytes) => (
                        Ok(status),
                        content_type,
                        serde_json::from_slice(&bytes).ok(),
                    ),
                    Err(e) => (Err(format!("reading the body: {e}")), content_type, None),
                }
            }
            Err(e) => (Err(format!("{e:?}")), String::new(), None),
        };
        let outcome = Outcome {
            step,
            started,
            took: started.elapsed(),
            status,
            content_type,
        };
        (outcome, body)
    }
}

/// Fails with the first few outcomes that `allowed` refuses.
#[track_caller]
fn assert_all(outcomes: &[&Outcome], what: &str, allowed: impl Fn(&Outcome) -> bool) {
    let bad: Vec<String> = outcomes
        .iter()
        .filter(|o| !allowed(o))
        .map(|o| format!("{} → {:?} in {:?}", o.step, o.status, o.took))
        .collect();
    assert!(
        bad.is_empty(),
        "{what}: {} of {} requests broke the rule, e.g. {:#?}",
        bad.len(),
        outcomes.len(),
        &bad[..bad.len().min(5)]
    );
}

async fn readyz(stack: &Stack, ondeck: &Ondeck) -> Option<u16> {
    let url = format!("{}/readyz", ondeck.base);
    let reply = stack.http.get(url).send().await.ok()?;
    Some(reply.status().as_u16())
}

fn text(value: &Value, key: &str) -> String {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is a string: {value}"))
        .to_owned()
}

/// Waits until every number in `once` has exactly one text with `body`, and
/// checks that no number got any body twice.
async fn assert_texted_once(stack: &Stack, once: &[String], body: &str, limit: Duration) {
    let what = format!("one text {body:?} to each of {} numbers", once.len());
    eventually(&what, limit, async || {
        let accepted = stack.twilio.accepted();
        let mut seen: HashMap<(&str, &str), usize> = HashMap::new();
        for sms in &accepted {
            *seen.entry((&sms.to, &sms.body)).or_default() += 1;
        }
        if let Some(((to, text), n)) = seen.iter().find(|(_, n)| **n > 1) {
            panic!("{n} texts {text:?} to {to}:\n{}", stack.twilio.summary());
        }
        once.iter()
            .all(|to| seen.contains_key(&(to.as_str(), body)))
            .then_some(())
    })
    .await;
}

/// Every signup answered 201 has its game in the database.
async fn assert_kept(stack: &Stack, record: &Record) {
    let kept: Vec<i64> = record
        .signups
        .iter()
        .filter(|(_, status, _)| *status == Ok(201))
        .filter_map(|(_, _, game)| *game)
        .collect();
    if kept.is_empty() {
        return;
    }
    let found = stack
        .db
        .scalar_i64(&format!(
            "SELECT count(*) FROM games WHERE id IN ({})",
            kept.iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ))
        .await;
    assert_eq!(found, Some(kept.len() as i64), "every 201 signup's game");
}

/// The numbers of the signups answered 201.
fn signed_up(record: &Record) -> Vec<String> {
    record
        .signups
        .iter()
        .filter(|(_, status, _)| *status == Ok(201))
        .map(|(mobile, _, _)| mobile.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restarted_under_load_answers_503_then_recovers_without_a_restart() {
    const ACQUIRE_MS: u64 = 1500;
    let mut cluster = Cluster::primary();
    let stack = Stack::on_server(&cluster.url("postgres")).await;
    let acquire = ACQUIRE_MS.to_string();
    let mut ondeck = stack
        .spawn(Mode::Run, &[("DATABASE_ACQUIRE_TIMEOUT_MS", &acquire)])
        .await;
    let pid = ondeck.pid();
    let welcome = text(&stack.show(&ondeck).await, "welcome_message");
    let load = Load::start(&stack, &ondeck, 6);
    tokio::time::sleep(Duration::from_secs(3)).await;

    let down_at = Instant::now();
    cluster.stop();
    eventually("/readyz 503", Duration::from_secs(5), async || {
        (readyz(&stack, &ondeck).await == Some(503)).then_some(())
    })
    .await;
    // The outage goes on under load.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let up_at = Instant::now();
    cluster.start();
    eventually("/readyz 200 again", Duration::from_secs(20), async || {
        (readyz(&stack, &ondeck).await == Some(200)).then_some(())
    })
    .await;
    let ready_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let record = load.stop().await;

    assert!(
        ondeck.is_running() && ondeck.pid() == pid,
        "the same ondeck process served throughout"
    );
    let all: Vec<&Outcome> = record.outcomes.iter().collect();
    assert_all(&all, "every request answers 2xx or a 503 problem", |o| {
        o.ok() || o.unavailable()
    });
    let limit = Duration::from_millis(ACQUIRE_MS) + Duration::from_secs(2);
    assert_all(&all, "no request waits past the acquire timeout", |o| {
        o.took < limit
    });
    let before: Vec<&Outcome> = all
        .iter()
        .copied()
        .filter(|o| o.started + o.took < down_at)
        .collect();
    assert!(
        before.len() >= 10,
        "load before the outage: {}",
        before.len()
    );
    assert_all(&before, "before the outage", Outcome::ok);
    // Once ondeck has seen the outage (its check runs every second), a
    // request is refused at once.
    let known: Vec<&Outcome> = all
        .iter()
        .copied()
        .filter(|o| o.started > down_at + Duration::from_millis(2500) && o.started < up_at)
        .collect();
    assert!(known.len() >= 20, "load during the outage: {}", known.len());
    assert_all(&known, "during the outage", |o| {
        o.unavailable() && o.took < Duration::from_millis(250)
    });
    let after: Vec<&Outcome> = all
        .iter()
        .copied()
        .filter(|o| o.started > ready_at + Duration::from_secs(1))
        .collect();
    assert!(after.len() >= 10, "load after the outage: {}", after.len());
    assert_all(&after, "after the outage", Outcome::ok);

    // Every signup answered 201 is kept, and texted once.
    assert_kept(&stack, &record).await;
    assert_texted_once(
        &stack,
        &signed_up(&record),
        &welcome,
        Duration::from_secs(60),
    )
    .await;
    let log = ondeck.log();
    assert!(
        log.contains("the database refuses connections") && log.contains("the database is back"),
        "ondeck noticed the outage and the return"
    );
    eprintln!(
        "{} requests: {} before the outage, {} refused at once during it (slowest {:?}), {} after",
        all.len(),
        before.len(),
        known.len(),
        known.iter().map(|o| o.took).max().unwrap_or_default(),
        after.len()
    );
    stack.assert_provider_calls_were_valid();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_killed_under_load_loses_no_job_and_sends_none_twice() {
    let mut stack = Stack::new().await;
    // A slow provider: texts are queued in Redis and in progress when it dies.
    stack.twilio.set_delay(Duration::from_millis(200));
    let ondeck = stack.spawn(Mode::Run, &[("WORKER_CONCURRENCY", "2")]).await;
    let welcome = text(&stack.show(&ondeck).await, "welcome_message");
    let load = Load::start(&stack, &ondeck, 4);
    eventually("texts under way", Duration::from_secs(30), async || {
        (stack.twilio.posts() >= 5).then_some(())
    })
    .await;
    let queued_in_redis = stack
        .db
        .scalar_i64("SELECT count(*) FROM outbox WHERE relayed_at IS NOT NULL AND done_at IS NULL")
        .await
        .unwrap_or_default();
    // SIGKILL, no persistence: every queue, and every job in them, is gone.
    stack.redis.stop();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stack.redis.start();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let record = load.stop().await;
    stack.twilio.set_delay(Duration::ZERO);

    let all: Vec<&Outcome> = record.outcomes.iter().collect();
    assert!(all.len() >= 20, "load: {} requests", all.len());
    assert_all(&all, "Redis is never the requests' business", Outcome::ok);
    let numbers = signed_up(&record);
    assert_texted_once(&stack, &numbers, &welcome, Duration::from_secs(60)).await;
    let sent = eventually(
        "every welcome recorded as sent",
        Duration::from_secs(20),
        async || {
            let items = stack.messages(&ondeck, "kind=welcome").await;
            (items.len() == numbers.len() && items.iter().all(|m| m["status"] == "sent"))
                .then_some(items.len())
        },
    )
    .await;
    assert!(
        ondeck.log().contains("Redis has lost the jobs it held"),
        "the relay noticed that Redis came back empty"
    );
    // A duplicate would show now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_texted_once(&stack, &numbers, &welcome, Duration::from_secs(1)).await;
    eprintln!(
        "{} signups, {sent} welcomes sent once each; {queued_in_redis} jobs were in Redis \
         when it was killed",
        numbers.len()
    );
    stack.assert_provider_calls_were_valid();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_finishes_what_is_in_progress_and_exits_in_time() {
    const TIMEOUT_S: u64 = 10;
    let stack = Stack::new().await;
    stack.twilio.set_delay(Duration::from_millis(800));
    let timeout = TIMEOUT_S.to_string();
    let mut ondeck = stack
        .spawn(
            Mode::Run,
            &[
                ("SHUTDOWN_TIMEOUT_SECONDS", &timeout),
                ("WORKER_CONCURRENCY", "4"),
            ],
        )
        .await;
    let welcome = text(&stack.show(&ondeck).await, "welcome_message");
    let subscriber = Subscriber::connect(&stack, &ondeck, None).await;

    // A request held in progress: a transition waiting for a row lock that
    // the test holds past the signal.
    let player = stack.signup(&ondeck, "Held", &next_mobile()).await;
    let game = player["active_game"]["id"].as_i64().expect("the game");
    let mut lock = sqlx::PgConnection::connect(&stack.db.url)
        .await
        .expect("a connection of the test's own");
    sqlx::query("BEGIN")
        .execute(&mut lock)
        .await
        .expect("BEGIN");
    sqlx::query("SELECT 1 FROM games WHERE id = $1 FOR UPDATE")
        .bind(game)
        .execute(&mut lock)
        .await
        .expect("the game's row lock");
    let held = {
        let (http, url, token) = (
            stack.http.clone(),
            format!("{}/api/v1/games/{game}/queue", ondeck.base),
            stack.tokens.tablet.clone(),
        );
        tokio::spawn(async move {
            let response = http
                .post(url)
                .bearer_auth(token)
                .json(&json!({}))
                .send()
                .await;
            match response {
                Ok(r) => Ok((r.status().as_u16(), r.text().await.unwrap_or_default())),
                Err(e) => Err(format!("{e:?}")),
            }
        })
    };
    let load = Load::start(&stack, &ondeck, 4);
    eventually(
        "texts in progress at the provider",
        Duration::from_secs(30),
        async || (stack.twilio.posts() >= 3).then_some(()),
    )
    .await;

    let signalled = Instant::now();
    signal(ondeck.pid(), "TERM");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !held.is_finished(),
        "the held request still waits for the lock"
    );
    sqlx::query("COMMIT")
        .execute(&mut lock)
        .await
        .expect("COMMIT");
    let (status, body) = held
        .await
        .expect("the held request's task")
        .expect("the held request gets its answer");
    assert_eq!(
        status, 200,
        "the request in progress at SIGTERM finishes: {body}"
    );

    let limit = Duration::from_secs(TIMEOUT_S + 5);
    let exit = ondeck.wait_for_exit(limit).await;
    let took = signalled.elapsed();
    let record = load.stop().await;
    assert!(exit.success(), "a clean exit: {exit:?}");
    assert!(
        took < Duration::from_secs(TIMEOUT_S),
        "exited {took:?} after SIGTERM; SHUTDOWN_TIMEOUT_SECONDS is {TIMEOUT_S}"
    );
    subscriber
        .end(Duration::from_secs(5))
        .await
        .expect("the event stream was ended by the server, not broken");
    let log = ondeck.log();
    for line in ["API stopped", "worker stopped"] {
        assert!(log.contains(line), "the log says {line:?}");
    }
    assert!(
        !log.contains("shutdown timeout reached"),
        "everything finished in time"
    );

    // Requests sent before the signal all finished; later ones found no
    // server (or one that answered them), never a 5xx.
    let all: Vec<&Outcome> = record.outcomes.iter().collect();
    let before: Vec<&Outcome> = all
        .iter()
        .copied()
        .filter(|o| o.started + Duration::from_millis(100) < signalled)
        .collect();
    assert!(before.len() >= 5, "load before SIGTERM: {}", before.len());
    assert_all(&before, "requests in progress at SIGTERM", Outcome::ok);
    assert_all(&all, "requests after SIGTERM", |o| {
        o.ok() || o.status.is_err()
    });
    // The texts in progress finished: none is left with the provider.
    let in_flight = stack
        .db
        .scalar_i64("SELECT count(*) FROM messages WHERE attempt_started_at IS NOT NULL AND status = 'queued'")
        .await;
    assert_eq!(in_flight, Some(0), "texts cut off at the provider");

    // The rest of the jobs wait in the outbox or in Redis: after a restart
    // every player is texted once.
    stack.twilio.set_delay(Duration::ZERO);
    let _second = stack.spawn(Mode::Run, &[]).await;
    let mut numbers = signed_up(&record);
    numbers.push(text(&player, "mobile_number"));
    assert_texted_once(&stack, &numbers, &welcome, Duration::from_secs(60)).await;
    stack.assert_provider_calls_were_valid();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_slower_than_the_shutdown_timeout_goes_back_to_the_queue_and_runs_once() {
    let stack = Stack::new().await;
    // The provider takes the text and answers only after a minute.
    stack.twilio.set_delay(Duration::from_secs(60));
    let mut ondeck = stack
        .spawn(Mode::Run, &[("SHUTDOWN_TIMEOUT_SECONDS", "2")])
        .await;
    let welcome = text(&stack.show(&ondeck).await, "welcome_message");
    let mobile = next_mobile();
    stack.signup(&ondeck, "Slow", &mobile).await;
    eventually(
        "the text with the provider",
        Duration::from_secs(30),
        async || (stack.twilio.posts() == 1).then_some(()),
    )
    .await;
    let signalled = Instant::now();
    signal(ondeck.pid(), "TERM");
    let exit = ondeck.wait_for_exit(Duration::from_secs(10)).await;
    let took = signalled.elapsed();
    assert!(exit.success(), "a clean exit: {exit:?}");
    assert!(
        took < Duration::from_secs(4),
        "exited {took:?} after SIGTERM with SHUTDOWN_TIMEOUT_SECONDS=2"
    );
    let log = ondeck.log();
    assert!(
        log.contains("jobs still running go back to the queue"),
        "the worker handed its job back"
    );
    let waiting = stack
        .db
        .scalar_i64("SELECT count(*) FROM outbox WHERE relayed_at IS NULL AND done_at IS NULL")
        .await;
    assert_eq!(waiting, Some(1), "the text's job is back in the outbox");

    // After a restart it runs again: the provider already has the text (the
    // attempt was cut off after it was taken), so it is not sent again.
    stack.twilio.set_delay(Duration::ZERO);
    let second = stack.spawn(Mode::Run, &[]).await;
    let sent = eventually(
        "the welcome recorded as sent",
        Duration::from_secs(60),
        async || {
            let items = stack.messages(&second, "kind=welcome").await;
            (items.len() == 1 && items[0]["status"] == "sent").then_some(items)
        },
    )
    .await;
    assert_eq!(sent[0]["to"], mobile.as_str());
    assert_texted_once(&stack, &[mobile], &welcome, Duration::from_secs(1)).await;
    assert_eq!(stack.twilio.posts(), 1, "one POST to the provider in all");
    stack.assert_provider_calls_were_valid();
}

/// Signs up a player with a mobile number through `ondeck` and moves its game
/// along `steps` (as admin); returns the game's id.
async fn game_in(stack: &Stack, ondeck: &Ondeck, name: &str, steps: &[&str]) -> i64 {
    let player = stack.signup(ondeck, name, &next_mobile()).await;
    let game = player["active_game"]["id"].as_i64().expect("the game");
    for step in steps {
        let path = format!("/api/v1/games/{game}/{step}");
        let body = if *step == "complete" {
            json!({"score": 10, "distance": 300, "homeruns": 1})
        } else {
            json!({})
        };
        stack
            .post(ondeck, &stack.tokens.admin, &path, body)
            .await
            .expect(200);
    }
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
    let recalled = stack
        .db
        .scalar_i64("SELECT count(*) FROM games WHERE state = 'recalled'")
        .await;
    assert_eq!(recalled, Some(2), "active recalls after ten completes");

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
            (items.len() == 31).then(|| items.iter().map(|m| text(m, "to")).collect::<Vec<_>>())
        },
    )
    .await;
    let welcome = text(&show, "welcome_message");
    assert_texted_once(&stack, &numbers, &welcome, Duration::from_secs(60)).await;
    let recall_texts = eventually("two recall texts", Duration::from_secs(30), async || {
        let items = stack.messages(&apis[1], "kind=recall&status=sent").await;
        (items.len() == 2).then_some(items)
    })
    .await;
    let recalled_numbers: Vec<String> = recall_texts.iter().map(|m| text(m, "to")).collect();
    let recall = text(&show, "recall_message");
    assert_texted_once(&stack, &recalled_numbers, &recall, Duration::from_secs(5)).await;

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

/// Clients that hang up mid-request, at every point of the handlers, while
/// the venue's normal load runs: nothing answered 2xx is lost, no text goes
/// out twice, and no connection is left inside a transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_that_hang_up_mid_request_leave_nothing_half_done() {
    let cluster = Cluster::primary();
    let stack = Stack::on_server(&cluster.url("postgres")).await;
    let mut ondeck = stack.spawn(Mode::Run, &[]).await;
    let welcome = text(&stack.show(&ondeck).await, "welcome_message");
    let load = Load::start(&stack, &ondeck, 4);
    let hasty = Load::start_with(&stack, &ondeck, 3, Duration::from_millis(10));
    let impatient = Load::start_with(&stack, &ondeck, 3, Duration::from_millis(40));
    tokio::time::sleep(Duration::from_secs(10)).await;
    let cut_off = [hasty.stop().await, impatient.stop().await];
    let record = load.stop().await;

    let gave_up = cut_off
        .iter()
        .flat_map(|r| &r.outcomes)
        .filter(|o| o.status.is_err())
        .count();
    assert!(
        gave_up >= 10,
        "requests given up by their clients: {gave_up}"
    );
    let all: Vec<&Outcome> = record.outcomes.iter().collect();
    assert!(all.len() >= 20, "the normal load: {}", all.len());
    assert_all(&all, "the normal load succeeds throughout", Outcome::ok);
    assert_kept(&stack, &record).await;
    let mut texted = signed_up(&record);
    for r in &cut_off {
        assert_kept(&stack, r).await;
        texted.extend(signed_up(r));
    }
    // Also fails if any number got a text twice, cut-off signups' included.
    assert_texted_once(&stack, &texted, &welcome, Duration::from_secs(60)).await;
    // A connection left inside a transaction shows as the first warning when
    // its next borrower begins one; a COMMIT cut off in flight, as the
    // second (sqlx sends a ROLLBACK after it). Neither may happen.
    let log = std::fs::read_to_string(cluster.log()).expect("the PostgreSQL log");
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains("there is already a transaction in progress")
                || l.contains("there is no transaction in progress")
        })
        .collect();
    assert!(
        warnings.is_empty(),
        "PostgreSQL found connections left inside a transaction: {warnings:#?}"
    );
    assert!(ondeck.is_running(), "ondeck served throughout");
}
