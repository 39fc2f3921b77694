//! Shows: one event each; the current show is the one with the latest date.

use sqlx::PgConnection;

use crate::error::{DomainError, Result};
use crate::ids::ShowId;
use crate::models::{
    DEFAULT_NO_SHOW, DEFAULT_RECALL, DEFAULT_SOUVENIR, DEFAULT_WELCOME, Show, ShowChanges,
};
use crate::store::{Page, Paged, fetch_page};

/// The columns `models::Show` reads. `stations` is null only for a show
/// made before it existed, until `adopt_stations`.
macro_rules! show_columns {
    () => {
        "id, name, date, welcome_message, recall_message, souvenir_message, no_show_message, \
         joining, closes_at, max_waiting, paused, coalesce(stations, 1) AS stations, self_join, \
         waiver_text, created_at, updated_at"
    };
}

/// Creates a show; messages and settings not given get the defaults
/// (`stations`: the caller's, else 1).
pub async fn insert(conn: &mut PgConnection, changes: &ShowChanges) -> Result<Show> {
    let (Some(name), Some(date)) = (changes.name.as_deref(), changes.date) else {
        return Err(DomainError::invalid(
            "name",
            "a show needs a name and a date",
        ));
    };
    let line = &changes.line;
    Ok(sqlx::query_as::<_, Show>(concat!(
        "INSERT INTO shows (name, date, welcome_message, recall_message, souvenir_message, \
             no_show_message, joining, closes_at, max_waiting, paused, stations, self_join, waiver_text) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING ",
        show_columns!()
    ))
    .bind(name)
    .bind(date)
    .bind(changes.welcome_message.as_deref().unwrap_or(DEFAULT_WELCOME))
    .bind(changes.recall_message.as_deref().unwrap_or(DEFAULT_RECALL))
    .bind(changes.souvenir_message.as_deref().unwrap_or(DEFAULT_SOUVENIR))
    .bind(changes.no_show_message.as_deref().unwrap_or(DEFAULT_NO_SHOW))
    .bind(line.joining.unwrap_or_default())
    .bind(line.closes_at.flatten())
    .bind(line.max_waiting.flatten())
    .bind(line.paused.unwrap_or(false))
    .bind(line.stations.unwrap_or(1))
    .bind(line.self_join.unwrap_or(false))
    .bind(line.waiver_text.as_deref().unwrap_or(""))
    .fetch_one(conn)
    .await?)
}

/// Changes a show. Resuming a paused show stamps `resumed_at`, from which
/// recalls count towards a no-show again.
pub async fn update(conn: &mut PgConnection, id: ShowId, changes: &ShowChanges) -> Result<Show> {
    let line = &changes.line;
    // The nullable settings take a flag: null clears, absent leaves alone.
    sqlx::query_as::<_, Show>(concat!(
        "UPDATE shows SET name = coalesce($2, name), date = coalesce($3, date), \
            welcome_message = coalesce($4, welcome_message), recall_message = coalesce($5, recall_message), \
            souvenir_message = coalesce($6, souvenir_message), no_show_message = coalesce($7, no_show_message), \
            joining = coalesce($8, joining), \
            closes_at = CASE WHEN $9 THEN $10 ELSE closes_at END, \
            max_waiting = CASE WHEN $11 THEN $12 ELSE max_waiting END, \
            resumed_at = CASE WHEN paused AND NOT coalesce($13, paused) THEN now() ELSE resumed_at END, \
            paused = coalesce($13, paused), stations = coalesce($14, stations), \
            self_join = coalesce($15, self_join), waiver_text = coalesce($16, waiver_text) \
         WHERE id = $1 RETURNING ",
        show_columns!()
    ))
    .bind(id)
    .bind(changes.name.as_deref())
    .bind(changes.date)
    .bind(changes.welcome_message.as_deref())
    .bind(changes.recall_message.as_deref())
    .bind(changes.souvenir_message.as_deref())
    .bind(changes.no_show_message.as_deref())
    .bind(line.joining)
    .bind(line.closes_at.is_some())
    .bind(line.closes_at.flatten())
    .bind(line.max_waiting.is_some())
    .bind(line.max_waiting.flatten())
    .bind(line.paused)
    .bind(line.stations)
    .bind(line.self_join)
    .bind(line.waiver_text.as_deref())
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound("show"))
}

