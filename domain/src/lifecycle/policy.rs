//! What players may do and when a recalled player counts as a no-show:
//! the settings, and the actions the table offers a game under them.

use crate::game_state::PlayerAction;
use crate::models::Game;

/// `LATER_PLACES`, `LATER_LIMIT` and `NO_SHOW_MINUTES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayerPolicy {
    /// How many places "later" moves a game back (at least 1).
    pub later_places: i64,
    /// How often one game may ask for more time.
    pub later_limit: i32,
    /// Minutes after a recall before the sweep cancels a game that is still
    /// recalled (twice that after "On my way"); 0 turns this off.
    pub no_show_minutes: i64,
}

impl PlayerPolicy {
    /// The defaults, for a recall window of `recall_minutes`.
    pub fn defaults(recall_minutes: i64) -> PlayerPolicy {
        PlayerPolicy {
            later_places: 3,
            later_limit: 2,
            no_show_minutes: recall_minutes + 10,
        }
    }
}

/// The actions the table offers `game` now: the ones the page shows as
/// buttons and `/p/{code}/status` lists. "later" is offered only while the
/// game has some left, "coming" only until the player said it.
pub fn offered(game: &Game, policy: &PlayerPolicy) -> Vec<PlayerAction> {
    PlayerAction::ALL
        .into_iter()
        .filter(|a| a.offered_in(game.state))
        .filter(|a| *a != PlayerAction::Later || game.later_count < policy.later_limit)
        .filter(|a| *a != PlayerAction::Coming || game.acknowledged_at.is_none())
        .collect()
}
