//! The `ondeck` command line (API.md section 6).

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ondeck_domain::models::{Role, ShowInput};
use ondeck_domain::store::{shows, tokens};
use ondeck_domain::{DomainError, MIGRATOR};

use crate::config::{self, Config, ConfigError};
use crate::telemetry;

#[derive(Debug, Parser)]
#[command(
    name = "ondeck",
    version,
    about = "Queue, scoreboard and jobs for a walk-up venue attraction"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// API and worker in one process (the on-site default).
    Run,
    /// The API only.
    Serve,
    /// The worker only.
    Work,
    /// Apply the database migrations and exit.
    Migrate,
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage shows.
    #[command(subcommand)]
    Show(ShowCommand),
    /// Venue cues.
    #[command(subcommand)]
    Cues(CuesCommand),
}

#[derive(Debug, Subcommand)]
pub enum CuesCommand {
    /// Check a cue file (default: `CUES_FILE`); prints the line of the first
    /// problem and exits 1.
    Check { file: Option<std::path::PathBuf> },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; prints only the token.
    Create {
        /// admin, tablet, game or display.
        #[arg(long)]
        role: Role,
        /// A unique name, e.g. the device it goes on.
        #[arg(long)]
        name: String,
    },
    /// List tokens (never the tokens themselves).
    List,
    /// Revoke a token by name.
    Revoke { name: String },
}

#[derive(Debug, Subcommand)]
pub enum ShowCommand {
    /// Create a show; its messages get the defaults.
    Create {
        #[arg(long)]
        name: String,
        /// YYYY-MM-DD.
        #[arg(long)]
        date: String,
    },
}

/// Parses the command line and runs it; a configuration problem exits 2
/// with one line naming the variable.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Cues(CuesCommand::Check { file }) = &cli.command {
        return check_cues(file.clone());
    }
    let log_format = match config::log_format() {
        Ok(f) => f,
        Err(e) => return config_failure(&e),
    };
    telemetry::init(log_format);
    // Reporting lives as long as `main`: dropping the guard flushes it.
    let _reporting = match config::sentry_dsn() {
        Ok(dsn) => dsn.map(crate::reporting::init),
        Err(e) => return config_failure(&e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ondeck: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<ConfigError>() {
            Some(config_error) => config_failure(config_error),
            None => {
                eprintln!("ondeck: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn check_cues(file: Option<std::path::PathBuf>) -> ExitCode {
    let Some(path) = file.or_else(|| std::env::var_os("CUES_FILE").map(Into::into)) else {
        eprintln!("ondeck: cues check: name a file or set CUES_FILE");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ondeck: cannot read {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    match ondeck_jobs::cues::CueFile::parse(&text) {
        Ok(file) => {
            println!("{}: ok, {} cues", path.display(), file.cues.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}:{}: {}", path.display(), e.line, e.message);
            ExitCode::FAILURE
        }
    }
}

fn config_failure(e: &ConfigError) -> ExitCode {
    eprintln!("ondeck: configuration: {e}");
    ExitCode::from(2)
}

async fn database() -> anyhow::Result<sqlx::PgPool> {
    crate::connect(&config::database_url()?, 2).await
}

async fn execute(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Cues(CuesCommand::Check { file }) => {
            anyhow::ensure!(
                check_cues(file) == ExitCode::SUCCESS,
                "the cue file has a problem"
            );
            Ok(())
        }
        Command::Run | Command::Serve | Command::Work => {
            let config = Config::from_env()?;
            let worker = config.worker_settings();
            let state = crate::build_state(config).await?;
            let pool = state.db.clone();
            match command {
                Command::Serve => crate::serve(state, telemetry::shutdown_signal()).await,
                Command::Work => {
                    if let (Some(addr), Some(handle)) = (state.config.metrics_addr, &state.metrics)
                    {
                        let endpoint =
                            crate::prometheus::worker_endpoint(addr, handle.clone(), pool.clone());
                        tokio::spawn(endpoint.await?);
                    }
                    ondeck_jobs::run(pool, worker, telemetry::shutdown_signal()).await
                }
                _ => {
                    // One signal stops both: the API drains its requests, then
                    // the worker finishes its jobs.
                    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
                    let api = async move {
                        let served = crate::serve(state, telemetry::shutdown_signal()).await;
                        let _ = stop_tx.send(true);
                        served
                    };
                    let jobs = ondeck_jobs::run(pool, worker, async move {
                        let mut rx = stop_rx;
                        let _ = rx.wait_for(|stop| *stop).await;
                    });
                    let (served, worked) = tokio::join!(api, jobs);
                    served.and(worked)
                }
            }
        }
        Command::Migrate => {
            let pool = database().await?;
            MIGRATOR.run(&pool).await.context("migration failed")?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Token(TokenCommand::Create { role, name }) => {
            let pool = database().await?;
            let mut conn = pool.acquire().await?;
            let token = tokens::create(&mut conn, &name, role)
                .await
                .map_err(explain)?;
            println!("{token}");
            Ok(())
        }
        Command::Token(TokenCommand::List) => {
            let pool = database().await?;
            let mut conn = pool.acquire().await?;
            println!("{:<32} {:<8} {:<25} status", "name", "role", "created");
            for t in tokens::list(&mut conn).await? {
                let status = match t.revoked_at {
                    Some(at) => format!("revoked {}", at.format("%Y-%m-%d %H:%M")),
                    None => "active".to_owned(),
                };
                println!(
                    "{:<32} {:<8} {:<25} {status}",
                    t.name,
                    t.role,
                    t.created_at.format("%Y-%m-%d %H:%M:%S UTC")
                );
            }
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { name }) => {
            let pool = database().await?;
            let mut conn = pool.acquire().await?;
            tokens::revoke(&mut conn, &name).await.map_err(explain)?;
            eprintln!("revoked {name}");
            Ok(())
        }
        Command::Show(ShowCommand::Create { name, date }) => {
            let changes = ShowInput {
                name: Some(name),
                date: Some(date),
                ..Default::default()
            }
            .validate(true)
            .map_err(|e| anyhow::anyhow!("{}", describe(&DomainError::Invalid(e))))?;
            let pool = database().await?;
            let mut conn = pool.acquire().await?;
            let show = shows::insert(&mut conn, &changes).await.map_err(explain)?;
            println!("{}", show.id);
            Ok(())
        }
    }
}

fn describe(e: &DomainError) -> String {
    match e {
        DomainError::Invalid(errors) => {
            let json = serde_json::to_value(errors).unwrap_or_default();
            format!("invalid input: {json}")
        }
        other => other.to_string(),
    }
}

fn explain(e: DomainError) -> anyhow::Error {
    anyhow::anyhow!(describe(&e))
}
