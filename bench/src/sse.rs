//! `ondeck-bench sse`: N concurrent subscribers of `GET /api/v1/events`, and
//! the time from a transition's HTTP response to its event's arrival at each
//! of them. `bench/sse` drives it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use hdrhistogram::Histogram;
use ondeck_testkit::sse::Block;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Client, Url};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, watch};

use crate::http::{active_game_id, chain, client, id_text};
use crate::rounding::round;

#[derive(Args)]
pub struct SseArgs {
    /// Base URL of a running `ondeck serve`, e.g. http://127.0.0.1:8000
    #[arg(long, env = "ONDECK_BENCH_BASE_URL")]
    base_url: Url,
    /// Bearer token of an admin (subscribes, signs up players, queues games).
    #[arg(long, env = "ONDECK_BENCH_TOKEN", hide_env_values = true)]
    token: String,
    /// Concurrent SSE connections.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    subscribers: u32,
    /// Queue transitions performed, one after another, once every subscriber is connected.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    transitions: u32,
    /// Pause between two transitions (a signup and its queue), in milliseconds.
    #[arg(long, default_value_t = 100)]
    interval_ms: u64,
    /// How long every subscriber may take to connect.
    #[arg(long, default_value_t = 60)]
    connect_timeout_seconds: u64,
    /// Connections kept open after the last transition, for late events and
    /// for reading the server's memory with everyone connected.
    #[arg(long, default_value_t = 3)]
    hold_seconds: u64,
    /// The server's pid: its VmRSS and VmHWM are read from /proc at the end of
    /// the hold, while the subscribers are still connected.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Also print the result as one JSON object on stdout (the summary goes to stderr).
    #[arg(long)]
    json: bool,
}

/// Connections being set up at once; the rest wait for their turn.
const CONNECTING: usize = 64;

/// The result of one run, as printed with `--json`.
#[derive(Serialize)]
struct SseReport {
    subscribers: u32,
    transitions: u32,
    /// Subscribers × transitions.
    expected: u64,
    received: u64,
    missing: u64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// Median latency of the transitions' own HTTP requests (queue).
    queue_p50_ms: f64,
    /// Transitions whose signup or queue request failed.
    failed_transitions: u32,
    /// Subscribers whose stream ended or failed before the end of the hold.
    dropped_subscribers: usize,
    connect_seconds: f64,
    server_rss_mb: Option<f64>,
    server_hwm_mb: Option<f64>,
}

/// What one subscriber saw: `(game id, arrival)` of each `queued` event.
type Arrivals = Vec<(String, Instant)>;

