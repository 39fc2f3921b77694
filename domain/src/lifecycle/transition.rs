//! A transition with everything it implies, in the caller's transaction:
//! texts and renders go to the outbox, a confirmed player without a team
//! joins the smallest one, every complete or cancel refills the recall
//! window, each game changed fires its cues and gets its event row.

use sqlx::PgConnection;

use super::context::{Lifecycle, Uncommitted};
use crate::error::{DomainError, Result};
use crate::game_state::{Actor, CancelReason, GameState, Transition};
use crate::ids::{GameId, ShowId};
use crate::models::{Completion, CompletionInput};
use crate::store::games::{self, Transitioned};
use crate::store::outbox::{self, Job, MessageKind};
use crate::store::{event_log, recall, scores, teams};

/// A transition someone may make of one game: only the table's actors for
/// it get one, so a change that reaches the store was allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GameChange {
    actor: Actor,
    id: GameId,
    transition: Transition,
    completion: Option<Completion>,
    reason: Option<CancelReason>,
}

impl GameChange {
    /// `transition` of game `id` by `actor`, or why `actor` may not make it.
    /// `complete` needs the game's result: see [`GameChange::complete`].
    pub fn new(actor: Actor, id: GameId, transition: Transition) -> Result<GameChange> {
        if transition == Transition::Complete {
            return GameChange::complete(actor, id, CompletionInput::default());
        }
        transition.check(actor)?;
        Ok(GameChange {
            actor,
            id,
            transition,
            completion: None,
            reason: None,
        })
    }

    /// `cancel` for `reason` (staff's cancel says `staff`).
    pub fn cancel(actor: Actor, id: GameId, reason: CancelReason) -> Result<GameChange> {
        Ok(GameChange {
            reason: Some(reason),
            ..GameChange::new(actor, id, Transition::Cancel)?
        })
    }

    pub fn id(&self) -> GameId {
        self.id
    }

    /// `complete` with the game's result, checked after the actor.
    pub fn complete(actor: Actor, id: GameId, result: CompletionInput) -> Result<GameChange> {
        Transition::Complete.check(actor)?;
        Ok(GameChange {
            actor,
            id,
            transition: Transition::Complete,
            completion: Some(result.validate()?),
            reason: None,
        })
    }
}

/// The game a change was asked of, and the games auto-recalled because of it.
#[derive(Debug, Clone)]
pub struct Changed {
    pub game: Transitioned,
    pub recalled: Vec<Transitioned>,
}

impl Lifecycle {
    /// Makes `change` with everything it implies. A transition from a state
    /// its row does not list changes nothing and answers
    /// [`DomainError::IllegalTransition`].
    #[tracing::instrument(skip_all, fields(game_id = %change.id, transition = %change.transition))]
    pub async fn apply(
        &self,
        conn: &mut PgConnection,
        change: GameChange,
    ) -> Result<Uncommitted<Changed>> {
        let game = self.step(conn, change).await?;
        let recalled = if matches!(change.transition, Transition::Complete | Transition::Cancel) {
            self.fill_recall_window(conn, game.game.show_id).await?
        } else {
            Vec::new()
        };
        let all: Vec<&Transitioned> = std::iter::once(&game).chain(&recalled).collect();
        let entered = self.record(conn, &all).await?;
        Ok(self.uncommitted(Changed { game, recalled }, entered))
    }

    /// Auto-recall for one show, as ondeck: what the periodic sweep runs.
    /// Returns the games recalled.
    #[tracing::instrument(skip_all, fields(show_id = %show_id))]
    pub async fn auto_recall(
        &self,
        conn: &mut PgConnection,
        show_id: ShowId,
    ) -> Result<Uncommitted<Vec<Transitioned>>> {
        let recalled = self.fill_recall_window(conn, show_id).await?;
        let entered = self
            .record(conn, &recalled.iter().collect::<Vec<_>>())
            .await?;
        Ok(self.uncommitted(recalled, entered))
    }

    /// The guarded update of one game and its own side effects.
    pub(super) async fn step(
        &self,
        conn: &mut PgConnection,
        change: GameChange,
    ) -> Result<Transitioned> {
        let GameChange {
            actor,
            id,
            transition,
            completion,
            reason,
        } = change;
        // Checked when the change was made; the system's own recalls come
        // through here too, so the table holds for them as well.
        transition.check(actor)?;
        let mut changed = games::transition(conn, id, transition, completion, reason).await?;
        match transition {
            Transition::Recall if changed.game.mobile_number.is_some() => {
                let text = Job::Sms {
                    game_id: id,
                    message: MessageKind::Recall,
                };
                outbox::enqueue(conn, &text).await?;
            }
            Transition::Confirm if changed.game.team.is_none() => {
                if teams::assign_if_teamless(conn, changed.game.player_id).await? {
                    changed.game = games::get(conn, id).await?;
                }
            }
            Transition::Complete => outbox::enqueue(conn, &Job::Souvenir { game_id: id }).await?,
            Transition::Cancel
                if reason == Some(CancelReason::NoShow) && changed.game.mobile_number.is_some() =>
            {
                let text = Job::Sms {
                    game_id: id,
                    message: MessageKind::NoShow,
                };
                outbox::enqueue(conn, &text).await?;
            }
            Transition::Queue => {
                // What the player is told now is what the report holds the
                // actual wait against.
                if let Some(quote) = scores::quote(conn, changed.game.show_id, id).await? {
                    games::set_quoted_wait(conn, id, quote).await?;
                }
            }
            Transition::Recall | Transition::Confirm | Transition::Play | Transition::Cancel => {}
        }
        Ok(changed)
    }

    /// Recalls the games the window has room for (see `recall::due`).
    pub(super) async fn fill_recall_window(
        &self,
        conn: &mut PgConnection,
        show_id: ShowId,
    ) -> Result<Vec<Transitioned>> {
        let due = recall::due(conn, show_id, self.recall).await?;
        let mut recalled = Vec::with_capacity(due.len());
        for id in due {
            let change = GameChange::new(Actor::System, id, Transition::Recall)?;
            // A tablet may have moved the game meanwhile; the guard says so
            // and the next sweep fills the gap.
            match self.step(conn, change).await {
                Ok(game) => recalled.push(game),
                Err(DomainError::IllegalTransition(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(recalled)
    }

    /// The cues and event rows of the games changed; returns the states
    /// they entered, to count once committed.
    pub(super) async fn record(
        &self,
        conn: &mut PgConnection,
        changed: &[&Transitioned],
    ) -> Result<Vec<GameState>> {
        // Cues on game events fire from the outbox, with the change or not at all.
        if let Some(cues) = &self.cues {
            for t in changed {
                for name in cues.on_entering(t.game.state, t.game.team.as_deref()) {
                    let job = Job::Cue {
                        name,
                        game_id: Some(t.game.id),
                    };
                    outbox::enqueue(conn, &job).await?;
                }
            }
        }
        // Last: from its first event on, the transaction holds back the
        // event readers, so it must not wait for anything else (see
        // `event_log`).
        for t in changed {
            event_log::game_changed(conn, &t.game, Some(t.previous_state), self.recall.minutes)
                .await?;
        }
        Ok(changed.iter().map(|t| t.game.state).collect())
    }
}
