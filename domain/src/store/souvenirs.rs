//! Souvenirs: what a render needs, and where the image went (the game's
//! `souvenir_url` and the short link texted to the player).

use rand::Rng;
use sqlx::PgConnection;

use crate::error::Result;
use crate::game_state::GameState;
use crate::ids::GameId;

/// Everything a souvenir shows, read in one query.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SouvenirData {
    pub game_id: GameId,
    pub state: GameState,
    pub first_name: String,
    pub last_name: Option<String>,
    pub team: Option<String>,
    pub show: String,
    pub score: Option<i32>,
    pub distance: Option<i32>,
    pub homeruns: Option<i32>,
    pub photo_key: Option<String>,
    pub has_mobile: bool,
}

pub async fn data(conn: &mut PgConnection, game_id: GameId) -> Result<Option<SouvenirData>> {
    Ok(sqlx::query_as(
        "SELECT g.id AS game_id, g.state, p.first_name, p.last_name, t.name AS team, s.name AS show, \
                g.score, g.distance, g.homeruns, p.photo_key, p.mobile_number IS NOT NULL AS has_mobile \
         FROM games g JOIN players p ON p.id = g.player_id JOIN shows s ON s.id = g.show_id \
         LEFT JOIN teams t ON t.id = p.team_id WHERE g.id = $1",
    )
    .bind(game_id)
    .fetch_optional(conn)
    .await?)
}

const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

/// A short, unguessable code: 10 characters of an alphabet without
/// look-alikes (≈ 58 bits).
fn new_code() -> String {
    let mut rng = rand::rng();
    (0..10)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Records a rendered souvenir's object behind the game's short link
/// (created once, kept on re-renders). Returns the link's code.
pub async fn record(conn: &mut PgConnection, game_id: GameId, object_key: &str) -> Result<String> {
    Ok(sqlx::query_scalar(
        "INSERT INTO short_links (code, game_id, object_key) VALUES ($1, $2, $3) \
         ON CONFLICT (game_id) DO UPDATE SET object_key = excluded.object_key RETURNING code",
    )
    .bind(new_code())
    .bind(game_id)
    .bind(object_key)
    .fetch_one(conn)
    .await?)
}

/// The game's `souvenir_url`.
pub async fn set_url(conn: &mut PgConnection, game_id: GameId, url: &str) -> Result<()> {
    sqlx::query("UPDATE games SET souvenir_url = $2 WHERE id = $1")
        .bind(game_id)
        .bind(url)
        .execute(conn)
        .await?;
    Ok(())
}

/// The object behind a short link.
pub async fn by_code(conn: &mut PgConnection, code: &str) -> Result<Option<String>> {
    if code.len() > 16 || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Ok(None);
    }
    Ok(
        sqlx::query_scalar("SELECT object_key FROM short_links WHERE code = $1")
            .bind(code)
            .fetch_optional(conn)
            .await?,
    )
}

/// The rendered souvenir of a game: its object key and short link code.
pub async fn of_game(conn: &mut PgConnection, game_id: GameId) -> Result<Option<(String, String)>> {
    Ok(
        sqlx::query_as("SELECT object_key, code FROM short_links WHERE game_id = $1")
            .bind(game_id)
            .fetch_optional(conn)
            .await?,
    )
}
