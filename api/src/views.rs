//! What the API answers: the records of the domain, shaped for clients, with
//! a player's mobile number and email present only for roles that see PII.

use chrono::{DateTime, Utc};
use ondeck_domain::models::{DayScore, Game, Player, Team};
use ondeck_domain::{GameId, GameState, PlayerId, ShowId, TeamId};
use serde::Serialize;
use utoipa::ToSchema;

/// `None` (the key is left out) unless the viewer sees PII.
fn pii(value: &Option<String>, sees_pii: bool) -> Option<Option<String>> {
    sees_pii.then(|| value.clone())
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

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GameView {
    pub id: GameId,
    pub player_id: PlayerId,
    pub show_id: ShowId,
    pub state: GameState,
    pub score: Option<i32>,
    pub distance: Option<i32>,
    pub homeruns: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub queued_at: Option<DateTime<Utc>>,
    pub recalled_at: Option<DateTime<Utc>>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub playing_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// While recalled: when the recall stops counting against the window.
    pub recall_expires_at: Option<DateTime<Utc>>,
    pub souvenir_url: Option<String>,
    pub player: GamePlayer,
}

impl GameView {
    pub fn new(game: Game, sees_pii: bool, recall_minutes: i64) -> Self {
        let recall_expires_at = (game.state == GameState::Recalled)
            .then_some(game.recalled_at)
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
            recall_expires_at,
            souvenir_url: game.souvenir_url,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlayerView {
    pub id: PlayerId,
    pub show_id: ShowId,
    pub first_name: String,
    pub last_name: Option<String>,
    /// E.164. Only for admin and tablet tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub mobile_number: Option<Option<String>>,
    /// Only for admin and tablet tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// `"L"` or `"R"`.
    pub handedness: String,
    pub signed_waiver: bool,
    pub team: Option<String>,
    pub profile_id: Option<String>,
    pub is_finalist: bool,
    pub photo_url: Option<String>,
    /// The sum of the player's completed games' scores.
    pub total_score: i64,
    /// The player's latest game.
    pub active_game: Option<GameView>,
    /// Every game of the player, oldest first (detail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub games: Option<Vec<GameView>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PlayerView {
    pub fn new(
        player: Player,
        active_game: Option<GameView>,
        games: Option<Vec<GameView>>,
        sees_pii: bool,
        public_base_url: &str,
    ) -> Self {
        PlayerView {
            id: player.id,
            show_id: player.show_id,
            mobile_number: pii(&player.mobile_number, sees_pii),
            email: pii(&player.email, sees_pii),
            first_name: player.first_name,
            last_name: player.last_name,
            handedness: player.handedness,
            signed_waiver: player.signed_waiver,
            team: player.team,
            profile_id: player.profile_id,
            is_finalist: player.is_finalist,
            photo_url: player
                .photo_key
                .map(|key| format!("{public_base_url}/media/{key}")),
            total_score: player.total_score,
            active_game,
            games,
            created_at: player.created_at,
            updated_at: player.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TeamView {
    pub id: TeamId,
    pub name: String,
    /// How many players are on the team.
    pub members: i64,
    /// One row per day (in `VENUE_TZ`) with completed games, ascending.
    pub scores: Vec<DayScore>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TeamView {
    pub fn new(team: Team, scores: Vec<DayScore>) -> Self {
        TeamView {
            id: team.id,
            name: team.name,
            members: team.members,
            scores,
            created_at: team.created_at,
            updated_at: team.updated_at,
        }
    }
}

/// "First L." as the venue screens show names.
pub fn display_name(first_name: &str, last_name: Option<&str>) -> String {
    match last_name.and_then(|l| l.trim().chars().next()) {
        Some(initial) => format!("{} {}.", first_name.trim(), initial.to_uppercase()),
        None => first_name.trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_use_the_last_initial() {
        assert_eq!(display_name("Ada", Some("lovelace")), "Ada L.");
        assert_eq!(display_name("Ada", None), "Ada");
        assert_eq!(display_name("Ada", Some(" ")), "Ada");
        assert_eq!(display_name("Zoë", Some("Ångström")), "Zoë Å.");
    }
}
