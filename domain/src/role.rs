//! The role of an API token: what its holder may do.

use serde::{Deserialize, Serialize};

/// What a token may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "token_role", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Tablet,
    Game,
    Display,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Tablet, Role::Game, Role::Display];

    /// Whether responses to this role may carry a player's mobile number and email.
    pub fn sees_pii(self) -> bool {
        matches!(self, Role::Admin | Role::Tablet)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Tablet => "tablet",
            Role::Game => "game",
            Role::Display => "display",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}: expected admin, tablet, game or display"))
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
