//! One player as an answer shows them: what signing up, reading, changing
//! a player and uploading their photo all answer.

use ondeck_domain::PlayerId;
use ondeck_domain::store::{PgConnection, games, players};

use crate::app_state::AppState;
use crate::caller::Caller;
use crate::error::Result;
use crate::media_urls::object_urls;
use crate::responses::{GameView, PlayerView};

/// A player as `caller` may see them, with their active game and, for the
/// detail view, every game.
pub async fn load(
    conn: &mut PgConnection,
    state: &AppState,
    id: PlayerId,
    caller: Caller,
) -> Result<PlayerView> {
    let player = players::get(conn, id).await?;
    let pii = caller.sees_pii();
    let minutes = state.config.worker.recall.policy.minutes;
    let games: Vec<GameView> = games::of_player(conn, id)
        .await?
        .into_iter()
        .map(|g| GameView::new(g, pii, minutes).with_link(&state.config.http.public_base_url, pii))
        .collect();
    let active = games.last().cloned();
    let photo_url = object_urls(state, [player.photo_key.as_deref()])
        .await?
        .pop()
        .flatten();
    Ok(PlayerView::new(player, active, Some(games), pii, photo_url))
}
