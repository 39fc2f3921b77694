//! A local HTTP server standing in for Sentry's ingestion endpoint, for
//! the error-reporting tests of the API and of the worker.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::Path;
use axum::routing::post;
use serde_json::{Value, json};

use crate::process::serve_in_task;
use crate::wait::eventually;

/// Sentry's ingestion API as the SDK uses it: envelopes (and the older
/// store endpoint) POSTed per project, recorded as they came.
pub struct FakeSentry {
    pub dsn: String,
    bodies: Arc<Mutex<Vec<Bytes>>>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeSentry {
    pub async fn start() -> FakeSentry {
        let bodies: Arc<Mutex<Vec<Bytes>>> = Arc::default();
        let record = {
            let bodies = bodies.clone();
            move |Path(project): Path<String>, body: Bytes| {
                let bodies = bodies.clone();
                async move {
                    assert_eq!(project, "42", "the DSN's project");
                    bodies.lock().expect("the bodies").push(body);
                    axum::Json(json!({"id": "0123456789abcdef0123456789abcdef"}))
                }
            }
        };
        let app = axum::Router::new()
            .route("/api/{project}/envelope/", post(record.clone()))
            .route("/api/{project}/store/", post(record));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Sentry");
        let (addr, server) = serve_in_task(listener, app);
        FakeSentry {
            dsn: format!("http://public0key@{addr}/42"),
            bodies,
            server,
        }
    }

    /// Everything received, as text.
    pub fn raw(&self) -> String {
        let bodies = self.bodies.lock().expect("the bodies");
        bodies
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The events received: in an envelope, the line after an item header
    /// of type `event` (the SDK writes each item as one JSON line).
    pub fn events(&self) -> Vec<Value> {
        let raw = self.raw();
        let lines: Vec<Value> = raw
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or(Value::Null))
            .collect();
        lines
            .windows(2)
            .filter(|pair| pair[0]["type"] == "event")
            .map(|pair| pair[1].clone())
            .collect()
    }

    /// Waits for the `n`th event, then a little longer to see that no
    /// other follows; returns them all.
    pub async fn exactly(&self, n: usize) -> Vec<Value> {
        eventually(
            &format!("{n} Sentry event(s)"),
            Duration::from_secs(15),
            async || (self.events().len() >= n).then_some(()),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let events = self.events();
        assert_eq!(events.len(), n, "exactly {n} event(s): {events:#?}");
        events
    }

    #[track_caller]
    pub fn assert_nothing_secret(&self, secrets: &[&str]) {
        let raw = self.raw();
        for secret in secrets {
            assert!(
                !raw.contains(secret),
                "{secret:?} was sent to Sentry: {raw}"
            );
        }
    }
}

impl Drop for FakeSentry {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Sentry leaves out the level of an event at its default, `error`.
#[track_caller]
pub fn assert_error_level(event: &Value) {
    assert!(
        event["level"].is_null() || event["level"] == "error",
        "level error: {event:#}"
    );
}
