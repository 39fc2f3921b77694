//! The read models of the venue screens: the queue, the leaderboard and
//! team scores. Only completed games count: a cancelled one drops out.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use crate::error::Result;
use crate::ids::{GameId, PlayerId, ShowId, TeamId};
use crate::line::Wait;
use crate::models::{DayScore, Game, Show};

/// Games of a show that are in line or playing, each state in its order
/// (the waiting line by queue key, the others by when they got there): the
/// API splits them by state.
pub async fn queue(conn: &mut PgConnection, show_id: ShowId) -> Result<Vec<Game>> {
    Ok(sqlx::query_as::<_, Game>(concat!(
        "SELECT ",
        game_columns!(),
        " FROM games g",
        game_joins!(),
        "WHERE g.show_id = $1 AND g.state IN ('playing', 'confirmed', 'recalled', 'queued') \
         ORDER BY g.state, CASE g.state WHEN 'playing' THEN g.playing_at WHEN 'confirmed' THEN g.confirmed_at \
                               WHEN 'recalled' THEN g.recall_started_at END, g.queue_key, g.id"
    ))
    .bind(show_id)
    .fetch_all(conn)
    .await?)
}

/// The wait each place in `show`'s line adds, as the queue, the board,
/// players' pages and last call quote it: the median play time of its last
/// 20 completed games ÷ its stations; none quoted while it is paused.
pub async fn wait(conn: &mut PgConnection, show: &Show) -> Result<Wait> {
    let median = median_play_seconds(conn, show.id).await?;
    Ok(Wait::new(median, show.stations, show.paused))
}

/// The wait the line quotes queued game `id` of show `show_id` now, as its
/// player's page shows it (see [`wait`]); `None` while the show is paused
/// or when the game is not queued.
pub async fn quote(conn: &mut PgConnection, show_id: ShowId, id: GameId) -> Result<Option<i64>> {
    let (median, stations, paused, position): (Option<f64>, i32, bool, i64) =
        sqlx::query_as(concat!(
            "SELECT (",
            median_play!(),
            "), s.stations, s.paused, (",
            queue_position!(),
            ") FROM shows s WHERE s.id = $1"
        ))
        .bind(show_id)
        .bind(id)
        .fetch_one(conn)
        .await?;
    Ok((position > 0)
        .then(|| Wait::new(median, stations, paused).eta_seconds(position))
        .flatten())
}

/// The median time from `play` to `complete` over the show's last 20
/// completed games, in seconds; `None` before there are any.
pub async fn median_play_seconds(conn: &mut PgConnection, show_id: ShowId) -> Result<Option<f64>> {
    Ok(sqlx::query_scalar(median_play!())
        .bind(show_id)
        .fetch_one(conn)
        .await?)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlayerRank {
    pub game_id: GameId,
    pub player_id: PlayerId,
    pub first_name: String,
    pub last_name: Option<String>,
    pub team: Option<String>,
    pub score: i32,
    pub distance: i32,
    pub homeruns: i32,
    pub completed_at: DateTime<Utc>,
}

// A row of the teams' leaderboard, as the API answers it. (No doc comment:
// it would become the schema's description.)
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = TeamRow)]
pub struct TeamRank {
    pub rank: i64,
    pub team_id: TeamId,
    pub name: String,
    pub score: i64,
    pub distance: i64,
    pub homeruns: i64,
    /// Completed games counted.
    pub games: i64,
}

/// Runs a leaderboard query, whose parameters are the show, the day (or
/// every day), the venue's time zone and the number of rows.
async fn ranking<T>(
    conn: &mut PgConnection,
    sql: &'static str,
    (show_id, day, tz, limit): (ShowId, Option<NaiveDate>, &str, i64),
) -> Result<Vec<T>>
where
    T: Send + Unpin + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    Ok(sqlx::query_as(sql)
        .bind(show_id)
        .bind(day)
        .bind(tz)
        .bind(limit)
        .fetch_all(conn)
        .await?)
}

/// Completed games by score, then distance, then who finished first.
pub async fn leaderboard_players(
    conn: &mut PgConnection,
    show_id: ShowId,
    day: Option<NaiveDate>,
    tz: &str,
    limit: i64,
) -> Result<Vec<PlayerRank>> {
    let sql = "SELECT g.id AS game_id, g.player_id, p.first_name, p.last_name, t.name AS team, \
                g.score, g.distance, g.homeruns, g.completed_at \
         FROM games g JOIN players p ON p.id = g.player_id LEFT JOIN teams t ON t.id = p.team_id \
         WHERE g.show_id = $1 AND g.state = 'completed' \
           AND ($2::date IS NULL OR (g.completed_at AT TIME ZONE $3)::date = $2) \
         ORDER BY g.score DESC, g.distance DESC, g.completed_at ASC, g.id ASC LIMIT $4";
    ranking(conn, sql, (show_id, day, tz, limit)).await
}

/// Every team with its members' completed games summed, best first.
pub async fn leaderboard_teams(
    conn: &mut PgConnection,
    show_id: ShowId,
    day: Option<NaiveDate>,
    tz: &str,
    limit: i64,
) -> Result<Vec<TeamRank>> {
    let sql = "SELECT row_number() OVER (ORDER BY coalesce(sum(g.score), 0) DESC, \
                                   coalesce(sum(g.distance), 0) DESC, t.id) AS rank, \
                t.id AS team_id, t.name, coalesce(sum(g.score), 0)::bigint AS score, \
                coalesce(sum(g.distance), 0)::bigint AS distance, coalesce(sum(g.homeruns), 0)::bigint AS homeruns, \
                count(g.id) AS games \
         FROM teams t LEFT JOIN players p ON p.team_id = t.id \
         LEFT JOIN games g ON g.player_id = p.id AND g.show_id = $1 AND g.state = 'completed' \
              AND ($2::date IS NULL OR (g.completed_at AT TIME ZONE $3)::date = $2) \
         GROUP BY t.id ORDER BY rank LIMIT $4";
    ranking(conn, sql, (show_id, day, tz, limit)).await
}

/// Teams' completed games summed per day in the venue's time zone,
/// ascending, for every team in `team_ids` at once (one query for a page
/// of teams). Teams without completed games are absent from the map.
pub async fn team_days(
    conn: &mut PgConnection,
    team_ids: &[TeamId],
    tz: &str,
) -> Result<std::collections::HashMap<TeamId, Vec<DayScore>>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        team_id: TeamId,
        #[sqlx(flatten)]
        day: DayScore,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT p.team_id, (g.completed_at AT TIME ZONE $2)::date AS day, sum(g.score)::bigint AS score, \
                sum(g.distance)::bigint AS distance, sum(g.homeruns)::bigint AS homeruns \
         FROM games g JOIN players p ON p.id = g.player_id \
         WHERE p.team_id = ANY($1) AND g.state = 'completed' \
         GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind(team_ids)
    .bind(tz)
    .fetch_all(conn)
    .await?;
    let mut by_team: std::collections::HashMap<TeamId, Vec<DayScore>> = Default::default();
    for row in rows {
        by_team.entry(row.team_id).or_default().push(row.day);
    }
    Ok(by_team)
}
