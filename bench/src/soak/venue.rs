//! The soak's actors: players (signed up and moved by tablets, played by the
//! stations' game clients), tablets polling the queue, display boards on the
//! event stream, and staff exporting CSV. Each game has exactly one actor
//! that moves it (besides ondeck's auto-recall, which only takes `queued`
//! games to `recalled`), so no transition can lose a race and answer 409.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Client, Method, StatusCode, Url};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc, watch};

use super::model::{Model, Rng};
use crate::{active_game_id, chain};

/// How many failing responses are printed in full; the rest are only counted.
const PRINTED_ERRORS: usize = 10;
/// board.js reloads the queue and leaderboard at most every 200 ms (a client
/// constant, not venue time).
const BOARD_DEBOUNCE: Duration = Duration::from_millis(200);

/// Requests, errors and latency of one endpoint.
pub struct Endpoint {
    pub requests: u64,
    pub errors: u64,
    /// Microseconds, successful requests only.
    pub latency: Histogram<u64>,
}

/// What a tablet's last look at the queue said about one game.
#[derive(Clone, Copy, Default)]
struct Seen {
    recalled: bool,
    /// 1-based place among the waiting games.
    position: Option<i64>,
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
    seen: Mutex<HashMap<String, watch::Sender<Seen>>>,
    printed_errors: AtomicUsize,
    next_player: AtomicU64,
    /// Free stations; a confirmed player waits here for one.
    station_tx: mpsc::UnboundedSender<usize>,
    station_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<usize>>,
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

    fn running(&self) -> bool {
        Instant::now() < self.deadline
    }

    /// A venue duration at the soak's speed.
    fn venue(&self, seconds: f64) -> Duration {
        Model::scaled(self.speedup, seconds)
    }

