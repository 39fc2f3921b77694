//! `ondeck-bench phones`: a line of N players, each with their page open on
//! a phone that polls `GET /p/{code}/status` every few seconds, while staff
//! move the line. Reports the polls' latency and errors, how the server
//! answered them (from memory or from the database, per its `/metrics`),
//! and its memory. `bench/phones` drives it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use futures::StreamExt;
use hdrhistogram::Histogram;
use reqwest::{Client, Url};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::http::{chain, client, id_text};
use crate::rounding::round;
use crate::sse::server_memory;

#[derive(Args)]
pub struct PhonesArgs {
    /// Base URL of a running `ondeck serve`, e.g. http://127.0.0.1:8000
    #[arg(long, env = "ONDECK_BENCH_BASE_URL")]
    base_url: Url,
    /// Bearer token of an admin (signs players up, moves the line, reads /metrics).
    #[arg(long, env = "ONDECK_BENCH_TOKEN", hide_env_values = true)]
    token: String,
    /// Players in line, each with a phone polling their page.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    phones: u32,
    /// How often each phone asks for its status (the page's script: 5 s).
    #[arg(long, default_value_t = 5.0)]
    poll_seconds: f64,
    /// How long the phones poll once every player is in line.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Staff take the game at the front of the line through confirm → play
    /// → complete every this many milliseconds (each step moves the line).
    #[arg(long, default_value_t = 1000)]
    staff_interval_ms: u64,
    /// Signups at once while the line fills.
    #[arg(long, default_value_t = 16)]
    signup_concurrency: usize,
    /// The server's pid: its VmRSS and VmHWM are read from /proc at the end.
    #[arg(long)]
    server_pid: Option<u32>,
    /// A shell command that prints the database's transaction count (e.g.
    /// psql reading pg_stat_database), run before and after the polling.
    #[arg(long)]
    transactions_command: Option<String>,
    /// Also print the result as one JSON object on stdout (the summary goes to stderr).
    #[arg(long)]
    json: bool,
}

/// The result of one run, as printed with `--json`.
#[derive(Serialize)]
struct PhonesReport {
    phones: u32,
    poll_seconds: f64,
    seconds: u64,
    polls: u64,
    polls_per_second: f64,
    errors: u64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// Games staff moved through confirm → play → complete during the run.
    staff_games: u64,
    staff_errors: u64,
    /// From the server's `/metrics`, over the polling phase.
    reads_from_memory: f64,
    reads_after_rebuild: f64,
    reads_from_database: f64,
    rebuilds: f64,
    /// The database's transactions over the polling phase, when
    /// `--transactions-command` says how to count them.
    transactions: Option<i64>,
    server_rss_mb: Option<f64>,
    server_hwm_mb: Option<f64>,
}

/// A player in line: their game and the path of their status.
struct Phone {
    game: String,
    status_path: String,
}

