//! The records ondeck keeps, and the checked inputs that create or change them.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::ids::*;
use crate::line::{Joining, LineChanges, LineInput};
use crate::phone::{MobileNumber, Region};
use crate::validation::FieldErrors;

pub use crate::role::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Handedness {
    L,
    R,
}

impl Handedness {
    pub fn as_str(self) -> &'static str {
        match self {
            Handedness::L => "L",
            Handedness::R => "R",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "L" | "l" => Some(Handedness::L),
            "R" | "r" => Some(Handedness::R),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Show {
    pub id: ShowId,
    pub name: String,
    pub date: NaiveDate,
    pub welcome_message: String,
    pub recall_message: String,
    pub souvenir_message: String,
    pub no_show_message: String,
    /// `open`, or `closed`: every new game is refused.
    pub joining: Joining,
    /// Last call: a signup whose estimated wait ends after it is refused.
    pub closes_at: Option<DateTime<Utc>>,
    /// At most this many games new, queued or recalled (null: no limit).
    pub max_waiting: Option<i32>,
    /// The attraction is down: no auto-recall, no no-shows, no ETAs.
    pub paused: bool,
    /// How many play at once: ETAs divide by it (`STATIONS` for a new show).
    pub stations: i32,
    /// Players may join from their own phone.
    pub self_join: bool,
    /// Shown where players sign up themselves.
    pub waiver_text: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

// A team as the API answers it. `scores` is not a column: a team read from
// the store has none until the caller adds them (`store::scores::team_days`).
// (No doc comment: it would become the schema's description.)
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = TeamView)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    /// How many players are on the team.
    pub members: i64,
    /// One row per day (in `VENUE_TZ`) with completed games, ascending.
    #[sqlx(skip)]
    pub scores: Vec<DayScore>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One day of a team's (or a player's) completed games, summed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct DayScore {
    pub day: NaiveDate,
    pub score: i64,
    pub distance: i64,
    pub homeruns: i64,
}

with_game_fields! {
    /// A game with the few player fields every game response shows.
    #[derive(Debug, Clone, sqlx::FromRow)]
    pub struct Game {
        /// When the game entered `recalled` last (`recalled_at` is the first time).
        pub recall_started_at: Option<DateTime<Utc>>,
        pub souvenir_url: Option<String>,
        /// The code of the player's page; `None` once purged.
        pub player_code: Option<String>,
        pub first_name: String,
        pub last_name: Option<String>,
        pub mobile_number: Option<String>,
        pub email: Option<String>,
        pub team: Option<String>,
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Player {
    pub id: PlayerId,
    pub show_id: ShowId,
    pub team: Option<String>,
    pub first_name: String,
    pub last_name: Option<String>,
    pub mobile_number: Option<String>,
    pub email: Option<String>,
    pub handedness: String,
    pub signed_waiver: bool,
    pub profile_id: Option<String>,
    pub is_finalist: bool,
    pub photo_key: Option<String>,
    pub total_score: i64,
    pub active_game_id: Option<GameId>,
    /// The mobile number answered STOP (see `store::opt_outs`).
    pub sms_opted_out: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `Some(None)` for an explicit `null`, `None` for an absent key: PATCH needs
/// the difference (null clears, absent leaves alone).
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A player's fields as a tablet sends them, for both signup and PATCH.
/// Everything is optional here so that a missing required field is reported
/// as a 422 naming it, like every other field rule.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlayerInput {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 64)]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 64)]
    pub last_name: Option<Option<String>>,
    /// Any format `phonenumber` parses with `DEFAULT_REGION`; returned as E.164.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub mobile_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = Email)]
    pub email: Option<Option<String>>,
    /// `"L"` or `"R"`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub handedness: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = bool)]
    pub signed_waiver: Option<Option<bool>>,
    /// A team's name; unknown names are refused.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub team: Option<Option<String>>,
    /// The show to join; default: the current show. Signup only.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub show_id: Option<Option<ShowId>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 128)]
    pub profile_id: Option<Option<String>>,
    /// Admin only.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = bool)]
    pub is_finalist: Option<Option<bool>>,
}

/// Checked player changes: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PlayerChanges {
    pub first_name: Option<String>,
    pub last_name: Option<Option<String>>,
    pub mobile_number: Option<Option<MobileNumber>>,
    pub email: Option<Option<String>>,
    pub handedness: Option<Handedness>,
    pub signed_waiver: Option<bool>,
    pub team: Option<Option<String>>,
    pub show_id: Option<ShowId>,
    pub profile_id: Option<Option<String>>,
    pub is_finalist: Option<bool>,
}

impl PlayerChanges {
    /// The new mobile number as stored (E.164), if any.
    pub fn mobile_text(&self) -> Option<String> {
        self.mobile_number.clone().flatten().map(|m| m.to_string())
    }
}

/// Blank optional text counts as absent: tablets send `""` for an empty box.
fn optional_text(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<Option<String>>,
    max: usize,
) -> Option<Option<String>> {
    value.map(|v| {
        v.filter(|s| !s.trim().is_empty())
            .map(|s| errors.text(field, &s, 1, max))
    })
}

impl PlayerInput {
    /// Checks every field; `creating` makes `first_name` and `handedness` required.
    pub fn validate(self, region: Region, creating: bool) -> Result<PlayerChanges, FieldErrors> {
        let mut errors = FieldErrors::new();
        let required = |errors: &mut FieldErrors, field: &str, present: bool, is_null: bool| {
            if (creating && !present) || is_null {
                errors.add(field, "is required");
            }
        };
        required(
            &mut errors,
            "first_name",
            self.first_name.is_some(),
            matches!(self.first_name, Some(None)),
        );
        required(
            &mut errors,
            "handedness",
            self.handedness.is_some(),
            matches!(self.handedness, Some(None)),
        );
        if matches!(self.signed_waiver, Some(None)) {
            errors.add("signed_waiver", "must be true or false");
        }
        if matches!(self.is_finalist, Some(None)) {
            errors.add("is_finalist", "must be true or false");
        }
        if !creating && self.show_id.is_some() {
            errors.add("show_id", "can only be set at signup");
        }

        let first_name = self
            .first_name
            .flatten()
            .map(|s| errors.text("first_name", &s, 1, 64));
        let handedness = self.handedness.flatten().and_then(|s| {
            let parsed = Handedness::parse(&s);
            if parsed.is_none() {
                errors.add("handedness", "must be \"L\" or \"R\"");
            }
            parsed
        });
        let last_name = optional_text(&mut errors, "last_name", self.last_name, 64);
        let profile_id = optional_text(&mut errors, "profile_id", self.profile_id, 128);
        let team = optional_text(&mut errors, "team", self.team, 64);
        let mobile_number = self.mobile_number.map(|v| {
            v.filter(|s| !s.trim().is_empty())
                .and_then(|s| match MobileNumber::parse(&s, region) {
                    Ok(n) => Some(n),
                    Err(message) => {
                        errors.add("mobile_number", message);
                        None
                    }
                })
        });
        let email = self.email.map(|v| {
            v.filter(|s| !s.trim().is_empty()).map(|s| {
                let s = s.trim().to_owned();
                if s.len() > 254 || !email_address::EmailAddress::is_valid(&s) {
                    errors.add("email", "is not a valid email address");
                }
                s
            })
        });
        errors.into_result()?;
        Ok(PlayerChanges {
            first_name,
            last_name,
            mobile_number,
            email,
            handedness,
            signed_waiver: self.signed_waiver.flatten(),
            team,
            show_id: self.show_id.flatten(),
            profile_id,
            is_finalist: self.is_finalist.flatten(),
        })
    }
}

/// The result of a game, sent with `complete`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct CompletionInput {
    #[schema(value_type = i64, minimum = 0, maximum = 1000000)]
    pub score: Option<i64>,
    #[schema(value_type = i64, minimum = 0, maximum = 1000000)]
    pub distance: Option<i64>,
    #[schema(value_type = i64, minimum = 0, maximum = 1000000)]
    pub homeruns: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    pub score: i32,
    pub distance: i32,
    pub homeruns: i32,
}

impl CompletionInput {
    pub fn validate(self) -> Result<Completion, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut field = |name: &str, value: Option<i64>| match value {
            None => {
                errors.add(name, "is required");
                0
            }
            Some(v) => {
                errors.range(name, v, 0, 1_000_000);
                v.clamp(0, 1_000_000) as i32
            }
        };
        let completion = Completion {
            score: field("score", self.score),
            distance: field("distance", self.distance),
            homeruns: field("homeruns", self.homeruns),
        };
        errors.into_result().map(|()| completion)
    }
}

