//! A process that stops, end to end with real processes:
//!
//! - SIGTERM under load: requests in progress finish, event streams end
//!   cleanly, jobs in progress finish, and the process exits within
//!   `SHUTDOWN_TIMEOUT_SECONDS`; a job that would take longer goes back to
//!   the queue and runs once after a restart.
//! - SIGKILL with texts pending: after a restart each goes out exactly once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ondeck_testkit::pages::fills;
use ondeck_testkit::sse::Subscriber;
use ondeck_testkit::{
    Load, Mode, Outcome, RowLock, Stack, assert_all, eventually, field, mobile, next_mobile,
    signal, those,
};
use serde_json::json;

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
    let welcome = field(&stack.show(&ondeck).await, "welcome_message");
    let subscriber = Subscriber::connect(&stack, &ondeck, None).await;

    // A request held in progress: a transition waiting for a row lock that
    // the test holds past the signal.
    let player = stack.signup(&ondeck, "Held", &next_mobile()).await;
    let game = player["active_game"]["id"].as_i64().expect("the game");
    let lock = RowLock::take(&stack.db, game).await;
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
    lock.release().await;
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
    let all = record.all();
    let before = those(&all, |o| o.started + Duration::from_millis(100) < signalled);
    assert!(before.len() >= 5, "load before SIGTERM: {}", before.len());
    assert_all(&before, "requests in progress at SIGTERM", Outcome::ok);
    assert_all(&all, "requests after SIGTERM", |o| {
        o.ok() || o.status.is_err()
    });
    // The texts in progress finished: none is left with the provider.
    let in_flight = stack
        .db
        .count("messages WHERE attempt_started_at IS NOT NULL AND status = 'queued'")
        .await;
    assert_eq!(in_flight, 0, "texts cut off at the provider");

    // The rest of the jobs wait in the outbox or in Redis: after a restart
    // every player is texted once.
    stack.twilio.set_delay(Duration::ZERO);
    let _second = stack.spawn(Mode::Run, &[]).await;
    let mut numbers = record.signed_up();
    numbers.push(field(&player, "mobile_number"));
    stack
        .assert_texted_once(&numbers, &welcome, Duration::from_secs(60))
        .await;
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
    let welcome = field(&stack.show(&ondeck).await, "welcome_message");
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
        .count("outbox WHERE relayed_at IS NULL AND done_at IS NULL")
        .await;
    assert_eq!(waiting, 1, "the text's job is back in the outbox");

    // After a restart it runs again: the provider already has the text (the
    // attempt was cut off after it was taken), so it is not sent again.
    stack.twilio.set_delay(Duration::ZERO);
    let second = stack.spawn(Mode::Run, &[]).await;
    let sent = stack
        .sent_messages(&second, "kind=welcome", 1, Duration::from_secs(60))
        .await;
    assert_eq!(sent[0]["to"], mobile.as_str());
    stack
        .assert_texted_once(&[mobile], &welcome, Duration::from_secs(1))
        .await;
    assert_eq!(stack.twilio.posts(), 1, "one POST to the provider in all");
    stack.assert_provider_calls_were_valid();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_pending_when_the_process_is_killed_go_out_exactly_once_after_a_restart() {
    const PLAYERS: u32 = 50;
    let stack = Stack::new().await;
    // A slow provider and few texts at once: most of them are still pending
    // (in the outbox, in Redis, held by the worker or with the provider) when
    // the process dies.
    stack.twilio.set_delay(Duration::from_millis(300));
    let mut first = stack.spawn(Mode::Run, &[("WORKER_CONCURRENCY", "2")]).await;
    let welcome = field(&stack.show(&first).await, "welcome_message");
    let numbers: Vec<String> = (0..PLAYERS).map(|i| mobile(2000 + i)).collect();
    let names: Vec<String> = (0..PLAYERS).map(|i| format!("Kill{i}")).collect();
    let signups = names
        .iter()
        .zip(&numbers)
        .map(|(name, number)| stack.signup(&first, name, number))
        .collect();
    ondeck_testkit::at_most(8, signups).await;
    eventually(
        "the first texts to reach the provider",
        Duration::from_secs(30),
        async || (stack.twilio.posts() >= 3).then_some(()),
    )
    .await;
    first.kill();
    let before = stack.twilio.accepted().len();
    assert!(
        before < 40,
        "the kill came too late to leave texts pending ({before} of {PLAYERS} already sent)"
    );
    let started = Instant::now();

    stack.twilio.set_delay(Duration::ZERO);
    let second = stack.spawn(Mode::Run, &[]).await;
    eventually(
        &format!("a welcome text to each of the {PLAYERS} players after the restart"),
        Duration::from_secs(90),
        async || {
            let accepted = stack.twilio.accepted();
            let mut per_number: HashMap<&str, usize> = HashMap::new();
            for sms in &accepted {
                *per_number.entry(sms.to.as_str()).or_default() += 1;
            }
            if let Some((to, n)) = per_number.iter().find(|(_, n)| **n > 1) {
                panic!("{n} texts to {to}:\n{}", stack.twilio.summary());
            }
            (per_number.len() == numbers.len()).then_some(())
        },
    )
    .await;
    let recovered_in = started.elapsed();
    let listed = stack
        .sent_messages(
            &second,
            "kind=welcome",
            numbers.len(),
            Duration::from_secs(30),
        )
        .await;
    // A duplicate would show now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let accepted = stack.twilio.accepted();
    assert_eq!(
        accepted.len(),
        numbers.len(),
        "one text per player: {}",
        stack.twilio.summary()
    );
    for number in &numbers {
        let texts = stack.twilio.to(number);
        assert_eq!(texts.len(), 1, "one welcome to {number}");
        assert!(fills(&welcome, &texts[0].body), "{}", texts[0].body);
        let row = listed
            .iter()
            .find(|m| m["to"] == number.as_str())
            .unwrap_or_else(|| panic!("a message to {number}: {listed:?}"));
        assert_eq!(
            row["provider_id"],
            texts[0].sid.as_str(),
            "the provider's id for {number}: {row}"
        );
    }
    eprintln!(
        "{before} of {PLAYERS} texts were out at the kill; the rest went out {recovered_in:?} \
         after it ({} list requests to the provider)",
        stack.twilio.lists()
    );
    stack.assert_provider_calls_were_valid();
}
