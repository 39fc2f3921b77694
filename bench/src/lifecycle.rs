//! `ondeck-bench lifecycle`: N concurrent players through the whole game
//! lifecycle over HTTP (signup → queue → confirm → play → complete) against
//! a running server; transition throughput and latency percentiles.
//! `bench/lifecycle` drives it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Args;
use hdrhistogram::Histogram;
use reqwest::{Client, Method, Url};
use serde::Serialize;
use serde_json::json;

use crate::http::{active_game_id, chain, client};
use crate::rounding::round;

#[derive(Args)]
pub struct LifecycleArgs {
    /// Base URL of a running `ondeck serve`, e.g. http://127.0.0.1:8000
    #[arg(long, env = "ONDECK_BENCH_BASE_URL")]
    base_url: Url,
    /// Bearer token whose role may sign up players and run every transition (admin).
    #[arg(long, env = "ONDECK_BENCH_TOKEN", hide_env_values = true)]
    token: String,
    /// Number of players driven at once, each with at most one request in flight.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    concurrency: u32,
    /// Length of the measured window, after the warm-up.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    seconds: u64,
    /// Load applied before measuring starts (connections, caches, the planner).
    #[arg(long, default_value_t = 1)]
    warmup_seconds: u64,
    /// Also print the result as one JSON object on stdout (the summary goes to stderr).
    #[arg(long)]
    json: bool,
}

/// The transitions each player goes through after signing up, in order.
const TRANSITIONS: [&str; 4] = ["queue", "confirm", "play", "complete"];
/// Bodies are fixed, so they are static bytes rather than serialised per request.
const EMPTY_BODY: &[u8] = b"{}";
const COMPLETE_BODY: &[u8] = br#"{"score":123,"distance":400,"homeruns":3}"#;
/// How many failing responses are printed in full; the rest are only counted.
const PRINTED_ERRORS: usize = 5;

pub async fn lifecycle(args: LifecycleArgs) -> anyhow::Result<()> {
    if args.base_url.cannot_be_a_base() || !args.base_url.scheme().starts_with("http") {
        bail!("--base-url must be an http(s) URL, got {}", args.base_url);
    }
    let concurrency = args.concurrency as usize;
    let client = client(&args.token, concurrency)?;

    let started = Instant::now();
    let measure_from = started + Duration::from_secs(args.warmup_seconds);
    let ctx = Arc::new(Ctx {
        client,
        base: args.base_url,
        measure_from,
        deadline: measure_from + Duration::from_secs(args.seconds),
        next_player: AtomicU64::new(1),
        printed_errors: AtomicUsize::new(0),
    });

    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        workers.spawn(player_loop(Arc::clone(&ctx)));
    }
    let mut total = Stats::new()?;
    while let Some(stats) = workers.join_next().await {
        total.merge(&stats.context("a benchmark task panicked")??)?;
    }

    let report = Report::new(&total, args.concurrency, args.seconds);
    if args.json {
        eprintln!("{}", report.summary());
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{}", report.summary());
    }
    if report.transitions == 0 {
        bail!("no transition succeeded: is the server up and the token an admin's?");
    }
    Ok(())
}

/// What every task shares: the client, the target and the measured window.
struct Ctx {
    client: Client,
    base: Url,
    /// Requests that complete in `[measure_from, deadline]` are measured.
    measure_from: Instant,
    /// No request starts after this; one in flight then is not measured.
    deadline: Instant,
    next_player: AtomicU64,
    printed_errors: AtomicUsize,
}

impl Ctx {
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        // `lifecycle` checked that the base URL can have a path.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["api", "v1"]).extend(segments);
        }
        url
    }

    fn measuring(&self, at: Instant) -> bool {
        at >= self.measure_from && at <= self.deadline
    }

    /// Sends one request and records it: its latency into `histogram` when it
    /// succeeds within the measured window, or an error otherwise (errors are
    /// counted over the whole run, warm-up included). Returns the body of a
    /// 2xx response.
    async fn send(
        &self,
        stats: &mut Stats,
        histogram: Which,
        url: Url,
        body: reqwest::Body,
    ) -> Option<Bytes> {
        let start = Instant::now();
        let sent = self
            .client
            .request(Method::POST, url.clone())
            .body(body)
            .send()
            .await;
        let outcome = match sent {
            Ok(response) => {
                let status = response.status();
                // The body is read even for errors, so the connection is reused.
                match response.bytes().await {
                    Ok(bytes) if status.is_success() => Ok(bytes),
                    Ok(bytes) => {
                        stats.non_2xx += 1;
                        Err(format!("{status}: {}", String::from_utf8_lossy(&bytes)))
                    }
                    Err(e) => {
                        stats.transport_errors += 1;
                        Err(format!(
                            "{status}, then reading the body failed: {}",
                            chain(&e)
                        ))
                    }
                }
            }
            Err(e) => {
                stats.transport_errors += 1;
                Err(chain(&e))
            }
        };
        let end = Instant::now();
        match outcome {
            Ok(bytes) => {
                if self.measuring(end) {
                    let micros =
                        u64::try_from(end.duration_since(start).as_micros()).unwrap_or(u64::MAX);
                    stats.histogram(histogram).saturating_record(micros.max(1));
                }
                Some(bytes)
            }
            Err(message) => {
                self.print_error(&url, &message);
                None
            }
        }
    }

    fn print_error(&self, url: &Url, message: &str) {
        let n = self.printed_errors.fetch_add(1, Ordering::Relaxed);
        if n < PRINTED_ERRORS {
            let message: String = message.chars().take(500).collect();
            eprintln!("error: POST {}: {message}", url.path());
        } else if n == PRINTED_ERRORS {
            eprintln!("error: (further errors are only counted)");
        }
    }
}

