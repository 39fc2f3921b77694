//! The periodic recall sweep: every `RECALL_SWEEP_SECONDS`, auto-recall
//! for every show with a queue, run by one worker process per period.

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
        if !enabled {
            continue;
        }
        match claim_period(&pool, "recall_sweep", period).await {
            Ok(true) => match recall_sweep(&pool, &lifecycle).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(recalled = n, "recall sweep"),
                Err(e) => tracing::error!(error = ?e, "recall sweep failed"),
            },
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "cannot claim the recall sweep period"),
        }
    }
    tracing::info!("recall sweep stopped");
}
