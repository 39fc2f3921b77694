//! Teams and the team a confirmed player joins.

use sqlx::PgConnection;

use crate::error::{DomainError, Result, ResultExt};
use crate::ids::{PlayerId, TeamId};
use crate::models::Team;
use crate::store::{Page, Paged, fetch_page};

/// Serializes automatic team assignment, so that two players confirmed at the
/// same moment are balanced instead of both joining the smallest team.
const TEAM_ASSIGNMENT_LOCK: i64 = 0x6f6e_6465_636b_0001;

pub async fn insert(conn: &mut PgConnection, name: &str) -> Result<Team> {
    sqlx::query_as::<_, Team>(
        "INSERT INTO teams (name) VALUES ($1) RETURNING id, name, 0::bigint AS members, created_at, updated_at",
    )
    .bind(name)
    .fetch_one(conn)
    .await
    .on_constraint("teams_name_key", || DomainError::invalid("name", "a team with this name already exists"))
}

pub async fn get(conn: &mut PgConnection, id: TeamId) -> Result<Team> {
    sqlx::query_as::<_, Team>(
        "SELECT t.id, t.name, (SELECT count(*) FROM players p WHERE p.team_id = t.id) AS members, \
                t.created_at, t.updated_at \
         FROM teams t WHERE t.id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound("team"))
}

/// In creation order.
pub async fn list(conn: &mut PgConnection, page: Page) -> Result<Paged<Team>> {
    let query = sqlx::query_as(
        "SELECT t.id, t.name, (SELECT count(*) FROM players p WHERE p.team_id = t.id) AS members, \
                t.created_at, t.updated_at, 0::bigint AS sort_key, t.id AS sort_id \
         FROM teams t WHERE ($1::bigint IS NULL OR t.id > $2) ORDER BY t.id LIMIT $3",
    );
    fetch_page(conn, query, page).await
}

/// Puts a player without a team into the team with the fewest members (the
/// lowest id on a tie). Does nothing if the player has a team or there are
/// no teams; returns whether the player joined one.
#[tracing::instrument(skip_all, fields(player_id = %player_id))]
pub async fn assign_if_teamless(conn: &mut PgConnection, player_id: PlayerId) -> Result<bool> {
    let needed: bool = sqlx::query_scalar(
        "SELECT p.team_id IS NULL AND EXISTS (SELECT 1 FROM teams) FROM players p WHERE p.id = $1",
    )
    .bind(player_id)
    .fetch_one(&mut *conn)
    .await?;
    if !needed {
        return Ok(false);
    }
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(TEAM_ASSIGNMENT_LOCK)
        .execute(&mut *conn)
        .await?;
    let joined = sqlx::query(
        "UPDATE players SET team_id = ( \
             SELECT t.id FROM teams t LEFT JOIN players m ON m.team_id = t.id \
             GROUP BY t.id ORDER BY count(m.id), t.id LIMIT 1) \
         WHERE id = $1 AND team_id IS NULL",
    )
    .bind(player_id)
    .execute(conn)
    .await?;
    Ok(joined.rows_affected() == 1)
}
