//! Venue cues end to end: the real `ondeck run` process with a cue file, a
//! pseudo-terminal pair (socat) standing in for the USB–DMX interface, and a
//! webhook target inside the test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use ondeck_testkit::venue::{Interface, Target, frame, webhook_target};
use ondeck_testkit::{Mode, Ondeck, Reply, Stack, TempDir, eventually};
use serde_json::{Value, json};
use sha2::Sha256;

/// The file-level line that gives the webhooks of [`cue_file`] their secret.
const SIGNED: &str = r#"webhook_secret = "file-secret""#;

/// A cue file whose `in-game` webhook posts to `hook`; `head` is its first
/// line (a file-level `webhook_secret`, or nothing when the secret comes from
/// the environment).
fn cue_file(dir: &Path, head: &str, hook: &str) -> PathBuf {
    let path = dir.join("cues.toml");
    std::fs::write(
        &path,
        format!(
            r#"{head}
[[cues.attractor.actions]]
type = "dmx"
channels = [{{ channel = 1, value = 8 }}, {{ channel = 512, value = 255 }}]

[[cues.in-game.actions]]
type = "dmx"
channels = [{{ channel = 1, value = 200 }}, {{ channel = 2, value = 100 }}]

[[cues.in-game.actions]]
type = "webhook"
url = "{hook}"

[[cues.boston.actions]]
type = "dmx"
channels = [{{ channel = 3, value = 77 }}]

[on]
playing = "in-game"

[on.team]
"Red Sox" = "boston"
"#
        ),
    )
    .expect("write the cue file");
    path
}

/// Signs a player up and confirms their game; returns it and how long its
/// `play` took.
async fn play(stack: &Stack, ondeck: &Ondeck, name: &str, mobile: &str) -> (i64, Duration) {
    let player = stack.signup(ondeck, name, mobile).await;
    let game = player["active_game"]["id"].as_i64().expect("a game");
    stack.advance(ondeck, game, &["confirm"]).await;
    let started = Instant::now();
    stack.advance(ondeck, game, &["play"]).await;
    (game, started.elapsed())
}

/// Makes "Red Sox" the only team, and plays a game of a player who joins it
/// on confirm; returns how long `play` took.
async fn play_for_the_red_sox(stack: &Stack, ondeck: &Ondeck) -> Duration {
    let team = json!({"name": "Red Sox"});
    stack
        .post(ondeck, &stack.tokens.admin, "/api/v1/teams", team)
        .await
        .expect(201);
    play(stack, ondeck, "Dee", "+14155550101").await.1
}

