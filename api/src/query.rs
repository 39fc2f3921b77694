//! The query parameters of lists and boards, taken as text and checked here
//! so that every mistake of a request is reported at once (a 422 naming each
//! field), and the schemas that tell the OpenAPI document which values are
//! accepted. Paging and the output format are `list::ListParams`.

use chrono::NaiveDate;
use ondeck_domain::validation::FieldErrors;
use ondeck_domain::{GameState, ShowId};

use crate::caller::Caller;

/// A value that parses from its text exactly, `None` when absent; the
/// message of a wrong one (empty included) is `must be {expected}`.
pub fn parse<T: std::str::FromStr>(
    errors: &mut FieldErrors,
    field: &str,
    raw: Option<&str>,
    expected: &str,
) -> Option<T> {
    raw.and_then(|s| {
        let parsed = s.parse().ok();
        if parsed.is_none() {
            errors.add(field, format!("must be {expected}"));
        }
        parsed
    })
}

/// A value named in `names` (`"a, b or c"` in the message of a wrong one).
pub fn parse_name<T: std::str::FromStr>(
    errors: &mut FieldErrors,
    field: &str,
    raw: Option<&str>,
    names: &[&str],
) -> Option<T> {
    let expected = match names {
        [rest @ .., last] if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.join(", "),
    };
    parse(errors, field, raw, &expected)
}

/// `day`: a date as `YYYY-MM-DD`.
pub fn parse_day(errors: &mut FieldErrors, raw: Option<&str>) -> Option<NaiveDate> {
    raw.and_then(|d| {
        let parsed = NaiveDate::parse_from_str(d, "%Y-%m-%d").ok();
        if parsed.is_none() {
            errors.add("day", "must be a date as YYYY-MM-DD");
        }
        parsed
    })
}

/// `show_id`: a show's id.
pub fn parse_show_id(errors: &mut FieldErrors, raw: Option<&str>) -> Option<ShowId> {
    raw.and_then(|s| {
        let parsed = s.parse().ok();
        if parsed.is_none() {
            errors.add("show_id", "must be a show's id");
        }
        parsed
    })
}

/// `true`/`1` or `false`/`0`, exactly as written.
pub fn parse_bool(errors: &mut FieldErrors, field: &str, raw: Option<&str>) -> Option<bool> {
    match raw {
        None => None,
        Some("true" | "1") => Some(true),
        Some("false" | "0") => Some(false),
        Some(_) => {
            errors.add(field, "must be true or false");
            None
        }
    }
}

/// `order` of players and games.
pub fn parse_order(errors: &mut FieldErrors, raw: Option<&str>) -> ondeck_domain::store::Order {
    raw.map(|o| {
        o.parse().unwrap_or_else(|()| {
            errors.add("order", "must be score, -score, created_at or -created_at");
            Default::default()
        })
    })
    .unwrap_or_default()
}

/// One game state.
pub fn parse_state(errors: &mut FieldErrors, raw: &str) -> Option<GameState> {
    let parsed = raw.parse().ok();
    if parsed.is_none() {
        errors.add("state", format!("{raw:?} is not a game state"));
    }
    parsed
}

/// Columns of an empty CSV, without the PII ones for roles that don't see it.
pub fn columns_for(columns: &'static [&'static str], caller: Caller) -> Vec<&'static str> {
    columns
        .iter()
        .copied()
        .filter(|c| caller.sees_pii() || !c.ends_with("mobile_number") && !c.ends_with("email"))
        .collect()
}

/// Schemas of query parameters that the handlers take as text and check
/// themselves: the document says exactly which values are accepted.
pub mod params {
    use utoipa::openapi::schema::{
        Array, ArrayBuilder, KnownFormat, Object, ObjectBuilder, OneOfBuilder, Schema,
        SchemaFormat, Type,
    };

    pub fn one_of(values: &[&str]) -> Object {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(values.iter().copied()))
            .build()
    }

    /// `format`: `json` (default) or `csv`.
    pub fn format() -> Object {
        one_of(&["json", "csv"])
    }

    /// `order` of players and games.
    pub fn order() -> Object {
        one_of(&["score", "-score", "created_at", "-created_at"])
    }

    /// A game state.
    pub fn game_state() -> Object {
        one_of(&ondeck_domain::GameState::ALL.map(|g| g.as_str()))
    }

    /// Game states, the key repeated: `?state=queued&state=recalled`.
    pub fn game_states() -> Array {
        ArrayBuilder::new().items(game_state()).build()
    }

    /// `day`: a date; an empty value is the same as none.
    pub fn day() -> Schema {
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(0)),
            )
            .build()
            .into()
    }

    pub fn handedness() -> Object {
        one_of(&["L", "R"])
    }
}

#[cfg(test)]
mod tests {
    use ondeck_domain::store::messages::Status;

    use super::*;

    #[test]
    fn a_wrong_name_is_told_every_right_one() {
        let names = &["queued", "sent", "failed", "delivered"];
        let mut errors = FieldErrors::new();
        let status: Option<Status> = parse_name(&mut errors, "status", Some("sent"), names);
        assert_eq!(status, Some(Status::Sent));
        assert_eq!(errors, FieldErrors::new());
        // Exactly as listed: padded or empty is wrong.
        for raw in [" sent ", ""] {
            let mut errors = FieldErrors::new();
            let padded: Option<Status> = parse_name(&mut errors, "status", Some(raw), names);
            assert_eq!(padded, None, "{raw:?}");
            assert_ne!(errors, FieldErrors::new(), "{raw:?}");
        }
        let wrong: Option<Status> = parse_name(&mut errors, "status", Some("lost"), names);
        assert_eq!(wrong, None);
        let json = serde_json::to_value(&errors).expect("errors serialize");
        let want = serde_json::json!({"status": ["must be queued, sent, failed or delivered"]});
        assert_eq!(json, want);
        let mut errors = FieldErrors::new();
        let _: Option<Status> = parse_name(&mut errors, "kind", Some("x"), &["dmx", "webhook"]);
        let json = serde_json::to_value(&errors).expect("errors serialize");
        assert_eq!(
            json,
            serde_json::json!({"kind": ["must be dmx or webhook"]})
        );
    }
}
