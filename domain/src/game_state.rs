//! The game lifecycle as data: one table of transitions, with who may make
//! each, from which the Rust check (`GameState::apply`), the SQL guard
//! (`... WHERE state = ANY($sources)`, see `store::games::transition`) and
//! the permission check (`Transition::check`) all derive.

use serde::{Deserialize, Serialize};

use crate::role::Role;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "game_state", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum GameState {
    New,
    Queued,
    Recalled,
    Confirmed,
    Playing,
    Completed,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    Queue,
    Recall,
    Confirm,
    Play,
    Complete,
    Cancel,
}

/// Why a game was cancelled.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "cancel_reason", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// Staff cancelled it (the default of `POST .../cancel`).
    Staff,
    /// The player left the line, from their page or by text.
    PlayerLeft,
    /// Recalled and not seen within `NO_SHOW_MINUTES`.
    NoShow,
}

impl CancelReason {
    /// The reason in words, as the player's page and the staff page say it.
    pub fn words(self) -> &'static str {
        match self {
            CancelReason::Staff => "cancelled by staff",
            CancelReason::PlayerLeft => "left the line",
            CancelReason::NoShow => "no-show",
        }
    }
}

/// Who makes a change to a game. An admin may make every transition; the
/// table lists who else may make each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    /// Staff through the API, by the role of their token.
    Staff(Role),
    /// ondeck itself: auto-recall after a complete or cancel, the periodic
    /// sweeps (recall and no-shows).
    System,
    /// The player, on their own game: from their page or by text, through
    /// the actions of [`PLAYER_ACTIONS`].
    Player,
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Staff(role) => write!(f, "a {role} token"),
            Actor::System => f.write_str("ondeck"),
            Actor::Player => f.write_str("the player"),
        }
    }
}

/// One row of the lifecycle: `transition` moves a game from any state of
/// `from` to `to`, made by an admin or any actor of `by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub transition: Transition,
    pub from: &'static [GameState],
    pub to: GameState,
    pub by: &'static [Actor],
}

impl Rule {
    const fn new(
        transition: Transition,
        from: &'static [GameState],
        to: GameState,
        by: &'static [Actor],
    ) -> Rule {
        Rule {
            transition,
            from,
            to,
            by,
        }
    }
}

use Actor::{Player, Staff, System};
use GameState::*;

const TABLET: Actor = Staff(Role::Tablet);
const GAME: Actor = Staff(Role::Game);

/// The single source of truth: (transition, from, to, who besides an admin).
pub const TRANSITIONS: &[Rule] = &[
    Rule::new(
        Transition::Queue,
        &[New, Recalled],
        Queued,
        &[TABLET, Player],
    ),
    Rule::new(Transition::Recall, &[Queued], Recalled, &[TABLET, System]),
    Rule::new(
        Transition::Confirm,
        &[New, Queued, Recalled],
        Confirmed,
        &[TABLET],
    ),
    Rule::new(Transition::Play, &[Confirmed], Playing, &[GAME]),
    Rule::new(Transition::Complete, &[Playing], Completed, &[GAME]),
    Rule::new(
        Transition::Cancel,
        &[New, Queued, Recalled, Confirmed, Playing, Completed],
        Cancelled,
        &[TABLET, Player, System],
    ),
];

/// What a player may do on their own game, from their page
/// (`POST /p/{code}/{action}`) or by text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlayerAction {
    /// "On my way": sets `acknowledged_at`.
    Coming,
    /// "I need more time": `LATER_PLACES` places further back.
    Later,
    /// "Leave the line": a cancel with reason `player_left`.
    Leave,
    /// "Join again": a new game for the same player, at the back.
    Rejoin,
}

/// One row of the player's actions: `action` is offered in the states of
/// `from`; `transition` is the lifecycle transition it makes there, if any
/// (a queued game asking for more time only moves in the line).
#[derive(Debug, Clone, Copy)]
pub struct PlayerRule {
    pub action: PlayerAction,
    pub from: &'static [GameState],
    pub transition: fn(GameState) -> Option<Transition>,
}

