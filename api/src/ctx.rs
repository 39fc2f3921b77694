//! What a handler starts from: the state and the authenticated caller.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use ondeck_domain::models::Game;
use sqlx::Postgres;
use sqlx::pool::PoolConnection;

use crate::app_state::AppState;
use crate::caller::Caller;
use crate::error::{ApiError, Result};
use crate::responses::GameView;

/// The state and the request's caller, extracted in that order (as
/// `State` then `Caller`).
pub struct Ctx {
    pub state: AppState,
    pub caller: Caller,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let caller = Caller::from_request_parts(parts, state).await?;
        Ok(Ctx {
            state: state.clone(),
            caller,
        })
    }
}

impl Ctx {
    /// A connection for a read by the caller (see `db::Reads`).
    pub async fn read(&self) -> Result<PoolConnection<Postgres>> {
        Ok(self.state.reads.acquire(Some(self.caller)).await?)
    }

    /// A game as the caller may see it.
    pub fn game_view(&self, game: Game) -> GameView {
        let minutes = self.state.config.worker.recall.policy.minutes;
        let pii = self.caller.sees_pii();
        GameView::new(game, pii, minutes).with_link(&self.state.config.http.public_base_url, pii)
    }
}
