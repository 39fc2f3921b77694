//! Error reporting (`SENTRY_DSN`) of the worker, in a real `ondeck run`
//! against a local stand-in for Sentry: a text the provider refuses gives
//! one event with the job's context and no phone number or token. (Apart
//! from `sentry.rs`, whose test process reports its own panics.)

use ondeck_testkit::sentry::{FakeSentry, assert_error_level};
use ondeck_testkit::{Mode, Stack};

const MOBILE: &str = "+14155552671";

#[tokio::test(flavor = "multi_thread")]
async fn a_text_the_provider_refuses_gives_one_event_with_the_job_and_no_pii() {
    let sentry = FakeSentry::start().await;
    let stack = Stack::new().await;
    // A sender the provider does not know: it refuses every text with a 400
    // whose message names the number, so the text fails for good.
    let wrong_from = "+15005550001";
    let ondeck = stack
        .spawn(
            Mode::Run,
            &[("SENTRY_DSN", &sentry.dsn), ("TWILIO_FROM", wrong_from)],
        )
        .await;
    let player = stack.signup(&ondeck, "Ada", MOBILE).await;
    let game = player["active_game"]["id"].as_i64().expect("a game");

    let events = sentry.exactly(1).await;
    let event = &events[0];
    assert_eq!(event["tags"]["job.kind"], "text", "{event:#}");
    assert_eq!(event["tags"]["job.attempt"], "1", "{event:#}");
    assert!(
        event["tags"]["job.outbox_id"]
            .as_str()
            .is_some_and(|id| id.parse::<i64>().is_ok()),
        "{event:#}"
    );
    assert_eq!(event["transaction"], "job text");
    assert_error_level(event);
    assert!(
        event["release"]
            .as_str()
            .is_some_and(|r| r.starts_with("ondeck@")),
        "{event:#}"
    );
    let failed = stack.messages(&ondeck, &format!("game_id={game}")).await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["status"], "failed", "{failed:?}");

    // The same failure in /metrics: the job's outcome and the texts by status.
    let metrics = stack
        .http
        .get(format!("{}/metrics", ondeck.base))
        .send()
        .await
        .expect("/metrics answers")
        .text()
        .await
        .expect("its text");
    assert!(
        metrics.contains(r#"ondeck_jobs_total{kind="text",outcome="failed"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"ondeck_messages{status="failed"} 1"#),
        "{metrics}"
    );

    sentry.assert_nothing_secret(&[
        "4155552671",
        "5005550001",
        "Ada",
        &stack.tokens.tablet,
        &stack.tokens.admin,
    ]);
}