/// The player's actions: the page offers, and the server accepts, exactly
/// these. Every transition they make is a row of [`TRANSITIONS`] that lists
/// [`Actor::Player`].
pub const PLAYER_ACTIONS: &[PlayerRule] = &[
    PlayerRule {
        action: PlayerAction::Coming,
        from: &[Recalled],
        transition: |_| None,
    },
    PlayerRule {
        action: PlayerAction::Later,
        from: &[Queued, Recalled],
        transition: |state| (state == Recalled).then_some(Transition::Queue),
    },
    PlayerRule {
        action: PlayerAction::Leave,
        from: &[New, Queued, Recalled],
        transition: |_| Some(Transition::Cancel),
    },
    PlayerRule {
        action: PlayerAction::Rejoin,
        from: &[Cancelled],
        transition: |_| None,
    },
];

impl PlayerAction {
    pub const ALL: [PlayerAction; 4] = [
        PlayerAction::Coming,
        PlayerAction::Later,
        PlayerAction::Leave,
        PlayerAction::Rejoin,
    ];

    pub fn rule(self) -> &'static PlayerRule {
        PLAYER_ACTIONS
            .iter()
            .find(|r| r.action == self)
            .expect("every player action has a row in PLAYER_ACTIONS")
    }

    /// Whether the table offers this action in `state`.
    pub fn offered_in(self, state: GameState) -> bool {
        self.rule().from.contains(&state)
    }

    /// The transition this action makes from `state`, if any.
    pub fn transition(self, state: GameState) -> Option<Transition> {
        (self.rule().transition)(state)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PlayerAction::Coming => "coming",
            PlayerAction::Later => "later",
            PlayerAction::Leave => "leave",
            PlayerAction::Rejoin => "rejoin",
        }
    }
}

impl std::fmt::Display for PlayerAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A transition attempted from a state its row does not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {transition} a game that is {current}")]
pub struct IllegalTransition {
    pub current: GameState,
    pub transition: Transition,
}

/// A transition attempted by an actor its row does not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{actor} may not {transition} a game")]
pub struct NotPermitted {
    pub actor: Actor,
    pub transition: Transition,
}

impl Transition {
    pub const ALL: [Transition; 6] = [
        Transition::Queue,
        Transition::Recall,
        Transition::Confirm,
        Transition::Play,
        Transition::Complete,
        Transition::Cancel,
    ];

    pub fn rule(self) -> &'static Rule {
        TRANSITIONS
            .iter()
            .find(|r| r.transition == self)
            .expect("every transition has a row in TRANSITIONS")
    }

    /// The states this transition may start from: the SQL guard's `ANY(...)`.
    pub fn sources(self) -> &'static [GameState] {
        self.rule().from
    }

    pub fn target(self) -> GameState {
        self.rule().to
    }

    /// Whether `actor` may make this transition: an admin always, anyone
    /// else when the row lists them.
    pub fn permits(self, actor: Actor) -> bool {
        actor == Staff(Role::Admin) || self.rule().by.contains(&actor)
    }

    /// [`Transition::permits`], as an error to return.
    pub fn check(self, actor: Actor) -> Result<(), NotPermitted> {
        if self.permits(actor) {
            Ok(())
        } else {
            Err(NotPermitted {
                actor,
                transition: self,
            })
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Queue => "queue",
            Transition::Recall => "recall",
            Transition::Confirm => "confirm",
            Transition::Play => "play",
            Transition::Complete => "complete",
            Transition::Cancel => "cancel",
        }
    }
}

from_str_by_serde_name!(Transition, GameState, PlayerAction, CancelReason);

impl std::fmt::Display for Transition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl GameState {
    pub const ALL: [GameState; 7] = [
        New, Queued, Recalled, Confirmed, Playing, Completed, Cancelled,
    ];

    /// The state after `transition`, or why it is not allowed from here.
    pub fn apply(self, transition: Transition) -> Result<GameState, IllegalTransition> {
        if transition.sources().contains(&self) {
            Ok(transition.target())
        } else {
            Err(IllegalTransition {
                current: self,
                transition,
            })
        }
    }

    /// The transitions allowed from this state, in table order.
    pub fn allowed(self) -> impl Iterator<Item = Transition> {
        Transition::ALL
            .into_iter()
            .filter(move |t| self.apply(*t).is_ok())
    }

