//! A show's numbers for staff (`GET /api/v1/stats`): outcomes, waits and
//! how well they were quoted, play times, the day hour by hour, texts and
//! scores. Days and hours are the venue's (`VENUE_TZ`), so a day is 23 or 25
//! hours long when the clocks change, and an hour that happens twice is two
//! rows.
//!
//! A day's games are one range of `games_show_created` and its texts one of
//! `messages_show_created`; every number is computed by PostgreSQL in a few
//! statements over one snapshot, none of which reads another show's rows.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use sqlx::{Connection, PgConnection};

use crate::error::Result;
use crate::ids::{GameId, ShowId};

/// How the score distribution is cut.
pub const SCORE_BINS: i64 = 10;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub show_id: ShowId,
    /// The day reported (venue time), or null for every day of the show.
    pub day: Option<NaiveDate>,
    /// `VENUE_TZ`.
    pub time_zone: String,
    pub games: Outcomes,
    pub wait: Waits,
    pub play: PlayTimes,
    pub hourly: Vec<Hour>,
    pub texts: Texts,
    pub scores: Scores,
}

/// How the day's games ended: those signed up that day (venue time).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Outcomes {
    /// Every game signed up.
    pub total: i64,
    pub completed: i64,
    /// Cancelled by the player (`player_left`).
    pub left: i64,
    /// Cancelled because the player did not come when called (`no_show`).
    pub no_show: i64,
    /// Cancelled by staff.
    pub cancelled: i64,
    /// Still new, waiting, called or playing.
    pub open: i64,
    /// `no_show` ÷ the games whose player was called (0 when none was).
    pub no_show_rate: f64,
    /// (`left` + `no_show`) ÷ the games that joined the line (0 when none did).
    pub drop_off_rate: f64,
}

/// Waits in line, in seconds, from `queued_at` to `confirmed_at`, over the
/// games that were confirmed; null when there are none.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Waits {
    pub p50: Option<i64>,
    pub p90: Option<i64>,
    pub max: Option<i64>,
    /// The median of (the wait quoted when the game joined the line − the
    /// actual wait): positive when players were told to expect longer than
    /// they waited. Over the games quoted a wait (none is while the line is
    /// paused) and confirmed.
    pub quote_error_p50: Option<i64>,
}

/// Play times, in seconds, from `playing_at` to `completed_at`, over the
/// completed games.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct PlayTimes {
    pub p50: Option<i64>,
    pub p90: Option<i64>,
}

/// One hour of the venue's day. Every hour from the first signup's to the
/// last change's is a row, quiet ones too.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Hour {
    /// The hour's start in venue time with its UTC offset (RFC 3339): the
    /// hour the clocks go back twice is two rows, told apart by the offset.
    pub hour: String,
    /// Games signed up in the hour.
    pub signups: i64,
    /// Games completed in the hour.
    pub completed: i64,
    /// The median wait of the games that joined the line in the hour and
    /// have been confirmed, in seconds.
    pub wait_p50: Option<i64>,
    /// The most games waiting (queued or called, not yet confirmed) at any
    /// moment of the hour.
    pub longest_line: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Texts {
    /// Texts by kind, then status: `{"welcome": {"delivered": 40, "failed": 1}}`.
    pub by_kind: BTreeMap<String, BTreeMap<String, i64>>,
    /// The failed texts by kind and the provider's error
    /// code (null when the provider gave none).
    pub errors: Vec<TextErrors>,
    /// SMS segments handed to the provider.
    pub segments: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct TextErrors {
    pub kind: String,
    pub code: Option<String>,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Scores {
    /// Ten bins of equal width from 0 to the best score; the last one holds
    /// the best. Empty when no game was completed.
    pub bins: Vec<ScoreBin>,
    pub best: Option<Best>,
}

/// Scores from `from` to `to`, both included.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ScoreBin {
    pub from: i64,
    pub to: i64,
    pub count: i64,
}

/// The best game: the leaderboard's first (score, then distance, then who
/// finished first).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Best {
    pub game_id: GameId,
    pub first_name: String,
    pub team: Option<String>,
    pub score: i32,
    pub distance: i32,
    pub homeruns: i32,
}