// `{link}` in the welcome, recall and no-show texts becomes the player's
// page, `{PUBLIC_BASE_URL}/p/{code}`.
pub const DEFAULT_WELCOME: &str = "Welcome to the Home Run Derby! We'll text you when your turn is near. Your place in line: {link}";
pub const DEFAULT_RECALL: &str = "You're up soon! Please come back to the batting cage now. Reply 1 if you're on your way: {link}";
pub const DEFAULT_NO_SHOW: &str =
    "We called you but couldn't find you. Join the line again: {link}";
pub const DEFAULT_SOUVENIR: &str = "Thanks for playing! Your souvenir: {url}";

/// A show's fields for POST and PATCH.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowInput {
    /// Not blank, no control characters.
    #[schema(
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: Option<String>,
    /// `YYYY-MM-DD`.
    #[schema(value_type = Option<String>, format = Date)]
    pub date: Option<String>,
    /// Not blank.
    #[schema(max_length = 160, pattern = r"\S")]
    pub welcome_message: Option<String>,
    /// Not blank.
    #[schema(max_length = 160, pattern = r"\S")]
    pub recall_message: Option<String>,
    /// Must contain `{url}`, replaced by the souvenir's short link; may
    /// contain `{rank}`, the game's rank of the day ("#3 today").
    #[schema(max_length = 160, pattern = r"\{url\}")]
    pub souvenir_message: Option<String>,
    /// Not blank; sent once to a player the sweep cancels as a no-show.
    /// `{link}` in any message becomes the player's page.
    #[schema(max_length = 160, pattern = r"\S")]
    pub no_show_message: Option<String>,
    /// `"open"` or `"closed"` (every new game refused).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Joining)]
    pub joining: Option<Option<String>>,
    /// RFC 3339, or null for none: last call.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime, nullable)]
    pub closes_at: Option<Option<String>>,
    /// 1 to 1,000,000, or null for no limit.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 1_000_000, nullable)]
    pub max_waiting: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = bool)]
    pub paused: Option<Option<bool>>,
    /// 1 to 1000; default `STATIONS`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = i64, minimum = 1, maximum = 1000)]
    pub stations: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = bool)]
    pub self_join: Option<Option<bool>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String, max_length = 5000)]
    pub waiver_text: Option<Option<String>>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct ShowChanges {
    pub name: Option<String>,
    pub date: Option<NaiveDate>,
    pub welcome_message: Option<String>,
    pub recall_message: Option<String>,
    pub souvenir_message: Option<String>,
    pub no_show_message: Option<String>,
    pub line: LineChanges,
}

