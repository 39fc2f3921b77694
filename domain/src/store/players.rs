//! Players: signup, reads, the filtered list, and PATCH.

use sqlx::PgConnection;

use crate::error::{DomainError, Result};
use crate::game_state::GameState;
use crate::ids::{PlayerId, ShowId, TeamId};
use crate::models::{Handedness, Player, PlayerChanges};
use crate::store::{Order, Page, Paged, fetch_page};

/// The columns of `Player`, with `player_from!()`.
macro_rules! player_columns {
    () => {
        "SELECT p.id, p.show_id, t.name AS team, p.first_name, p.last_name, p.mobile_number, \
                p.email, p.handedness, p.signed_waiver, p.profile_id, p.is_finalist, p.photo_key, \
                coalesce(ts.total, 0)::bigint AS total_score, ag.id AS active_game_id, \
                EXISTS (SELECT 1 FROM sms_opt_outs o WHERE o.number_hash = number_hash(p.mobile_number)) AS sms_opted_out, \
                p.created_at, p.updated_at "
    };
}

/// Players with their team, active game and total score.
macro_rules! player_from {
    () => {
        " FROM players p LEFT JOIN teams t ON t.id = p.team_id \
         LEFT JOIN LATERAL (SELECT id, state FROM games WHERE player_id = p.id ORDER BY id DESC LIMIT 1) ag ON true \
         LEFT JOIN LATERAL (SELECT sum(score) FILTER (WHERE state = 'completed') AS total FROM games WHERE player_id = p.id) ts ON true "
    };
}

/// Every team's name, by name: what a player may pick when joining.
pub async fn team_names(conn: &mut PgConnection) -> Result<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT name FROM teams ORDER BY lower(name) LIMIT 200")
            .fetch_all(conn)
            .await?,
    )
}

/// A team's id by its name (case-insensitive); an unknown name is a field error.
pub async fn team_id_by_name(conn: &mut PgConnection, name: &str) -> Result<TeamId> {
    sqlx::query_scalar("SELECT id FROM teams WHERE lower(name) = lower($1)")
        .bind(name)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| DomainError::invalid("team", format!("no team is named {name:?}")))
}

/// Inserts a checked player. `changes.first_name` and `handedness` are
/// present (validated with `creating = true`).
#[tracing::instrument(skip_all)]
pub async fn insert(
    conn: &mut PgConnection,
    changes: &PlayerChanges,
    show_id: ShowId,
) -> Result<PlayerId> {
    let team_id = match changes.team.clone().flatten() {
        Some(name) => Some(team_id_by_name(conn, &name).await?),
        None => None,
    };
    Ok(sqlx::query_scalar(
        "INSERT INTO players (show_id, team_id, first_name, last_name, mobile_number, email, \
                              handedness, signed_waiver, profile_id, is_finalist) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(show_id)
    .bind(team_id)
    .bind(changes.first_name.as_deref().unwrap_or_default())
    .bind(changes.last_name.clone().flatten())
    .bind(changes.mobile_text())
    .bind(changes.email.clone().flatten())
    .bind(changes.handedness.unwrap_or(Handedness::R).as_str())
    .bind(changes.signed_waiver.unwrap_or(false))
    .bind(changes.profile_id.clone().flatten())
    .bind(changes.is_finalist.unwrap_or(false))
    .fetch_one(conn)
    .await?)
}

/// Applies a PATCH: absent fields stay, `null` clears optional ones.
#[tracing::instrument(skip_all, fields(player_id = %id))]
pub async fn update(conn: &mut PgConnection, id: PlayerId, changes: &PlayerChanges) -> Result<()> {
    let team_id = match changes.team.clone() {
        Some(Some(name)) => Some(Some(team_id_by_name(conn, &name).await?)),
        Some(None) => Some(None),
        None => None,
    };
    let updated = sqlx::query(
        "UPDATE players SET \
            first_name    = coalesce($2, first_name), \
            last_name     = CASE WHEN $3 THEN $4 ELSE last_name END, \
            mobile_number = CASE WHEN $5 THEN $6 ELSE mobile_number END, \
            email         = CASE WHEN $7 THEN $8 ELSE email END, \
            handedness    = coalesce($9, handedness), \
            signed_waiver = coalesce($10, signed_waiver), \
            team_id       = CASE WHEN $11 THEN $12 ELSE team_id END, \
            profile_id    = CASE WHEN $13 THEN $14 ELSE profile_id END, \
            is_finalist   = coalesce($15, is_finalist) \
         WHERE id = $1",
    )
    .bind(id)
    .bind(changes.first_name.as_deref())
    .bind(changes.last_name.is_some())
    .bind(changes.last_name.clone().flatten())
    .bind(changes.mobile_number.is_some())
    .bind(changes.mobile_text())
    .bind(changes.email.is_some())
    .bind(changes.email.clone().flatten())
    .bind(changes.handedness.map(Handedness::as_str))
    .bind(changes.signed_waiver)
    .bind(team_id.is_some())
    .bind(team_id.flatten())
    .bind(changes.profile_id.is_some())
    .bind(changes.profile_id.clone().flatten())
    .bind(changes.is_finalist)
    .execute(conn)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(DomainError::NotFound("player"));
    }
    Ok(())
}