/// The instants a report covers: from the first instant of a venue day to
/// the next day's (23 or 25 hours when the clocks change), or all time.
fn bounds(day: Option<NaiveDate>, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let Some(day) = day else {
        return (DateTime::UNIX_EPOCH, ALL_TIME_ENDS);
    };
    let start = |d: NaiveDate| {
        // Midnight, or the first hour after it when a clock change skips it.
        let midnight = d.and_hms_opt(0, 0, 0).expect("midnight exists");
        (0..=3)
            .find_map(|h| {
                (midnight + chrono::Duration::hours(h))
                    .and_local_timezone(tz)
                    .earliest()
            })
            .map_or(midnight.and_utc(), |t| t.with_timezone(&Utc))
    };
    (start(day), start(day.succ_opt().unwrap_or(day)))
}

/// Later than any game: the end of a report of every day.
const ALL_TIME_ENDS: DateTime<Utc> = DateTime::from_timestamp_nanos(i64::MAX);

/// What every number of a report but the best game's player changes with:
/// the last event (each change of a game writes one) and the last change of
/// any text, read together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Version {
    pub last_event: i64,
    pub last_text: Option<DateTime<Utc>>,
    /// No transaction was in flight when it was read. Only then is the
    /// version a true line: one in flight could still commit an event with
    /// a smaller id, or a text with an older `updated_at`, and leave the
    /// version as it was. A report made after a settled version is right
    /// for as long as the version stays the same.
    pub settled: bool,
}

impl Version {
    /// Both read the same data (settled or not).
    pub fn same(&self, other: &Version) -> bool {
        (self.last_event, self.last_text) == (other.last_event, other.last_text)
    }
}

pub async fn version(conn: &mut PgConnection) -> Result<Version> {
    Ok(sqlx::query_as(
        "SELECT (SELECT coalesce(max(id), 0) FROM events) AS last_event, \
                (SELECT max(updated_at) FROM messages) AS last_text, \
                NOT EXISTS (SELECT pg_snapshot_xip(pg_current_snapshot())) AS settled",
    )
    .fetch_one(conn)
    .await?)
}

/// The best game of show `show_id` on `day` (or ever), with its player's
/// name and team as they are now.
pub async fn best(
    conn: &mut PgConnection,
    show_id: ShowId,
    day: Option<NaiveDate>,
    tz: Tz,
) -> Result<Option<Best>> {
    let (from, to) = bounds(day, tz);
    Ok(sqlx::query_as(
        "SELECT g.id AS game_id, p.first_name, t.name AS team, g.score, g.distance, g.homeruns \
         FROM games g JOIN players p ON p.id = g.player_id LEFT JOIN teams t ON t.id = p.team_id \
         WHERE g.show_id = $1 AND g.created_at >= $2 AND g.created_at < $3 AND g.state = 'completed' \
         ORDER BY g.score DESC, g.distance DESC, g.completed_at, g.id LIMIT 1",
    )
    .bind(show_id)
    .bind(from)
    .bind(to)
    .fetch_optional(conn)
    .await?)
}

