//! Running the line: a show's own rules for who may join (`joining`, last
//! call, the most that may wait), whether the line moves (`paused`) and how
//! fast (`stations`). The rules are checked by `Lifecycle::admit`, on every
//! way a game begins; the settings are changed by staff with the show.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::validation::FieldErrors;

/// Before any game of a show has been completed, a game is assumed to take
/// this long.
pub const DEFAULT_PLAY_SECONDS: f64 = 180.0;

/// The most stations a show may have (as `STATIONS`).
pub const MAX_STATIONS: i64 = 1000;

/// The largest `max_waiting`.
pub const MAX_WAITING: i64 = 1_000_000;

/// The longest waiver, in characters.
pub const MAX_WAIVER: usize = 5000;

/// Whether a show takes new games.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Joining {
    #[default]
    Open,
    Closed,
}

/// Why a show refuses a new game: the setting that says no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineRule {
    /// `joining` is `closed`.
    Closed,
    /// `max_waiting` games are already new, queued or recalled.
    Full,
    /// The estimated wait would end after `closes_at` (last call).
    FullToday,
}

impl LineRule {
    /// The show field that refused.
    pub fn field(self) -> &'static str {
        match self {
            LineRule::Closed => "joining",
            LineRule::Full => "max_waiting",
            LineRule::FullToday => "closes_at",
        }
    }

    /// The problem type's last segment (`/problems/<slug>`).
    pub fn slug(self) -> &'static str {
        match self {
            LineRule::Closed => "line-closed",
            LineRule::Full => "line-full",
            LineRule::FullToday => "line-full-today",
        }
    }

    /// What it means and what to do, in words staff and players read.
    pub fn explain(self) -> &'static str {
        match self {
            LineRule::Closed => {
                "the line is closed: no one can join now; staff can open it again (joining: \"open\")"
            }
            LineRule::Full => {
                "the line is full: try again once the line has moved; staff can raise max_waiting"
            }
            LineRule::FullToday => {
                "the line is full for today: the wait would end after last call; staff can move closes_at"
            }
        }
    }
}

/// How long each place in line waits, and whether the line moves at all.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wait {
    /// The median play time of the show's last 20 completed games (180 s
    /// before there are any) ÷ the show's stations.
    pub per_place: f64,
    /// While paused, no wait can be quoted.
    pub paused: bool,
}

impl Wait {
    pub fn new(median_play_seconds: Option<f64>, stations: i32, paused: bool) -> Wait {
        // Never below zero: clocks of games written by hand may disagree.
        let median = median_play_seconds.unwrap_or(DEFAULT_PLAY_SECONDS).max(0.0);
        Wait {
            per_place: median / f64::from(stations.max(1)),
            paused,
        }
    }

    /// The estimated wait at `position` (1-based); none while paused.
    pub fn eta_seconds(&self, position: i64) -> Option<i64> {
        (!self.paused).then(|| self.estimate(position))
    }

    /// The wait at `position` as if the line moved (last call counts it
    /// even while paused).
    pub fn estimate(&self, position: i64) -> i64 {
        (position as f64 * self.per_place).round() as i64
    }
}

/// The line settings a PATCH (or a new show) sets: `None` leaves one as it
/// is; for the nullable ones, `Some(None)` clears it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LineChanges {
    pub joining: Option<Joining>,
    pub closes_at: Option<Option<DateTime<Utc>>>,
    pub max_waiting: Option<Option<i32>>,
    pub paused: Option<bool>,
    pub stations: Option<i32>,
    pub self_join: Option<bool>,
    pub waiver_text: Option<String>,
}

/// The line settings as a client sends them, checked by
/// [`LineChanges::parse`]: `None` absent, `Some(None)` null.
#[derive(Debug, Default)]
pub struct LineInput {
    pub joining: Option<Option<String>>,
    pub closes_at: Option<Option<String>>,
    pub max_waiting: Option<Option<i64>>,
    pub paused: Option<Option<bool>>,
    pub stations: Option<Option<i64>>,
    pub self_join: Option<Option<bool>>,
    pub waiver_text: Option<Option<String>>,
}

/// A count from 1 to `max`; `or` ends the message (", or null").
fn from_one_to(errors: &mut FieldErrors, field: &str, n: i64, max: i64, or: &str) -> Option<i32> {
    if (1..=max).contains(&n) {
        i32::try_from(n).ok()
    } else {
        errors.add(field, format!("must be a whole number from 1 to {max}{or}"));
        None
    }
}

