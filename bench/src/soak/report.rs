//! The soak's result: per-endpoint counts and latency, the event streams,
//! the server's memory, the outbox backlog and the texts, as Markdown (for
//! bench/results) and JSON.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use serde::Serialize;

use super::boards::Feed;
use super::venue::Venue;
use crate::rounding::round;

/// One sample of the server during the run.
#[derive(Clone, Serialize)]
pub struct Sample {
    pub at_seconds: f64,
    pub rss_mb: Option<f64>,
    pub backlog: Option<i64>,
    pub requests: u64,
    pub errors: u64,
}

pub struct Inputs<'a> {
    pub venue: &'a Venue,
    pub seconds: u64,
    pub warmup_seconds: u64,
    pub samples: Vec<Sample>,
    pub subscribers: Vec<Feed>,
    pub rss_start: Option<f64>,
    pub rss_end: Option<f64>,
    pub rss_drained: Option<f64>,
    pub rss_peak: Option<f64>,
    pub backlog_at_end: Option<i64>,
    pub drain_seconds: Option<f64>,
    pub texts_received: Option<u64>,
}

#[derive(Serialize)]
pub struct EndpointRow {
    pub endpoint: &'static str,
    pub requests: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Serialize)]
pub struct Report {
    pub seconds: u64,
    pub speedup: f64,
    pub venue_minutes: f64,
    pub signups: u64,
    pub with_mobile: u64,
    pub photos: u64,
    pub completed: u64,
    pub left: u64,
    pub no_show_cancelled: u64,
    pub no_show_expired: u64,
    pub endpoints: Vec<EndpointRow>,
    pub requests: u64,
    /// Every endpoint's errors (the stream drops included).
    #[serde(rename = "total_errors")]
    pub errors: u64,
    pub subscribers: usize,
    pub events_min: u64,
    pub events_max: u64,
    pub disconnects: u64,
    pub warmup_seconds: u64,
    pub rss_start_mb: Option<f64>,
    pub rss_end_mb: Option<f64>,
    pub rss_drained_mb: Option<f64>,
    pub rss_peak_mb: Option<f64>,
    pub rss_growth_pct: Option<f64>,
    pub backlog_max: Option<i64>,
    pub backlog_mean: Option<f64>,
    pub backlog_at_end: Option<i64>,
    pub drain_seconds: Option<f64>,
    pub texts_expected: u64,
    pub texts_welcome: u64,
    pub texts_recall: u64,
    pub texts_souvenir: u64,
    pub texts_received: Option<u64>,
    pub target_met: bool,
    pub samples: Vec<Sample>,
}

/// Target: zero errors, RSS growth ≤ 10 %, the outbox empty within 5 s.
const MAX_GROWTH_PCT: f64 = 10.0;
const MAX_DRAIN_SECONDS: f64 = 5.0;

impl Report {
    pub fn new(i: Inputs<'_>) -> Self {
        let o = &i.venue.outcomes;
        let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let ms = |micros: u64| round(micros as f64 / 1000.0, 1);
        let endpoints: Vec<EndpointRow> = i
            .venue
            .endpoints
            .lock()
            .expect("endpoints lock")
            .iter()
            .map(|(&name, ep)| EndpointRow {
                endpoint: name,
                requests: ep.requests,
                errors: ep.errors,
                p50_ms: ms(ep.latency.value_at_quantile(0.50)),
                p99_ms: ms(ep.latency.value_at_quantile(0.99)),
                max_ms: ms(ep.latency.max()),
            })
            .collect();
        let requests = endpoints.iter().map(|e| e.requests).sum();
        let errors = endpoints.iter().map(|e| e.errors).sum();
        let backlogs: Vec<i64> = i.samples.iter().filter_map(|s| s.backlog).collect();
        let rss_growth_pct = match (i.rss_start, i.rss_end) {
            (Some(a), Some(b)) if a > 0.0 => Some(round((b - a) / a * 100.0, 1)),
            _ => None,
        };
        let texts_welcome = get(&o.with_mobile);
        let texts_recall = i.venue.recalled.lock().expect("recalled lock").len() as u64;
        let texts_souvenir = get(&o.completed_with_mobile);
        let texts_expected = texts_welcome + texts_recall + texts_souvenir;
        let disconnects = i.subscribers.iter().map(|f| f.disconnects).sum();
        let target_met = errors == 0
            && disconnects == 0
            && rss_growth_pct.is_some_and(|g| g <= MAX_GROWTH_PCT)
            && i.drain_seconds.is_some_and(|d| d <= MAX_DRAIN_SECONDS)
            && i.texts_received.is_none_or(|r| r == texts_expected);
        Self {
            seconds: i.seconds,
            speedup: i.venue.speedup,
            venue_minutes: round(i.seconds as f64 * i.venue.speedup / 60.0, 0),
            signups: get(&o.signups),
            with_mobile: get(&o.with_mobile),
            photos: get(&o.photos),
            completed: get(&o.completed),
            left: get(&o.left),
            no_show_cancelled: get(&o.no_show_cancelled),
            no_show_expired: get(&o.no_show_expired),
            endpoints,
            requests,
            errors,
            subscribers: i.subscribers.len(),
            events_min: i.subscribers.iter().map(|f| f.events).min().unwrap_or(0),
            events_max: i.subscribers.iter().map(|f| f.events).max().unwrap_or(0),
            disconnects,
            warmup_seconds: i.warmup_seconds,
            rss_start_mb: i.rss_start,
            rss_end_mb: i.rss_end,
            rss_drained_mb: i.rss_drained,
            rss_peak_mb: i.rss_peak,
            rss_growth_pct,
            backlog_max: backlogs.iter().copied().max(),
            backlog_mean: (!backlogs.is_empty()).then(|| {
                round(
                    backlogs.iter().sum::<i64>() as f64 / backlogs.len() as f64,
                    1,
                )
            }),
            backlog_at_end: i.backlog_at_end,
            drain_seconds: i.drain_seconds.map(|d| round(d, 1)),
            texts_expected,
            texts_welcome,
            texts_recall,
            texts_souvenir,
            texts_received: i.texts_received,
            target_met,
            samples: i.samples,
        }
    }