    /// Sleeps, unless the run ends first: then returns false.
    async fn sleep(&self, duration: Duration) -> bool {
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
    async fn call(
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

    async fn transition(&self, token: &str, game: &str, name: &'static str, body: Value) -> bool {
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

/// Players arrive as a Poisson process until the end of the run; each is
/// its own task. Returns when every player task has finished.
pub async fn arrivals(venue: Arc<Venue>, seed: u64) {
    let mut rng = Rng::new(seed);
    let mean_gap = 3600.0 / venue.model.signups_per_hour;
    let mut players = tokio::task::JoinSet::new();
    let mut n = 0u64;
    loop {
        let gap = venue.venue(rng.exponential(mean_gap));
        if !venue.sleep(gap).await {
            break;
        }
        n += 1;
        players.spawn(player(
            Arc::clone(&venue),
            seed ^ n.wrapping_mul(0x9e37_79b9),
        ));
        // Finished players are reaped as we go, so the set stays small.
        while players.try_join_next().is_some() {}
    }
    while players.join_next().await.is_some() {}
}

#[derive(Clone, Copy, PartialEq)]
enum Fate {
    Play,
    Leave,
    NoShowCancelled,
    NoShowExpired,
}

const FIRST_NAMES: [&str; 12] = [
    "Ada", "Ben", "Chloe", "Dev", "Emma", "Felix", "Gia", "Hugo", "Ines", "Jon", "Kai", "Lena",
];
const LAST_NAMES: [&str; 8] = [
    "Lovelace", "Ruth", "Mays", "Aaron", "Ortiz", "Suzuki", "Jeter", "Griffey",
];

/// One player's visit: signed up on a tablet (with a photo, sometimes),
/// queued, then played, gone, or a no-show.
async fn player(venue: Arc<Venue>, seed: u64) {
    let mut rng = Rng::new(seed);
    let m = &venue.model;
    let n = venue.next_player.fetch_add(1, Ordering::Relaxed);
    let tablet = venue.tokens.tablets[(n as usize) % venue.tokens.tablets.len()].clone();
    let mobile = rng.chance(m.with_mobile);
    let roll = rng.unit();
    let fate = if roll < m.leave {
        Fate::Leave
    } else if mobile && roll < m.leave + m.no_show {
        if rng.chance(0.5) {
            Fate::NoShowCancelled
        } else {
            Fate::NoShowExpired
        }
    } else {
        Fate::Play
    };

    let mut signup = json!({
        "first_name": FIRST_NAMES[rng.below(FIRST_NAMES.len() as u64) as usize],
        "last_name": format!("{} {n}", LAST_NAMES[rng.below(LAST_NAMES.len() as u64) as usize]),
        "handedness": if rng.chance(0.1) { "L" } else { "R" },
        "signed_waiver": true,
    });
    if mobile {
        // Fictional 555-01xx-style numbers; unique for the first 10,000 players.
        signup["mobile_number"] = json!(format!("+1415555{:04}", n % 10_000));
    }
    if !venue.teams.is_empty() && rng.chance(m.with_team) {
        signup["team"] = json!(venue.teams[rng.below(venue.teams.len() as u64) as usize]);
    }
    let Some(created) = venue
        .call(
            "POST /players",
            &tablet,
            Method::POST,
            venue.url(&["players"]),
            Some((Bytes::from(signup.to_string()), "application/json")),
            StatusCode::CREATED,
        )
        .await
    else {
        return;
    };
    let parsed: Option<(String, String)> = serde_json::from_slice::<Value>(&created)
        .ok()
        .and_then(|p| Some((id_text(p.get("id")?)?, active_game_id(&created)?)));
    let Some((player_id, game)) = parsed else {
        venue.record("POST /players (body)", None);
        venue.print_error("POST /players", "201 without id or active_game.id");
        return;
    };
    venue.outcomes.signups.fetch_add(1, Ordering::Relaxed);
    if mobile {
        venue.outcomes.with_mobile.fetch_add(1, Ordering::Relaxed);
    }

    if rng.chance(m.with_photo) && venue.running() {
        let photo = venue
            .call(
                "PUT /players/{id}/photo",
                &tablet,
                Method::PUT,
                venue.url(&["players", &player_id, "photo"]),
                Some((venue.photo.clone(), "image/jpeg")),
                StatusCode::OK,
            )
            .await;
        if photo.is_some() {
            venue.outcomes.photos.fetch_add(1, Ordering::Relaxed);
        }
    }

    // Watched before it is queued, so no look at the queue is missed.
    let (seen_tx, mut seen) = watch::channel(Seen::default());
    venue
        .seen
        .lock()
        .expect("seen lock")
        .insert(game.clone(), seen_tx);
    let _unwatch = Unwatch(&venue, &game);
    if !venue.running() || !venue.transition(&tablet, &game, "queue", json!({})).await {
        return;
    }

    let recalled = |s: &Seen| s.recalled;
    match fate {
        Fate::Leave => {
            let patience = venue.venue(rng.between(5.0, 20.0) * 60.0);
            if venue.sleep(patience).await
                && venue.transition(&tablet, &game, "cancel", json!({})).await
            {
                venue.outcomes.left.fetch_add(1, Ordering::Relaxed);
            }
        }
        Fate::NoShowExpired => {
            if until(&venue, &mut seen, recalled).await {
                venue
                    .outcomes
                    .no_show_expired
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        Fate::NoShowCancelled => {
            if until(&venue, &mut seen, recalled).await
                && venue.sleep(venue.venue(5.0 * 60.0)).await
                && venue.transition(&tablet, &game, "cancel", json!({})).await
            {
                venue
                    .outcomes
                    .no_show_cancelled
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        Fate::Play => {
            // Auto-recall texts players with a number; staff call the
            // others by voice once they are near the front.
            let (called, walk) = if mobile {
                let walk = rng.between(m.walk_min_minutes, m.walk_max_minutes) * 60.0;
                (until(&venue, &mut seen, recalled).await, walk)
            } else {
                let near_front = |s: &Seen| s.position.is_some_and(|p| p <= 2);
                (
                    until(&venue, &mut seen, near_front).await,
                    rng.between(10.0, 30.0),
                )
            };
            if called
                && venue.sleep(venue.venue(walk)).await
                && venue.transition(&tablet, &game, "confirm", json!({})).await
            {
                let minutes = rng.between(m.play_min_minutes, m.play_max_minutes);
                let result = json!({
                    "score": rng.below(5_000),
                    "distance": 100 + rng.below(400),
                    "homeruns": rng.below(11),
                });
                play(&venue, &game, venue.venue(minutes * 60.0), result, mobile).await;
            }
        }
    }
}

/// A confirmed player waits for a free station, whose game client plays
/// and completes the game.
async fn play(venue: &Venue, game: &str, duration: Duration, result: Value, mobile: bool) {
    let station = tokio::select! {
        s = async { venue.station_rx.lock().await.recv().await } => s,
        () = tokio::time::sleep_until(venue.deadline.into()) => None,
    };
    let Some(station) = station else { return };
    let token = &venue.tokens.games[station % venue.tokens.games.len()];
    if venue.running()
        && venue.transition(token, game, "play", json!({})).await
        && venue.sleep(duration).await
        && venue.transition(token, game, "complete", result).await
    {
        venue.outcomes.completed.fetch_add(1, Ordering::Relaxed);
        if mobile {
            venue
                .outcomes
                .completed_with_mobile
                .fetch_add(1, Ordering::Relaxed);
        }
    }
    let _ = venue.station_tx.send(station);
}

/// Waits until a tablet has seen the game as `done` says; false if the run
/// ended first.
async fn until(
    venue: &Venue,
    seen: &mut watch::Receiver<Seen>,
    done: impl Fn(&Seen) -> bool,
) -> bool {
    tokio::select! {
        r = seen.wait_for(|s| done(s)) => r.is_ok() && venue.running(),
        () = tokio::time::sleep_until(venue.deadline.into()) => false,
    }
}

/// Stops dispatching queue sightings to a player that is done.
struct Unwatch<'a>(&'a Venue, &'a str);

impl Drop for Unwatch<'_> {
    fn drop(&mut self) {
        if let Ok(mut seen) = self.0.seen.lock() {
            seen.remove(self.1);
        }
    }
}

fn id_text(id: &Value) -> Option<String> {
    match id {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
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

/// What one board's event stream saw.
pub struct Feed {
    pub events: u64,
    pub disconnects: u64,
}

/// A display board: an event stream for the whole run, and a reload of the
/// queue and the leaderboard after events (debounced as board.js does) and
/// every `board_refresh_seconds`. `stop` ends the stream (after the drain).
pub async fn board(venue: Arc<Venue>, index: usize, stop: watch::Receiver<bool>) -> Feed {
    let token = venue.tokens.displays[index].clone();
    let wake = Arc::new(Notify::new());
    let feed = tokio::spawn(stream(
        Arc::clone(&venue),
        token.clone(),
        Arc::clone(&wake),
        stop,
    ));
    let period = venue.venue(venue.model.board_refresh_seconds);
    let mut leaderboard = venue.url(&["leaderboard"]);
    match &venue.day {
        Some(day) => leaderboard.set_query(Some(&format!("day={day}&limit=10"))),
        None => leaderboard.set_query(Some("limit=10")),
    }
    while venue.running() {
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(period) => {}
        }
        if !venue.sleep(BOARD_DEBOUNCE).await {
            break;
        }
        let queue = venue.call(
            "GET /queue",
            &token,
            Method::GET,
            venue.url(&["queue"]),
            None,
            StatusCode::OK,
        );
        let board = venue.call(
            "GET /leaderboard",
            &token,
            Method::GET,
            leaderboard.clone(),
            None,
            StatusCode::OK,
        );
        tokio::join!(queue, board);
    }
    feed.await.unwrap_or(Feed {
        events: 0,
        disconnects: 1,
    })
}

/// `GET /events` until `stop`, reconnecting with `Last-Event-ID` after a
/// drop (each drop is an error of the endpoint).
async fn stream(
    venue: Arc<Venue>,
    token: String,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) -> Feed {
    let mut feed = Feed {
        events: 0,
        disconnects: 0,
    };
    let mut last_id: Option<String> = None;
    loop {
        let mut request = venue
            .streams
            .get(venue.url(&["events"]))
            .bearer_auth(&token)
            .header(ACCEPT, "text/event-stream");
        if let Some(id) = &last_id {
            request = request.header("Last-Event-ID", id.as_str());
        }
        let start = Instant::now();
        let response = tokio::select! {
            r = request.send() => r,
            _ = stop.wait_for(|&s| s) => return feed,
        };
        let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
        let mut response = match response {
            Ok(r) if r.status() == StatusCode::OK => {
                venue.record("GET /events", Some(micros));
                r
            }
            Ok(r) => {
                venue.record("GET /events", None);
                venue.print_error("GET /events", &r.status().to_string());
                feed.disconnects += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(e) => {
                venue.record("GET /events", None);
                venue.print_error("GET /events", &chain(&e));
                feed.disconnects += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut buffer: Vec<u8> = Vec::new();
        loop {
            let chunk = tokio::select! {
                c = response.chunk() => c,
                _ = stop.wait_for(|&s| s) => return feed,
            };
            match chunk {
                Ok(Some(bytes)) => {
                    buffer.extend_from_slice(&bytes);
                    while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
                        let block: Vec<u8> = buffer.drain(..end + 2).collect();
                        if let Some(event) = parse_event(&block) {
                            feed.events += 1;
                            if event.id.is_some() {
                                last_id = event.id;
                            }
                            if let Some(game) = event.recalled {
                                venue.recalled.lock().expect("recalled lock").insert(game);
                            }
                            wake.notify_one();
                        }
                    }
                }
                Ok(None) | Err(_) => {
                    // A drop: counted, then resumed where it stopped.
                    venue.record("GET /events (dropped)", None);
                    venue.print_error("GET /events", "the stream ended");
                    feed.disconnects += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}

struct Event {
    id: Option<String>,
    /// The game, when this is its recall (`queued` → `recalled`).
    recalled: Option<String>,
}

/// One SSE block; `None` for a keep-alive comment.
fn parse_event(block: &[u8]) -> Option<Event> {
    let text = std::str::from_utf8(block).ok()?;
    let (mut data, mut id) = (String::new(), None);
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        } else if let Some(v) = line.strip_prefix("id:") {
            id = Some(v.trim().to_owned());
        }
    }
    if data.is_empty() {
        return None;
    }
    let game: Value = serde_json::from_str(&data).ok()?;
    let state = |key: &str| game.get(key).and_then(Value::as_str);
    let recalled = (state("state") == Some("recalled")
        && state("previous_state") == Some("queued"))
    .then(|| game.get("id").and_then(id_text))
    .flatten();
    Some(Event { id, recalled })
}

#[cfg(test)]
mod tests {
    use super::parse_event;

    #[test]
    fn a_recall_event_names_its_game_and_keeps_its_id() {
        let block = b"event: game\nid: 42\ndata: {\"id\":7,\"state\":\"recalled\",\"previous_state\":\"queued\"}\n\n";
        let event = parse_event(block).expect("an event");
        assert_eq!(event.id.as_deref(), Some("42"));
        assert_eq!(event.recalled.as_deref(), Some("7"));
    }

    #[test]
    fn other_events_count_but_name_no_recall_and_comments_are_not_events() {
        let block = b"event: game\nid: 43\ndata: {\"id\":7,\"state\":\"confirmed\",\"previous_state\":\"recalled\"}\n\n";
        assert!(parse_event(block).expect("an event").recalled.is_none());
        assert!(parse_event(b": keep-alive\n\n").is_none());
    }
}