pub async fn phones(args: PhonesArgs) -> anyhow::Result<()> {
    let n = args.phones as usize;
    let http = client(&args.token, n.min(1024))?;
    // Phones send no token: a client of their own, without the header.
    let anonymous = Client::builder()
        .pool_max_idle_per_host(n.min(1024))
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the phones' HTTP client")?;
    let started = Instant::now();
    let line = fill_line(&http, &args, n).await?;
    eprintln!(
        "{} players in line in {:.1} s",
        line.len(),
        started.elapsed().as_secs_f64()
    );
    // Every phone reads its page once (as it opens the link), then the
    // polling starts from a known state of the server's counters.
    let opened = futures::stream::iter(&line)
        .map(|phone| poll(&anonymous, &args.base_url, &phone.status_path))
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await;
    let unopened = opened.iter().filter(|r| r.is_err()).count();
    if unopened > 0 {
        bail!(
            "{unopened} pages did not open: {:?}",
            opened.iter().find(|r| r.is_err())
        );
    }
    let before = counters(&http, &args.base_url).await?;
    let transactions_before = transactions(args.transactions_command.as_deref()).await?;

    let stop = Arc::new(AtomicBool::new(false));
    let histogram = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1, 60_000_000, 3,
    )?));
    let errors = Arc::new(AtomicU64::new(0));
    let interval = Duration::from_secs_f64(args.poll_seconds.max(0.1));
    let polling_started = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for (i, phone) in line.iter().enumerate() {
        let (client, base) = (anonymous.clone(), args.base_url.clone());
        let path = phone.status_path.clone();
        let (stop, histogram, errors) = (stop.clone(), histogram.clone(), errors.clone());
        // Spread over the interval, as phones that opened their pages at
        // different moments.
        let offset = interval.mul_f64(i as f64 / n as f64);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(offset).await;
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !stop.load(Ordering::Relaxed) {
                ticks.tick().await;
                let asked = Instant::now();
                match poll(&client, &base, &path).await {
                    Ok(()) => {
                        let micros = asked.elapsed().as_micros() as u64;
                        histogram.lock().await.saturating_record(micros.max(1));
                    }
                    Err(e) => {
                        if errors.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("poll failed: {e:#}");
                        }
                    }
                }
            }
        }));
    }
    let (staff_games, staff_errors) = staff(&http, &args, &line, polling_started).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.context("a phone's task")?;
    }
    let elapsed = polling_started.elapsed().as_secs_f64();
    let after = counters(&http, &args.base_url).await?;
    let transactions_after = transactions(args.transactions_command.as_deref()).await?;
    let (rss, hwm) = match args.server_pid {
        Some(pid) => {
            let (rss, hwm) = server_memory(pid)?;
            (Some(rss), Some(hwm))
        }
        None => (None, None),
    };
    let histogram = histogram.lock().await;
    let ms = |q: f64| round(histogram.value_at_quantile(q) as f64 / 1000.0, 2);
    let report = PhonesReport {
        phones: args.phones,
        poll_seconds: args.poll_seconds,
        seconds: args.seconds,
        polls: histogram.len(),
        polls_per_second: round(histogram.len() as f64 / elapsed, 1),
        errors: errors.load(Ordering::Relaxed),
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        max_ms: round(histogram.max() as f64 / 1000.0, 2),
        staff_games,
        staff_errors,
        reads_from_memory: after.memory - before.memory,
        reads_after_rebuild: after.after_rebuild - before.after_rebuild,
        reads_from_database: after.database - before.database,
        rebuilds: after.rebuilds - before.rebuilds,
        transactions: transactions_before
            .zip(transactions_after)
            .map(|(before, after)| after - before),
        server_rss_mb: rss,
        server_hwm_mb: hwm,
    };
    eprintln!(
        "{} polls ({}/s), {} errors: p50 {} ms, p99 {} ms, max {} ms; \
         {} from memory, {} after a rebuild, {} from the database, {} rebuilds; \
         {} games moved by staff",
        report.polls,
        report.polls_per_second,
        report.errors,
        report.p50_ms,
        report.p99_ms,
        report.max_ms,
        report.reads_from_memory,
        report.reads_after_rebuild,
        report.reads_from_database,
        report.rebuilds,
        report.staff_games
    );
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}

