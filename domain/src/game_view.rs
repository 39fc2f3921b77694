//! The game as clients see it, with a player's mobile number and email only
//! for viewers that see PII. Shared by the API's answers and the events the
//! domain records (which never carry PII).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::game_state::GameState;
use crate::ids::PlayerId;
use crate::models::Game;

/// `None` (the key is left out) unless the viewer sees PII.
pub fn pii(value: &Option<String>, sees_pii: bool) -> Option<Option<String>> {
    sees_pii.then(|| value.clone())
}

/// The page of the game whose code is `code`.
pub fn player_link(base: &str, code: &str) -> String {
    format!("{}/p/{code}", base.trim_end_matches('/'))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GamePlayer {
    pub id: PlayerId,
    pub first_name: String,
    pub last_name: Option<String>,
    pub team: Option<String>,
    /// Only for admin and tablet tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub mobile_number: Option<Option<String>>,
    /// Only for admin and tablet tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
}

with_game_fields! {
    #[derive(Debug, Clone, Serialize, ToSchema)]
    pub struct GameView {
        /// While recalled: when the recall stops counting against the window.
        pub recall_expires_at: Option<DateTime<Utc>>,
        pub souvenir_url: Option<String>,
        pub player: GamePlayer,
        /// The player's page, `{PUBLIC_BASE_URL}/p/{code}`: only for admin
        /// and tablet tokens, never in events or CSV.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub player_link: Option<String>,
        /// Held back from every answer: what `with_link` makes the link of.
        #[serde(skip)]
        pub player_code: Option<String>,
    }
}

impl GameView {
    /// Adds `player_link` under `base` (`PUBLIC_BASE_URL`) when the viewer
    /// sees PII (admin and tablet).
    pub fn with_link(mut self, base: &str, sees_pii: bool) -> Self {
        if sees_pii {
            self.player_link = self
                .player_code
                .as_deref()
                .map(|code| player_link(base, code));
        }
        self
    }

    pub fn new(game: Game, sees_pii: bool, recall_minutes: i64) -> Self {
        let recall_expires_at = (game.state == GameState::Recalled)
            .then_some(game.recall_started_at.or(game.recalled_at))
            .flatten()
            .map(|at| at + chrono::Duration::minutes(recall_minutes));
        GameView {
            player: GamePlayer {
                id: game.player_id,
                mobile_number: pii(&game.mobile_number, sees_pii),
                email: pii(&game.email, sees_pii),
                first_name: game.first_name,
                last_name: game.last_name,
                team: game.team,
            },
            id: game.id,
            player_id: game.player_id,
            show_id: game.show_id,
            state: game.state,
            score: game.score,
            distance: game.distance,
            homeruns: game.homeruns,
            created_at: game.created_at,
            updated_at: game.updated_at,
            queued_at: game.queued_at,
            recalled_at: game.recalled_at,
            confirmed_at: game.confirmed_at,
            playing_at: game.playing_at,
            completed_at: game.completed_at,
            cancelled_at: game.cancelled_at,
            cancel_reason: game.cancel_reason,
            acknowledged_at: game.acknowledged_at,
            later_count: game.later_count,
            recall_expires_at,
            player_link: None,
            player_code: game.player_code,
            souvenir_url: game.souvenir_url,
        }
    }
}