impl ShowInput {
    pub fn validate(self, creating: bool) -> Result<ShowChanges, FieldErrors> {
        let mut errors = FieldErrors::new();
        if creating && self.name.is_none() {
            errors.add("name", "is required");
        }
        if creating && self.date.is_none() {
            errors.add("date", "is required");
        }
        let name = self.name.map(|s| errors.text("name", &s, 1, 200));
        let date = self
            .date
            .and_then(|s| match NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
                Ok(d) => Some(d),
                Err(_) => {
                    errors.add("date", "must be a date as YYYY-MM-DD");
                    None
                }
            });
        let mut message = |field: &str, value: Option<String>| {
            value.map(|s| {
                let s = s.trim().to_owned();
                if s.is_empty() {
                    errors.add(field, "must not be empty");
                } else if s.chars().count() > 160 {
                    errors.add(field, "must be at most 160 characters (one SMS)");
                }
                s
            })
        };
        let welcome_message = message("welcome_message", self.welcome_message);
        let recall_message = message("recall_message", self.recall_message);
        let souvenir_message = message("souvenir_message", self.souvenir_message);
        let no_show_message = message("no_show_message", self.no_show_message);
        let line = LineChanges::parse(
            LineInput {
                joining: self.joining,
                closes_at: self.closes_at,
                max_waiting: self.max_waiting,
                paused: self.paused,
                stations: self.stations,
                self_join: self.self_join,
                waiver_text: self.waiver_text,
            },
            &mut errors,
        );
        if souvenir_message
            .as_deref()
            .is_some_and(|s| !s.contains("{url}"))
        {
            errors.add(
                "souvenir_message",
                "must contain {url}, where the souvenir link goes",
            );
        }
        errors.into_result()?;
        Ok(ShowChanges {
            name,
            date,
            welcome_message,
            recall_message,
            souvenir_message,
            no_show_message,
            line,
        })
    }
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamInput {
    /// Not blank, no control characters.
    #[schema(value_type = String, required = true, max_length = 64, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub name: Option<String>,
}

