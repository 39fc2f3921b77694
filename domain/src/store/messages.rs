//! Text messages: one row per welcome, recall or souvenir text, written
//! before the provider is called. The row is what makes a text reach the
//! provider at most once: an attempt is claimed with a conditional write,
//! and a text with a provider id is never sent again.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use crate::error::Result;
use crate::ids::GameId;
use crate::sms::Segments;
use crate::store::outbox::MessageKind;
use crate::store::{Page, Paged, fetch_page};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "message_kind", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Welcome,
    Recall,
    Souvenir,
    NoShow,
    Verify,
    /// A text a player sent in (direction `inbound`).
    Reply,
}

impl From<MessageKind> for Kind {
    fn from(kind: MessageKind) -> Self {
        match kind {
            MessageKind::Welcome => Kind::Welcome,
            MessageKind::Recall => Kind::Recall,
            MessageKind::Souvenir => Kind::Souvenir,
            MessageKind::NoShow => Kind::NoShow,
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "message_status", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    Sent,
    Failed,
    Delivered,
}

/// Which way a text went.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "message_direction", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Outbound,
    Inbound,
}

from_str_by_serde_name!(Status, Kind, Direction);

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Message {
    #[schema(value_type = i64)]
    pub id: i64,
    /// Null for a text that came in from a number with no game.
    #[schema(value_type = Option<i64>)]
    pub game_id: Option<GameId>,
    pub kind: Kind,
    pub direction: Direction,
    /// The number texted, or for an inbound text the number it came from.
    #[serde(skip)]
    pub to: String,
    /// An outbound text's recipient.
    #[serde(rename = "to", skip_serializing_if = "Option::is_none")]
    pub to_number: Option<String>,
    /// An inbound text's sender.
    #[serde(rename = "from", skip_serializing_if = "Option::is_none")]
    pub from_number: Option<String>,
    pub body: String,
    pub status: Status,
    /// The provider's error code (Twilio's, such as `30003`).
    pub error_code: Option<String>,
    pub attempts: i32,
    #[serde(skip)]
    pub attempt_started_at: Option<DateTime<Utc>>,
    pub provider_id: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

macro_rules! message_columns {
    () => {
        "id, game_id, kind, direction, \"to\", \
         CASE WHEN direction = 'outbound' THEN \"to\" END AS to_number, \
         CASE WHEN direction = 'inbound' THEN \"to\" END AS from_number, \
         body, status, error_code, attempts, attempt_started_at, provider_id, error, created_at, sent_at"
    };
}

/// The text a job asks for: created on the job's first run from the game's
/// player and show, found again on every later run. In the show's template
/// `{url}` becomes `link` (the souvenir's), `{link}` the player's page under
/// `public_base_url`, and `{rank}` the game's rank among the show's games
/// completed that day in `tz` so far ("#3 today"; empty before the game is
/// completed). `None` when the player has no mobile number.
pub async fn prepare(
    conn: &mut PgConnection,
    outbox_id: i64,
    game_id: GameId,
    kind: Kind,
    link: Option<&str>,
    public_base_url: &str,
    tz: &str,
) -> Result<Option<Message>> {
    // The rank is the leaderboard's: score, then distance, then who
    // finished first. A row comparison says "ranks before g" in one step.
    sqlx::query(
        "INSERT INTO messages (outbox_id, game_id, show_id, kind, \"to\", body) \
         SELECT $1, g.id, g.show_id, $3, p.mobile_number, \
                replace(replace(replace(CASE $3 WHEN 'welcome' THEN s.welcome_message WHEN 'recall' THEN s.recall_message \
                                        WHEN 'no_show' THEN s.no_show_message ELSE s.souvenir_message END, \
                                '{url}', coalesce($4, '')), \
                        '{link}', rtrim($5, '/') || '/p/' || coalesce(g.player_code, '')), \
                    '{rank}', CASE WHEN g.state = 'completed' THEN '#' || ( \
                        SELECT count(*) + 1 FROM games o \
                        WHERE o.show_id = g.show_id AND o.state = 'completed' AND o.id <> g.id \
                          AND (o.completed_at AT TIME ZONE $6)::date = (g.completed_at AT TIME ZONE $6)::date \
                          AND (o.score, o.distance, g.completed_at) > (g.score, g.distance, o.completed_at) \
                    ) || ' today' ELSE '' END) \
         FROM games g JOIN players p ON p.id = g.player_id JOIN shows s ON s.id = g.show_id \
         WHERE g.id = $2 AND p.mobile_number IS NOT NULL \
         ON CONFLICT (outbox_id) DO NOTHING",
    )
    .bind(outbox_id)
    .bind(game_id)
    .bind(kind)
    .bind(link)
    .bind(public_base_url)
    .bind(tz)
    .execute(&mut *conn)
    .await?;
    of_job(conn, outbox_id).await
}

/// The text written with job `outbox_id` (a join code's: see `joins`).
pub async fn of_job(conn: &mut PgConnection, outbox_id: i64) -> Result<Option<Message>> {
    Ok(sqlx::query_as::<_, Message>(concat!(
        "SELECT ",
        message_columns!(),
        " FROM messages WHERE outbox_id = $1"
    ))
    .bind(outbox_id)
    .fetch_optional(conn)
    .await?)
}

/// Claims the next attempt at a text: succeeds for exactly one caller, and
/// only while the text is queued, unsent and not already with the provider.
/// Returns the attempt's number.
pub async fn begin_attempt(conn: &mut PgConnection, id: i64) -> Result<Option<i32>> {
    Ok(sqlx::query_scalar(
        "UPDATE messages SET attempts = attempts + 1, attempt_started_at = now() \
         WHERE id = $1 AND status = 'queued' AND provider_id IS NULL AND attempt_started_at IS NULL \
         RETURNING attempts",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Takes over an attempt that a dead worker left with the provider, once it
/// is older than `stale_seconds`: the caller must then ask the provider
/// whether the text arrived before sending it again.
pub async fn take_over_stale_attempt(
    conn: &mut PgConnection,
    id: i64,
    stale_seconds: f64,
) -> Result<Option<DateTime<Utc>>> {
    Ok(sqlx::query_scalar(
        "UPDATE messages m SET attempt_started_at = now() FROM (SELECT attempt_started_at AS started FROM messages WHERE id = $1 FOR UPDATE) old \
         WHERE m.id = $1 AND m.status = 'queued' AND m.provider_id IS NULL \
           AND m.attempt_started_at < now() - make_interval(secs => $2) \
         RETURNING old.started",
    )
    .bind(id)
    .bind(stale_seconds)
    .fetch_optional(conn)
    .await?)
}

/// The provider accepted the text: it is sent, as the segments its body
/// takes (see `sms::Segments`).
pub async fn mark_sent(
    conn: &mut PgConnection,
    message: &Message,
    provider_id: &str,
) -> Result<()> {
    let segments = i16::try_from(Segments::of(&message.body).count).unwrap_or(i16::MAX);
    sqlx::query(
        "UPDATE messages SET status = 'sent', provider_id = $2, sent_at = now(), attempt_started_at = NULL, error = NULL, \
                segments = $3 \
         WHERE id = $1",
    )
    .bind(message.id)
    .bind(provider_id)
    .bind(segments)
    .execute(conn)
    .await?;
    Ok(())
}

/// The provider refused or could not be reached; `last` marks the text
/// failed for good. The error is kept scrubbed (see `scrub`): a provider's
/// text may quote the number.
pub async fn mark_attempt_failed(
    conn: &mut PgConnection,
    id: i64,
    error: &str,
    last: bool,
) -> Result<()> {
    sqlx::query(
        "UPDATE messages SET attempt_started_at = NULL, error = $2, \
                status = CASE WHEN $3 THEN 'failed'::message_status ELSE status END \
         WHERE id = $1 AND provider_id IS NULL",
    )
    .bind(id)
    .bind(crate::scrub::scrub_text(error).as_ref())
    .bind(last)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Default, Clone)]
pub struct MessageFilter {
    pub status: Option<Status>,
    pub kind: Option<Kind>,
    pub game_id: Option<GameId>,
}

/// Newest first; join codes are masked (see `mask_digits`).
pub async fn list(
    conn: &mut PgConnection,
    filter: &MessageFilter,
    page: Page,
) -> Result<Paged<Message>> {
    let query = sqlx::query_as(concat!(
        "SELECT ",
        message_columns!(),
        ", 0::bigint AS sort_key, -id AS sort_id FROM messages \
         WHERE ($1::message_status IS NULL OR status = $1) AND ($2::message_kind IS NULL OR kind = $2) \
           AND ($3::bigint IS NULL OR game_id = $3) AND ($4::bigint IS NULL OR -id > $5) \
         ORDER BY id DESC LIMIT $6"
    ))
    .bind(filter.status)
    .bind(filter.kind)
    .bind(filter.game_id);
    let mut paged: Paged<Message> = fetch_page(conn, query, page).await?;
    for message in &mut paged.items {
        if message.kind == Kind::Verify {
            message.body = mask_digits(&message.body);
        }
    }
    Ok(paged)
}

/// A join code's text as staff see it: the code is the player's alone.
fn mask_digits(body: &str) -> String {
    body.chars()
        .map(|c| if c.is_ascii_digit() { '•' } else { c })
        .collect()
}

/// Before each attempt: a text to a number that opted out (see
/// `opt_outs`) is not sent but marked failed with the error "opted out",
/// however long ago it was queued. Returns whether it was.
pub async fn fail_if_opted_out(conn: &mut PgConnection, id: i64) -> Result<bool> {
    Ok(sqlx::query_scalar::<_, i64>(
        "UPDATE messages SET status = 'failed', error = 'opted out', attempt_started_at = NULL \
         WHERE id = $1 AND status = 'queued' AND provider_id IS NULL \
           AND EXISTS (SELECT 1 FROM sms_opt_outs WHERE number_hash = number_hash(\"to\")) \
         RETURNING id",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?
    .is_some())
}

/// The provider refused the text for good, with its error code (Twilio's
/// `code`, such as `21610`).
pub async fn mark_refused(conn: &mut PgConnection, id: i64, error: &str, code: &str) -> Result<()> {
    sqlx::query(
        "UPDATE messages SET attempt_started_at = NULL, status = 'failed', error = $2, error_code = $3 \
         WHERE id = $1 AND provider_id IS NULL",
    )
    .bind(id)
    .bind(crate::scrub::scrub_text(error).as_ref())
    .bind(code)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a text that came in from `from` (with the provider's id
/// `provider_id`, for the game `game_id` if it was matched to one). An
/// inbound text is recorded `delivered`: it reached ondeck. `None` when a
/// text with that provider id was recorded already (a webhook delivered
/// twice, or replayed).
pub async fn record_inbound(
    conn: &mut PgConnection,
    from: &str,
    body: &str,
    provider_id: &str,
    game_id: Option<GameId>,
) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "INSERT INTO messages (direction, kind, \"to\", body, status, provider_id, game_id, show_id, sent_at) \
         VALUES ('inbound', 'reply', $1, $2, 'delivered', $3, $4, (SELECT show_id FROM games WHERE id = $4), now()) \
         ON CONFLICT (provider_id) WHERE direction = 'inbound' DO NOTHING RETURNING id",
    )
    .bind(from)
    .bind(body)
    .bind(provider_id)
    .bind(game_id)
    .fetch_optional(conn)
    .await?)
}

/// How many texts came in from `from` in the last `seconds`.
pub async fn inbound_since(conn: &mut PgConnection, from: &str, seconds: f64) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM messages \
         WHERE direction = 'inbound' AND \"to\" = $1 AND created_at > now() - make_interval(secs => $2)",
    )
    .bind(from)
    .bind(seconds)
    .fetch_one(conn)
    .await?)
}

/// A delivery report for the text the provider knows as `provider_id`:
/// one guarded write that moves the status only forwards (queued, then
/// sent, then delivered or failed, which are final), so a late `sent`
/// after `delivered` changes nothing. Returns whether the status moved.
pub async fn record_delivery(
    conn: &mut PgConnection,
    provider_id: &str,
    status: Status,
    error_code: Option<&str>,
    error: Option<&str>,
) -> Result<bool> {
    Ok(sqlx::query(
        "UPDATE messages SET status = $2, \
                error_code = CASE WHEN $2 = 'failed' THEN $3 ELSE error_code END, \
                error = CASE WHEN $2 = 'failed' THEN $4 ELSE error END \
         WHERE provider_id = $1 AND direction = 'outbound' \
           AND (CASE status WHEN 'queued' THEN 0 WHEN 'sent' THEN 1 ELSE 2 END) \
             < (CASE $2 WHEN 'queued' THEN 0 WHEN 'sent' THEN 1 ELSE 2 END)",
    )
    .bind(provider_id)
    .bind(status)
    .bind(error_code)
    .bind(error)
    .execute(conn)
    .await?
    .rows_affected()
        > 0)
}

/// Opts out the number the text `provider_id` went to (the provider said
/// its recipient had answered STOP).
pub async fn opt_out_recipient(conn: &mut PgConnection, provider_id: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO sms_opt_outs (number_hash) \
         SELECT number_hash(\"to\") FROM messages \
         WHERE provider_id = $1 AND direction = 'outbound' AND \"to\" <> '' \
         ON CONFLICT DO NOTHING",
    )
    .bind(provider_id)
    .execute(conn)
    .await?;
    Ok(())
}
