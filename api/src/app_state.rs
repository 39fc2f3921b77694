//! What every handler can reach: the database pools, Redis, the configuration.

use std::sync::Arc;

use axum::extract::FromRef;
use metrics_exporter_prometheus::PrometheusHandle;
use ondeck_domain::Lifecycle;
use sqlx::PgPool;

use crate::config::Config;
use crate::player_lines::{LineSettings, PlayerLines};
use crate::token_cache::TokenCache;

#[derive(Clone)]
pub struct AppState {
    /// The primary: every write, and every read that follows a write.
    pub db: PgPool,
    /// Lists and detail reads: the replica of `DATABASE_READ_URL` or the
    /// primary, chosen per request (see `db`).
    pub reads: Arc<crate::db::Reads>,
    pub redis: redis::Client,
    pub config: Arc<Config>,
    pub metrics: Option<PrometheusHandle>,
    /// This process's side of `GET /api/v1/events`.
    pub events: Arc<crate::event_hub::EventHub>,
    /// Where photos and souvenirs are kept.
    pub storage: ondeck_media::storage::Storage,
    /// Recently authenticated tokens (see `token_cache`).
    pub tokens: Arc<TokenCache>,
    /// Wakes the event and outbox listeners after a commit that wrote to them.
    pub wake: ondeck_domain::store::wake::Wake,
    /// Players' pages, kept in memory (see `player_lines`).
    pub lines: Arc<PlayerLines>,
    /// The venue's reads as last answered (see `read_cache`).
    pub answers: Arc<crate::read_cache::ReadCache>,
    /// Staff reports as last made.
    pub reports: Arc<crate::report_cache::ReportCache>,
}

impl FromRef<AppState> for Arc<Config> {
    fn from_ref(state: &AppState) -> Self {
        state.config.clone()
    }
}

impl AppState {
    /// The path every change to a game takes (see `ondeck_domain::lifecycle`),
    /// with this process's recall window, cues and wake-ups.
    pub fn lifecycle(&self) -> Lifecycle {
        self.config.worker.lifecycle(self.wake.clone())
    }

    /// What players' pages need of the configuration.
    pub fn line_settings(&self) -> LineSettings {
        LineSettings {
            tz: self.config.venue.tz_name(),
            recall_minutes: self.config.worker.recall.policy.minutes,
            players: self.lifecycle().players(),
            wake: self.wake.clone(),
        }
    }

    /// Starts what follows the primary for this process: the event hub
    /// (the event stream's source) and the players' pages kept from it.
    pub fn follow_events(&self) {
        let (hub, primary) = (self.events.clone(), self.db.clone());
        tokio::spawn(async move { hub.run(primary).await });
        let (lines, hub) = (self.lines.clone(), self.events.clone());
        tokio::spawn(async move { lines.follow(hub).await });
    }
}
