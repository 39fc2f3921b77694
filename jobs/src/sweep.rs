//! The periodic sweep: every `RECALL_SWEEP_SECONDS`, one worker process
//! per period cancels the no-shows (whatever `RECALL_DISABLE` says) and
//! runs auto-recall for every show with a queue (unless it is disabled).

use std::time::Duration;

use anyhow::Context;
use ondeck_domain::Lifecycle;
use ondeck_domain::store::recall;
use sqlx::PgPool;

/// Claims this period of a periodic job: of all the processes that ask
/// within one period, exactly one gets `true`.
pub async fn claim_period(pool: &PgPool, name: &str, period: Duration) -> anyhow::Result<bool> {
    sqlx::query("INSERT INTO periodic_runs (name) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(name)
        .execute(pool)
        .await?;
    // A little slack so that a process whose timer fires a few milliseconds
    // early still claims its period.
    let seconds = period.as_secs_f64() * 0.9;
    let claimed = sqlx::query(
        "UPDATE periodic_runs SET last_run_at = now(), runs = runs + 1 \
         WHERE name = $1 AND last_run_at <= now() - make_interval(secs => $2)",
    )
    .bind(name)
    .bind(seconds)
    .execute(pool)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

/// Runs auto-recall for every show with a queue, each in its own
/// transaction, through the same path as every other change to a game:
/// each recall texts its player, fires its cues and counts in
/// `ondeck_transitions_total`. Returns how many games were recalled.
pub async fn recall_sweep(pool: &PgPool, lifecycle: &Lifecycle) -> anyhow::Result<usize> {
    let shows = {
        let mut conn = pool.acquire().await?;
        recall::shows_with_queue(&mut conn).await?
    };
    let mut recalled = 0;
    for show_id in shows {
        let mut tx = pool.begin().await?;
        let games = lifecycle
            .auto_recall(&mut tx, show_id)
            .await
            .context("auto-recall failed")?;
        recalled += games.commit(tx).await?.len();
    }
    Ok(recalled)
}

/// Cancels the no-shows (see `Lifecycle::cancel_no_shows`) in one
/// transaction. Returns how many games were cancelled.
pub async fn no_show_sweep(pool: &PgPool, lifecycle: &Lifecycle) -> anyhow::Result<usize> {
    let mut tx = pool.begin().await?;
    let cancelled = lifecycle
        .cancel_no_shows(&mut tx)
        .await
        .context("the no-show sweep failed")?;
    Ok(cancelled.commit(tx).await?.len())
}

/// Deletes join codes older than a day (see `store::joins`).
async fn old_join_codes(pool: &PgPool) -> anyhow::Result<u64> {
    let mut conn = pool.acquire().await?;
    Ok(ondeck_domain::store::joins::purge_old(&mut conn).await?)
}

/// One period's sweep: no-shows first (they free places in the recall
/// window), then join codes older than a day, then auto-recall when enabled.
pub async fn sweep_once(pool: &PgPool, lifecycle: &Lifecycle) {
    match no_show_sweep(pool, lifecycle).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(cancelled = n, "no-show sweep"),
        Err(e) => tracing::error!(error = ?e, "no-show sweep failed"),
    }
    match old_join_codes(pool).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(deleted = n, "old join codes deleted"),
        Err(e) => tracing::error!(error = ?e, "deleting old join codes failed"),
    }
    if !lifecycle.recall().enabled {
        return;
    }
    match recall_sweep(pool, lifecycle).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(recalled = n, "recall sweep"),
        Err(e) => tracing::error!(error = ?e, "recall sweep failed"),
    }
}

/// Every `period`, if this process wins the period, sweep.
pub async fn run(
    pool: PgPool,
    lifecycle: Lifecycle,
    period: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let enabled = lifecycle.recall().enabled;
    tracing::info!(
        period_seconds = period.as_secs(),
        enabled,
        "recall sweep running"
    );
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = ticker.tick() => {}
        }
        if !enabled && lifecycle.players().no_show_minutes == 0 {
            continue;
        }
        match claim_period(&pool, "recall_sweep", period).await {
            Ok(true) => sweep_once(&pool, &lifecycle).await,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "cannot claim the recall sweep period"),
        }
    }
    tracing::info!("recall sweep stopped");
}