impl TeamInput {
    pub fn validate(self) -> Result<String, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = match self.name {
            None => {
                errors.add("name", "is required");
                String::new()
            }
            Some(s) => errors.text("name", &s, 1, 64),
        };
        errors.into_result().map(|()| name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: serde_json::Value) -> PlayerInput {
        serde_json::from_value(json).expect("valid JSON shape")
    }

    #[test]
    fn signup_requires_first_name_and_handedness() {
        let errors = input(serde_json::json!({}))
            .validate(Region::default(), true)
            .expect_err("must fail");
        assert_eq!(
            errors.fields().collect::<Vec<_>>(),
            ["first_name", "handedness"]
        );
    }

    #[test]
    fn patch_requires_nothing_but_refuses_null_required_fields() {
        assert_eq!(
            input(serde_json::json!({})).validate(Region::default(), false),
            Ok(PlayerChanges::default())
        );
        let errors = input(serde_json::json!({"first_name": null}))
            .validate(Region::default(), false)
            .expect_err("null");
        assert_eq!(errors.fields().collect::<Vec<_>>(), ["first_name"]);
    }

    #[test]
    fn blank_optional_fields_clear_and_numbers_become_e164() {
        let changes = input(serde_json::json!({
            "first_name": " Ada ", "handedness": "l", "last_name": "", "mobile_number": "(415) 555-2671"
        }))
        .validate(Region::default(), true)
        .expect("valid");
        assert_eq!(changes.first_name.as_deref(), Some("Ada"));
        assert_eq!(changes.handedness, Some(Handedness::L));
        assert_eq!(changes.last_name, Some(None));
        assert_eq!(
            changes
                .mobile_number
                .flatten()
                .map(|m| m.to_string())
                .as_deref(),
            Some("+14155552671")
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (
                serde_json::json!({"first_name": "x".repeat(65)}),
                "first_name",
            ),
            (serde_json::json!({"handedness": "X"}), "handedness"),
            (serde_json::json!({"mobile_number": "12"}), "mobile_number"),
            (serde_json::json!({"email": "not-an-email"}), "email"),
            (
                serde_json::json!({"last_name": "y".repeat(65)}),
                "last_name",
            ),
        ];
        for (json, field) in cases {
            let errors = input(json.clone())
                .validate(Region::default(), false)
                .expect_err("must fail");
            assert_eq!(errors.fields().collect::<Vec<_>>(), [field], "{json}");
        }
    }

    #[test]
    fn completion_needs_three_bounded_integers() {
        let ok = CompletionInput {
            score: Some(10),
            distance: Some(0),
            homeruns: Some(1_000_000),
        };
        assert_eq!(
            ok.validate(),
            Ok(Completion {
                score: 10,
                distance: 0,
                homeruns: 1_000_000
            })
        );
        let bad = CompletionInput {
            score: Some(-1),
            distance: None,
            homeruns: Some(1_000_001),
        };
        let errors = bad.validate().expect_err("must fail");
        assert_eq!(
            errors.fields().collect::<Vec<_>>(),
            ["distance", "homeruns", "score"]
        );
    }

    #[test]
    fn souvenir_message_needs_the_url_placeholder() {
        let bad = ShowInput {
            souvenir_message: Some("no link".into()),
            ..Default::default()
        };
        assert_eq!(
            bad.validate(false)
                .expect_err("must fail")
                .fields()
                .collect::<Vec<_>>(),
            ["souvenir_message"]
        );
        let missing = ShowInput::default().validate(true).expect_err("must fail");
        assert_eq!(missing.fields().collect::<Vec<_>>(), ["date", "name"]);
    }
}
