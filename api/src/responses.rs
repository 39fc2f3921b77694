//! What the API answers: the records of the domain, shaped for clients, with
//! a player's mobile number and email present only for roles that see PII.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
pub use ondeck_domain::game_view::{GamePlayer, GameView, pii};
use ondeck_domain::models::Player;
use ondeck_domain::{PlayerId, ShowId};
use serde::Serialize;
use utoipa::ToSchema;

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
    /// The mobile number answered STOP and gets no texts until it answers
    /// START. Only for admin and tablet tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_opted_out: Option<bool>,
    /// `"L"` or `"R"`.
    pub handedness: String,
    pub signed_waiver: bool,
    pub team: Option<String>,
    pub profile_id: Option<String>,
    pub is_finalist: bool,
    /// Where the photo can be fetched: a signed `/media/` URL (local
    /// storage) or an S3 URL (public or presigned); signed ones expire.
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
    /// `photo_url` is the URL of `player.photo_key`, made by the caller (it
    /// may be signed, which is async: see `routes::media::object_urls`).
    pub fn new(
        player: Player,
        active_game: Option<GameView>,
        games: Option<Vec<GameView>>,
        sees_pii: bool,
        photo_url: Option<String>,
    ) -> Self {
        PlayerView {
            id: player.id,
            show_id: player.show_id,
            mobile_number: pii(&player.mobile_number, sees_pii),
            email: pii(&player.email, sees_pii),
            sms_opted_out: sees_pii.then_some(player.sms_opted_out),
            first_name: player.first_name,
            last_name: player.last_name,
            handedness: player.handedness,
            signed_waiver: player.signed_waiver,
            team: player.team,
            profile_id: player.profile_id,
            is_finalist: player.is_finalist,
            photo_url,
            total_score: player.total_score,
            active_game,
            games,
            created_at: player.created_at,
            updated_at: player.updated_at,
        }
    }
}

/// `201 Created` with `body`.
pub fn created(body: impl Serialize) -> Response {
    (StatusCode::CREATED, axum::Json(body)).into_response()
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
