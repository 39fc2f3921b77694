//! Load from tablets, for the tests of faults under load: each tablet runs
//! signup → queue → confirm → cancel over and over (cancels make the server
//! auto-recall waiting players, so recall texts go out too), and every
//! request is recorded as its client saw it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::pages::fills;
use crate::process::Ondeck;
use crate::stack::{Stack, next_mobile};
use crate::wait::eventually;

/// One request of the load, as its client saw it.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub step: &'static str,
    pub started: Instant,
    pub took: Duration,
    /// The status, or why no response came.
    pub status: Result<u16, String>,
    pub content_type: String,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.status.as_ref().is_ok_and(|s| (200..300).contains(s))
    }

    /// A 503 with a problem body: the only failure an outage may cause.
    pub fn unavailable(&self) -> bool {
        self.status == Ok(503) && self.content_type.starts_with("application/problem+json")
    }
}

/// What the tablets did: every request, and each signup's number with its
/// status and game.
#[derive(Default)]
pub struct Record {
    pub outcomes: Vec<Outcome>,
    pub signups: Vec<(String, Result<u16, String>, Option<i64>)>,
}

impl Record {
    /// Every request.
    pub fn all(&self) -> Vec<&Outcome> {
        self.outcomes.iter().collect()
    }

    /// The numbers of the signups answered 201.
    pub fn signed_up(&self) -> Vec<String> {
        self.signups
            .iter()
            .filter(|(_, status, _)| *status == Ok(201))
            .map(|(mobile, _, _)| mobile.clone())
            .collect()
    }

    /// Every signup answered 201 has its game in the database.
    pub async fn assert_kept(&self, stack: &Stack) {
        let kept: Vec<i64> = self
            .signups
            .iter()
            .filter(|(_, status, _)| *status == Ok(201))
            .filter_map(|(_, _, game)| *game)
            .collect();
        if kept.is_empty() {
            return;
        }
        let ids: Vec<String> = kept.iter().map(i64::to_string).collect();
        let found = stack
            .db
            .count(&format!("games WHERE id IN ({})", ids.join(",")))
            .await;
        assert_eq!(found, kept.len() as i64, "every 201 signup's game");
    }
}

/// Tablets running the lifecycle until stopped.
pub struct Load {
    stop: Arc<AtomicBool>,
    record: Arc<Mutex<Record>>,
    tablets: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    pub fn start(stack: &Stack, ondeck: &Ondeck, tablets: usize) -> Load {
        // A request may not hang: past this it counts as failed.
        Load::start_with(stack, ondeck, tablets, Duration::from_secs(20))
    }

    /// Tablets that give up on a request after `patience`: the request
    /// counts as failed and its connection is dropped.
    pub fn start_with(stack: &Stack, ondeck: &Ondeck, tablets: usize, patience: Duration) -> Load {
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

    pub async fn stop(self) -> Record {
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
pub fn assert_all(outcomes: &[&Outcome], what: &str, allowed: impl Fn(&Outcome) -> bool) {
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

/// The outcomes of `all` that `keep` chooses.
pub fn those<'a>(all: &[&'a Outcome], keep: impl Fn(&Outcome) -> bool) -> Vec<&'a Outcome> {
    all.iter().copied().filter(|o| keep(o)).collect()
}

impl Stack {
    /// Waits until every number in `once` has a text that is `body` (a
    /// show's text, its `{link}` filled in), and checks that no number got
    /// any text twice.
    pub async fn assert_texted_once(&self, once: &[String], body: &str, limit: Duration) {
        let what = format!("one text {body:?} to each of {} numbers", once.len());
        eventually(&what, limit, async || {
            let accepted = self.twilio.accepted();
            let mut seen: HashMap<(&str, &str), usize> = HashMap::new();
            for sms in &accepted {
                *seen.entry((&sms.to, &sms.body)).or_default() += 1;
            }
            if let Some(((to, text), n)) = seen.iter().find(|(_, n)| **n > 1) {
                panic!("{n} texts {text:?} to {to}:\n{}", self.twilio.summary());
            }
            once.iter()
                .all(|to| seen.keys().any(|(t, text)| t == to && fills(body, text)))
                .then_some(())
        })
        .await;
    }
}