/// One player after another until the deadline: sign up, then run each
/// transition of the new game. A failed step abandons that game.
async fn player_loop(ctx: Arc<Ctx>) -> anyhow::Result<Stats> {
    let mut stats = Stats::new()?;
    let players = ctx.url(&["players"]);
    'player: while Instant::now() < ctx.deadline {
        let n = ctx.next_player.fetch_add(1, Ordering::Relaxed);
        let signup = json!({
            "first_name": "Bench",
            "last_name": format!("P{n}"),
            "handedness": "R",
            "signed_waiver": true,
        });
        let body = serde_json::to_vec(&signup)?.into();
        let Some(created) = ctx
            .send(&mut stats, Which::Signup, players.clone(), body)
            .await
        else {
            backoff().await;
            continue;
        };
        let Some(game_id) = active_game_id(&created) else {
            stats.bad_responses += 1;
            let message = format!(
                "201 without active_game.id: {}",
                String::from_utf8_lossy(&created)
            );
            ctx.print_error(&players, &message);
            continue;
        };
        for transition in TRANSITIONS {
            if Instant::now() >= ctx.deadline {
                break 'player;
            }
            let body = if transition == "complete" {
                COMPLETE_BODY
            } else {
                EMPTY_BODY
            };
            let url = ctx.url(&["games", &game_id, transition]);
            if ctx
                .send(&mut stats, Which::Transition, url, body.into())
                .await
                .is_none()
            {
                backoff().await;
                continue 'player;
            }
        }
        if ctx.measuring(Instant::now()) {
            stats.lifecycles += 1;
        }
    }
    Ok(stats)
}

/// Keeps a task from spinning when the server is down or refuses everything.
async fn backoff() {
    tokio::time::sleep(Duration::from_millis(20)).await;
}

#[derive(Clone, Copy)]
enum Which {
    Signup,
    Transition,
}

/// One task's counts; merged once all tasks have finished, so no locking.
struct Stats {
    /// Latency of successful transitions, in microseconds.
    transitions: Histogram<u64>,
    /// Latency of successful signups, in microseconds.
    signups: Histogram<u64>,
    lifecycles: u64,
    non_2xx: u64,
    transport_errors: u64,
    /// A 2xx signup whose body had no usable `active_game.id`.
    bad_responses: u64,
}

impl Stats {
    fn new() -> anyhow::Result<Self> {
        // 1 µs to 60 s at 3 significant digits.
        let histogram = || Histogram::new_with_bounds(1, 60_000_000, 3);
        Ok(Self {
            transitions: histogram()?,
            signups: histogram()?,
            lifecycles: 0,
            non_2xx: 0,
            transport_errors: 0,
            bad_responses: 0,
        })
    }

    fn histogram(&mut self, which: Which) -> &mut Histogram<u64> {
        match which {
            Which::Signup => &mut self.signups,
            Which::Transition => &mut self.transitions,
        }
    }

    fn merge(&mut self, other: &Stats) -> anyhow::Result<()> {
        self.transitions.add(&other.transitions)?;
        self.signups.add(&other.signups)?;
        self.lifecycles += other.lifecycles;
        self.non_2xx += other.non_2xx;
        self.transport_errors += other.transport_errors;
        self.bad_responses += other.bad_responses;
        Ok(())
    }
}

/// The result of one run, as printed with `--json`.
#[derive(Serialize)]
struct Report {
    concurrency: u32,
    seconds: u64,
    transitions: u64,
    transitions_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    signups: u64,
    signups_per_sec: f64,
    signup_p50_ms: f64,
    signup_p99_ms: f64,
    lifecycles: u64,
    /// `non_2xx + transport_errors + bad_responses`.
    errors: u64,
    non_2xx: u64,
    transport_errors: u64,
    bad_responses: u64,
}

impl Report {
    fn new(stats: &Stats, concurrency: u32, seconds: u64) -> Self {
        let per_sec = |n: u64| round(n as f64 / seconds as f64, 1);
        let ms = |micros: u64| round(micros as f64 / 1000.0, 3);
        let (t, s) = (&stats.transitions, &stats.signups);
        Self {
            concurrency,
            seconds,
            transitions: t.len(),
            transitions_per_sec: per_sec(t.len()),
            p50_ms: ms(t.value_at_quantile(0.50)),
            p99_ms: ms(t.value_at_quantile(0.99)),
            max_ms: ms(t.max()),
            signups: s.len(),
            signups_per_sec: per_sec(s.len()),
            signup_p50_ms: ms(s.value_at_quantile(0.50)),
            signup_p99_ms: ms(s.value_at_quantile(0.99)),
            lifecycles: stats.lifecycles,
            errors: stats.non_2xx + stats.transport_errors + stats.bad_responses,
            non_2xx: stats.non_2xx,
            transport_errors: stats.transport_errors,
            bad_responses: stats.bad_responses,
        }
    }

    fn summary(&self) -> String {
        format!(
            "concurrency {}: {} transitions/s (p50 {} ms, p99 {} ms, max {} ms), \
             {} signups/s (p99 {} ms), {} complete lifecycles in {} s, {} errors",
            self.concurrency,
            self.transitions_per_sec,
            self.p50_ms,
            self.p99_ms,
            self.max_ms,
            self.signups_per_sec,
            self.signup_p99_ms,
            self.lifecycles,
            self.seconds,
            self.errors,
        )
    }
}
