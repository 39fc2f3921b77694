//! Lists: `limit`/`cursor` paging, and the same items as JSON or as CSV
//! (`?format=csv` or `Accept: text/csv`). Every list handler takes
//! [`ListParams`].

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ondeck_domain::store::{Page, Paged};
use ondeck_domain::validation::FieldErrors;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterIn};

use crate::error::{ApiError, Result};
use crate::extract::ApiQuery;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;
/// A CSV export without `limit` is a whole export, up to this many rows.
pub const CSV_EXPORT_LIMIT: i64 = 100_000;

/// How a list was asked for.
#[derive(Debug, Clone, Copy)]
pub struct Listing {
    pub page: Page,
    pub csv: bool,
}

fn encode_cursor(key: (i64, i64)) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}", key.0, key.1))
}

fn decode_cursor(raw: &str) -> Option<(i64, i64)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(raw.trim()).ok()?).ok()?;
    let (a, b) = text.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

impl Listing {
    pub fn parse(
        errors: &mut FieldErrors,
        limit: Option<&str>,
        cursor: Option<&str>,
        format: Option<&str>,
        headers: &HeaderMap,
    ) -> Listing {
        let csv = match format {
            Some("csv") => true,
            Some("json") => false,
            Some(_) => {
                errors.add("format", "must be json or csv");
                false
            }
            None => headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("text/csv")),
        };
        let (default, max) = if csv {
            (CSV_EXPORT_LIMIT, CSV_EXPORT_LIMIT)
        } else {
            (DEFAULT_LIMIT, MAX_LIMIT)
        };
        let limit = match limit.map(|l| l.parse::<i64>()) {
            None => default,
            Some(Ok(n)) if (1..=max).contains(&n) => n,
            Some(_) => {
                errors.add("limit", format!("must be a whole number from 1 to {max}"));
                default
            }
        };
        let after = cursor.filter(|c| !c.is_empty()).and_then(|c| {
            let decoded = decode_cursor(c);
            if decoded.is_none() {
                errors.add("cursor", "is not a cursor this API gave out");
            }
            decoded
        });
        Listing {
            page: Page { limit, after },
            csv,
        }
    }

    /// Answers a page of items in the format asked for. `columns` is the CSV
    /// header when there are no items to take it from.
    pub fn respond<T: Serialize>(
        self,
        paged: Paged<T>,
        name: &str,
        columns: &[&str],
    ) -> Result<Response> {
        let next_cursor = paged.next.map(encode_cursor);
        if self.csv {
            let mut response = csv_response(&paged.items, columns, name)?;
            if let Some(cursor) = next_cursor.and_then(|c| HeaderValue::from_str(&c).ok()) {
                response.headers_mut().insert("x-next-cursor", cursor);
            }
            return Ok(response);
        }
        Ok(axum::Json(json!({ "items": paged.items, "next_cursor": next_cursor })).into_response())
    }
}

/// The paging and format parameters of every list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// 1 to 500 (default 50); CSV exports default to everything.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "crate::extract::given")]
    limit: Option<String>,
    /// The `next_cursor` of the page before.
    cursor: Option<String>,
    /// `json` (default) or `csv`.
    #[param(schema_with = crate::query::params::format)]
    #[serde(default, deserialize_with = "crate::extract::given")]
    format: Option<String>,
}

/// `limit`, `cursor` and `format` of a list, and its `Accept` header. A value
/// that is not valid is not refused here but kept, so that the handler
/// answers it in one 422 with the mistakes of its own filters.
pub struct ListParams {
    listing: Listing,
    errors: FieldErrors,
}

impl ListParams {
    /// How the list was asked for, and the mistakes found so far (to which a
    /// handler adds its filters').
    pub fn into_parts(self) -> (Listing, FieldErrors) {
        (self.listing, self.errors)
    }

    /// How a list without filters was asked for; 422 for a value not valid.
    pub fn checked(self) -> Result<Listing> {
        self.errors.into_result().map_err(ApiError::Invalid)?;
        Ok(self.listing)
    }
}

/// A list's own filters, its query string read as `Q`, beside its
/// [`ListParams`] (extracted in that order).
pub struct Filtered<Q> {
    query: Q,
    list: ListParams,
}

impl<Q> Filtered<Q> {
    /// The listing and the filters `check` makes of `Q`, or one 422 naming
    /// every mistake: the paging's and the filters'.
    pub fn check<F>(self, check: impl FnOnce(Q, &mut FieldErrors) -> F) -> Result<(Listing, F)> {
        let (listing, mut errors) = self.list.into_parts();
        let filter = check(self.query, &mut errors);
        errors.into_result().map_err(ApiError::Invalid)?;
        Ok((listing, filter))
    }
}

impl<Q: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Filtered<Q> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let ApiQuery(query) = ApiQuery::<Q>::from_request_parts(parts, state).await?;
        let list = ListParams::from_request_parts(parts, state).await?;
        Ok(Filtered { query, list })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ListParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let ApiQuery(q) = ApiQuery::<ListQuery>::from_request_parts(parts, state).await?;
        let mut errors = FieldErrors::new();
        let listing = Listing::parse(
            &mut errors,
            q.limit.as_deref(),
            q.cursor.as_deref(),
            q.format.as_deref(),
            &parts.headers,
        );
        Ok(ListParams { listing, errors })
    }
}

