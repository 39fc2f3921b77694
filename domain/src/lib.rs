//! ondeck's domain: the game state machine, the one path every change to a
//! game takes (`lifecycle`), the models and their validation, and the store
//! (sqlx queries on PostgreSQL) that the API and the workers share.

#[macro_use]
mod macros;

pub mod error;
pub mod game_state;
pub mod game_view;
pub mod ids;
pub mod lifecycle;
pub mod line;
pub mod models;
pub mod phone;
pub mod provider_errors;
pub mod role;
pub mod scrub;
pub mod sms;
pub mod store;
pub mod validation;

pub use error::{DomainError, Result};
pub use game_state::{Actor, GameState, Transition};
pub use ids::{GameId, PlayerId, ShowId, TeamId, TokenId};
pub use lifecycle::Lifecycle;
pub use phone::MobileNumber;

/// The top-level `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");
