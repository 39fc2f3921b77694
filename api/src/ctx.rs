//! What a handler starts from: the state and the authenticated caller.

use std::future::Future;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use ondeck_domain::models::Game;
use serde::Serialize;
use sqlx::Postgres;
use sqlx::pool::PoolConnection;

use crate::app_state::AppState;
use crate::caller::Caller;
use crate::error::{ApiError, Result};
use crate::read_cache::{Changes, Read};
use crate::responses::GameView;

/// The state and the request's caller, extracted in that order (as
/// `State` then `Caller`).
pub struct Ctx {
    pub state: AppState,
    pub caller: Caller,
    /// The client takes gzipped answers (`Accept-Encoding`).
    pub gzip: bool,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let caller = Caller::from_request_parts(parts, state).await?;
        Ok(Ctx {
            state: state.clone(),
            caller,
            gzip: crate::read_cache::accepts_gzip(&parts.headers),
        })
    }
}

impl Ctx {
    /// A connection for a read by the caller (see `db::Reads`).
    pub async fn read(&self) -> Result<PoolConnection<Postgres>> {
        Ok(self.state.reads.acquire(Some(self.caller)).await?)
    }

    /// The answer to `read`: kept in memory until something changes, and
    /// gzipped for clients that take it (see `read_cache`); or made by
    /// `make` each time while reads may go to a replica.
    pub async fn answer<T, F>(&self, read: Read, make: impl FnOnce() -> F) -> Result<Response>
    where
        T: Serialize,
        F: Future<Output = Result<T>>,
    {
        if self.state.reads.has_replica() {
            return Ok(axum::Json(make().await?).into_response());
        }
        let changes = Changes {
            wake: &self.state.wake,
            hub: &self.state.events,
        };
        self.state
            .answers
            .answer(changes, read, self.gzip, make)
            .await
    }

    /// A game as the caller may see it.
    pub fn game_view(&self, game: Game) -> GameView {
        let minutes = self.state.config.worker.recall.policy.minutes;
        let pii = self.caller.sees_pii();
        GameView::new(game, pii, minutes).with_link(&self.state.config.http.public_base_url, pii)
    }
}
