//! What every change to a game needs ([`Lifecycle`]) and what it returns
//! before the commit ([`Uncommitted`]).

use std::sync::Arc;

use sqlx::{Postgres, Transaction};

use super::policy::PlayerPolicy;
use crate::error::Result;
use crate::game_state::GameState;
use crate::store::recall::RecallPolicy;
use crate::store::wake::Wake;

/// The cues a game fires as it enters a state: the venue's cue file, which
/// the jobs crate reads and implements this for.
pub trait GameCues: Send + Sync + std::fmt::Debug {
    /// The names of the cues a game entering `state` fires; `team` is the
    /// name of its player's team, if any.
    fn on_entering(&self, state: GameState, team: Option<&str>) -> Vec<String>;
}

/// What a change to a game needs of the configuration and the process: the
/// recall window, the cues that game events fire, and the wake-up of the
/// event and outbox listeners. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Lifecycle {
    pub(super) recall: RecallPolicy,
    pub(super) cues: Option<Arc<dyn GameCues>>,
    pub(super) players: PlayerPolicy,
    wake: Wake,
}

impl Lifecycle {
    pub fn new(recall: RecallPolicy, wake: Wake) -> Lifecycle {
        Lifecycle {
            recall,
            cues: None,
            players: PlayerPolicy::defaults(recall.minutes),
            wake,
        }
    }

    /// What players may do and when a recalled player is a no-show (the
    /// defaults without).
    pub fn with_players(mut self, players: PlayerPolicy) -> Lifecycle {
        self.players = players;
        self
    }

    /// Fires `cues` on game events (none without).
    pub fn with_cues<C: GameCues + 'static>(mut self, cues: Option<Arc<C>>) -> Lifecycle {
        self.cues = cues.map(|c| c as Arc<dyn GameCues>);
        self
    }

    pub fn recall(&self) -> RecallPolicy {
        self.recall
    }

    /// A change made in a transaction, to be committed with [`Uncommitted::commit`].
    pub(super) fn uncommitted<T>(&self, value: T, entered: Vec<GameState>) -> Uncommitted<T> {
        Uncommitted {
            value,
            entered,
            wake: self.wake.clone(),
        }
    }
}

/// A change written in the caller's transaction and not yet committed. Its
/// counters and wake-up happen in [`Uncommitted::commit`], after the
/// commit: a change that rolls back is never counted.
#[must_use = "a change to a game counts and wakes its listeners only through `commit`"]
#[derive(Debug)]
pub struct Uncommitted<T> {
    value: T,
    /// The state each changed game entered.
    entered: Vec<GameState>,
    wake: Wake,
}

impl<T> Uncommitted<T> {
    /// What the change made, for the rest of the transaction. It ends with
    /// event rows, which hold back the event readers until the commit: do
    /// not wait for anything else before committing (see `store::event_log`).
    pub fn value(&self) -> &T {
        &self.value
    }

    /// The same change, answering `f` of its value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Uncommitted<U> {
        Uncommitted {
            value: f(self.value),
            entered: self.entered,
            wake: self.wake,
        }
    }

    /// The value of a change that is part of a larger one, which counts and
    /// wakes for both (it entered no state of its own).
    pub(super) fn into_value(self) -> T {
        debug_assert!(self.entered.is_empty());
        self.value
    }

    /// Commits the transaction (to its answer, even if the caller stops
    /// waiting: see `store::commit`), wakes the listeners and counts the
    /// transitions.
    pub async fn commit(self, tx: Transaction<'static, Postgres>) -> Result<T> {
        crate::store::commit::commit(tx).await?;
        self.wake.after_commit();
        for state in &self.entered {
            metrics::counter!("ondeck_transitions_total", "to" => state.as_str()).increment(1);
        }
        Ok(self.value)
    }
}
