//! Where games begin: a signup (a player and their first game, with the
//! welcome text) and another game for a player whose last one is over.

use sqlx::PgConnection;

use super::context::{Lifecycle, Uncommitted};
use super::transition::GameChange;
use crate::error::{DomainError, Result};
use crate::game_state::{Actor, Transition};
use crate::ids::{PlayerId, ShowId};
use crate::models::{Game, PlayerChanges};
use crate::store::games::Transitioned;
use crate::store::outbox::{self, Job, MessageKind};
use crate::store::{event_log, games, joins, players};

/// What a join from a phone made (see [`Lifecycle::join`]).
#[derive(Debug, Clone)]
pub enum Joined {
    /// A new player and their game, queued.
    New(SignedUp),
    /// The number already had this game in line: nothing was made.
    AlreadyInLine(Game),
}

/// A new player and their first game.
#[derive(Debug, Clone)]
pub struct SignedUp {
    pub player_id: PlayerId,
    pub game: Game,
}

impl Lifecycle {
    /// Signs a player up, if the show's line lets one more in (see
    /// `admit`): the player and a `new` game in their show (by default the
    /// current one), and a welcome text when they gave a mobile number.
    /// `changes` are checked for a new player.
    #[tracing::instrument(skip_all)]
    pub async fn sign_up(
        &self,
        conn: &mut PgConnection,
        changes: &PlayerChanges,
    ) -> Result<Uncommitted<SignedUp>> {
        let show = self.admit(conn, changes.show_id).await?;
        let player_id = players::insert(conn, changes, show.id).await?;
        let game_id = games::create(conn, player_id, show.id).await?;
        if changes.mobile_number.as_ref().is_some_and(Option::is_some) {
            let welcome = Job::Sms {
                game_id,
                message: MessageKind::Welcome,
            };
            outbox::enqueue(conn, &welcome).await?;
        }
        let game = games::get(conn, game_id).await?;
        event_log::game_changed(conn, &game, None, self.recall.minutes).await?;
        Ok(self.uncommitted(SignedUp { player_id, game }, Vec::new()))
    }

    /// Starts another game for a player, in `show_id` (by default the
    /// current show). Refused while the player's latest game is not over,
    /// and when the show's line lets no one in (see `admit`).
    #[tracing::instrument(skip_all, fields(player_id = %player_id))]
    pub async fn start_game(
        &self,
        conn: &mut PgConnection,
        player_id: PlayerId,
        show_id: Option<ShowId>,
    ) -> Result<Uncommitted<Game>> {
        // Locked so that two requests for the same player take turns; the
        // second sees the first's game.
        players::lock(conn, player_id).await.map_err(|e| match e {
            DomainError::NotFound(_) => {
                DomainError::invalid("player_id", format!("no player has id {player_id}"))
            }
            other => other,
        })?;
        if let Some((active, current)) = games::active_of(conn, player_id).await?
            && !current.is_final()
        {
            return Err(DomainError::Conflict(format!(
                "the player's active game {active} is {current}; it must be completed or cancelled first"
            )));
        }
        let show = self.admit(conn, show_id).await?;
        let id = games::create(conn, player_id, show.id).await?;
        let game = games::get(conn, id).await?;
        event_log::game_changed(conn, &game, None, self.recall.minutes).await?;
        Ok(self.uncommitted(game, Vec::new()))
    }

    /// A player who joined from their own phone, their number proven by a
    /// code: the player and a game already queued, as one change, or the
    /// game their number already has in the show's line. The line's rules
    /// apply as to any signup (see `admit`).
    #[tracing::instrument(skip_all)]
    pub async fn join(
        &self,
        conn: &mut PgConnection,
        changes: &PlayerChanges,
    ) -> Result<Uncommitted<Joined>> {
        let (Some(show_id), Some(number)) = (changes.show_id, changes.mobile_text()) else {
            return Err(DomainError::Conflict(
                "a join needs its show and a mobile number".into(),
            ));
        };
        if let Some(game) = joins::in_line(conn, show_id, &number).await? {
            let game = games::get(conn, game).await?;
            return Ok(self.uncommitted(Joined::AlreadyInLine(game), Vec::new()));
        }
        let signed_up = self.sign_up(conn, changes).await?.into_value();
        let change = GameChange::new(Actor::Player, signed_up.game.id, Transition::Queue)?;
        let queued = self.step(conn, change).await?;
        let recalled = self.fill_recall_window(conn, show_id).await?;
        let all: Vec<&Transitioned> = std::iter::once(&queued).chain(&recalled).collect();
        let entered = self.record(conn, &all).await?;
        let game = games::get(conn, queued.game.id).await?;
        Ok(self.uncommitted(
            Joined::New(SignedUp {
                player_id: signed_up.player_id,
                game,
            }),
            entered,
        ))
    }
}
