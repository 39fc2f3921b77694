//! `ondeck-bench join`: players joining the line from their phones at an
//! even rate (`POST /join/start`, the code from the text, `POST
//! /join/verify`) against `ondeck run`, which texts the codes through a
//! Twilio stand-in served here, while boards follow `GET /api/v1/events`
//! and every player who joined has their page open, polling its status.
//! Reports the latency of both steps, how long each code took to reach the
//! stand-in, the polls, the boards and errors. `bench/join` drives it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use clap::Args;
use hdrhistogram::Histogram;
use reqwest::header::{ACCEPT, LOCATION};
use reqwest::{Client, Url};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot, watch};

use crate::http::chain;
use crate::phones::poll;
use crate::rounding::round;
use crate::sse::{complete_blocks, server_memory};

#[derive(Args)]
pub struct JoinArgs {
    /// Base URL of a running `ondeck run`, e.g. http://127.0.0.1:8000
    #[arg(long, env = "ONDECK_BENCH_BASE_URL")]
    base_url: Url,
    /// Display tokens for the boards, comma-separated: board i uses token
    /// i modulo their number.
    #[arg(long, env = "ONDECK_BENCH_DISPLAY_TOKENS", hide_env_values = true)]
    display_tokens: String,
    /// Where the Twilio stand-in listens: ondeck's `TWILIO_API_BASE`.
    #[arg(long)]
    twilio_listen: SocketAddr,
    /// ondeck's `TWILIO_ACCOUNT_SID`: the account the stand-in expects.
    #[arg(long, env = "ONDECK_BENCH_TWILIO_SID")]
    twilio_sid: String,
    /// ondeck's `TWILIO_AUTH_TOKEN`: the stand-in checks HTTP Basic auth.
    #[arg(long, env = "ONDECK_BENCH_TWILIO_TOKEN", hide_env_values = true)]
    twilio_token: String,
    /// Players who join, each with their own mobile number.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    players: u32,
    /// The joins' `POST /join/start` are spread evenly over this long.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Boards following the event stream (and reloading the queue and the
    /// leaderboard after events, as board.js does).
    #[arg(long, default_value_t = 10)]
    boards: u32,
    /// How often each joined player's page asks for its status (the page's
    /// script: 5 s).
    #[arg(long, default_value_t = 5.0)]
    poll_seconds: f64,
    /// How long the pages keep polling after the last join.
    #[arg(long, default_value_t = 10)]
    hold_seconds: u64,
    /// A code must reach the stand-in within this long of its `/join/start`.
    #[arg(long, default_value_t = 5000)]
    text_deadline_ms: u64,
    /// The server's pid: its VmRSS and VmHWM are read from /proc at the end.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Also print the result as one JSON object on stdout (the summary goes to stderr).
    #[arg(long)]
    json: bool,
}

/// The result of one run, as printed with `--json`.
#[derive(Serialize)]
struct JoinReport {
    players: u32,
    seconds: u64,
    joined: u64,
    /// Joins that failed at any step (a status other than 202 or 303, no
    /// code within 30 s, a transport error).
    errors: u64,
    /// From the first `/join/start` to the last `/join/verify` answer.
    window_seconds: f64,
    start_p50_ms: f64,
    start_p99_ms: f64,
    start_max_ms: f64,
    verify_p50_ms: f64,
    verify_p99_ms: f64,
    verify_max_ms: f64,
    /// From sending `/join/start` to its code's text reaching the stand-in.
    text_p50_ms: f64,
    text_p99_ms: f64,
    text_max_ms: f64,
    /// Codes that arrived later than `--text-deadline-ms`.
    texts_late: u64,
    /// Every text the stand-in took (codes, welcome texts, recalls).
    texts: u64,
    /// Sends the stand-in refused (account, credentials, form).
    texts_refused: u64,
    /// Codes for a number no player was waiting on (a second text).
    codes_unclaimed: u64,
    polls: u64,
    poll_errors: u64,
    poll_p50_ms: f64,
    poll_p99_ms: f64,
    boards: u32,
    /// Events each board received: the fewest and the most.
    board_events_min: u64,
    board_events_max: u64,
    board_reloads: u64,
    board_errors: u64,
    server_rss_mb: Option<f64>,
    server_hwm_mb: Option<f64>,
}

/// Latencies in microseconds, 1 µs to 60 s.
type Latencies = Arc<Mutex<Histogram<u64>>>;

fn latencies() -> anyhow::Result<Latencies> {
    Ok(Arc::new(Mutex::new(Histogram::new_with_bounds(
        1, 60_000_000, 3,
    )?)))
}

