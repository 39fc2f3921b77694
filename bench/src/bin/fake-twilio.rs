//! A stand-in for Twilio's Messages API for benchmarks: accepts every text
//! at once (201 with a new sid), lists nothing, counts what it took.
//! `fake-twilio --port 0` prints the port it listens on.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use clap::Parser;
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// 0 picks a free port (printed on stdout).
    #[arg(long, default_value_t = 0)]
    port: u16,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let count = Arc::new(AtomicU64::new(0));
    let app = Router::new()
        .route(
            "/2010-04-01/Accounts/{sid}/Messages.json",
            post(|State(count): State<Arc<AtomicU64>>| async move {
                let n = count.fetch_add(1, Ordering::Relaxed) + 1;
                (
                    StatusCode::CREATED,
                    axum::Json(json!({"sid": format!("SM{n:032}"), "status": "queued"})),
                )
            })
            .get(|| async { axum::Json(json!({"messages": []})) }),
        )
        .route(
            "/count",
            get(|State(count): State<Arc<AtomicU64>>| async move {
                count.load(Ordering::Relaxed).to_string()
            }),
        )
        .with_state(count);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    println!("{}", listener.local_addr()?.port());
    axum::serve(listener, app).await?;
    Ok(())
}