    pub fn markdown(&self) -> String {
        let opt = |v: Option<f64>| v.map_or_else(|| "?".to_owned(), |v| v.to_string());
        let mut md = String::new();
        let _ = writeln!(
            md,
            "{} s at {}× ≙ {} minutes of the venue. Players: {} signed up ({} with a mobile \
             number, {} photos); {} completed, {} left the queue (cancelled), {} no-shows \
             cancelled by staff, {} no-shows left to expire; the rest were still waiting or \
             playing at the end.\n",
            self.seconds,
            self.speedup,
            self.venue_minutes,
            self.signups,
            self.with_mobile,
            self.photos,
            self.completed,
            self.left,
            self.no_show_cancelled,
            self.no_show_expired,
        );
        md.push_str("| endpoint | requests | errors | p50 ms | p99 ms | max ms |\n");
        md.push_str("|---|---:|---:|---:|---:|---:|\n");
        for e in &self.endpoints {
            let _ = writeln!(
                md,
                "| `{}` | {} | {} | {} | {} | {} |",
                e.endpoint, e.requests, e.errors, e.p50_ms, e.p99_ms, e.max_ms
            );
        }
        let _ = writeln!(
            md,
            "| **all** | **{}** | **{}** | | | |\n",
            self.requests, self.errors
        );
        let _ = writeln!(
            md,
            "| measure | value |\n|---|---:|\n\
             | event streams (boards) | {} |\n\
             | events received per stream, min–max | {}–{} |\n\
             | stream drops (reconnected with `Last-Event-ID`) | {} |\n\
             | RSS after the {} s warm-up, MB | {} |\n\
             | RSS at the end of the load, MB | {} |\n\
             | RSS growth | {} % |\n\
             | RSS once drained / peak (VmHWM), MB | {} / {} |\n\
             | outbox backlog during the load, max / mean | {} / {} |\n\
             | outbox backlog at the end of the load | {} |\n\
             | outbox empty after the end of the load, s | {} |\n\
             | texts expected (welcome + recall + souvenir) | {} ({} + {} + {}) |\n\
             | texts received by the Twilio stand-in | {} |\n",
            self.subscribers,
            self.events_min,
            self.events_max,
            self.disconnects,
            self.warmup_seconds,
            opt(self.rss_start_mb),
            opt(self.rss_end_mb),
            opt(self.rss_growth_pct),
            opt(self.rss_drained_mb),
            opt(self.rss_peak_mb),
            self.backlog_max.map_or("?".into(), |v| v.to_string()),
            opt(self.backlog_mean),
            self.backlog_at_end.map_or("?".into(), |v| v.to_string()),
            self.drain_seconds
                .map_or_else(|| "not within the timeout".to_owned(), |v| v.to_string()),
            self.texts_expected,
            self.texts_welcome,
            self.texts_recall,
            self.texts_souvenir,
            self.texts_received
                .map_or("not counted".into(), |v| v.to_string()),
        );
        md.push_str("Over time (a tenth of the run apart):\n\n");
        md.push_str("| s | RSS MB | outbox backlog | requests | errors |\n");
        md.push_str("|---:|---:|---:|---:|---:|\n");
        let step = (self.samples.len() / 10).max(1);
        let last = self.samples.len().saturating_sub(1);
        for (n, s) in self.samples.iter().enumerate() {
            if n % step == 0 || n == last {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} |",
                    s.at_seconds.round(),
                    opt(s.rss_mb),
                    s.backlog.map_or("?".into(), |v| v.to_string()),
                    s.requests,
                    s.errors
                );
            }
        }
        let _ = write!(
            md,
            "\nTarget (no errors or stream drops, RSS growth ≤ {MAX_GROWTH_PCT} %, outbox empty \
             within {MAX_DRAIN_SECONDS} s of the end, every expected text received): **{}**.",
            if self.target_met { "met" } else { "missed" }
        );
        md
    }
}
