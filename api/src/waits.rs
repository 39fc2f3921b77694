//! Estimated waits, as the queue, the board and players' pages quote them:
//! each place in line adds the median play time of the show's last 20
//! completed games divided by the show's stations; a paused show quotes
//! none.

use ondeck_domain::ShowId;
use ondeck_domain::line::Wait;
use ondeck_domain::store::{PgConnection, scores, shows};

use crate::error::Result;

/// The wait of each place in show `show_id`'s line, and whether it is paused.
pub async fn wait_of(conn: &mut PgConnection, show_id: ShowId) -> Result<Wait> {
    let show = shows::get(conn, show_id).await?;
    let median = scores::median_play_seconds(conn, show_id).await?;
    Ok(Wait::new(median, show.stations, show.paused))
}