pub async fn sse(args: SseArgs) -> anyhow::Result<()> {
    if args.base_url.cannot_be_a_base() || !args.base_url.scheme().starts_with("http") {
        bail!("--base-url must be an http(s) URL, got {}", args.base_url);
    }
    let n = args.subscribers as usize;
    let api = |segments: &[&str]| {
        let mut url = args.base_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["api", "v1"]).extend(segments);
        }
        url
    };

    // Streams never time out; one connection each.
    let mut auth = HeaderValue::from_str(&format!("Bearer {}", args.token))
        .context("the token is not a valid header value")?;
    auth.set_sensitive(true);
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, auth);
    headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
    let streams = Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(n)
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .context("building the SSE client")?;

    let connected = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let connecting = Arc::new(Semaphore::new(CONNECTING));
    let (stop_tx, stop_rx) = watch::channel(false);
    let events_url = api(&["events"]);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        tasks.spawn(subscriber(
            streams.clone(),
            events_url.clone(),
            Arc::clone(&connected),
            Arc::clone(&dropped),
            Arc::clone(&connecting),
            stop_rx.clone(),
        ));
    }

    let deadline = started + Duration::from_secs(args.connect_timeout_seconds);
    loop {
        let (c, d) = (
            connected.load(Ordering::Relaxed),
            dropped.load(Ordering::Relaxed),
        );
        if c == n {
            break;
        }
        if d > 0 || Instant::now() >= deadline {
            let _ = stop_tx.send(true);
            bail!("only {c} of {n} subscribers connected ({d} failed)");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let connect_seconds = started.elapsed().as_secs_f64();
    eprintln!("{n} subscribers connected in {connect_seconds:.2} s");

    // The transitions, one after another.
    let http = client(&args.token, 1)?;
    let mut responded: HashMap<String, Instant> = HashMap::new();
    let mut queue_ms = Vec::new();
    let mut failed_transitions = 0u32;
    for i in 0..args.transitions {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
        }
        match transition(&http, &api, i).await {
            Ok((game, at, took)) => {
                responded.insert(game, at);
                queue_ms.push(took.as_secs_f64() * 1000.0);
            }
            Err(e) => {
                failed_transitions += 1;
                eprintln!("error: transition {i}: {e:#}");
            }
        }
    }

    tokio::time::sleep(Duration::from_secs(args.hold_seconds)).await;
    let memory = args.server_pid.map(server_memory).transpose()?;
    let dropped_subscribers = dropped.load(Ordering::Relaxed);
    let _ = stop_tx.send(true);

    let mut histogram = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    while let Some(arrivals) = tasks.join_next().await {
        let arrivals = arrivals.context("a subscriber task panicked")?;
        let mut seen = std::collections::HashSet::new();
        for (game, at) in arrivals {
            let Some(response) = responded.get(&game) else {
                continue;
            };
            if seen.insert(game) {
                let micros = at.saturating_duration_since(*response).as_micros();
                histogram.saturating_record(u64::try_from(micros).unwrap_or(u64::MAX).max(1));
            }
        }
    }

    queue_ms.sort_by(f64::total_cmp);
    let ms = |micros: u64| round(micros as f64 / 1000.0, 3);
    let expected = n as u64 * u64::from(args.transitions);
    let report = SseReport {
        subscribers: args.subscribers,
        transitions: args.transitions,
        expected,
        received: histogram.len(),
        missing: expected - histogram.len(),
        p50_ms: ms(histogram.value_at_quantile(0.50)),
        p99_ms: ms(histogram.value_at_quantile(0.99)),
        max_ms: ms(histogram.max()),
        queue_p50_ms: queue_ms
            .get(queue_ms.len().saturating_sub(1) / 2)
            .map_or(0.0, |&v| round(v, 3)),
        failed_transitions,
        dropped_subscribers,
        connect_seconds: round(connect_seconds, 2),
        server_rss_mb: memory.map(|(rss, _)| rss),
        server_hwm_mb: memory.map(|(_, hwm)| hwm),
    };
    let summary = format!(
        "{} subscribers, {} transitions: event latency p50 {} ms, p99 {} ms, max {} ms; \
         {} of {} received, {} missing; {} transitions failed, {} subscribers dropped; \
         server RSS {} MB (peak {} MB)",
        report.subscribers,
        report.transitions,
        report.p50_ms,
        report.p99_ms,
        report.max_ms,
        report.received,
        report.expected,
        report.missing,
        report.failed_transitions,
        report.dropped_subscribers,
        report
            .server_rss_mb
            .map_or_else(|| "?".to_owned(), |v| v.to_string()),
        report
            .server_hwm_mb
            .map_or_else(|| "?".to_owned(), |v| v.to_string()),
    );
    if args.json {
        eprintln!("{summary}");
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{summary}");
    }
    if report.received == 0 {
        bail!("no event arrived: is the server up and the token an admin's?");
    }
    Ok(())
}

/// Signs up a player and queues its game; returns the game id, the instant
/// the queue response arrived and the queue request's latency.
async fn transition(
    http: &Client,
    api: &impl Fn(&[&str]) -> Url,
    i: u32,
) -> anyhow::Result<(String, Instant, Duration)> {
    let signup = json!({
        "first_name": "Sse",
        "last_name": format!("S{i}"),
        "handedness": "R",
        "signed_waiver": true,
    });
    let response = http
        .post(api(&["players"]))
        .body(serde_json::to_vec(&signup)?)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("signup: {}", chain(&e)))?;
    let status = response.status();
    let body = response.bytes().await?;
    if !status.is_success() {
        bail!("signup: {status}: {}", String::from_utf8_lossy(&body));
    }
    let game = active_game_id(&body).with_context(|| {
        format!(
            "signup: no active_game.id in {}",
            String::from_utf8_lossy(&body)
        )
    })?;

    let start = Instant::now();
    let response = http
        .post(api(&["games", &game, "queue"]))
        .body("{}")
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("queue: {}", chain(&e)))?;
    let at = Instant::now();
    let status = response.status();
    let body = response.bytes().await?;
    if !status.is_success() {
        bail!("queue: {status}: {}", String::from_utf8_lossy(&body));
    }
    Ok((game, at, at.duration_since(start)))
}