/// Signs `n` players up and queues their games; answers them in line order.
async fn fill_line(http: &Client, args: &PhonesArgs, n: usize) -> anyhow::Result<Vec<Phone>> {
    let base = &args.base_url;
    let signed = futures::stream::iter(0..n)
        .map(|i| async move {
            let body = json!({"first_name": format!("Phone{i}"), "handedness": "R"});
            let player: Value = send(http, base.join("/api/v1/players")?, body).await?;
            let game = &player["active_game"];
            let id = id_text(&game["id"]).context("a signup without a game")?;
            send(
                http,
                base.join(&format!("/api/v1/games/{id}/queue"))?,
                json!({}),
            )
            .await?;
            let link = game["player_link"]
                .as_str()
                .context("a game without player_link: is the token an admin's?")?;
            let code = link.rsplit('/').next().unwrap_or_default();
            anyhow::Ok((
                i,
                Phone {
                    game: id,
                    status_path: format!("/p/{code}/status"),
                },
            ))
        })
        .buffer_unordered(args.signup_concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    let mut line = signed.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    line.sort_by_key(|(i, _)| *i);
    Ok(line.into_iter().map(|(_, phone)| phone).collect())
}

/// Staff take the game at the front of the line through confirm → play →
/// complete, one step every `staff_interval_ms / 3`, until the polling
/// time is up. Answers (games done, failed requests).
async fn staff(http: &Client, args: &PhonesArgs, line: &[Phone], since: Instant) -> (u64, u64) {
    let step = Duration::from_millis(args.staff_interval_ms.max(3) / 3);
    let until = since + Duration::from_secs(args.seconds);
    let (mut done, mut failed) = (0, 0);
    // The front of the line is the oldest signup still queued: the line is
    // never moved otherwise during the run.
    for phone in line {
        for (action, body) in [
            ("confirm", json!({})),
            ("play", json!({})),
            (
                "complete",
                json!({"score": 100, "distance": 350, "homeruns": 2}),
            ),
        ] {
            if Instant::now() >= until {
                return (done, failed);
            }
            tokio::time::sleep(step).await;
            let Ok(url) = args
                .base_url
                .join(&format!("/api/v1/games/{}/{action}", phone.game))
            else {
                failed += 1;
                continue;
            };
            if let Err(e) = send(http, url, body).await {
                failed += 1;
                eprintln!("staff {action} failed: {e:#}");
            }
        }
        done += 1;
    }
    let left = until.saturating_duration_since(Instant::now());
    tokio::time::sleep(left).await;
    (done, failed)
}

/// One status poll: 200 and a JSON object with a state.
pub(crate) async fn poll(client: &Client, base: &Url, path: &str) -> anyhow::Result<()> {
    let response = client
        .get(base.join(path)?)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!(chain(&e)))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| anyhow::anyhow!(chain(&e)))?;
    if status != 200 {
        bail!("{path}: {status}: {}", String::from_utf8_lossy(&body));
    }
    let value: Value = serde_json::from_slice(&body).context("a status that is not JSON")?;
    if !value["state"].is_string() {
        bail!("{path}: a status without a state: {value}");
    }
    Ok(())
}

/// POSTs `body` and answers the JSON, or the error with the server's words.
async fn send(http: &Client, url: Url, body: Value) -> anyhow::Result<Value> {
    let response = http
        .post(url.clone())
        .json(&body)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!(chain(&e)))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| anyhow::anyhow!(chain(&e)))?;
    if !status.is_success() {
        bail!("{} {url}: {status}: {text}", "POST");
    }
    serde_json::from_str(&text).with_context(|| format!("{url}: not JSON: {text}"))
}

/// The server's page counters (`/metrics`).
struct Counters {
    /// Reads answered from memory as it was.
    memory: f64,
    /// Reads that found their show out of date and were answered once it
    /// was read again (one read of the show for all of them).
    after_rebuild: f64,
    /// Reads of a code memory had not seen, looked up in the database.
    database: f64,
    /// Reads of a show's pages from the database.
    rebuilds: f64,
}

async fn counters(http: &Client, base: &Url) -> anyhow::Result<Counters> {
    let text = http
        .get(base.join("/metrics")?)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!(chain(&e)))?
        .error_for_status()?
        .text()
        .await?;
    let sum = |prefix: &str| -> f64 {
        text.lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .filter_map(|v| v.trim().parse::<f64>().ok())
            .sum()
    };
    Ok(Counters {
        memory: sum(r#"ondeck_player_status_reads_total{from="memory"} "#),
        after_rebuild: sum(r#"ondeck_player_status_reads_total{from="rebuild"} "#),
        database: sum(r#"ondeck_player_status_reads_total{from="database"} "#),
        rebuilds: sum("ondeck_player_line_rebuilds_total "),
    })
}

/// The database's transaction count, as `command` prints it. PostgreSQL's
/// backends report their counts when idle, at most once a second and at
/// the latest after 10 s, so it first waits for that.
async fn transactions(command: Option<&str>) -> anyhow::Result<Option<i64>> {
    let Some(command) = command else {
        return Ok(None);
    };
    tokio::time::sleep(Duration::from_secs(11)).await;
    let output = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .output()
        .await
        .context("running --transactions-command")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "--transactions-command failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let count = text
        .trim()
        .parse()
        .with_context(|| format!("not a count: {text}"))?;
    Ok(Some(count))
}
