//! `ondeck-bench soak`: a busy venue's day, `--speedup` times faster, against
//! a running `ondeck run`: players, tablets, stations, boards on the event
//! stream and staff exports (see `venue`), while the server's memory and the
//! outbox backlog are sampled. `bench/soak` drives it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Args;
use reqwest::{Client, Url};
use tokio::sync::watch;

mod boards;
mod model;
mod players;
mod report;
mod venue;

use model::Model;
use report::Sample;
use venue::{Tokens, Venue};

#[derive(Args)]
pub struct SoakArgs {
    /// Base URL of a running `ondeck run` (API and worker in one process).
    #[arg(long, env = "ONDECK_BENCH_BASE_URL")]
    base_url: Url,
    /// An admin token (the staff's CSV exports).
    #[arg(long, env = "ONDECK_SOAK_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: String,
    /// Tablet tokens, comma-separated: one per tablet.
    #[arg(
        long,
        env = "ONDECK_SOAK_TABLET_TOKENS",
        hide_env_values = true,
        value_delimiter = ',',
        required = true
    )]
    tablet_tokens: Vec<String>,
    /// Game tokens, comma-separated: one per station's game client.
    #[arg(
        long,
        env = "ONDECK_SOAK_GAME_TOKENS",
        hide_env_values = true,
        value_delimiter = ',',
        required = true
    )]
    game_tokens: Vec<String>,
    /// Display tokens, comma-separated: one per board (each holds an event stream).
    #[arg(
        long,
        env = "ONDECK_SOAK_DISPLAY_TOKENS",
        hide_env_values = true,
        value_delimiter = ',',
        required = true
    )]
    display_tokens: Vec<String>,
    /// Wall-clock length of the load.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(10..))]
    seconds: u64,
    /// How many times faster than the venue the day runs.
    #[arg(long, default_value_t = 10.0)]
    speedup: f64,
    /// Team names players pick from (they must exist), comma-separated.
    #[arg(long, value_delimiter = ',')]
    teams: Vec<String>,
    /// The venue's day (YYYY-MM-DD) for the boards' leaderboard, as board.js asks.
    #[arg(long)]
    day: Option<String>,
    /// Seed of the arrivals and the players' choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The server's pid: VmRSS is read from /proc/PID/status.
    #[arg(long)]
    server_pid: Option<u32>,
    /// The Twilio stand-in (bench/src/bin/fake-twilio.rs), for its /count.
    #[arg(long)]
    twilio_url: Option<Url>,
    /// How long to wait, after the load, for the outbox to empty.
    #[arg(long, default_value_t = 120)]
    drain_timeout_seconds: u64,
    /// Also write the result as one JSON object to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    #[command(flatten)]
    model: Model,
}