/// A setting that has a value: null is refused, naming it.
fn not_null<T>(errors: &mut FieldErrors, field: &str, value: Option<Option<T>>) -> Option<T> {
    match value {
        Some(None) => {
            errors.add(field, "must not be null");
            None
        }
        other => other.flatten(),
    }
}

impl LineChanges {
    /// Checks each setting, adding to `errors` the ones that are not valid.
    pub fn parse(input: LineInput, errors: &mut FieldErrors) -> LineChanges {
        let joining = not_null(errors, "joining", input.joining);
        let paused = not_null(errors, "paused", input.paused);
        let self_join = not_null(errors, "self_join", input.self_join);
        let stations = not_null(errors, "stations", input.stations);
        let waiver_text = not_null(errors, "waiver_text", input.waiver_text);
        let joining = joining.and_then(|s| match s.as_str() {
            "open" => Some(Joining::Open),
            "closed" => Some(Joining::Closed),
            _ => {
                errors.add("joining", "must be \"open\" or \"closed\"");
                None
            }
        });
        let closes_at = input.closes_at.map(|at| {
            at.and_then(|s| match DateTime::parse_from_rfc3339(s.trim()) {
                Ok(at) => Some(at.with_timezone(&Utc)),
                Err(_) => {
                    errors.add(
                        "closes_at",
                        "must be an RFC 3339 time (2026-07-04T21:30:00Z) or null",
                    );
                    None
                }
            })
        });
        let max_waiting = input.max_waiting.map(|n| {
            n.and_then(|n| from_one_to(errors, "max_waiting", n, MAX_WAITING, ", or null"))
        });
        let stations = stations.and_then(|n| from_one_to(errors, "stations", n, MAX_STATIONS, ""));
        let waiver_text = waiver_text.map(|s| {
            let s = s.trim().to_owned();
            if s.chars().count() > MAX_WAIVER {
                errors.add(
                    "waiver_text",
                    format!("must be at most {MAX_WAIVER} characters"),
                );
            }
            s
        });
        LineChanges {
            joining,
            closes_at,
            max_waiting,
            paused,
            stations,
            self_join,
            waiver_text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: LineInput) -> (LineChanges, Vec<String>) {
        let mut errors = FieldErrors::new();
        let changes = LineChanges::parse(input, &mut errors);
        let json = serde_json::to_value(&errors).expect("errors are JSON");
        let fields = json
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        (changes, fields)
    }

    #[test]
    fn each_setting_out_of_range_is_named() {
        let input = LineInput::default;
        let cases = [
            (
                "joining",
                LineInput {
                    joining: Some(Some("shut".into())),
                    ..input()
                },
            ),
            (
                "closes_at",
                LineInput {
                    closes_at: Some(Some("9pm".into())),
                    ..input()
                },
            ),
            (
                "max_waiting",
                LineInput {
                    max_waiting: Some(Some(0)),
                    ..input()
                },
            ),
            (
                "stations",
                LineInput {
                    stations: Some(Some(0)),
                    ..input()
                },
            ),
            (
                "stations",
                LineInput {
                    stations: Some(Some(1001)),
                    ..input()
                },
            ),
            (
                "stations",
                LineInput {
                    stations: Some(None),
                    ..input()
                },
            ),
            (
                "paused",
                LineInput {
                    paused: Some(None),
                    ..input()
                },
            ),
            (
                "waiver_text",
                LineInput {
                    waiver_text: Some(Some("x".repeat(5001))),
                    ..input()
                },
            ),
        ];
        for (field, input) in cases {
            let (_, fields) = parse(input);
            assert_eq!(fields, vec![field.to_owned()], "{field}");
        }
    }

    #[test]
    fn null_clears_and_absent_leaves_alone() {
        let (changes, fields) = parse(LineInput {
            closes_at: Some(None),
            max_waiting: Some(None),
            ..Default::default()
        });
        assert!(fields.is_empty());
        assert_eq!(changes.closes_at, Some(None));
        assert_eq!(changes.max_waiting, Some(None));
        assert_eq!(changes.stations, None);
    }

    #[test]
    fn waits_divide_by_stations_and_stop_while_paused() {
        let wait = Wait::new(None, 2, false);
        assert_eq!(wait.eta_seconds(3), Some(270));
        let paused = Wait::new(Some(100.0), 1, true);
        assert_eq!(paused.eta_seconds(3), None);
        assert_eq!(paused.estimate(3), 300);
    }
}