fn record(h: &Latencies, since: Instant) {
    let micros = u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX);
    h.lock()
        .expect("a latency histogram")
        .saturating_record(micros.max(1));
}

/// (p50, p99, max) in milliseconds.
fn summary(h: &Latencies) -> (f64, f64, f64) {
    let h = h.lock().expect("a latency histogram");
    let ms = |micros: u64| round(micros as f64 / 1000.0, 2);
    (
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max()),
    )
}

/// Counts an error and prints the first few.
fn failed(errors: &AtomicU64, what: &str, why: &str) {
    if errors.fetch_add(1, Ordering::Relaxed) < 5 {
        eprintln!("{what}: {why}");
    }
}

// --- the Twilio stand-in ---------------------------------------------------------

/// A code's text as it reached the stand-in.
type Delivery = (String, Instant);

/// Twilio's Messages API as far as ondeck's sender uses it: checks the
/// account and credentials, hands each join code to the player waiting on
/// its number, with the moment it arrived, and takes everything else.
struct StandIn {
    sid: String,
    authorization: String,
    waiting: Mutex<HashMap<String, oneshot::Sender<Delivery>>>,
    texts: AtomicU64,
    refused: AtomicU64,
    unclaimed: AtomicU64,
}

impl StandIn {
    /// A player about to join with `number`: the code's text, once it comes.
    fn expect(&self, number: &str) -> oneshot::Receiver<Delivery> {
        let (tx, rx) = oneshot::channel();
        self.waiting
            .lock()
            .expect("the stand-in's waiters")
            .insert(number.to_owned(), tx);
        rx
    }

    fn refuse(&self, status: StatusCode, code: u32, why: &str) -> Response {
        if self.refused.fetch_add(1, Ordering::Relaxed) < 5 {
            eprintln!("the Twilio stand-in refused a request: {why}");
        }
        let body = json!({"code": code, "message": why, "status": status.as_u16()});
        (status, axum::Json(body)).into_response()
    }

    fn allowed(&self, sid: &str, headers: &HeaderMap) -> bool {
        sid == self.sid
            && headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                == Some(self.authorization.as_str())
    }
}

/// The code in a join code's text (`"123456 is your code to join …"`).
fn join_code(body: &str) -> Option<&str> {
    let code = body.get(..6)?;
    (code.bytes().all(|b| b.is_ascii_digit()) && body[6..].starts_with(" is your code to join"))
        .then_some(code)
}

async fn send(
    State(stand_in): State<Arc<StandIn>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    if !stand_in.allowed(&sid, &headers) {
        return stand_in.refuse(
            StatusCode::UNAUTHORIZED,
            20003,
            "wrong account or credentials",
        );
    }
    let Ok(fields) = serde_urlencoded::from_bytes::<HashMap<String, String>>(&body) else {
        return stand_in.refuse(StatusCode::BAD_REQUEST, 21602, "a form that does not parse");
    };
    let (Some(to), Some(text), Some(_)) =
        (fields.get("To"), fields.get("Body"), fields.get("From"))
    else {
        return stand_in.refuse(StatusCode::BAD_REQUEST, 21602, "no To, From or Body");
    };
    let n = stand_in.texts.fetch_add(1, Ordering::Relaxed) + 1;
    if let Some(code) = join_code(text) {
        let waiter = stand_in
            .waiting
            .lock()
            .expect("the stand-in's waiters")
            .remove(to);
        let delivered = waiter.is_some_and(|tx| tx.send((code.to_owned(), at)).is_ok());
        if !delivered {
            stand_in.unclaimed.fetch_add(1, Ordering::Relaxed);
        }
    }
    let body = json!({"sid": format!("SM{n:032x}"), "status": "queued"});
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

/// The message list ondeck asks for before sending a text again whose first
/// try it never heard back from: nothing here, so it sends again.
async fn list(
    State(stand_in): State<Arc<StandIn>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !stand_in.allowed(&sid, &headers) {
        return stand_in.refuse(
            StatusCode::UNAUTHORIZED,
            20003,
            "wrong account or credentials",
        );
    }
    axum::Json(json!({"messages": [], "next_page_uri": null})).into_response()
}

async fn serve_stand_in(args: &JoinArgs) -> anyhow::Result<Arc<StandIn>> {
    let credentials = format!("{}:{}", args.twilio_sid, args.twilio_token);
    let stand_in = Arc::new(StandIn {
        sid: args.twilio_sid.clone(),
        authorization: format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        ),
        waiting: Mutex::default(),
        texts: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        unclaimed: AtomicU64::new(0),
    });
    let app = axum::Router::new()
        .route(
            "/2010-04-01/Accounts/{sid}/Messages.json",
            post(send).get(list),
        )
        .with_state(Arc::clone(&stand_in));
    let listener = tokio::net::TcpListener::bind(args.twilio_listen)
        .await
        .with_context(|| format!("binding the Twilio stand-in to {}", args.twilio_listen))?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("the Twilio stand-in stopped: {e}");
        }
    });
    Ok(stand_in)
}

