//! ondeck's domain: the game state machine, the one path every change to a
//! game takes (`lifecycle`), the models and their validation, and the store
//! (sqlx queries on PostgreSQL) that the API and the workers share.

/// `FromStr` for enums whose text is their serde name (`"queued"`,
/// `"-score"`): a query string spells a value as the JSON shows it.
macro_rules! from_str_by_serde_name {
    ($($name:ty),+) => {$(
        impl std::str::FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> std::result::Result<Self, ()> {
                use serde::de::{IntoDeserializer, value::Error};
                serde::Deserialize::deserialize(IntoDeserializer::<Error>::into_deserializer(s))
                    .map_err(|_| ())
            }
        }
    )+};
}

pub mod error;
pub mod game_state;
pub mod game_view;
pub mod ids;
pub mod lifecycle;
pub mod models;
pub mod phone;
pub mod role;
pub mod scrub;
pub mod store;
pub mod validation;

pub use error::{DomainError, Result};
pub use game_state::{Actor, GameState, Transition};
pub use ids::{GameId, PlayerId, ShowId, TeamId, TokenId};
pub use lifecycle::Lifecycle;
pub use phone::MobileNumber;

/// The top-level `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");
