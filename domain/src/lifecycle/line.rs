//! Running the line: who may join a show (the one admission check every
//! new game passes, however it is asked for), staff changing a show's
//! settings, and staff moving a waiting game.

use chrono::Utc;
use sqlx::PgConnection;

use super::context::{Lifecycle, Uncommitted};
use crate::error::{DomainError, Result};
use crate::game_state::GameState;
use crate::ids::{GameId, ShowId};
use crate::line::{Joining, LineRule};
use crate::models::{Game, Show, ShowChanges};
use crate::store::{event_log, games, queue_order, recall, scores, shows};

impl Lifecycle {
    /// The show a new game joins (`show_id`, by default the current show),
    /// if its rules let one more in: `joining` open, fewer than
    /// `max_waiting` games new, queued or recalled, and an estimated wait
    /// that ends before `closes_at`. Else [`DomainError::LineRefused`]
    /// with the rule.
    ///
    /// The show's row stays shared until the caller commits, so a change of
    /// its settings waits for the admissions under way (and they for it):
    /// none is let in by a rule staff have just changed. Admissions do not
    /// wait for one another, except where a rule counts the line
    /// (`max_waiting`, `closes_at`): there they take turns, so two signups
    /// at once cannot both take the last place.
    pub async fn admit(&self, conn: &mut PgConnection, show_id: Option<ShowId>) -> Result<Show> {
        let show = shows::resolve_shared(conn, show_id).await?;
        if counts_the_line(&show) {
            shows::lock_admissions(conn, show.id).await?;
        }
        match refusal(conn, &show).await? {
            Some(rule) => Err(DomainError::LineRefused(rule)),
            None => Ok(show),
        }
    }

    /// Changes show `id` and tells every screen (a `show` event). Resuming
    /// a paused show recalls the players its window has room for at once.
    #[tracing::instrument(skip_all, fields(show_id = %id))]
    pub async fn change_show(
        &self,
        conn: &mut PgConnection,
        id: ShowId,
        changes: &ShowChanges,
    ) -> Result<Uncommitted<Show>> {
        let show = shows::update(conn, id, changes).await?;
        let recalled = if changes.line.paused == Some(false) {
            self.fill_recall_window(conn, id).await?
        } else {
            Vec::new()
        };
        let entered = self
            .record(conn, &recalled.iter().collect::<Vec<_>>())
            .await?;
        event_log::show_changed(conn, &show).await?;
        Ok(self.uncommitted(show, entered))
    }

    /// Staff move waiting game `id` to `position` (1 = the front; past the
    /// back, to the back). Only a queued game can move.
    #[tracing::instrument(skip_all, fields(game_id = %id, position))]
    pub async fn move_in_line(
        &self,
        conn: &mut PgConnection,
        id: GameId,
        position: i64,
    ) -> Result<Uncommitted<Game>> {
        if position < 1 {
            return Err(DomainError::invalid(
                "position",
                "must be a whole number from 1 (the front)",
            ));
        }
        // Past the back is the back; bounded so that the SQL's `n + 1` fits.
        let position = position.min(i64::from(i32::MAX));
        // The game first, then the line, in the order "later" takes them.
        let game = games::lock(conn, id).await?;
        if game.state != GameState::Queued {
            return Err(DomainError::Conflict(format!(
                "only a queued game can be moved; this one is {}",
                game.state
            )));
        }
        recall::lock_show(conn, game.show_id).await?;
        queue_order::move_to(conn, game.show_id, id, position).await?;
        let moved = games::get(conn, id).await?;
        event_log::game_changed(conn, &moved, Some(game.state), self.recall.minutes).await?;
        Ok(self.uncommitted(moved, Vec::new()))
    }
}

/// Whether a rule of `show` depends on how many are in its line.
fn counts_the_line(show: &Show) -> bool {
    show.max_waiting.is_some() || show.closes_at.is_some()
}

/// The rule that keeps a new game out of `show` now, if any: what
/// `Lifecycle::admit` checks while it holds the show, and what the join page
/// and the board read to say whether the line takes players.
pub async fn refusal(conn: &mut PgConnection, show: &Show) -> Result<Option<LineRule>> {
    if show.joining == Joining::Closed {
        return Ok(Some(LineRule::Closed));
    }
    if !counts_the_line(show) {
        return Ok(None);
    }
    let (waiting, ahead): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE state <> 'recalled') FROM games \
         WHERE show_id = $1 AND state IN ('new', 'queued', 'recalled')",
    )
    .bind(show.id)
    .fetch_one(&mut *conn)
    .await?;
    if show
        .max_waiting
        .is_some_and(|max| waiting >= i64::from(max))
    {
        return Ok(Some(LineRule::Full));
    }
    if let Some(closes_at) = show.closes_at {
        // The new game's place is behind every game signed up or queued;
        // recalled ones are about to play.
        let wait = scores::wait(conn, show).await?.estimate(ahead + 1);
        if Utc::now() + chrono::Duration::seconds(wait) > closes_at {
            return Ok(Some(LineRule::FullToday));
        }
    }
    Ok(None)
}
