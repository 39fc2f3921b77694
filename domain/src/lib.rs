//! ondeck's domain: the game state machine, the models and their validation,
//! and the store (sqlx queries on PostgreSQL) that the API and the workers share.

pub mod error;
pub mod ids;
pub mod lifecycle;
pub mod models;
pub mod phone;
pub mod scrub;
pub mod state;
pub mod store;
pub mod validation;
pub mod views;

pub use error::{DomainError, Result};
pub use ids::{GameId, PlayerId, ShowId, TeamId, TokenId};
pub use phone::MobileNumber;
pub use state::{GameState, Transition};

/// The top-level `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");
