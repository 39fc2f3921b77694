//! What can go wrong in the domain, independent of HTTP: the API maps each
//! variant to a status code in one place.

use crate::game_state::{GameState, IllegalTransition, NotPermitted, PlayerAction};
use crate::line::LineRule;
use crate::validation::FieldErrors;

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),
    /// A player's action that the table does not offer in the game's state
    /// (or that the player has used up: "later" past `LATER_LIMIT`).
    #[error("{action} is not possible for a game that is {current}")]
    IllegalAction {
        current: GameState,
        action: PlayerAction,
    },
    /// The transition table does not let this actor make the transition.
    #[error(transparent)]
    NotPermitted(#[from] NotPermitted),
    /// The request conflicts with the current state of something else (a
    /// player's open game, a missing show).
    #[error("{0}")]
    Conflict(String),
    /// The show takes no new game now: the rule that says so.
    #[error("{}", .0.explain())]
    LineRefused(LineRule),
    #[error("{0}")]
    Invalid(#[from] FieldErrors),
    /// Over a limit on how often something may be asked for.
    #[error("{0}")]
    TooMany(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub type Result<T, E = DomainError> = std::result::Result<T, E>;

impl DomainError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(FieldErrors::single(field, message))
    }
}

/// Turns a named constraint violation into a domain error (realworld's
/// `on_constraint`): `.on_constraint("teams_name_key", |_| ...)`.
pub trait ResultExt<T> {
    fn on_constraint(self, name: &str, f: impl FnOnce() -> DomainError) -> Result<T>;
}

impl<T, E: Into<DomainError>> ResultExt<T> for std::result::Result<T, E> {
    fn on_constraint(self, name: &str, f: impl FnOnce() -> DomainError) -> Result<T> {
        self.map_err(|e| match e.into() {
            DomainError::Database(sqlx::Error::Database(db)) if db.constraint() == Some(name) => {
                f()
            }
            other => other,
        })
    }
}
