//! Typed ids: a `GameId` can't be passed where a `PlayerId` is expected.
//! Clients see them as JSON numbers and must treat them as opaque.

macro_rules! decl_id {
    ($($(#[$meta:meta])* $name:ident),* $(,)?) => {$(
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, sqlx::Type, utoipa::ToSchema,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        #[schema(value_type = i64)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }
    )*};
}

decl_id!(
    /// A game: one turn of one player.
    GameId,
    /// A player signed up at a tablet.
    PlayerId,
    /// A show: one event.
    ShowId,
    /// A team players join.
    TeamId,
    /// An API token.
    TokenId,
);
