//! What the soak's actors share (`Venue`: the client, the tokens, the
//! counters), and two of them: tablets polling the queue, and staff
//! exporting CSV. Players are in `players`, display boards in `boards`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, Method, StatusCode, Url};
use serde_json::Value;
use tokio::sync::{mpsc, watch};

use super::model::Model;
use crate::http::{chain, id_text};

/// How many failing responses are printed in full; the rest are only counted.
const PRINTED_ERRORS: usize = 10;

/// Requests, errors and latency of one endpoint.
pub struct Endpoint {
    pub requests: u64,
    pub errors: u64,
    /// Microseconds, successful requests only.
    pub latency: Histogram<u64>,
}

/// What a tablet's last look at the queue said about one game.
#[derive(Clone, Copy, Default)]
pub(super) struct Seen {
    pub(super) recalled: bool,
    /// 1-based place among the waiting games.
    pub(super) position: Option<i64>,
}

/// How the players' days ended, and the texts they should have had.
#[derive(Default)]
pub struct Outcomes {
    pub signups: AtomicU64,
    pub with_mobile: AtomicU64,
    pub photos: AtomicU64,
    pub completed: AtomicU64,
    pub completed_with_mobile: AtomicU64,
    pub left: AtomicU64,
    pub no_show_cancelled: AtomicU64,
    pub no_show_expired: AtomicU64,
}

pub struct Tokens {
    pub admin: String,
    pub tablets: Vec<String>,
    pub games: Vec<String>,
    pub displays: Vec<String>,
}

/// Everything the actors share.
pub struct Venue {
    pub http: Client,
    /// No overall timeout: event streams stay open for the whole run.
    pub streams: Client,
    pub base: Url,
    pub tokens: Tokens,
    pub model: Model,
    pub speedup: f64,
    pub teams: Vec<String>,
    pub day: Option<String>,
    pub photo: Bytes,
    /// No request starts after this.
    pub deadline: Instant,
    pub endpoints: Mutex<BTreeMap<&'static str, Endpoint>>,
    pub outcomes: Outcomes,
    /// Games whose `recalled` event (from `queued`) reached a board: one
    /// recall text each.
    pub recalled: Mutex<HashSet<String>>,
    pub(super) seen: Mutex<HashMap<String, watch::Sender<Seen>>>,
    printed_errors: AtomicUsize,
    pub(super) next_player: AtomicU64,
    /// Free stations; a confirmed player waits here for one.
    pub(super) station_tx: mpsc::UnboundedSender<usize>,
    pub(super) station_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<usize>>,
}