    /// A game in this state is over: the player may start another.
    pub fn is_final(self) -> bool {
        matches!(self, Completed | Cancelled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            New => "new",
            Queued => "queued",
            Recalled => "recalled",
            Confirmed => "confirmed",
            Playing => "playing",
            Completed => "completed",
            Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for GameState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_transition_has_exactly_one_row() {
        for t in Transition::ALL {
            let rows = TRANSITIONS.iter().filter(|r| r.transition == t).count();
            assert_eq!(rows, 1, "{t} must appear once in TRANSITIONS");
        }
    }

    #[test]
    fn apply_matches_the_contract() {
        assert_eq!(New.apply(Transition::Queue), Ok(Queued));
        assert_eq!(Recalled.apply(Transition::Queue), Ok(Queued));
        assert_eq!(Queued.apply(Transition::Recall), Ok(Recalled));
        assert_eq!(Queued.apply(Transition::Confirm), Ok(Confirmed));
        assert_eq!(Confirmed.apply(Transition::Play), Ok(Playing));
        assert_eq!(Playing.apply(Transition::Complete), Ok(Completed));
        assert_eq!(Completed.apply(Transition::Cancel), Ok(Cancelled));
        assert_eq!(
            Cancelled.apply(Transition::Cancel),
            Err(IllegalTransition {
                current: Cancelled,
                transition: Transition::Cancel
            })
        );
        assert!(Queued.apply(Transition::Play).is_err());
        assert!(New.apply(Transition::Complete).is_err());
    }

    #[test]
    fn staff_roles_and_the_system_make_what_the_contract_says() {
        use Transition::*;
        let admin = Staff(Role::Admin);
        let display = Staff(Role::Display);
        for t in Transition::ALL {
            assert!(t.permits(admin), "an admin may {t}");
            assert!(!t.permits(display), "a display may not {t}");
            let tablet = matches!(t, Queue | Recall | Confirm | Cancel);
            assert_eq!(t.permits(TABLET), tablet, "tablet and {t}");
            assert_eq!(
                t.permits(GAME),
                matches!(t, Play | Complete),
                "game and {t}"
            );
            assert_eq!(
                t.permits(System),
                matches!(t, Recall | Cancel),
                "the system and {t}"
            );
            assert_eq!(
                t.permits(Player),
                matches!(t, Queue | Cancel),
                "the player and {t}"
            );
        }
        assert_eq!(
            Play.check(TABLET),
            Err(NotPermitted {
                actor: TABLET,
                transition: Play
            })
        );
        assert_eq!(
            Play.check(TABLET).map_err(|e| e.to_string()),
            Err("a tablet token may not play a game".to_owned())
        );
    }

    #[test]
    fn names_round_trip() {
        for s in GameState::ALL {
            assert_eq!(s.as_str().parse::<GameState>(), Ok(s));
        }
        for t in Transition::ALL {
            assert_eq!(t.as_str().parse::<Transition>(), Ok(t));
        }
    }

    #[test]
    fn every_transition_of_a_player_action_is_a_row_the_player_may_make() {
        for action in PlayerAction::ALL {
            assert_eq!(
                PLAYER_ACTIONS.iter().filter(|r| r.action == action).count(),
                1
            );
            for state in GameState::ALL {
                let Some(t) = action.transition(state) else {
                    continue;
                };
                if action.offered_in(state) {
                    assert!(t.permits(Player), "{action} from {state} makes {t}");
                    assert!(state.apply(t).is_ok(), "{action} from {state} makes {t}");
                }
            }
        }
        assert!(PlayerAction::Later.offered_in(Queued));
        assert_eq!(PlayerAction::Later.transition(Queued), None);
        assert_eq!(
            PlayerAction::Later.transition(Recalled),
            Some(Transition::Queue)
        );
        assert!(!PlayerAction::Leave.offered_in(Confirmed));
        assert!(PlayerAction::Rejoin.offered_in(Cancelled));
    }

    fn any_state() -> impl Strategy<Value = GameState> {
        proptest::sample::select(GameState::ALL.to_vec())
    }

    fn any_transition() -> impl Strategy<Value = Transition> {
        proptest::sample::select(Transition::ALL.to_vec())
    }

    proptest! {
        /// Any sequence of attempts from any state only ever moves along rows
        /// of the table, and a refused attempt leaves the state alone.
        #[test]
        fn sequences_only_follow_the_table(start in any_state(), attempts in proptest::collection::vec(any_transition(), 0..40)) {
            let mut state = start;
            for t in attempts {
                match state.apply(t) {
                    Ok(next) => {
                        prop_assert!(TRANSITIONS.iter().any(|r| r.transition == t && r.from.contains(&state) && r.to == next));
                        state = next;
                    }
                    Err(e) => {
                        prop_assert_eq!(e.current, state);
                        prop_assert!(!t.sources().contains(&state));
                    }
                }
            }
            if state == Cancelled {
                prop_assert_eq!(state.allowed().count(), 0);
            }
        }
    }
}
