//! Load generator for ondeck's benchmarks; `bench/lifecycle` drives it.
//!
//! `ondeck-bench lifecycle` runs N concurrent players through the whole game
//! lifecycle over HTTP (signup → queue → confirm → play → complete) against a
//! running server, and reports transition throughput and latency percentiles.
//!
//! `ondeck-bench sse` holds N subscribers of the event stream and measures
//! how long a transition's event takes to reach them (`bench/sse`).
//!
//! `ondeck-bench phones` holds N players' pages, each polling its status,
//! while staff move the line, and reports latency, errors, how the server
//! answered and its memory (`bench/phones`).
//!
//! `ondeck-bench join` has N players join the line from their phones, the
//! code read from the texts a Twilio stand-in it serves receives, while
//! boards follow the event stream and the joined players' pages poll
//! (`bench/join`).
//!
//! `ondeck-bench soak` plays a busy venue's day, ten times faster, against
//! `ondeck run` and reports errors, latency, memory and the outbox (`bench/soak`).
//!
//! `ondeck-bench stats` asks for a big show's report (`GET /api/v1/stats`)
//! at a fixed concurrency, with or without changes meanwhile (`bench/stats`).
//!
//! `ondeck-bench render` times the souvenir worker's CPU work in process:
//! decode a player's photo, render the souvenir, encode it.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod http;
mod join;
mod lifecycle;
mod phones;
mod render;
mod rounding;
mod soak;
mod sse;
mod stats;

#[derive(Parser)]
#[command(
    name = "ondeck-bench",
    about = "Load generators for ondeck's benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Drive signup → queue → confirm → play → complete at a fixed concurrency.
    Lifecycle(lifecycle::LifecycleArgs),
    /// Time souvenir rendering: decode a 1600×1200 JPEG photo, render, encode.
    Render(render::RenderArgs),
    /// Hold N SSE subscribers; time each queue transition's event to every one.
    Sse(sse::SseArgs),
    /// Hold N players' pages polling their status while staff move the line.
    Phones(phones::PhonesArgs),
    /// Have N players join from their phones (start, texted code, verify) while boards and pages follow.
    Join(Box<join::JoinArgs>),
    /// Play a busy venue's day, sped up, and report errors, latency, memory and backlog.
    Soak(Box<soak::SoakArgs>),
    /// Ask for a show's report at a fixed concurrency, the data changing or not.
    Stats(stats::StatsArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Lifecycle(args) => lifecycle::lifecycle(args).await,
        // CPU-bound and single-threaded, like one souvenir job in the worker.
        Command::Render(args) => render::render(&args),
        Command::Sse(args) => sse::sse(args).await,
        Command::Phones(args) => phones::phones(args).await,
        Command::Join(args) => join::join_bench(*args).await,
        Command::Soak(args) => soak::soak(*args).await,
        Command::Stats(args) => stats::stats(args).await,
    };
    // Printed by hand: anyhow's `Debug` adds a backtrace whenever
    // RUST_BACKTRACE is set, which buries the one line that matters.
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
