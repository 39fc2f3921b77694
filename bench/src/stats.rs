//! `ondeck-bench stats`: staff asking for a big show's report. N admins, each
//! with one request in flight, ask `GET /api/v1/stats` (cycling through the
//! given queries; `--path` asks another read instead, as `bench/reads` does)
//! for a while; meanwhile a tablet may sign a player up every
//! so often, which changes the data and so makes the next report be made
//! afresh. Prints one Markdown row: latency percentiles, rate and errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use hdrhistogram::Histogram;
use serde_json::json;
use tokio::sync::Mutex;

use crate::http::{chain, client};

#[derive(Args)]
pub struct StatsArgs {
    /// ondeck's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    base_url: String,
    /// Admins asking at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// How long to ask, after a second of warm-up.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// The path asked for.
    #[arg(long, default_value = "/api/v1/stats")]
    path: String,
    /// The query strings asked in turn (e.g. "" and "day=2026-11-22").
    #[arg(long = "query", default_values_t = [String::new()])]
    queries: Vec<String>,
    /// Sign a player up this often (milliseconds; 0: never), so that
    /// reports must be made again.
    #[arg(long, default_value_t = 0)]
    change_every_ms: u64,
    /// The label of the row.
    #[arg(long, default_value = "")]
    label: String,
}

pub async fn stats(args: StatsArgs) -> anyhow::Result<()> {
    let token =
        std::env::var("ONDECK_BENCH_TOKEN").context("ONDECK_BENCH_TOKEN (an admin token)")?;
    let http = client(&token, args.concurrency + 1)?;
    let histogram = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1,
        120_000_000,
        3,
    )?));
    let errors = Arc::new(AtomicU64::new(0));
    let changes = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let urls: Vec<String> = args
        .queries
        .iter()
        .map(|q| {
            let base = args.base_url.trim_end_matches('/');
            match q.as_str() {
                "" => format!("{base}{}", args.path),
                q => format!("{base}{}?{q}", args.path),
            }
        })
        .collect();

    let mut tasks = Vec::new();
    for worker in 0..args.concurrency {
        let (http, urls, histogram, errors) = (
            http.clone(),
            urls.clone(),
            histogram.clone(),
            errors.clone(),
        );
        let (stop, measuring) = (stop.clone(), measuring.clone());
        tasks.push(tokio::spawn(async move {
            let mut turn = worker;
            while !stop.load(Ordering::Relaxed) {
                let url = &urls[turn % urls.len()];
                turn += 1;
                let started = Instant::now();
                let ok = match http.get(url).send().await {
                    Ok(res) if res.status().is_success() => res.bytes().await.is_ok(),
                    Ok(res) => {
                        eprintln!("stats: {url}: {}", res.status());
                        false
                    }
                    Err(e) => {
                        eprintln!("stats: {url}: {}", chain(&e));
                        false
                    }
                };
                if measuring.load(Ordering::Relaxed) {
                    if ok {
                        let micros = started.elapsed().as_micros() as u64;
                        histogram.lock().await.saturating_record(micros.max(1));
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    if args.change_every_ms > 0 {
        let (http, changes, stop) = (http.clone(), changes.clone(), stop.clone());
        let url = format!("{}/api/v1/players", args.base_url.trim_end_matches('/'));
        let every = Duration::from_millis(args.change_every_ms);
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                n += 1;
                let body = json!({"first_name": format!("Change{n}"), "handedness": "R"});
                match http.post(&url).json(&body).send().await {
                    Ok(res) if res.status().is_success() => {
                        changes.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(res) => eprintln!("stats: a signup answered {}", res.status()),
                    Err(e) => eprintln!("stats: a signup failed: {}", chain(&e)),
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    let h = histogram.lock().await;
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
        args.label,
        args.concurrency,
        changes.load(Ordering::Relaxed),
        h.len() as f64 / elapsed,
        ms(0.5),
        ms(0.9),
        ms(0.99),
        h.max() as f64 / 1000.0,
        errors.load(Ordering::Relaxed),
    );
    Ok(())
}