/// Fires the cue `name` by hand with `token`.
async fn fire(stack: &Stack, ondeck: &Ondeck, token: &str, name: &str) -> Reply {
    stack
        .post(ondeck, token, "/api/v1/cues", json!({"cue": name}))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dmx_frames_follow_cues_and_survive_a_missing_device() {
    let stack = Stack::new().await;
    let dir = TempDir::new("cues-dmx");
    let mut interface = Interface::start(dir.path());
    let cues = cue_file(dir.path(), SIGNED, "http://127.0.0.1:9/unused");
    let device = dir.path().join("dmx");
    let ondeck = stack
        .spawn(
            Mode::Run,
            &[
                ("CUES_FILE", cues.to_str().expect("utf-8")),
                ("DMX_DEVICE", device.to_str().expect("utf-8")),
            ],
        )
        .await;

    let list = stack
        .get(&ondeck, &stack.tokens.display, "/api/v1/cues")
        .await
        .expect(200);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(3), "{list}");
    let tokens = &stack.tokens;
    fire(&stack, &ondeck, &tokens.display, "attractor")
        .await
        .problem(403);
    fire(&stack, &ondeck, &tokens.tablet, "nope")
        .await
        .problem(404);
    fire(&stack, &ondeck, &tokens.tablet, "attractor")
        .await
        .expect(202);
    let attractor = frame(&[(1, 8), (512, 255)]);
    interface
        .wait_for(&attractor, "the attractor frame", Duration::from_secs(10))
        .await;

    // A transition that fails (play before confirm) fires nothing.
    let cues_queued = "SELECT count(*) FROM outbox WHERE kind = 'cue'";
    let before = stack.db.scalar_i64(cues_queued).await;
    let player = stack.signup(&ondeck, "Eve", "+14155550104").await;
    let early = player["active_game"]["id"].as_i64().expect("a game");
    stack
        .post(
            &ondeck,
            &stack.tokens.game,
            &format!("/api/v1/games/{early}/play"),
            json!({}),
        )
        .await
        .problem(409);
    assert_eq!(stack.db.scalar_i64(cues_queued).await, before);

    // The only team: the player joins it on confirm, and its cue fires with
    // the in-game one when the game starts.
    play_for_the_red_sox(&stack, &ondeck).await;
    let in_game = frame(&[(1, 200), (2, 100), (3, 77), (512, 255)]);
    interface
        .wait_for(&in_game, "the in-game frame", Duration::from_secs(10))
        .await;

    // Unplugged: recorded in /metrics, the API unaffected.
    interface.stop();
    let metrics = eventually(
        "DMX errors in /metrics",
        Duration::from_secs(10),
        async || {
            let text = stack.get(&ondeck, "", "/metrics").await.text();
            text.contains("ondeck_dmx_up 0").then_some(text)
        },
    )
    .await;
    assert!(metrics.contains("ondeck_dmx_errors_total"), "{metrics}");
    stack
        .get(&ondeck, &stack.tokens.display, "/api/v1/cues")
        .await
        .expect(200);

    // Plugged back: the last scene again, no restart.
    let interface = Interface::start(dir.path());
    let what = "the in-game frame after the device returns";
    interface
        .wait_for(&in_game, what, Duration::from_secs(10))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_retried_and_never_slow_a_transition() {
    let stack = Stack::new().await;
    let dir = TempDir::new("cues-hook");
    let target = Arc::new(Mutex::new(Target {
        fail: 2,
        ..Target::default()
    }));
    let hook = webhook_target(target.clone()).await;
    let cues = cue_file(dir.path(), "", &hook);
    let secret = "hook-secret";
    let ondeck = stack
        .spawn(
            Mode::Run,
            &[
                ("CUES_FILE", cues.to_str().expect("utf-8")),
                ("CUES_WEBHOOK_SECRET", secret),
            ],
        )
        .await;

    // Two 500s, then delivered.
    let (game, _) = play(&stack, &ondeck, "Ada", "+14155550102").await;
    let (body, signature) = eventually("the webhook", Duration::from_secs(20), async || {
        target.lock().expect("lock").received.first().cloned()
    })
    .await;
    assert_eq!(target.lock().expect("lock").posts, 3);
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(&body);
    assert_eq!(
        signature,
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    );
    let body: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(body["cue"], "in-game");
    assert_eq!(body["game"]["id"], game);
    assert_eq!(body["game"]["state"], "playing");
    assert!(
        chrono::DateTime::parse_from_rfc3339(body["at"].as_str().expect("at")).is_ok(),
        "{body}"
    );

    // A slow target does not slow the transition.
    target.lock().expect("lock").delay = Duration::from_secs(2);
    let (_, took) = play(&stack, &ondeck, "Bo", "+14155550103").await;
    assert!(took < Duration::from_secs(1), "play took {took:?}");
    eventually("the second webhook", Duration::from_secs(20), async || {
        (target.lock().expect("lock").received.len() == 2).then_some(())
    })
    .await;
}

#[test]
fn cues_check_names_the_line_of_the_first_problem() {
    let dir = TempDir::new("cues-check");
    let good = cue_file(dir.path(), SIGNED, "http://127.0.0.1:9/hook");
    let run = |file: &Path| {
        Command::new(env!("CARGO_BIN_EXE_ondeck"))
            .args(["cues", "check"])
            .arg(file)
            .output()
            .expect("run ondeck")
    };
    let ok = run(&good);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("3 cues"));

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[cues.a.actions]]\ntype = \"dmx\"\nchannels = [\n  { channel = 1, value = 1 },\n  { channel = 600, value = 1 },\n]\n",
    )
    .expect("write");
    let out = run(&bad);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!("{}:5: ", bad.display())),
        "{stderr}"
    );
    assert!(stderr.contains("600"), "{stderr}");

    let dangling = dir.path().join("dangling.toml");
    std::fs::write(&dangling, "[on]\nplaying = \"in-game\"\n").expect("write");
    let out = run(&dangling);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(":2: no cue is named \"in-game\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The runs of cue actions as the admin sees them (`query` starts with `?`).
async fn runs(stack: &Stack, ondeck: &Ondeck, query: &str) -> Vec<Value> {
    let page = stack
        .admin_get(ondeck, &format!("/api/v1/cues/runs{query}"))
        .await;
    page["items"].as_array().cloned().unwrap_or_default()
}

/// Waits up to `limit` until a run is listed for `query`; returns the first.
async fn first_run(stack: &Stack, ondeck: &Ondeck, query: &str, limit: Duration) -> Value {
    let what = format!("a cue run listed for {query}");
    eventually(&what, limit, async || {
        runs(stack, ondeck, query).await.into_iter().next()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_always_fails_is_recorded_failed_and_shown() {
    let stack = Stack::new().await;
    let dir = TempDir::new("cues-failing");
    let target = Arc::new(Mutex::new(Target {
        fail: usize::MAX,
        ..Target::default()
    }));
    let hook = webhook_target(target.clone()).await;
    // Credentials and a token in the URL must never be shown.
    let secret_hook = format!(
        "{}?token=t0ken-in-query",
        hook.replacen("http://", "http://hookuser:hookpass@", 1)
    );
    let cues = cue_file(dir.path(), SIGNED, &secret_hook);
    let ondeck = stack
        .spawn(Mode::Run, &[("CUES_FILE", cues.to_str().expect("utf-8"))])
        .await;

    // The transition is not held up by the failing target.
    let (game, took) = play(&stack, &ondeck, "Ada", "+14155550102").await;
    assert!(took < Duration::from_secs(1), "play took {took:?}");
    let query = "?status=retrying&kind=webhook";
    let retrying = first_run(&stack, &ondeck, query, Duration::from_secs(10)).await;
    assert_eq!(retrying["cue"], "in-game");
    assert!(
        retrying["error"]
            .as_str()
            .is_some_and(|e| e.contains("500")),
        "{retrying}"
    );

    // Five attempts (0.5 + 1 + 2 + 4 s apart), then failed for good.
    let failed = first_run(&stack, &ondeck, "?status=failed", Duration::from_secs(30)).await;
    assert_eq!(failed["kind"], "webhook");
    assert_eq!(failed["cue"], "in-game");
    assert_eq!(failed["game_id"], game);
    assert_eq!(failed["attempts"], 5);
    assert_eq!(target.lock().expect("lock").posts, 5);
    assert_eq!(
        failed["error"],
        "the target answered 500 Internal Server Error"
    );
    assert_eq!(failed["target"].as_str(), Some(hook.as_str()));
    assert!(failed["finished_at"].is_string(), "{failed}");

    // The DMX action of the same cue waits for a process with DMX_DEVICE.
    let dmx = runs(&stack, &ondeck, "?kind=dmx").await;
    assert!(!dmx.is_empty());
    for run in &dmx {
        assert_eq!(run["status"], "pending", "{run}");
        assert_eq!(run["attempts"], 0, "{run}");
    }
    assert_eq!(runs(&stack, &ondeck, "?status=ok").await.len(), 0);

    // Nothing secret in the list, in JSON or CSV.
    let all = stack
        .get(&ondeck, &stack.tokens.admin, "/api/v1/cues/runs")
        .await
        .text();
    let csv = stack
        .get(&ondeck, &stack.tokens.admin, "/api/v1/cues/runs?format=csv")
        .await;
    assert!(
        csv.content_type.starts_with("text/csv"),
        "{}",
        csv.content_type
    );
    assert!(
        csv.text().contains("the target answered 500"),
        "{}",
        csv.text()
    );
    for text in [all, csv.text()] {
        for secret in ["t0ken-in-query", "hookpass", "hookuser"] {
            assert!(!text.contains(secret), "{secret} shown: {text}");
        }
    }

    // The list's filters check their input; only admins read it.
    let bad = stack
        .get(
            &ondeck,
            &stack.tokens.admin,
            "/api/v1/cues/runs?status=broken&kind=x",
        )
        .await
        .problem(422);
    assert!(bad["errors"]["status"].is_array(), "{bad}");
    assert!(bad["errors"]["kind"].is_array(), "{bad}");
    for token in [
        &stack.tokens.tablet,
        &stack.tokens.game,
        &stack.tokens.display,
    ] {
        stack
            .get(&ondeck, token, "/api/v1/cues/runs")
            .await
            .problem(403);
    }

    // Counted in /metrics.
    let metrics = stack.get(&ondeck, "", "/metrics").await.text();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("ondeck_webhook_errors_total") && l.ends_with(" 5")),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dmx_jobs_wait_for_the_process_with_the_device_and_retry_a_missing_one() {
    let stack = Stack::new().await;
    let dir = TempDir::new("cues-split");
    let target = Arc::new(Mutex::new(Target::default()));
    let hook = webhook_target(target.clone()).await;
    let cues = cue_file(dir.path(), SIGNED, &hook);
    let cues = cues.to_str().expect("utf-8");
    let device = dir.path().join("dmx");
    // The API and a worker without DMX_DEVICE (say, in the cloud).
    let api = stack.spawn(Mode::Serve, &[("CUES_FILE", cues)]).await;
    let mut cloud = stack.spawn(Mode::Work, &[("CUES_FILE", cues)]).await;
    cloud
        .wait_for_log("worker running", Duration::from_secs(20))
        .await;

    fire(&stack, &api, &stack.tokens.tablet, "in-game")
        .await
        .expect(202);
    // The cue ran there: its webhook was delivered...
    first_run(
        &stack,
        &api,
        "?kind=webhook&status=ok",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(target.lock().expect("lock").received.len(), 1);
    // ...but its DMX scene is not for that process: it stays queued.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let dmx = runs(&stack, &api, "?kind=dmx").await;
    assert_eq!(dmx.len(), 1, "{dmx:?}");
    assert_eq!(dmx[0]["status"], "pending");
    assert_eq!(dmx[0]["attempts"], 0);
    assert!(dmx[0]["target"].is_null(), "{}", dmx[0]);

    // The on-site worker starts with its interface unplugged: the scene is
    // tried, the error recorded, and tried again.
    let device_path = device.to_str().expect("utf-8");
    let _venue = stack
        .spawn(
            Mode::Work,
            &[("CUES_FILE", cues), ("DMX_DEVICE", device_path)],
        )
        .await;
    let retrying = eventually("a retrying DMX run", Duration::from_secs(20), async || {
        runs(&stack, &api, "?kind=dmx&status=retrying")
            .await
            .into_iter()
            .find(|r| r["attempts"].as_i64() >= Some(2))
    })
    .await;
    assert_eq!(retrying["target"], device_path);
    let error = retrying["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with(&format!("cannot open {device_path}")),
        "{retrying}"
    );
    // Transitions go on meanwhile (and fire the cue again).
    let took = play_for_the_red_sox(&stack, &api).await;
    assert!(took < Duration::from_secs(1), "play took {took:?}");

    // Plugged in: the scenes reach it, and every run is ok.
    let interface = Interface::start(dir.path());
    let in_game = frame(&[(1, 200), (2, 100), (3, 77)]);
    interface
        .wait_for(&in_game, "the in-game frame", Duration::from_secs(20))
        .await;
    eventually("every DMX run ok", Duration::from_secs(20), async || {
        let dmx = runs(&stack, &api, "?kind=dmx").await;
        (dmx.len() == 3 && dmx.iter().all(|r| r["status"] == "ok")).then_some(())
    })
    .await;
    let first = runs(&stack, &api, "?kind=dmx&cue=in-game").await;
    let first = first.last().expect("the first in-game run");
    // At least one attempt failed before the one that reached the device.
    assert!(first["attempts"].as_i64() >= Some(2), "{first}");
    assert!(
        first["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("cannot open")),
        "{first}"
    );
    assert_eq!(first["target"], device_path);

    // The worker without the device never served the DMX queue.
    assert!(cloud.is_running());
    assert!(cloud.log().contains("\"dmx\":false"), "{}", cloud.log());
}
