//! Estimated waits, as the queue, the board and players' pages quote them:
//! each place in line adds the median play time of the show's last 20
//! completed games divided by the show's stations.

use ondeck_domain::ShowId;
use ondeck_domain::store::{PgConnection, scores};

use crate::error::Result;

/// Before any game of a show has been completed, a game is assumed to take this long.
const DEFAULT_PLAY_SECONDS: f64 = 180.0;

/// The wait each place in the line adds: the median play time of the
/// show's last 20 completed games (180 s before there are any) ÷ `stations`.
pub async fn seconds_per_place(
    conn: &mut PgConnection,
    stations: u32,
    show_id: ShowId,
) -> Result<f64> {
    let median = scores::median_play_seconds(conn, show_id)
        .await?
        .unwrap_or(DEFAULT_PLAY_SECONDS);
    Ok(median / f64::from(stations.max(1)))
}

/// The estimated wait of the game at `position` (1-based).
pub fn eta_seconds(position: i64, per_place: f64) -> i64 {
    (position as f64 * per_place).round() as i64
}
