//! Every pool ondeck builds checks its connections as they go back to the
//! pool and as they come out of it: a connection found inside a transaction
//! is closed rather than handed to the next borrower.
//!
//! A future dropped at the wrong moment (a client gone, a timeout, a
//! `select!`, a shutdown) can leave its session inside a transaction that
//! nothing ends, for instance while `BEGIN` is on the wire. The next
//! borrower's statements would then run inside that stale transaction and
//! hold its locks, and a write it makes outside a transaction of its own
//! would be lost when the stale one is rolled back. Closing the connection
//! ends that transaction on the server; the pool opens a fresh one.
//!
//! The check is one simple-protocol query: in a statement of its own (an
//! implicit transaction) `transaction_timestamp()` equals
//! `statement_timestamp()`; inside a transaction opened by an earlier
//! statement it is older. A session in a failed transaction refuses the
//! query (SQLSTATE 25P02). The check on acquiring replaces sqlx's ping (it
//! proves the connection alive as well), so only the check on release adds a
//! round trip.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// The counter of connections closed because they were found inside a
/// transaction, by `pool` and `when` (`release` or `acquire`).
pub const DISCARDED: &str = "ondeck_db_connections_discarded_total";

/// `options` with the transaction check on release and on acquire; `pool`
/// names the pool in the metric and the log (`primary`, `read`).
pub fn checked(options: PgPoolOptions, pool: &'static str) -> PgPoolOptions {
    options
        .test_before_acquire(false)
        .before_acquire(move |conn, _| Box::pin(keep(conn, pool, "acquire")))
        .after_release(move |conn, _| Box::pin(keep(conn, pool, "release")))
}

/// The connection options of the PostgreSQL URL in `var` (`DATABASE_URL`,
/// `DATABASE_READ_URL`), its sessions named `ondeck`.
pub fn connect_options(url: &SecretString, var: &str) -> anyhow::Result<PgConnectOptions> {
    let options: PgConnectOptions = url
        .expose_secret()
        .parse()
        .with_context(|| format!("{var} is not a valid PostgreSQL URL"))?;
    Ok(options.application_name("ondeck"))
}

/// Whether the connection may stay in the pool: `Ok(false)` closes it. An
/// error (the connection is broken) closes it too.
async fn keep(
    conn: &mut PgConnection,
    pool: &'static str,
    when: &'static str,
) -> sqlx::Result<bool> {
    let found = match in_transaction(conn).await {
        Ok(false) => return Ok(true),
        Ok(true) => "in a transaction",
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("25P02") => {
            "in a failed transaction"
        }
        // A broken idle connection: closed, and logged as sqlx logs a
        // failed ping (broken on release, sqlx logs the error itself).
        Err(e) if when == "acquire" => {
            tracing::info!(error = %e, pool, "idle database connection failed its check");
            return Ok(false);
        }
        Err(e) => return Err(e),
    };
    discarded(pool, when, found);
    Ok(false)
}

/// Whether the session is inside a transaction opened by an earlier
/// statement (an error for a failed one).
async fn in_transaction(conn: &mut PgConnection) -> sqlx::Result<bool> {
    // The simple protocol: one message, so the implicit transaction and
    // the statement start at the same instant (the extended protocol's
    // Bind and Execute each set the statement's time).
    let row = sqlx::raw_sql("SELECT 1 WHERE transaction_timestamp() <> statement_timestamp()")
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}

/// Counts a discarded connection; the first one of the process is logged
/// as a warning, later ones at debug level (the counter has them all).
fn discarded(pool: &'static str, when: &'static str, found: &'static str) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    metrics::counter!(DISCARDED, "pool" => pool, "when" => when).increment(1);
    if WARNED.swap(true, Ordering::Relaxed) {
        tracing::debug!(
            pool,
            when,
            found,
            "database connection closed: it was left in a transaction"
        );
    } else {
        tracing::warn!(
            pool,
            when,
            found,
            "database connection closed: it was left in a transaction by work cut off \
             mid-way; later ones are counted in {DISCARDED}"
        );
    }
}
