//! A transition with its side effects, all in the caller's transaction:
//! texts and renders go to the outbox, a confirmed player without a team
//! joins the smallest one, and every complete or cancel refills the recall
//! window.

use sqlx::PgConnection;

use crate::error::Result;
use crate::ids::GameId;
use crate::models::Completion;
use crate::state::Transition;
use crate::store::events;
use crate::store::games::{self, Transitioned};
use crate::store::outbox::{self, Job};
use crate::store::recall::{self, RecallPolicy};
use crate::store::teams;

/// Applies `transition` to a game. The first element of the result is the
/// game asked for; the others are games auto-recalled as a consequence.
#[tracing::instrument(skip_all, fields(game_id = %id, transition = %transition))]
pub async fn apply(
    conn: &mut PgConnection,
    id: GameId,
    transition: Transition,
    completion: Option<Completion>,
    policy: RecallPolicy,
) -> Result<Vec<Transitioned>> {
    let mut changed = games::transition(conn, id, transition, completion).await?;
    match transition {
        Transition::Recall => recall::notify_recalled(conn, &changed).await?,
        Transition::Confirm if changed.game.team.is_none() => {
            if teams::assign_if_teamless(conn, changed.game.player_id).await? {
                changed.game = games::get(conn, id).await?;
            }
        }
        Transition::Complete => outbox::enqueue(conn, &Job::Souvenir { game_id: id }).await?,
        Transition::Confirm | Transition::Queue | Transition::Play | Transition::Cancel => {}
    }
    let show_id = changed.game.show_id;
    let mut all = vec![changed];
    if matches!(transition, Transition::Complete | Transition::Cancel) {
        all.extend(recall::auto_recall(conn, show_id, policy).await?);
    }
    // Last: from its first event on, the transaction holds back the event
    // readers, so it must not wait for anything else (see `events`).
    events::game_changed_all(conn, &all, policy.minutes).await?;
    Ok(all)
}