pub async fn soak(args: SoakArgs) -> anyhow::Result<()> {
    if args.base_url.cannot_be_a_base() || !args.base_url.scheme().starts_with("http") {
        bail!("--base-url must be an http(s) URL, got {}", args.base_url);
    }
    args.model.check()?;
    anyhow::ensure!(args.speedup > 0.0, "--speedup must be positive");
    anyhow::ensure!(
        args.game_tokens.len() >= args.model.stations,
        "{} stations need as many --game-tokens, got {}",
        args.model.stations,
        args.game_tokens.len()
    );

    let http = Client::builder()
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(60))
        .build()
        .context("building the HTTP client")?;
    let streams = Client::builder()
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5))
        .build()
        .context("building the SSE client")?;
    let photo = Bytes::from(crate::render::synthetic_photo()?);
    let metrics_url = args.base_url.join("/metrics")?;

    let started = Instant::now();
    let seconds = args.seconds;
    let warmup = Duration::from_secs(seconds.div_ceil(10));
    let boards = args.display_tokens.len();
    let venue = Arc::new(Venue::new(
        http.clone(),
        streams,
        args.base_url.clone(),
        Tokens {
            admin: args.admin_token,
            tablets: args.tablet_tokens,
            games: args.game_tokens,
            displays: args.display_tokens,
        },
        args.model.clone(),
        args.speedup,
        args.teams,
        args.day,
        photo,
        started + Duration::from_secs(seconds),
    ));
    eprintln!(
        "soak: {seconds} s at {}× ({:.0} venue minutes), {} tablets, {} stations, {boards} boards",
        args.speedup,
        seconds as f64 * args.speedup / 60.0,
        venue.tokens.tablets.len(),
        args.model.stations
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut feeds = tokio::task::JoinSet::new();
    for i in 0..boards {
        feeds.spawn(boards::board(Arc::clone(&venue), i, stop_rx.clone()));
    }
    let mut load = tokio::task::JoinSet::new();
    load.spawn(players::arrivals(Arc::clone(&venue), args.seed));
    load.spawn(venue::exports(Arc::clone(&venue)));
    for i in 0..venue.tokens.tablets.len() {
        load.spawn(venue::tablet(Arc::clone(&venue), i));
    }

    // Sampling every second until every load task has finished.
    let probe = Probe {
        http,
        metrics: metrics_url,
        pid: args.server_pid,
    };
    let mut samples = Vec::new();
    let mut rss_start = None;
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let mut last_print = 0u64;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            joined = load.join_next() => match joined {
                Some(r) => { r.context("a load task panicked")?; continue; }
                None => break,
            },
        }
        let sample = probe.sample(&venue, started).await;
        if rss_start.is_none() && started.elapsed() >= warmup {
            rss_start = sample.rss_mb;
        }
        let minute = sample.at_seconds as u64 / 60;
        if minute > last_print {
            last_print = minute;
            eprintln!(
                "soak: {:.0} s: {} requests, {} errors, RSS {} MB, backlog {}",
                sample.at_seconds,
                sample.requests,
                sample.errors,
                opt(sample.rss_mb),
                opt(sample.backlog)
            );
        }
        samples.push(sample);
    }
    let load_ended = Instant::now();
    let rss_end = probe.memory().map(|(rss, _)| rss);
    eprintln!(
        "soak: load ended {:.1} s after the deadline; waiting for the outbox to empty",
        load_ended.duration_since(venue.deadline).as_secs_f64()
    );

    // The drain: from the end of the load until the outbox is empty.
    let mut drain_seconds = None;
    let mut backlog_at_end = None;
    let drain_deadline = load_ended + Duration::from_secs(args.drain_timeout_seconds);
    while Instant::now() < drain_deadline {
        let backlog = probe.backlog().await;
        backlog_at_end = backlog_at_end.or(backlog);
        if backlog == Some(0) {
            drain_seconds = Some(load_ended.elapsed().as_secs_f64());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A text's job is done once the provider answered; a second for the
    // last events to reach the boards.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_drained = probe.memory();
    let texts_received = match &args.twilio_url {
        Some(url) => Some(twilio_count(&probe.http, url).await?),
        None => None,
    };
    let _ = stop_tx.send(true);
    let mut subscribers = Vec::new();
    while let Some(feed) = feeds.join_next().await {
        subscribers.push(feed.context("a board task panicked")?);
    }

    let report = report::Report::new(report::Inputs {
        venue: &venue,
        seconds,
        warmup_seconds: warmup.as_secs(),
        samples,
        subscribers,
        rss_start,
        rss_end,
        rss_drained: rss_drained.map(|(rss, _)| rss),
        rss_peak: rss_drained.map(|(_, hwm)| hwm),
        backlog_at_end,
        drain_seconds,
        texts_received,
    });
    println!("{}", report.markdown());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if report.signups == 0 {
        bail!("no player signed up: is the server up and are the tokens right?");
    }
    Ok(())
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "?".to_owned(), |v| v.to_string())
}

/// Reads the server: its memory from /proc, its outbox from /metrics.
struct Probe {
    http: Client,
    metrics: Url,
    pid: Option<u32>,
}

impl Probe {
    async fn sample(&self, venue: &Venue, started: Instant) -> Sample {
        let (requests, errors) = {
            let endpoints = venue.endpoints.lock().expect("endpoints lock");
            endpoints
                .values()
                .fold((0, 0), |(r, e), ep| (r + ep.requests, e + ep.errors))
        };
        Sample {
            at_seconds: crate::rounding::round(started.elapsed().as_secs_f64(), 1),
            rss_mb: self.memory().map(|(rss, _)| rss),
            backlog: self.backlog().await,
            requests,
            errors,
        }
    }

    /// VmRSS and VmHWM in MB.
    fn memory(&self) -> Option<(f64, f64)> {
        self.pid.and_then(|pid| crate::sse::server_memory(pid).ok())
    }

    /// Outbox rows not done: `ondeck_outbox_backlog`'s stages summed.
    async fn backlog(&self) -> Option<i64> {
        let response = self.http.get(self.metrics.clone()).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let text = response.text().await.ok()?;
        outbox_backlog(&text)
    }
}

/// The sum of `ondeck_outbox_backlog{stage=…}` in a Prometheus text page.
fn outbox_backlog(text: &str) -> Option<i64> {
    let values: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with("ondeck_outbox_backlog{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() as i64)
}

async fn twilio_count(http: &Client, base: &Url) -> anyhow::Result<u64> {
    let url = base.join("/count")?;
    let text = http
        .get(url)
        .send()
        .await
        .context("asking the Twilio stand-in for its count")?
        .text()
        .await?;
    text.trim()
        .parse()
        .with_context(|| format!("the Twilio stand-in's count: {text}"))
}

#[cfg(test)]
mod tests {
    use super::outbox_backlog;

    #[test]
    fn the_backlog_sums_both_stages_and_is_none_without_the_family() {
        let page = "# TYPE ondeck_outbox_backlog gauge\n\
                    ondeck_outbox_backlog{stage=\"pending\"} 3\n\
                    ondeck_outbox_backlog{stage=\"relayed\"} 4\n\
                    ondeck_outbox_relayed_total 99\n";
        assert_eq!(outbox_backlog(page), Some(7));
        assert_eq!(outbox_backlog("ondeck_outbox_relayed_total 99\n"), None);
    }
}