/// One SSE connection until `stop`: counts itself in `connected` once the
/// response headers arrived, and records each `queued` game event.
async fn subscriber(
    client: Client,
    url: Url,
    connected: Arc<AtomicUsize>,
    dropped: Arc<AtomicUsize>,
    connecting: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) -> Arrivals {
    let mut arrivals = Vec::new();
    let permit = connecting.acquire_owned().await;
    let mut response = match client.get(url).send().await {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => {
            eprintln!("error: GET /api/v1/events: {}", r.status());
            dropped.fetch_add(1, Ordering::Relaxed);
            return arrivals;
        }
        Err(e) => {
            eprintln!("error: GET /api/v1/events: {}", chain(&e));
            dropped.fetch_add(1, Ordering::Relaxed);
            return arrivals;
        }
    };
    drop(permit);
    connected.fetch_add(1, Ordering::Relaxed);

    let mut buffer: Vec<u8> = Vec::new();
    loop {
        let chunk = tokio::select! {
            chunk = response.chunk() => chunk,
            _ = stop.wait_for(|&s| s) => return arrivals,
        };
        let at = Instant::now();
        match chunk {
            Ok(Some(bytes)) => {
                for block in complete_blocks(&mut buffer, &bytes) {
                    if let Some(game) = queued_game(&block) {
                        arrivals.push((game, at));
                    }
                }
            }
            Ok(None) | Err(_) => {
                dropped.fetch_add(1, Ordering::Relaxed);
                return arrivals;
            }
        }
    }
}

/// The game id of a `game` event whose state is `queued`.
fn queued_game(block: &[u8]) -> Option<String> {
    let (_, game) = parse_block(block)?;
    if game.get("state")?.as_str()? != "queued" {
        return None;
    }
    id_text(game.get("id")?)
}

/// Appends `bytes` to `buffer` and takes out every event block it now
/// completes (up to and with its blank line).
pub(crate) fn complete_blocks(buffer: &mut Vec<u8>, bytes: &[u8]) -> Vec<Vec<u8>> {
    buffer.extend_from_slice(bytes);
    let mut blocks = Vec::new();
    while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
        blocks.push(buffer.drain(..end + 2).collect());
    }
    blocks
}

/// One Server-Sent Events block (the lines before a blank line): its `id:`,
/// and its `data:` lines joined and parsed as JSON. `None` for a keep-alive
/// comment, or data that is not JSON.
pub(crate) fn parse_block(block: &[u8]) -> Option<(Option<String>, Value)> {
    let block = Block::parse(std::str::from_utf8(block).ok()?);
    let data = block.json()?;
    Some((block.id, data))
}

/// The process's VmRSS and VmHWM, in MB.
pub(crate) fn server_memory(pid: u32) -> anyhow::Result<(f64, f64)> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let kib = |key: &str| -> anyhow::Result<f64> {
        let line = status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .with_context(|| format!("no {key} in {path}"))?;
        let value: f64 = line
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .with_context(|| format!("{key} in {path}: {line}"))?;
        Ok(value)
    };
    Ok((
        round(kib("VmRSS:")? / 1024.0, 1),
        round(kib("VmHWM:")? / 1024.0, 1),
    ))
}

#[cfg(test)]
mod tests {
    use super::{complete_blocks, parse_block, queued_game};

    #[test]
    fn blocks_are_taken_out_as_they_complete() {
        let mut buffer = Vec::new();
        assert!(complete_blocks(&mut buffer, b"id: 1\ndata: {}").is_empty());
        let blocks = complete_blocks(&mut buffer, b"\n\n: ping\n\nid: 2");
        assert_eq!(
            blocks,
            [b"id: 1\ndata: {}\n\n".to_vec(), b": ping\n\n".to_vec()]
        );
        assert_eq!(buffer, b"id: 2");
    }

    #[test]
    fn a_block_gives_its_id_and_joined_data_and_a_queued_event_its_game() {
        let block = b"event: game\nid: 9\ndata: {\"id\":\"g1\",\ndata: \"state\":\"queued\"}\n\n";
        let (id, data) = parse_block(block).expect("a block with data");
        assert_eq!(id.as_deref(), Some("9"));
        assert_eq!(data["state"], "queued");
        assert_eq!(queued_game(block).as_deref(), Some("g1"));
    }

    #[test]
    fn keep_alives_and_other_states_are_no_queued_game() {
        assert!(parse_block(b": keep-alive\n\n").is_none());
        let playing = b"event: game\nid: 10\ndata: {\"id\":3,\"state\":\"playing\"}\n\n";
        assert!(queued_game(playing).is_none());
    }
}
