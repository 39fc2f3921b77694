//! The `ondeck` command line (docs/api.md, section Command line).

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ondeck_domain::models::{Role, ShowInput};
use ondeck_domain::store::{purge, shows, tokens};
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
    /// Remove the mobile numbers, emails, photos and souvenirs of players
    /// whose games all ended before DATE, keeping their anonymous scores.
    Purge {
        /// YYYY-MM-DD in VENUE_TZ, today at the latest.
        #[arg(long)]
        before: String,
        /// Print what would be purged and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
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
    if let Command::Purge { before, .. } = &cli.command
        && let Err(line) = purge_date(before)
    {
        eprintln!("ondeck: purge: {line}");
        return ExitCode::from(2);
    }
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
    // A webhook may take its secret from CUES_WEBHOOK_SECRET, as `run`
    // would.
    let fallback = match ondeck_env::var(&ondeck_env::process, "CUES_WEBHOOK_SECRET") {
        Ok(secret) => secret.is_some(),
        Err(e) => return config_failure(&e),
    };
    match ondeck_jobs::cues::CueFile::parse_signed(&text, fallback) {
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

/// Checks `--before`: a real date, written YYYY-MM-DD, not after today in
/// `VENUE_TZ`. The error is the one line to print.
fn purge_date(before: &str) -> Result<chrono::NaiveDate, String> {
    let well_formed = before.len() == 10
        && before.char_indices().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        });
    let date = chrono::NaiveDate::parse_from_str(before, "%Y-%m-%d")
        .ok()
        .filter(|_| well_formed)
        .ok_or_else(|| format!("--before: expected a date YYYY-MM-DD, got {before:?}"))?;
    let tz = venue_tz().map_err(|e| format!("configuration: {e}"))?;
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    if date > today {
        return Err(format!(
            "--before: {before} is in the future (today is {today} in {})",
            tz.name()
        ));
    }
    Ok(date)
}

fn venue_tz() -> Result<chrono_tz::Tz, ConfigError> {
    config::venue::tz(&ondeck_env::process)
}

/// `ondeck purge`: the database in one transaction, then the stored
/// objects; a failed delete is reported and left for the next run.
async fn run_purge(before: &str, dry_run: bool) -> anyhow::Result<()> {
    let pool = database().await?;
    let tz = venue_tz()?;
    // A storage that cannot be opened stops the run before anything changes.
    let settings = ondeck_media::storage::StorageSettings::from_env(&ondeck_env::process)?;
    let storage = if dry_run {
        None
    } else {
        Some(ondeck_media::storage::Storage::connect(&settings).await?)
    };
    let mut tx = pool.begin().await?;
    let moment = purge::start_of_day(&mut tx, before, tz.name())
        .await
        .map_err(explain)?;
    let purged = purge::players_before(&mut tx, moment)
        .await
        .map_err(explain)?;
    let pending = purge::pending_objects(&mut tx).await.map_err(explain)?;
    let verb = if dry_run { "would be " } else { "" };
    println!(
        "players whose games all ended before {before} 00:00 {tz}: {} {verb}purged",
        purged.players
    );
    println!("texts {verb}cleared: {}", purged.messages);
    println!("souvenirs {verb}removed: {}", purged.souvenirs);
    println!("events {verb}cleared: {}", purged.events);
    println!(
        "expired idempotency responses {verb}deleted: {}",
        purged.idempotency_keys
    );
    println!(
        "idempotency responses about these players {verb}deleted: {}",
        purged.player_responses
    );
    let Some(storage) = storage else {
        tx.rollback().await?;
        println!("stored objects to delete under {} prefixes", pending.len());
        println!("dry run: nothing was changed");
        return Ok(());
    };
    tx.commit().await?;
    if pending.is_empty() {
        println!("stored objects deleted: 0");
        return Ok(());
    }
    let mut conn = pool.acquire().await?;
    let (mut deleted, mut failed) = (0, 0);
    for batch in pending.chunks(500) {
        let outcomes = storage.delete_prefixes(batch).await;
        let mut done = Vec::with_capacity(batch.len());
        for (prefix, outcome) in batch.iter().zip(outcomes) {
            match outcome {
                Ok(n) => {
                    deleted += n;
                    done.push(prefix.clone());
                }
                Err(e) => {
                    failed += 1;
                    eprintln!("ondeck: purge: could not delete {prefix}*: {e}");
                }
            }
        }
        purge::objects_deleted(&mut conn, &done)
            .await
            .map_err(explain)?;
    }
    println!("stored objects deleted: {deleted}");
    anyhow::ensure!(
        failed == 0,
        "{failed} of {} object prefixes could not be deleted; the next run tries again",
        pending.len()
    );
    Ok(())
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
            let state = crate::build_state(Config::from_env()?).await?;
            let pool = state.db.clone();
            match command {
                Command::Serve => crate::serve(state, telemetry::shutdown_signal()).await,
                Command::Work => {
                    if let (Some(addr), Some(handle)) =
                        (state.config.http.metrics_addr, &state.metrics)
                    {
                        let endpoint =
                            crate::prometheus::worker_endpoint(addr, handle.clone(), pool.clone());
                        tokio::spawn(endpoint.await?);
                    }
                    work(pool, &state.config, telemetry::shutdown_signal()).await
                }
                _ => {
                    // One signal stops both at once, so that each has the
                    // whole SHUTDOWN_TIMEOUT_SECONDS: the API finishes its
                    // requests while the worker finishes its jobs.
                    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
                    tokio::spawn(async move {
                        telemetry::shutdown_signal().await;
                        stop_tx.send_replace(true);
                    });
                    let stopped = move || {
                        let mut rx = stop_rx.clone();
                        async move {
                            let _ = rx.wait_for(|stop| *stop).await;
                        }
                    };
                    let config = state.config.clone();
                    let (served, worked) = tokio::join!(
                        crate::serve(state, stopped()),
                        work(pool, &config, stopped())
                    );
                    served.and(worked)
                }
            }
        }
        Command::Purge { before, dry_run } => run_purge(&before, dry_run).await,
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
            let stations = ondeck_env::bounded(&ondeck_env::process, "STATIONS", 1, 1, 1000)?;
            let mut changes = ShowInput {
                name: Some(name),
                date: Some(date),
                ..Default::default()
            }
            .validate(true)
            .map_err(|e| anyhow::anyhow!("{}", describe(&DomainError::Invalid(e))))?;
            changes.line.stations = Some(stations as i32);
            let pool = database().await?;
            let mut conn = pool.acquire().await?;
            let show = shows::insert(&mut conn, &changes).await.map_err(explain)?;
            println!("{}", show.id);
            Ok(())
        }
    }
}

/// Runs the worker with its settings and those it shares with the API.
async fn work(
    pool: sqlx::PgPool,
    config: &Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    ondeck_jobs::run(
        pool,
        &config.redis.url,
        &config.http.public_base_url,
        config.venue.tz_name(),
        config.http.shutdown_timeout,
        config.worker.clone(),
        shutdown,
    )
    .await
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