pub async fn get(conn: &mut PgConnection, id: PlayerId) -> Result<Player> {
    sqlx::query_as::<_, Player>(concat!(
        player_columns!(),
        player_from!(),
        "WHERE p.id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound("player"))
}

/// Locks a player's row so that two requests starting games for the same
/// player serialize.
pub async fn lock(conn: &mut PgConnection, id: PlayerId) -> Result<ShowId> {
    sqlx::query_scalar("SELECT show_id FROM players WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(DomainError::NotFound("player"))
}

#[derive(Debug, Default, Clone)]
pub struct PlayerFilter {
    /// The state of the player's active game.
    pub state: Option<GameState>,
    pub team: Option<String>,
    pub handedness: Option<Handedness>,
    pub signed_waiver: Option<bool>,
    pub is_finalist: Option<bool>,
    /// Matches first name, last name or "first last" (case-insensitive), or
    /// the mobile number's digits.
    pub search: Option<String>,
    pub order: Order,
}

pub async fn list(
    conn: &mut PgConnection,
    filter: &PlayerFilter,
    page: Page,
) -> Result<Paged<Player>> {
    let search = filter
        .search
        .as_deref()
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty());
    let digits: Option<String> = search
        .as_deref()
        .map(|s| s.chars().filter(char::is_ascii_digit).collect::<String>())
        .filter(|d| d.len() >= 3);
    let query = sqlx::query_as(concat!(
        "SELECT * FROM (",
        player_columns!(),
        ", $7::bigint * CASE WHEN $6 THEN coalesce(ts.total, 0)::bigint \
                             ELSE (extract(epoch FROM p.created_at) * 1000000)::bigint END AS sort_key, \
           $7::bigint * p.id AS sort_id",
        player_from!(),
        "WHERE ($1::game_state IS NULL OR ag.state = $1) \
           AND ($2::text IS NULL OR lower(t.name) = lower($2)) \
           AND ($3::text IS NULL OR p.handedness = $3) \
           AND ($4::boolean IS NULL OR p.signed_waiver = $4) \
           AND ($5::boolean IS NULL OR p.is_finalist = $5) \
           AND ($8::text IS NULL OR lower(p.first_name || ' ' || coalesce(p.last_name, '')) LIKE '%' || $8 || '%' \
                OR ($9::text IS NOT NULL AND p.mobile_number LIKE '%' || $9 || '%'))) q \
         WHERE ($10::bigint IS NULL OR (sort_key, sort_id) > ($10, $11)) \
         ORDER BY sort_key, sort_id LIMIT $12"
    ))
    .bind(filter.state)
    .bind(filter.team.as_deref())
    .bind(filter.handedness.map(Handedness::as_str))
    .bind(filter.signed_waiver)
    .bind(filter.is_finalist)
    .bind(filter.order.by_score())
    .bind(filter.order.direction())
    .bind(search.map(|s| s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")))
    .bind(digits);
    fetch_page(conn, query, page).await
}

/// Points the player at a newly stored photo.
pub async fn set_photo(conn: &mut PgConnection, id: PlayerId, key: &str) -> Result<()> {
    let updated = sqlx::query("UPDATE players SET photo_key = $2 WHERE id = $1")
        .bind(id)
        .bind(key)
        .execute(conn)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(DomainError::NotFound("player"));
    }
    Ok(())
}