impl Venue {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        http: Client,
        streams: Client,
        base: Url,
        tokens: Tokens,
        model: Model,
        speedup: f64,
        teams: Vec<String>,
        day: Option<String>,
        photo: Bytes,
        deadline: Instant,
    ) -> Self {
        let (station_tx, station_rx) = mpsc::unbounded_channel();
        for station in 0..model.stations {
            let _ = station_tx.send(station);
        }
        Self {
            http,
            streams,
            base,
            tokens,
            model,
            speedup,
            teams,
            day,
            photo,
            deadline,
            endpoints: Mutex::new(BTreeMap::new()),
            outcomes: Outcomes::default(),
            recalled: Mutex::new(HashSet::new()),
            seen: Mutex::new(HashMap::new()),
            printed_errors: AtomicUsize::new(0),
            next_player: AtomicU64::new(0),
            station_tx,
            station_rx: tokio::sync::Mutex::new(station_rx),
        }
    }

    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["api", "v1"]).extend(segments);
        }
        url
    }

    pub(super) fn running(&self) -> bool {
        Instant::now() < self.deadline
    }

    /// A venue duration at the soak's speed.
    pub(super) fn venue(&self, seconds: f64) -> Duration {
        Model::scaled(self.speedup, seconds)
    }

    /// Sleeps, unless the run ends first: then returns false.
    pub(super) async fn sleep(&self, duration: Duration) -> bool {
        let until = Instant::now() + duration;
        if until >= self.deadline {
            tokio::time::sleep_until(self.deadline.into()).await;
            return false;
        }
        tokio::time::sleep(duration).await;
        true
    }

    pub fn record(&self, endpoint: &'static str, micros: Option<u64>) {
        let mut endpoints = self.endpoints.lock().expect("endpoints lock");
        let entry = endpoints.entry(endpoint).or_insert_with(|| Endpoint {
            requests: 0,
            errors: 0,
            latency: Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid bounds"),
        });
        entry.requests += 1;
        match micros {
            Some(us) => entry.latency.saturating_record(us.max(1)),
            None => entry.errors += 1,
        }
    }

    pub fn print_error(&self, what: &str, message: &str) {
        let n = self.printed_errors.fetch_add(1, Ordering::Relaxed);
        if n < PRINTED_ERRORS {
            let message: String = message.chars().take(300).collect();
            eprintln!("error: {what}: {message}");
        } else if n == PRINTED_ERRORS {
            eprintln!("error: (further errors are only counted)");
        }
    }

    /// One request as `token`; any status but `expect`, or a transport
    /// error, is an error of `endpoint`. Returns the body on success.
    pub(super) async fn call(
        &self,
        endpoint: &'static str,
        token: &str,
        method: Method,
        url: Url,
        body: Option<(Bytes, &'static str)>,
        expect: StatusCode,
    ) -> Option<Bytes> {
        let mut request = self.http.request(method, url).bearer_auth(token);
        if let Some((bytes, content_type)) = body {
            request = request.header(CONTENT_TYPE, content_type).body(bytes);
        }
        let start = Instant::now();
        let outcome = match request.send().await {
            Ok(response) => {
                let status = response.status();
                match response.bytes().await {
                    Ok(bytes) if status == expect => Ok(bytes),
                    Ok(bytes) => Err(format!("{status}: {}", String::from_utf8_lossy(&bytes))),
                    Err(e) => Err(format!("{status}, then the body failed: {}", chain(&e))),
                }
            }
            Err(e) => Err(chain(&e)),
        };
        let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
        match outcome {
            Ok(bytes) => {
                self.record(endpoint, Some(micros));
                Some(bytes)
            }
            Err(message) => {
                self.record(endpoint, None);
                self.print_error(endpoint, &message);
                None
            }
        }
    }

    pub(super) async fn transition(
        &self,
        token: &str,
        game: &str,
        name: &'static str,
        body: Value,
    ) -> bool {
        let endpoint = match name {
            "queue" => "POST /games/{id}/queue",
            "confirm" => "POST /games/{id}/confirm",
            "play" => "POST /games/{id}/play",
            "complete" => "POST /games/{id}/complete",
            _ => "POST /games/{id}/cancel",
        };
        let body = Bytes::from(body.to_string());
        self.call(
            endpoint,
            token,
            Method::POST,
            self.url(&["games", game, name]),
            Some((body, "application/json")),
            StatusCode::OK,
        )
        .await
        .is_some()
    }
}

/// A tablet reloading the queue every `tablet_poll_seconds` (venue time),
/// and telling each waiting player what it saw.
pub async fn tablet(venue: Arc<Venue>, index: usize) {
    let token = venue.tokens.tablets[index].clone();
    let period = venue.venue(venue.model.tablet_poll_seconds);
    // Staggered, so the tablets do not all reload at the same instant.
    let offset = period.mul_f64(index as f64 / venue.tokens.tablets.len() as f64);
    if !venue.sleep(offset).await {
        return;
    }
    loop {
        let url = venue.url(&["queue"]);
        if let Some(body) = venue
            .call("GET /queue", &token, Method::GET, url, None, StatusCode::OK)
            .await
        {
            match serde_json::from_slice::<Value>(&body) {
                Ok(queue) => dispatch(&venue, &queue),
                Err(_) => {
                    venue.record("GET /queue (body)", None);
                    venue.print_error("GET /queue", "the body is not JSON");
                }
            }
        }
        if !venue.sleep(period).await {
            return;
        }
    }
}

fn dispatch(venue: &Venue, queue: &Value) {
    let list = |key: &str| {
        queue
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let watchers = venue.seen.lock().expect("seen lock");
    for game in list("recalled") {
        if let Some(tx) = game
            .get("id")
            .and_then(id_text)
            .and_then(|id| watchers.get(&id))
        {
            tx.send_modify(|s| s.recalled = true);
        }
    }
    for game in list("waiting") {
        let position = game.get("position").and_then(Value::as_i64);
        if let Some(tx) = game
            .get("id")
            .and_then(id_text)
            .and_then(|id| watchers.get(&id))
        {
            tx.send_modify(|s| s.position = position);
        }
    }
}

/// Staff downloading the players and games CSV every `export_minutes`.
pub async fn exports(venue: Arc<Venue>) {
    let period = venue.venue(venue.model.export_minutes * 60.0);
    // The first export half a period in, with some data to export.
    let mut wait = period / 2;
    while venue.sleep(wait).await {
        wait = period;
        for (endpoint, resource) in [
            ("GET /players?format=csv", "players"),
            ("GET /games?format=csv", "games"),
        ] {
            let mut url = venue.url(&[resource]);
            url.set_query(Some("format=csv"));
            let token = venue.tokens.admin.clone();
            venue
                .call(endpoint, &token, Method::GET, url, None, StatusCode::OK)
                .await;
        }
    }
}