// --- the players ------------------------------------------------------------------

/// What the players and their pages share.
struct Run {
    base: Url,
    http: Client,
    stand_in: Arc<StandIn>,
    poll_every: Duration,
    stop: watch::Receiver<bool>,
    start: Latencies,
    verify: Latencies,
    text: Latencies,
    text_deadline: Duration,
    texts_late: AtomicU64,
    joined: AtomicU64,
    errors: AtomicU64,
    polls: Latencies,
    poll_errors: AtomicU64,
    /// When the last `/join/verify` was answered.
    last_join: Mutex<Option<Instant>>,
}

/// One player: joins with the `i`th number and, once in line, keeps their
/// page open until the end.
async fn player(run: Arc<Run>, i: u32) {
    let number = format!("+1415555{i:04}");
    match join(&run, i, &number).await {
        Ok(page) => {
            run.joined.fetch_add(1, Ordering::Relaxed);
            *run.last_join.lock().expect("the last join") = Some(Instant::now());
            phone(&run, &page).await;
        }
        Err(e) => failed(&run.errors, "a join", &format!("{e:#}")),
    }
}

/// `/join/start`, the code from the text, `/join/verify`: the player's page.
async fn join(run: &Run, i: u32, number: &str) -> anyhow::Result<String> {
    let text = run.stand_in.expect(number);
    let asked = Instant::now();
    let body =
        json!({"first_name": format!("Joiner{i}"), "mobile_number": number, "handedness": "R"});
    let response = run
        .http
        .post(run.base.join("/join/start")?)
        .json(&body)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("POST /join/start: {}", chain(&e)))?;
    let status = response.status();
    let answer = response.text().await.unwrap_or_default();
    if status != StatusCode::ACCEPTED {
        bail!("POST /join/start: {status}: {answer}");
    }
    record(&run.start, asked);
    let id: Value = serde_json::from_str(&answer).context("POST /join/start: not JSON")?;
    let id = id["join"]
        .as_str()
        .context("POST /join/start: no join id")?;

    let (code, at) = tokio::time::timeout(Duration::from_secs(30), text)
        .await
        .map_err(|_| anyhow::anyhow!("no code texted within 30 s"))?
        .map_err(|_| anyhow::anyhow!("the stand-in dropped the wait"))?;
    let took = at.duration_since(asked);
    run.text
        .lock()
        .expect("a latency histogram")
        .saturating_record(u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1));
    if took > run.text_deadline {
        run.texts_late.fetch_add(1, Ordering::Relaxed);
    }

    let asked = Instant::now();
    let response = run
        .http
        .post(run.base.join("/join/verify")?)
        .json(&json!({"join": id, "code": code}))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("POST /join/verify: {}", chain(&e)))?;
    let status = response.status();
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let answer = response.text().await.unwrap_or_default();
    match location {
        Some(page) if status == StatusCode::SEE_OTHER && page.starts_with("/p/") => {
            record(&run.verify, asked);
            Ok(page)
        }
        _ => bail!("POST /join/verify: {status} to {location:?}: {answer}"),
    }
}

/// The player's page: opened once, then its status polled until the end.
async fn phone(run: &Run, page: &str) {
    let mut stop = run.stop.clone();
    let opened = async {
        let response = run.http.get(run.base.join(page)?).send().await?;
        anyhow::ensure!(
            response.status() == StatusCode::OK,
            "GET {page}: {}",
            response.status()
        );
        anyhow::Ok(())
    };
    if let Err(e) = opened.await {
        failed(&run.poll_errors, "opening a page", &format!("{e:#}"));
    }
    let status = format!("{page}/status");
    let mut ticks = tokio::time::interval(run.poll_every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.wait_for(|&s| s) => return,
        }
        let asked = Instant::now();
        match poll(&run.http, &run.base, &status).await {
            Ok(()) => record(&run.polls, asked),
            Err(e) => failed(&run.poll_errors, "a poll", &format!("{e:#}")),
        }
    }
}