/// The document describes the parameters of [`ListParams`] beside a
/// handler's own: `params(GameListQuery, ListParams)`.
impl IntoParams for ListParams {
    fn into_params(parameter_in_provider: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        ListQuery::into_params(parameter_in_provider)
    }
}

/// Fields no export carries, at any depth: a player's link is the only
/// credential of their page, and a spreadsheet travels.
const NEVER_EXPORTED: &[&str] = &["player_link"];

/// Flattens nested objects into `parent.child` columns.
fn flatten(prefix: &str, value: &Value, out: &mut Map<String, Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if NEVER_EXPORTED.contains(&k.as_str()) {
                    continue;
                }
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        other => {
            out.insert(prefix.to_owned(), other.clone());
        }
    }
}

/// A spreadsheet treats a cell starting with `=`, `+`, `-` or `@` as a
/// formula: names typed by the public must not run in the staff's Excel.
fn cell(value: &Value) -> String {
    let text = match value {
        Value::Null => return String::new(),
        Value::String(s) => s.clone(),
        Value::Array(_) => value.to_string(),
        other => return other.to_string(),
    };
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text
    }
}

/// One item as a CSV row: its fields, nested objects flattened. A player's
/// link (`player_link`, at any depth) is never exported: an export outlives
/// the session that made it, and the link is the page's only credential.
fn csv_row<T: Serialize>(item: &T) -> Result<Map<String, Value>> {
    let value = serde_json::to_value(item).map_err(|e| ApiError::Internal(e.into()))?;
    let mut row = Map::new();
    flatten("", &value, &mut row);
    row.retain(|key, _| key != "player_link" && !key.ends_with(".player_link"));
    Ok(row)
}

/// The items as CSV. An export may hold up to `CSV_EXPORT_LIMIT` rows, so
/// beyond the items and the output only one row is held at a time: a first
/// pass collects the columns (an item whose nested object is null has fewer
/// of them), the second writes the rows.
pub(crate) fn csv_response<T: Serialize>(
    items: &[T],
    columns: &[&str],
    name: &str,
) -> Result<Response> {
    let mut header: Vec<String> = Vec::new();
    for item in items {
        for key in csv_row(item)?.keys() {
            if !header.contains(key) {
                header.push(key.clone());
            }
        }
    }
    if items.is_empty() {
        header = columns.iter().map(|c| (*c).to_owned()).collect();
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| ApiError::Internal(e.into());
    writer.write_record(&header).map_err(fail)?;
    for item in items {
        let row = csv_row(item)?;
        writer
            .write_record(
                header
                    .iter()
                    .map(|h| row.get(h).map(cell).unwrap_or_default()),
            )
            .map_err(fail)?;
    }
    let body = writer
        .into_inner()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("csv: {e}")))?;
    let disposition = format!("attachment; filename=\"{name}.csv\"");
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition).map_err(|e| ApiError::Internal(e.into()))?,
            ),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        assert_eq!(decode_cursor(&encode_cursor((-17, 42))), Some((-17, 42)));
        assert_eq!(decode_cursor("not a cursor"), None);
        assert_eq!(decode_cursor(&URL_SAFE_NO_PAD.encode("1:x")), None);
    }

    #[test]
    fn formula_cells_are_defused() {
        assert_eq!(cell(&json!("=HYPERLINK(\"x\")")), "'=HYPERLINK(\"x\")");
        assert_eq!(cell(&json!("Ada")), "Ada");
        assert_eq!(cell(&json!(-3)), "-3");
        assert_eq!(cell(&Value::Null), "");
    }

    #[test]
    fn nested_objects_become_dotted_columns() {
        let mut row = Map::new();
        flatten(
            "",
            &json!({"id": 1, "player": {"first_name": "Ada"}}),
            &mut row,
        );
        assert_eq!(row.get("player.first_name"), Some(&json!("Ada")));
        assert_eq!(row.get("id"), Some(&json!(1)));
    }

    async fn csv_text<T: Serialize>(items: &[T], columns: &[&str]) -> String {
        let response = csv_response(items, columns, "things").expect("a CSV response");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the body");
        String::from_utf8(body.to_vec()).expect("UTF-8")
    }

    #[tokio::test]
    async fn csv_columns_are_every_row_s_and_a_missing_one_is_blank() {
        let items = [
            json!({"id": 1, "game": null, "name": "=1+1"}),
            json!({"id": 2, "game": {"id": 5, "state": "queued"}, "name": "Ada"}),
        ];
        assert_eq!(
            csv_text(&items, &["unused"]).await,
            "id,game,name,game.id,game.state\n1,,'=1+1,,\n2,,Ada,5,queued\n"
        );
        assert_eq!(csv_text::<Value>(&[], &["id", "name"]).await, "id,name\n");
    }
}
