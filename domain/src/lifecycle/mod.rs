//! The one path every change to a game takes, whoever makes it: a staff
//! member through the API, ondeck's own recall sweep, and any caller to
//! come. Inside the caller's transaction it makes the guarded update, its
//! side effects (texts and renders to the outbox, team assignment,
//! auto-recall), the venue cues the change fires and the event rows; what
//! it returns is [`Uncommitted`], whose `commit` commits the transaction,
//! wakes the listeners and counts the transitions in
//! `ondeck_transitions_total`, so that only what commits is counted.
//!
//! - `transition`: the six transitions of the table in `game_state`, and
//!   auto-recall.
//! - `context`: [`Lifecycle`], what every change needs, and [`Uncommitted`].
//! - `signup`: a new player with their first game, and another game for a
//!   player whose last one is over.
//! - `player`: what a player does to their own game (from their page or by
//!   text), and the no-show sweep.
//! - `policy`: [`PlayerPolicy`], what players may do, and [`offered`].
//! - `line`: the admission check of every new game (a show's line rules),
//!   staff changing a show's settings, and staff moving a waiting game.

mod context;
mod line;
mod player;
mod policy;
mod signup;
mod transition;

pub use context::{GameCues, Lifecycle, Uncommitted};
pub use line::refusal;
pub use player::Acted;
pub use policy::{PlayerPolicy, offered};
pub use signup::{Joined, SignedUp};
pub use transition::{Changed, GameChange};
