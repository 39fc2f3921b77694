//! What ondeck depends on goes away mid-flight, end to end with real
//! processes:
//!
//! - PostgreSQL stopped and started again under load: requests answer 503
//!   at once during the outage and succeed after it, without restarting
//!   ondeck; every signup answered 201 is kept and texted exactly once; a
//!   player's page answers as it last was throughout.
//! - Redis killed (losing everything it held) and started again under
//!   load: requests never notice, and no job is lost or sent twice; signups
//!   made while Redis is down are texted once it is back.
//! - Clients that hang up mid-request: nothing answered 2xx is lost, no
//!   text goes out twice, no connection is left inside a transaction.
//!
//! The load is [`ondeck_testkit::Load`]: tablets running signup → queue →
//! confirm → cancel over and over.

use std::time::{Duration, Instant};

use ondeck_testkit::pages::{self, fills};
use ondeck_testkit::postgres::Cluster;
use ondeck_testkit::{Load, Mode, Outcome, Stack, assert_all, eventually, field, mobile, those};
use serde_json::json;

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
    let welcome = field(&stack.show(&ondeck).await, "welcome_message");
    // A player following their page before the outage.
    let ann = pages::sign_up(&stack, &ondeck, "Ann").await;
    assert_eq!(
        pages::status(&stack, &ondeck, &ann.code).await["state"],
        "new"
    );
    let load = Load::start(&stack, &ondeck, 6);
    tokio::time::sleep(Duration::from_secs(3)).await;

    let down_at = Instant::now();
    cluster.stop();
    stack
        .readyz_becomes(&ondeck, 503, Duration::from_secs(5))
        .await;
    // The outage goes on under load. The player's page answers as it last
    // was: pages are outside the API's 503 and kept in memory.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let page = pages::status(&stack, &ondeck, &ann.code).await;
    assert_eq!(
        (&page["first_name"], &page["state"]),
        (&json!("Ann"), &json!("new")),
        "{page}"
    );
    let up_at = Instant::now();
    cluster.start();
    stack
        .readyz_becomes(&ondeck, 200, Duration::from_secs(20))
        .await;
    let ready_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let record = load.stop().await;

    assert!(
        ondeck.is_running() && ondeck.pid() == pid,
        "the same ondeck process served throughout"
    );
    let all = record.all();
    assert_all(&all, "every request answers 2xx or a 503 problem", |o| {
        o.ok() || o.unavailable()
    });
    let limit = Duration::from_millis(ACQUIRE_MS) + Duration::from_secs(2);
    assert_all(&all, "no request waits past the acquire timeout", |o| {
        o.took < limit
    });
    let before = those(&all, |o| o.started + o.took < down_at);
    assert!(
        before.len() >= 10,
        "load before the outage: {}",
        before.len()
    );
    assert_all(&before, "before the outage", Outcome::ok);
    // Once ondeck has seen the outage (its check runs every second), a
    // request is refused at once.
    let known = those(&all, |o| {
        o.started > down_at + Duration::from_millis(2500) && o.started < up_at
    });
    assert!(known.len() >= 20, "load during the outage: {}", known.len());
    assert_all(&known, "during the outage", |o| {
        o.unavailable() && o.took < Duration::from_millis(250)
    });
    let after = those(&all, |o| o.started > ready_at + Duration::from_secs(1));
    assert!(after.len() >= 10, "load after the outage: {}", after.len());
    assert_all(&after, "after the outage", Outcome::ok);

    // Every signup answered 201 is kept, and texted once.
    record.assert_kept(&stack).await;
    let signed_up = record.signed_up();
    stack
        .assert_texted_once(&signed_up, &welcome, Duration::from_secs(60))
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
    let welcome = field(&stack.show(&ondeck).await, "welcome_message");
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

    let all = record.all();
    assert!(all.len() >= 20, "load: {} requests", all.len());
    assert_all(&all, "Redis is never the requests' business", Outcome::ok);
    let numbers = record.signed_up();
    stack
        .assert_texted_once(&numbers, &welcome, Duration::from_secs(60))
        .await;
    let sent = stack
        .sent_messages(
            &ondeck,
            "kind=welcome",
            numbers.len(),
            Duration::from_secs(20),
        )
        .await
        .len();
    assert!(
        ondeck.log().contains("Redis has lost the jobs it held"),
        "the relay noticed that Redis came back empty"
    );
    // A duplicate would show now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stack
        .assert_texted_once(&numbers, &welcome, Duration::from_secs(1))
        .await;
    eprintln!(
        "{} signups, {sent} welcomes sent once each; {queued_in_redis} jobs were in Redis \
         when it was killed",
        numbers.len()
    );
    stack.assert_provider_calls_were_valid();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signups_during_a_redis_outage_answer_201_and_text_once_redis_is_back() {
    let mut stack = Stack::new().await;
    let ondeck = stack.spawn(Mode::Run, &[]).await;
    let welcome = field(&stack.show(&ondeck).await, "welcome_message");
    stack
        .readyz_becomes(&ondeck, 200, Duration::from_secs(20))
        .await;

    stack.redis.stop();
    stack
        .readyz_becomes(&ondeck, 503, Duration::from_secs(10))
        .await;
    let numbers: Vec<String> = (0..5).map(|i| mobile(300 + i)).collect();
    for (i, number) in numbers.iter().enumerate() {
        let name = format!("Outage{i}");
        let signup = stack.signup(&ondeck, &name, number);
        tokio::time::timeout(Duration::from_secs(10), signup)
            .await
            .unwrap_or_else(|_| panic!("signup {i} answers within 10 s while Redis is down"));
    }
    // Long enough for the relay and the workers to meet the outage.
    tokio::time::sleep(Duration::from_secs(2)).await;

    stack.redis.start();
    for number in &numbers {
        let texts = stack.texts_to(number, 1, Duration::from_secs(45)).await;
        assert!(fills(&welcome, &texts[0].body), "{}", texts[0].body);
    }
    let sent = stack
        .sent_messages(&ondeck, "kind=welcome", 5, Duration::from_secs(10))
        .await;
    assert_eq!(sent.len(), 5);
    tokio::time::sleep(Duration::from_secs(1)).await;
    for number in &numbers {
        assert_eq!(
            stack.twilio.to(number).len(),
            1,
            "one welcome to {number}: {}",
            stack.twilio.summary()
        );
    }
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
    let welcome = field(&stack.show(&ondeck).await, "welcome_message");
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
    let all = record.all();
    assert!(all.len() >= 20, "the normal load: {}", all.len());
    assert_all(&all, "the normal load succeeds throughout", Outcome::ok);
    record.assert_kept(&stack).await;
    let mut texted = record.signed_up();
    for r in &cut_off {
        r.assert_kept(&stack).await;
        texted.extend(r.signed_up());
    }
    // Also fails if any number got a text twice, cut-off signups' included.
    stack
        .assert_texted_once(&texted, &welcome, Duration::from_secs(60))
        .await;
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