/// The numbers of show `show_id` for `day` (venue time in `tz`), or for
/// every day of it; `scores.best` is left to [`best`].
pub async fn report(
    conn: &mut PgConnection,
    show_id: ShowId,
    day: Option<NaiveDate>,
    tz: Tz,
) -> Result<Report> {
    let (from, to) = bounds(day, tz);
    // One snapshot for every statement, and room to sort a big show's
    // waits in memory rather than on disk.
    let mut tx = conn.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    sqlx::query("SET LOCAL work_mem = '32MB'")
        .execute(&mut *tx)
        .await?;
    // Percentiles with the same input share one sort.
    let summary: Summary = sqlx::query_as(
        "SELECT count(*) AS total, \
                count(*) FILTER (WHERE state = 'completed') AS completed, \
                count(*) FILTER (WHERE cancel_reason = 'player_left') AS left, \
                count(*) FILTER (WHERE cancel_reason = 'no_show') AS no_show, \
                count(*) FILTER (WHERE state = 'cancelled' AND cancel_reason IS DISTINCT FROM 'player_left' \
                                   AND cancel_reason IS DISTINCT FROM 'no_show') AS cancelled, \
                count(*) FILTER (WHERE queued_at IS NOT NULL) AS joined, \
                count(*) FILTER (WHERE recalled_at IS NOT NULL) AS called, \
                max(score) FILTER (WHERE state = 'completed') AS best, \
                round(percentile_cont(0.5) WITHIN GROUP (ORDER BY t.wait))::int8 AS wait_p50, \
                round(percentile_cont(0.9) WITHIN GROUP (ORDER BY t.wait))::int8 AS wait_p90, \
                round(max(t.wait))::int8 AS wait_max, \
                round(percentile_cont(0.5) WITHIN GROUP (ORDER BY quoted_wait_s - t.wait))::int8 AS quote_error_p50, \
                round(percentile_cont(0.5) WITHIN GROUP (ORDER BY t.play))::int8 AS play_p50, \
                round(percentile_cont(0.9) WITHIN GROUP (ORDER BY t.play))::int8 AS play_p90 \
         FROM games g, LATERAL ( \
             SELECT extract(epoch FROM g.confirmed_at - g.queued_at)::float8 AS wait, \
                    CASE WHEN g.state = 'completed' THEN extract(epoch FROM g.completed_at - g.playing_at)::float8 END \
                      AS play) t \
         WHERE g.show_id = $1 AND g.created_at >= $2 AND g.created_at < $3",
    )
    .bind(show_id)
    .bind(from)
    .bind(to)
    .fetch_one(&mut *tx)
    .await?;
    let width = summary.best.map(|best| i64::from(best) / SCORE_BINS + 1);
    let bins: Vec<(i64, i64)> = match width {
        None => Vec::new(),
        Some(width) => {
            sqlx::query_as(
                "SELECT least(score::int8 / $4, $5 - 1) AS bin, count(*) FROM games \
                 WHERE show_id = $1 AND created_at >= $2 AND created_at < $3 AND state = 'completed' \
                 GROUP BY 1",
            )
            .bind(show_id)
            .bind(from)
            .bind(to)
            .bind(width)
            .bind(SCORE_BINS)
            .fetch_all(&mut *tx)
            .await?
        }
    };
    let hourly = hourly(&mut tx, show_id, from, to, tz).await?;
    let texts = texts(&mut tx, show_id, from, to).await?;
    tx.commit().await?;
    Ok(Report {
        show_id,
        day,
        time_zone: tz.name().to_owned(),
        games: summary.outcomes(),
        wait: Waits {
            p50: summary.wait_p50,
            p90: summary.wait_p90,
            max: summary.wait_max,
            quote_error_p50: summary.quote_error_p50,
        },
        play: PlayTimes {
            p50: summary.play_p50,
            p90: summary.play_p90,
        },
        hourly,
        texts,
        scores: scores(width, &bins),
    })
}

#[derive(sqlx::FromRow)]
struct Summary {
    total: i64,
    completed: i64,
    left: i64,
    no_show: i64,
    cancelled: i64,
    joined: i64,
    called: i64,
    best: Option<i32>,
    wait_p50: Option<i64>,
    wait_p90: Option<i64>,
    wait_max: Option<i64>,
    quote_error_p50: Option<i64>,
    play_p50: Option<i64>,
    play_p90: Option<i64>,
}

impl Summary {
    fn outcomes(&self) -> Outcomes {
        let rate = |n: i64, of: i64| if of == 0 { 0.0 } else { n as f64 / of as f64 };
        Outcomes {
            total: self.total,
            completed: self.completed,
            left: self.left,
            no_show: self.no_show,
            cancelled: self.cancelled,
            open: self.total - self.completed - self.left - self.no_show - self.cancelled,
            no_show_rate: rate(self.no_show, self.called),
            drop_off_rate: rate(self.left + self.no_show, self.joined),
        }
    }
}

/// The ten bins `width` wide, with the counts of the `(bin, games)` found.
fn scores(width: Option<i64>, found: &[(i64, i64)]) -> Scores {
    let Some(width) = width else {
        return Scores {
            bins: Vec::new(),
            best: None,
        };
    };
    let mut bins: Vec<ScoreBin> = (0..SCORE_BINS)
        .map(|i| ScoreBin {
            from: i * width,
            to: (i + 1) * width - 1,
            count: 0,
        })
        .collect();
    for (bin, n) in found {
        if let Some(b) = usize::try_from(*bin).ok().and_then(|b| bins.get_mut(b)) {
            b.count = *n;
        }
    }
    Scores { bins, best: None }
}

#[derive(sqlx::FromRow)]
struct HourRow {
    hour: DateTime<Utc>,
    signups: i64,
    completed: i64,
    wait_p50: Option<i64>,
    longest_line: i64,
}

