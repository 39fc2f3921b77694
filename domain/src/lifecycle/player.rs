//! What a player does to their own game (from their page or by text) and
//! what ondeck does to players who do not come: each through the same
//! guarded transitions, outbox, cues, events and counters as staff changes.

use sqlx::PgConnection;

use super::context::{Lifecycle, Uncommitted};
use super::policy::{PlayerPolicy, offered};
use super::transition::GameChange;
use crate::error::{DomainError, Result};
use crate::game_state::{Actor, CancelReason, GameState, PlayerAction, Transition};
use crate::ids::GameId;
use crate::models::Game;
use crate::store::games::{self, Transitioned};
use crate::store::{event_log, queue_order, recall};

/// What a player's action left: the game to show them now (for "Join
/// again", the new one) and the games auto-recalled because of it.
#[derive(Debug, Clone)]
pub struct Acted {
    pub game: Game,
    pub recalled: Vec<Transitioned>,
}

impl Lifecycle {
    pub fn players(&self) -> PlayerPolicy {
        self.players
    }

    /// The player's `action` on game `id`. An action the table does not
    /// offer in the game's state answers [`DomainError::IllegalAction`] and
    /// changes nothing; repeating one that already took effect ("leave" of
    /// a game the player left, "Join again" once joined) changes nothing
    /// and answers the game as it is.
    #[tracing::instrument(skip_all, fields(game_id = %id, action = %action))]
    pub async fn act(
        &self,
        conn: &mut PgConnection,
        id: GameId,
        action: PlayerAction,
    ) -> Result<Uncommitted<Acted>> {
        // Locked first: a staff change of the same game waits for this one,
        // or this one for it, and then sees its state.
        let game = games::lock(conn, id).await?;
        let state = game.state;
        let refused = DomainError::IllegalAction {
            current: state,
            action,
        };
        if action == PlayerAction::Leave
            && state == GameState::Cancelled
            && game.cancel_reason == Some(CancelReason::PlayerLeft)
        {
            return Ok(self.unchanged(game));
        }
        if action == PlayerAction::Coming
            && state == GameState::Recalled
            && game.acknowledged_at.is_some()
        {
            return Ok(self.unchanged(game));
        }
        if !offered(&game, &self.players).contains(&action) {
            return Err(refused);
        }
        match action {
            PlayerAction::Coming => {
                let game = games::acknowledge(conn, id).await?;
                self.record_own(conn, &game, state).await?;
                Ok(self.unchanged(game))
            }
            PlayerAction::Later => self.later(conn, game).await,
            PlayerAction::Leave => {
                let change = GameChange::cancel(Actor::Player, id, CancelReason::PlayerLeft)?;
                let changed = self.apply(conn, change).await?;
                Ok(changed.map(|c| Acted {
                    game: c.game.game,
                    recalled: c.recalled,
                }))
            }
            PlayerAction::Rejoin => self.rejoin(conn, game).await,
        }
    }

    /// "I need more time": a queued game moves `later_places` back; a
    /// recalled one is queued again behind the first `later_places`
    /// waiting games, and its place in the recall window goes to the next.
    async fn later(&self, conn: &mut PgConnection, game: Game) -> Result<Uncommitted<Acted>> {
        let places = self.players.later_places.max(1);
        // Serialized with auto-recall and other moves of this show's line.
        recall::lock_show(conn, game.show_id).await?;
        let mut changed = Vec::new();
        let behind = if game.state == GameState::Recalled {
            let change = GameChange::new(Actor::Player, game.id, Transition::Queue)?;
            changed.push(self.step(conn, change).await?);
            places
        } else {
            queue_order::position(conn, game.show_id, game.id).await? - 1 + places
        };
        queue_order::move_behind(conn, game.show_id, game.id, behind).await?;
        let moved = games::get(conn, game.id).await?;
        let recalled = self.fill_recall_window(conn, game.show_id).await?;
        let all: Vec<&Transitioned> = changed.iter().chain(&recalled).collect();
        let entered = self.record(conn, &all).await?;
        if changed.is_empty() {
            self.record_own(conn, &moved, game.state).await?;
        }
        Ok(self.uncommitted(
            Acted {
                game: moved,
                recalled,
            },
            entered,
        ))
    }

    /// "Join again": a new game for the player, queued at the back. A
    /// repeat, once the player has a newer game, answers that game.
    async fn rejoin(&self, conn: &mut PgConnection, game: Game) -> Result<Uncommitted<Acted>> {
        let started = match self
            .start_game(conn, game.player_id, Some(game.show_id))
            .await
        {
            Ok(started) => started,
            Err(DomainError::Conflict(_)) => {
                if let Some((newer, _)) = games::active_of(conn, game.player_id).await?
                    && newer != game.id
                {
                    let newer = games::get(conn, newer).await?;
                    return Ok(self.unchanged(newer));
                }
                return Err(DomainError::IllegalAction {
                    current: game.state,
                    action: PlayerAction::Rejoin,
                });
            }
            Err(e) => return Err(e),
        };
        let new_game = started.into_value();
        let change = GameChange::new(Actor::Player, new_game.id, Transition::Queue)?;
        let queued = self.step(conn, change).await?;
        let entered = self.record(conn, &[&queued]).await?;
        Ok(self.uncommitted(
            Acted {
                game: queued.game,
                recalled: Vec::new(),
            },
            entered,
        ))
    }

    /// Cancels, as no-shows, the games still recalled `NO_SHOW_MINUTES`
    /// after their recall (twice that once the player said "On my way"),
    /// each with its no-show text, and refills the recall windows they
    /// held. Returns the games cancelled.
    #[tracing::instrument(skip_all)]
    pub async fn cancel_no_shows(
        &self,
        conn: &mut PgConnection,
    ) -> Result<Uncommitted<Vec<Transitioned>>> {
        let minutes = self.players.no_show_minutes;
        if minutes <= 0 {
            return Ok(self.uncommitted(Vec::new(), Vec::new()));
        }
        let due = games::no_shows(conn, minutes).await?;
        let mut cancelled = Vec::with_capacity(due.len());
        let mut shows = Vec::new();
        for id in due {
            let change = GameChange::cancel(Actor::System, id, CancelReason::NoShow)?;
            match self.step(conn, change).await {
                Ok(game) => {
                    if !shows.contains(&game.game.show_id) {
                        shows.push(game.game.show_id);
                    }
                    cancelled.push(game);
                }
                // Moved by someone else meanwhile: no longer a no-show.
                Err(DomainError::IllegalTransition(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        let mut recalled = Vec::new();
        for show_id in shows {
            recalled.extend(self.fill_recall_window(conn, show_id).await?);
        }
        let all: Vec<&Transitioned> = cancelled.iter().chain(&recalled).collect();
        let entered = self.record(conn, &all).await?;
        Ok(self.uncommitted(cancelled, entered))
    }

    /// An answer that changed no state: nothing to count.
    fn unchanged(&self, game: Game) -> Uncommitted<Acted> {
        self.uncommitted(
            Acted {
                game,
                recalled: Vec::new(),
            },
            Vec::new(),
        )
    }

    /// The event of a change the player made without a transition ("On my
    /// way", a move in the line), so that screens see it.
    async fn record_own(&self, conn: &mut PgConnection, game: &Game, was: GameState) -> Result<()> {
        event_log::game_changed(conn, game, Some(was), self.recall.minutes).await
    }
}
