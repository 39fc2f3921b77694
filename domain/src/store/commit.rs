//! Committing a transaction to the end, whoever stops waiting for it.
//!
//! A request's future can be dropped at any `.await`: its client hangs up,
//! or the request timeout answers first. Dropped while its COMMIT is on the
//! wire, the transaction may well be committed by the server while the
//! client side never learns it, and sqlx then sends a ROLLBACK that
//! PostgreSQL answers with "there is no transaction in progress". Run in a
//! task of its own, the COMMIT always gets its answer: the change is
//! committed and the connection goes back to the pool clean.

use sqlx::{Postgres, Transaction};

use crate::error::Result;

/// Commits `tx`; the COMMIT runs to its answer even if the caller is
/// dropped meanwhile.
pub async fn commit(tx: Transaction<'static, Postgres>) -> Result<()> {
    match tokio::spawn(tx.commit()).await {
        Ok(committed) => Ok(committed?),
        // Only when the runtime is shutting down: the commit's outcome is
        // unknown, as for a connection lost in flight.
        Err(_) => Err(sqlx::Error::WorkerCrashed.into()),
    }
}
