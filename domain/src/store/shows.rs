//! Shows: one event each; the current show is the one with the latest date.

use sqlx::PgConnection;

use crate::error::{DomainError, Result};
use crate::ids::ShowId;
use crate::models::{
    DEFAULT_NO_SHOW, DEFAULT_RECALL, DEFAULT_SOUVENIR, DEFAULT_WELCOME, Show, ShowChanges,
};
use crate::store::{Page, Paged, fetch_page};

/// Creates a show; messages not given get the defaults.
pub async fn insert(conn: &mut PgConnection, changes: &ShowChanges) -> Result<Show> {
    let (Some(name), Some(date)) = (changes.name.as_deref(), changes.date) else {
        return Err(DomainError::invalid(
            "name",
            "a show needs a name and a date",
        ));
    };
    Ok(sqlx::query_as::<_, Show>(
        "INSERT INTO shows (name, date, welcome_message, recall_message, souvenir_message, no_show_message) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING id, name, date, welcome_message, recall_message, souvenir_message, no_show_message, created_at, updated_at",
    )
    .bind(name)
    .bind(date)
    .bind(changes.welcome_message.as_deref().unwrap_or(DEFAULT_WELCOME))
    .bind(changes.recall_message.as_deref().unwrap_or(DEFAULT_RECALL))
    .bind(changes.souvenir_message.as_deref().unwrap_or(DEFAULT_SOUVENIR))
    .bind(changes.no_show_message.as_deref().unwrap_or(DEFAULT_NO_SHOW))
    .fetch_one(conn)
    .await?)
}

pub async fn update(conn: &mut PgConnection, id: ShowId, changes: &ShowChanges) -> Result<Show> {
    sqlx::query_as::<_, Show>(
        "UPDATE shows SET name = coalesce($2, name), date = coalesce($3, date), \
            welcome_message = coalesce($4, welcome_message), recall_message = coalesce($5, recall_message), \
            souvenir_message = coalesce($6, souvenir_message), no_show_message = coalesce($7, no_show_message) \
         WHERE id = $1 \
         RETURNING id, name, date, welcome_message, recall_message, souvenir_message, no_show_message, created_at, updated_at",
    )
    .bind(id)
    .bind(changes.name.as_deref())
    .bind(changes.date)
    .bind(changes.welcome_message.as_deref())
    .bind(changes.recall_message.as_deref())
    .bind(changes.souvenir_message.as_deref())
    .bind(changes.no_show_message.as_deref())
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound("show"))
}

pub async fn get(conn: &mut PgConnection, id: ShowId) -> Result<Show> {
    sqlx::query_as::<_, Show>(
        "SELECT id, name, date, welcome_message, recall_message, souvenir_message, no_show_message, created_at, updated_at \
         FROM shows WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound("show"))
}

/// The show with the latest date (the newest one on a tie), if any.
pub async fn current(conn: &mut PgConnection) -> Result<Option<Show>> {
    Ok(sqlx::query_as::<_, Show>(
        "SELECT id, name, date, welcome_message, recall_message, souvenir_message, no_show_message, created_at, updated_at \
         FROM shows ORDER BY date DESC, id DESC LIMIT 1",
    )
    .fetch_optional(conn)
    .await?)
}

/// The show a request names, or the current one; no show at all is a
/// conflict the operator fixes by creating one.
pub async fn resolve(conn: &mut PgConnection, id: Option<ShowId>) -> Result<Show> {
    match id {
        Some(id) => get(conn, id).await.map_err(|e| match e {
            DomainError::NotFound(_) => DomainError::invalid("show_id", format!("no show has id {id}")),
            other => other,
        }),
        None => current(conn).await?.ok_or_else(|| {
            DomainError::Conflict(
                "there is no show yet: create one (POST /api/v1/shows or `ondeck show create`) first".into(),
            )
        }),
    }
}

/// Newest first.
pub async fn list(conn: &mut PgConnection, page: Page) -> Result<Paged<Show>> {
    let query = sqlx::query_as(
        "SELECT * FROM (SELECT id, name, date, welcome_message, recall_message, souvenir_message, no_show_message, created_at, updated_at, \
                -(date - DATE '2000-01-01')::bigint AS sort_key, -id AS sort_id FROM shows) q \
         WHERE ($1::bigint IS NULL OR (sort_key, sort_id) > ($1, $2)) \
         ORDER BY sort_key, sort_id LIMIT $3",
    );
    fetch_page(conn, query, page).await
}
