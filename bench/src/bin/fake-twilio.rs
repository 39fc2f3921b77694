//! A stand-in for Twilio's Messages API for benchmarks: the test kit's,
//! with its checks off, so it accepts every text at once (201 with a new
//! sid), lists nothing and counts what it took (`GET /count`).
//! `fake-twilio --port 0` prints the port it listens on.

use clap::Parser;
use ondeck_testkit::twilio::{Checks, FakeTwilio};

#[derive(Parser)]
struct Args {
    /// 0 picks a free port (printed on stdout).
    #[arg(long, default_value_t = 0)]
    port: u16,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    println!("{}", listener.local_addr()?.port());
    FakeTwilio::serve(listener, Checks::Off).run().await;
    Ok(())
}