/// The hours from the first signup's to the last change's, within the
/// bounds. The line's length steps up at each `queued_at` and down at each
/// confirm or cancel (a running sum, the steps down first at the same
/// instant); an hour's longest line is the most it reached in the hour, or
/// what it carried in: the sum of the steps of every hour before.
async fn hourly(
    conn: &mut PgConnection,
    show_id: ShowId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    tz: Tz,
) -> Result<Vec<Hour>> {
    let rows: Vec<HourRow> = sqlx::query_as(
        "WITH g AS MATERIALIZED ( \
             SELECT created_at, queued_at, confirmed_at, cancelled_at, \
                    CASE WHEN state = 'completed' THEN completed_at END AS completed_at \
             FROM games WHERE show_id = $1 AND created_at < $3), \
         span AS (SELECT date_trunc('hour', min(created_at), $4) AS first, \
                         greatest(max(created_at), max(queued_at), max(confirmed_at), max(completed_at), \
                                  max(cancelled_at)) AS last \
                  FROM g WHERE created_at >= $2), \
         hours AS (SELECT h FROM span, \
                     generate_series(span.first, least(span.last, $3 - interval '1 microsecond'), interval '1 hour') h), \
         su AS (SELECT date_trunc('hour', created_at, $4) AS h, count(*) AS n FROM g \
                WHERE created_at >= $2 GROUP BY 1), \
         co AS (SELECT date_trunc('hour', completed_at, $4) AS h, count(*) AS n FROM g \
                WHERE completed_at >= $2 GROUP BY 1), \
         wa AS (SELECT date_trunc('hour', queued_at, $4) AS h, \
                       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM confirmed_at - queued_at)))::int8 AS p50 \
                FROM g WHERE confirmed_at IS NOT NULL AND queued_at >= $2 GROUP BY 1), \
         steps AS (SELECT queued_at AS at, 1 AS step FROM g WHERE queued_at IS NOT NULL \
                   UNION ALL \
                   SELECT least(confirmed_at, cancelled_at), -1 FROM g \
                   WHERE queued_at IS NOT NULL AND least(confirmed_at, cancelled_at) < $3), \
         level AS (SELECT at, step, sum(step) OVER (ORDER BY at, step ROWS UNBOUNDED PRECEDING) AS n FROM steps), \
         ev AS (SELECT date_trunc('hour', at, $4) AS h, max(n) AS peak, sum(step) AS delta FROM level GROUP BY 1), \
         lined AS (SELECT coalesce(hours.h, ev.h) AS h, hours.h IS NOT NULL AS shown, \
                          greatest(sum(coalesce(ev.delta, 0)) OVER w - coalesce(ev.delta, 0), coalesce(ev.peak, 0)) \
                            AS longest \
                   FROM hours FULL JOIN ev ON ev.h = hours.h \
                   WINDOW w AS (ORDER BY coalesce(hours.h, ev.h))) \
         SELECT l.h AS hour, coalesce(su.n, 0) AS signups, coalesce(co.n, 0) AS completed, wa.p50 AS wait_p50, \
                l.longest::int8 AS longest_line \
         FROM lined l LEFT JOIN su ON su.h = l.h LEFT JOIN co ON co.h = l.h LEFT JOIN wa ON wa.h = l.h \
         WHERE l.shown ORDER BY l.h",
    )
    .bind(show_id)
    .bind(from)
    .bind(to)
    .bind(tz.name())
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Hour {
            hour: r.hour.with_timezone(&tz).to_rfc3339(),
            signups: r.signups,
            completed: r.completed,
            wait_p50: r.wait_p50,
            longest_line: r.longest_line,
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct TextRow {
    kind: String,
    status: String,
    count: i64,
    segments: i64,
}

async fn texts(
    conn: &mut PgConnection,
    show_id: ShowId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Texts> {
    let rows: Vec<TextRow> = sqlx::query_as(
        "SELECT kind::text, status::text, count(*), coalesce(sum(segments), 0)::int8 AS segments \
         FROM messages WHERE show_id = $1 AND created_at >= $2 AND created_at < $3 \
         GROUP BY kind, status ORDER BY kind, status",
    )
    .bind(show_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?;
    let errors: Vec<TextErrors> = sqlx::query_as(
        "SELECT kind::text, error_code AS code, count(*) FROM messages \
         WHERE show_id = $1 AND created_at >= $2 AND created_at < $3 \
           AND status = 'failed' \
         GROUP BY kind, error_code ORDER BY count(*) DESC, kind, error_code",
    )
    .bind(show_id)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?;
    let mut texts = Texts {
        by_kind: BTreeMap::new(),
        errors,
        segments: 0,
    };
    for row in rows {
        texts.segments += row.segments;
        texts
            .by_kind
            .entry(row.kind)
            .or_default()
            .insert(row.status, row.count);
    }
    Ok(texts)
}