pub async fn get(conn: &mut PgConnection, id: ShowId) -> Result<Show> {
    by_id(conn, id, false).await
}

/// The show `id`; with `shared`, its row held `FOR SHARE` until the
/// transaction ends: others may read and share it, while a change of the
/// show's settings (an `UPDATE`) waits for every holder, and they for it.
async fn by_id(conn: &mut PgConnection, id: ShowId, shared: bool) -> Result<Show> {
    let query = if shared {
        concat!(
            "SELECT ",
            show_columns!(),
            " FROM shows WHERE id = $1 FOR SHARE"
        )
    } else {
        concat!("SELECT ", show_columns!(), " FROM shows WHERE id = $1")
    };
    sqlx::query_as::<_, Show>(query)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(DomainError::NotFound("show"))
}

/// The show with the latest date (the newest one on a tie), if any.
pub async fn current(conn: &mut PgConnection) -> Result<Option<Show>> {
    Ok(sqlx::query_as::<_, Show>(concat!(
        "SELECT ",
        show_columns!(),
        " FROM shows ORDER BY date DESC, id DESC LIMIT 1"
    ))
    .fetch_optional(conn)
    .await?)
}

/// The show a request names, or the current one; no show at all is a
/// conflict the operator fixes by creating one.
pub async fn resolve(conn: &mut PgConnection, id: Option<ShowId>) -> Result<Show> {
    resolve_by(conn, id, false).await
}

/// [`resolve`], with the show's row shared until the transaction ends (see
/// [`by_id`]): what an admission reads, so that it sees the settings as
/// they stand at its commit without waiting for other admissions.
pub async fn resolve_shared(conn: &mut PgConnection, id: Option<ShowId>) -> Result<Show> {
    resolve_by(conn, id, true).await
}

/// Takes the show's admission lock until the transaction ends: admissions
/// to a show whose rules count its line take turns, each seeing the games
/// the one before made, so two cannot both take the last place.
pub async fn lock_admissions(conn: &mut PgConnection, id: ShowId) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashint8($2))")
        .bind(ADMISSION_LOCK_CLASS)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Class of the per-show advisory lock of [`lock_admissions`].
const ADMISSION_LOCK_CLASS: i32 = 0x6f64_0002;

async fn resolve_by(conn: &mut PgConnection, id: Option<ShowId>, shared: bool) -> Result<Show> {
    let id = match id {
        Some(id) => id,
        None => {
            let show = current(conn).await?.ok_or_else(|| {
                DomainError::Conflict(
                    "there is no show yet: create one (POST /api/v1/shows or `ondeck show create`) first".into(),
                )
            })?;
            if !shared {
                return Ok(show);
            }
            show.id
        }
    };
    by_id(conn, id, shared).await.map_err(|e| match e {
        DomainError::NotFound(_) => DomainError::invalid("show_id", format!("no show has id {id}")),
        other => other,
    })
}

/// Newest first.
pub async fn list(conn: &mut PgConnection, page: Page) -> Result<Paged<Show>> {
    let query = sqlx::query_as(concat!(
        "SELECT * FROM (SELECT ",
        show_columns!(),
        ", -(date - DATE '2000-01-01')::bigint AS sort_key, -id AS sort_id FROM shows) q \
         WHERE ($1::bigint IS NULL OR (sort_key, sort_id) > ($1, $2)) \
         ORDER BY sort_key, sort_id LIMIT $3"
    ));
    fetch_page(conn, query, page).await
}

/// Gives the shows made before shows had their own stations the process's
/// `STATIONS`, which they followed until then.
pub async fn adopt_stations(conn: &mut PgConnection, stations: i32) -> Result<u64> {
    Ok(
        sqlx::query("UPDATE shows SET stations = $1 WHERE stations IS NULL")
            .bind(stations)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}
