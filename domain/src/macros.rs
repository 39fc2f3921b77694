//! The domain's declarative macros.

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

/// Declares a struct that starts with a game's own fields, as stored: the
/// ones `models::Game` reads and `game_view::GameView` shows, in that order,
/// before the struct's own.
macro_rules! with_game_fields {
    ($(#[$meta:meta])* pub struct $name:ident { $($own:tt)* }) => {
        $(#[$meta])*
        pub struct $name {
            pub id: $crate::ids::GameId,
            pub player_id: $crate::ids::PlayerId,
            pub show_id: $crate::ids::ShowId,
            pub state: $crate::game_state::GameState,
            pub score: Option<i32>,
            pub distance: Option<i32>,
            pub homeruns: Option<i32>,
            pub created_at: chrono::DateTime<chrono::Utc>,
            pub updated_at: chrono::DateTime<chrono::Utc>,
            pub queued_at: Option<chrono::DateTime<chrono::Utc>>,
            pub recalled_at: Option<chrono::DateTime<chrono::Utc>>,
            pub confirmed_at: Option<chrono::DateTime<chrono::Utc>>,
            pub playing_at: Option<chrono::DateTime<chrono::Utc>>,
            pub completed_at: Option<chrono::DateTime<chrono::Utc>>,
            pub cancelled_at: Option<chrono::DateTime<chrono::Utc>>,
            pub cancel_reason: Option<$crate::game_state::CancelReason>,
            /// When the player said "On my way" to their current recall.
            pub acknowledged_at: Option<chrono::DateTime<chrono::Utc>>,
            /// How often the player asked for more time ("later").
            pub later_count: i32,
            $($own)*
        }
    };
}

/// The median time from `play` to `complete` over show `$1`'s last 20
/// completed games, in seconds (NULL before there are any).
macro_rules! median_play {
    () => {
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY secs) FROM ( \
             SELECT extract(epoch FROM completed_at - playing_at)::float8 AS secs FROM games \
             WHERE show_id = $1 AND state = 'completed' AND playing_at IS NOT NULL \
             ORDER BY completed_at DESC LIMIT 20) last"
    };
}

/// The 1-based place of game `$2` in show `$1`'s waiting line, by queue key
/// (0 when it is not queued).
macro_rules! queue_position {
    () => {
        "SELECT count(*) FROM games o, games g \
         WHERE g.id = $2 AND g.state = 'queued' AND o.show_id = $1 AND o.state = 'queued' \
           AND (o.queue_key, o.id) <= (g.queue_key, g.id)"
    };
}