// --- the boards -------------------------------------------------------------------

/// What one board saw.
#[derive(Default)]
struct Board {
    events: u64,
    reloads: u64,
    errors: u64,
}

/// A board: its event stream, and a reload of the queue and the leaderboard
/// 200 ms after events (debounced, as board.js does), until `stop`.
async fn board(base: Url, token: String, mut stop: watch::Receiver<bool>) -> Board {
    let streams = Client::new();
    let http = Client::new();
    let wake = Arc::new(Notify::new());
    let events = Arc::new(AtomicU64::new(0));
    let stream_errors = Arc::new(AtomicU64::new(0));
    let feed = tokio::spawn(follow(
        streams,
        base.clone(),
        token.clone(),
        Arc::clone(&wake),
        Arc::clone(&events),
        Arc::clone(&stream_errors),
        stop.clone(),
    ));
    let mut seen = Board::default();
    loop {
        tokio::select! {
            () = wake.notified() => {}
            _ = stop.wait_for(|&s| s) => break,
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        for path in ["/api/v1/queue", "/api/v1/leaderboard?limit=10"] {
            let ok = match base.join(path) {
                Ok(url) => match http.get(url).bearer_auth(&token).send().await {
                    Ok(r) => r.status() == StatusCode::OK && r.bytes().await.is_ok(),
                    Err(_) => false,
                },
                Err(_) => false,
            };
            if !ok {
                seen.errors += 1;
            }
        }
        seen.reloads += 1;
    }
    let _ = feed.await;
    seen.events = events.load(Ordering::Relaxed);
    seen.errors += stream_errors.load(Ordering::Relaxed);
    seen
}

/// `GET /api/v1/events` until `stop`, counting events; a drop is an error,
/// and the board connects again after a second.
async fn follow(
    client: Client,
    base: Url,
    token: String,
    wake: Arc<Notify>,
    events: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) {
    let Ok(url) = base.join("/api/v1/events") else {
        return;
    };
    loop {
        let request = client
            .get(url.clone())
            .bearer_auth(&token)
            .header(ACCEPT, "text/event-stream")
            .send();
        let response = tokio::select! {
            r = request => r,
            _ = stop.wait_for(|&s| s) => return,
        };
        match response {
            Ok(mut response) if response.status() == StatusCode::OK => {
                let mut buffer = Vec::new();
                loop {
                    let chunk = tokio::select! {
                        c = response.chunk() => c,
                        _ = stop.wait_for(|&s| s) => return,
                    };
                    let Ok(Some(bytes)) = chunk else {
                        failed(&errors, "a board's event stream", "it ended");
                        break;
                    };
                    let blocks = complete_blocks(&mut buffer, &bytes);
                    // Keep-alives are comments: only blocks with data count.
                    let n = blocks
                        .iter()
                        .filter(|b| b.split(|&c| c == b'\n').any(|l| l.starts_with(b"data:")))
                        .count() as u64;
                    if n > 0 {
                        events.fetch_add(n, Ordering::Relaxed);
                        wake.notify_one();
                    }
                }
            }
            Ok(response) => failed(
                &errors,
                "a board's event stream",
                &response.status().to_string(),
            ),
            Err(e) => failed(&errors, "a board's event stream", &chain(&e)),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

// --- the run ----------------------------------------------------------------------

pub async fn join_bench(args: JoinArgs) -> anyhow::Result<()> {
    let stand_in = serve_stand_in(&args).await?;
    let n = args.players;
    // Phones send no token and follow no redirect: the 303's Location is
    // the page they open.
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(n as usize)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the phones' HTTP client")?;
    let tokens: Vec<&str> = args
        .display_tokens
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    if tokens.is_empty() {
        bail!("--display-tokens names no token");
    }
    let (stop_tx, stop) = watch::channel(false);
    let mut boards = tokio::task::JoinSet::new();
    for (_, token) in (0..args.boards).zip(tokens.iter().cycle()) {
        boards.spawn(board(
            args.base_url.clone(),
            (*token).to_owned(),
            stop.clone(),
        ));
    }
    // The boards connect before the first player comes.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let run = Arc::new(Run {
        base: args.base_url.clone(),
        http,
        stand_in: Arc::clone(&stand_in),
        poll_every: Duration::from_secs_f64(args.poll_seconds.max(0.1)),
        stop,
        start: latencies()?,
        verify: latencies()?,
        text: latencies()?,
        text_deadline: Duration::from_millis(args.text_deadline_ms),
        texts_late: AtomicU64::new(0),
        joined: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        polls: latencies()?,
        poll_errors: AtomicU64::new(0),
        last_join: Mutex::new(None),
    });
    let started = Instant::now();
    let gap = Duration::from_secs(args.seconds).div_f64(f64::from(n));
    let mut players = tokio::task::JoinSet::new();
    for i in 0..n {
        tokio::time::sleep_until((started + gap * i).into()).await;
        players.spawn(player(Arc::clone(&run), i));
    }
    // Every join has finished (or failed) once every player is polling or gone.
    let deadline = started + Duration::from_secs(args.seconds + 60);
    while run.joined.load(Ordering::Relaxed) + run.errors.load(Ordering::Relaxed) < u64::from(n)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let window = run
        .last_join
        .lock()
        .expect("the last join")
        .map_or(0.0, |at| at.duration_since(started).as_secs_f64());
    eprintln!(
        "{} of {n} joined in {window:.1} s; pages polling for {} s more",
        run.joined.load(Ordering::Relaxed),
        args.hold_seconds
    );
    tokio::time::sleep(Duration::from_secs(args.hold_seconds)).await;
    let memory = args.server_pid.map(server_memory).transpose()?;
    stop_tx.send_replace(true);
    while players.join_next().await.is_some() {}
    let mut seen = Vec::new();
    while let Some(board) = boards.join_next().await {
        seen.push(board.context("a board's task")?);
    }

    let (start_p50, start_p99, start_max) = summary(&run.start);
    let (verify_p50, verify_p99, verify_max) = summary(&run.verify);
    let (text_p50, text_p99, text_max) = summary(&run.text);
    let (poll_p50, poll_p99, _) = summary(&run.polls);
    let report = JoinReport {
        players: n,
        seconds: args.seconds,
        joined: run.joined.load(Ordering::Relaxed),
        errors: run.errors.load(Ordering::Relaxed),
        window_seconds: round(window, 1),
        start_p50_ms: start_p50,
        start_p99_ms: start_p99,
        start_max_ms: start_max,
        verify_p50_ms: verify_p50,
        verify_p99_ms: verify_p99,
        verify_max_ms: verify_max,
        text_p50_ms: text_p50,
        text_p99_ms: text_p99,
        text_max_ms: text_max,
        texts_late: run.texts_late.load(Ordering::Relaxed),
        texts: stand_in.texts.load(Ordering::Relaxed),
        texts_refused: stand_in.refused.load(Ordering::Relaxed),
        codes_unclaimed: stand_in.unclaimed.load(Ordering::Relaxed),
        polls: run.polls.lock().expect("a latency histogram").len(),
        poll_errors: run.poll_errors.load(Ordering::Relaxed),
        poll_p50_ms: poll_p50,
        poll_p99_ms: poll_p99,
        boards: args.boards,
        board_events_min: seen.iter().map(|b| b.events).min().unwrap_or(0),
        board_events_max: seen.iter().map(|b| b.events).max().unwrap_or(0),
        board_reloads: seen.iter().map(|b| b.reloads).sum(),
        board_errors: seen.iter().map(|b| b.errors).sum(),
        server_rss_mb: memory.map(|(rss, _)| rss),
        server_hwm_mb: memory.map(|(_, hwm)| hwm),
    };
    eprintln!(
        "{} joined, {} errors in {} s: start p50 {} p99 {} ms, verify p50 {} p99 {} ms; \
         codes texted p50 {} p99 {} max {} ms ({} later than {} ms); {} polls ({} errors, p99 {} ms); \
         boards saw {}–{} events, {} reloads, {} errors",
        report.joined,
        report.errors,
        report.window_seconds,
        report.start_p50_ms,
        report.start_p99_ms,
        report.verify_p50_ms,
        report.verify_p99_ms,
        report.text_p50_ms,
        report.text_p99_ms,
        report.text_max_ms,
        report.texts_late,
        args.text_deadline_ms,
        report.polls,
        report.poll_errors,
        report.poll_p99_ms,
        report.board_events_min,
        report.board_events_max,
        report.board_reloads,
        report.board_errors
    );
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::join_code;

    #[test]
    fn a_join_code_is_read_from_its_text_and_nothing_else_is() {
        let text = "042917 is your code to join the line at Bench. It works for 10 minutes.";
        assert_eq!(join_code(text), Some("042917"));
        assert_eq!(join_code("Welcome! Your page: http://x/p/abc"), None);
        assert_eq!(join_code("04291 is your code to join"), None);
        assert_eq!(join_code("0429"), None);
    }
}
