//! Cue webhooks are signed with a real key and go only where the cue file
//! says: a cue file with a webhook that has no secret from any source is a
//! configuration error, and a target that redirects costs a failed attempt,
//! never a request to the host it redirects to.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::{StatusCode, header};
use ondeck_testkit::process::run_ondeck;
use ondeck_testkit::redis::redis_url;
use ondeck_testkit::{Mode, Stack, TempDir, eventually};
use serde_json::{Value, json};

/// A cue `lights` with a DMX action and a webhook to `url`; `head` goes
/// before the cues (a file-level secret, say).
fn cue_file(dir: &TempDir, head: &str, url: &str) -> std::path::PathBuf {
    let path = dir.path().join("cues.toml");
    let text = format!(
        "{head}\n[[cues.lights.actions]]\ntype = \"dmx\"\nchannels = [{{ channel = 1, value = 9 }}]\n\n\
         [[cues.lights.actions]]\ntype = \"webhook\"\nurl = \"{url}\"\n"
    );
    std::fs::write(&path, text).expect("write the cue file");
    path
}

#[tokio::test]
async fn a_webhook_without_a_secret_is_refused_by_the_check_and_at_start() {
    let dir = TempDir::new("webhook-unsigned");
    let unsigned = cue_file(&dir, "", "http://127.0.0.1:9/hook");
    let path = unsigned.to_str().expect("utf-8");

    let check = run_ondeck(&["cues", "check", path], &[]).await;
    assert_eq!(check.status.code(), Some(1), "{check:?}");
    let err = String::from_utf8_lossy(&check.stderr);
    // The webhook's table header is on line 6 of the file.
    assert!(err.starts_with(&format!("{path}:6: ")), "{err}");
    assert!(
        err.contains("\"lights\" has no secret") && err.contains("CUES_WEBHOOK_SECRET"),
        "{err}"
    );

    // A secret from the environment, or in the file, will do.
    let with_env = run_ondeck(
        &["cues", "check", path],
        &[("CUES_WEBHOOK_SECRET", "from-env")],
    )
    .await;
    assert!(with_env.status.success(), "{with_env:?}");
    let signed_dir = TempDir::new("webhook-signed");
    let signed = cue_file(
        &signed_dir,
        "webhook_secret = \"in-the-file\"",
        "http://127.0.0.1:9/hook",
    );
    let in_file = run_ondeck(&["cues", "check", signed.to_str().expect("utf-8")], &[]).await;
    assert!(in_file.status.success(), "{in_file:?}");

    // Every command that would send webhooks refuses to start: exit 2, one
    // line naming the file, before it connects to anything (nothing listens
    // on port 1).
    let redis = redis_url();
    for command in ["run", "serve", "work"] {
        let out = run_ondeck(
            &[command],
            &[
                ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none"),
                ("REDIS_URL", &redis),
                ("CUES_FILE", path),
            ],
        )
        .await;
        assert_eq!(out.status.code(), Some(2), "ondeck {command}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "ondeck {command}: {err}");
        assert!(
            err.contains("CUES_FILE") && err.contains("no secret"),
            "ondeck {command}: {err}"
        );
    }
}

/// A web server counting the requests it gets, answering each with `status`
/// and `Location: location`.
async fn counting_server(status: StatusCode, location: String) -> (String, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    let app = axum::Router::new().fallback(move || {
        let counted = counted.clone();
        let location = location.clone();
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            (status, [(header::LOCATION, location)])
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_follows_no_redirect_and_records_it_as_a_failed_attempt() {
    let stack = Stack::new().await;
    let (elsewhere, stolen) = counting_server(StatusCode::OK, String::new()).await;
    for redirect in [
        StatusCode::TEMPORARY_REDIRECT,
        StatusCode::PERMANENT_REDIRECT,
    ] {
        let (target, posts) = counting_server(redirect, elsewhere.clone()).await;
        let dir = TempDir::new("webhook-redirect");
        let cues = cue_file(&dir, "webhook_secret = \"s3cret\"", &target);
        let ondeck = stack
            .spawn(Mode::Run, &[("CUES_FILE", cues.to_str().expect("utf-8"))])
            .await;
        stack
            .post(
                &ondeck,
                &stack.tokens.admin,
                "/api/v1/cues",
                json!({"cue": "lights"}),
            )
            .await
            .expect(202);

        // Five attempts (0.5 + 1 + 2 + 4 s apart), each a redirect not
        // followed, then failed for good.
        let failed: Value = eventually("the failed webhook", Duration::from_secs(30), async || {
            let page = stack
                .get(
                    &ondeck,
                    &stack.tokens.admin,
                    "/api/v1/cues/runs?kind=webhook&status=failed",
                )
                .await
                .expect(200);
            let runs = page["items"].as_array()?;
            runs.iter().find(|run| run["target"] == target).cloned()
        })
        .await;
        assert_eq!(failed["attempts"], 5, "{failed}");
        assert_eq!(
            failed["error"],
            format!("the target answered {redirect} (redirects are not followed)"),
            "{failed}"
        );
        assert_eq!(posts.load(Ordering::SeqCst), 5, "{redirect}");
        assert_eq!(stolen.load(Ordering::SeqCst), 0, "{redirect}: followed");
        drop(ondeck);
    }
}
