//! `GET /api/v1/stats`: a show's numbers for staff (admin only), as JSON or
//! its hourly rows as CSV; what the staff page's Reports tab draws.

use axum::response::{IntoResponse, Response};
use ondeck_domain::models::{Role, Show};
use ondeck_domain::sms::{Encoding, Segments};
use ondeck_domain::store::reports::{self, Report};
use ondeck_domain::store::shows;
use ondeck_domain::validation::FieldErrors;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app_state::AppState;
use crate::ctx::Ctx;
use crate::error::{ApiError, Result};
use crate::extract::ApiQuery;
use crate::query::{parse_day, parse_name, parse_show_id};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_stats))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Default: the current show.
    #[param(value_type = Option<i64>)]
    #[serde(default, deserialize_with = "crate::extract::given")]
    show_id: Option<String>,
    /// `YYYY-MM-DD` in `VENUE_TZ`; default: every day of the show.
    #[param(schema_with = crate::query::params::day)]
    day: Option<String>,
    /// `json` (default), or `csv` for the hourly rows.
    #[param(schema_with = crate::query::params::format)]
    format: Option<String>,
}

/// A report and what staff see of the show's texts before they are sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    #[serde(flatten)]
    report: Report,
    /// The show's texts as players receive them (placeholders filled with
    /// values as long as real ones) and what each costs.
    templates: Vec<Template>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Template {
    /// `welcome_message`, `recall_message`, `souvenir_message`,
    /// `no_show_message`, or `join_code` (the text that carries a join code).
    name: &'static str,
    /// The template as written.
    text: String,
    encoding: Encoding,
    /// SMS segments one text takes.
    segments: usize,
    /// Septets (GSM-7) or UTF-16 units (UCS-2) of one text.
    units: usize,
    /// The characters that make it UCS-2 (replace them to halve the cost).
    #[schema(value_type = Vec<String>)]
    ucs2_because: Vec<char>,
}

/// Outcomes, waits (with how well they were quoted), play times, the day
/// hour by hour, texts and scores of a show: one day of it or every day.
#[utoipa::path(get, path = "/api/v1/stats", tag = "stats", params(StatsQuery),
    responses((status = 200, description = "The numbers, or the hourly rows as CSV with `format=csv`",
               content((Stats = "application/json"), (String = "text/csv"))),
              (status = 404, description = "no show has that `show_id`, or there is no show"),
              (status = 422, description = "a parameter is not valid")))]
async fn get_stats(ctx: Ctx, ApiQuery(q): ApiQuery<StatsQuery>) -> Result<Response> {
    ctx.caller.allow(&[Role::Admin])?;
    let mut errors = FieldErrors::new();
    let show_id = parse_show_id(&mut errors, q.show_id.as_deref());
    let day = parse_day(&mut errors, q.day.as_deref());
    let csv = parse_name::<Format>(&mut errors, "format", q.format.as_deref(), &["json", "csv"])
        .is_some_and(|f| f == Format::Csv);
    errors.into_result().map_err(ApiError::Invalid)?;
    let mut conn = ctx.read().await?;
    let show = match show_id {
        Some(id) => shows::get(&mut conn, id).await?,
        None => shows::current(&mut conn)
            .await?
            .ok_or_else(|| ApiError::NotFound("there is no show yet".into()))?,
    };
    let tz = ctx.state.config.venue.tz;
    let version = reports::version(&mut conn).await?;
    let mut report = ctx
        .state
        .reports
        .get_or_make((show.id, day), version, || {
            reports::report(&mut conn, show.id, day, tz)
        })
        .await?;
    if csv {
        let name = match day {
            Some(day) => format!("stats-{}-{day}", show.id),
            None => format!("stats-{}", show.id),
        };
        return crate::list::csv_response(
            &report.hourly,
            &["hour", "signups", "completed", "wait_p50", "longest_line"],
            &name,
        );
    }
    report.scores.best = reports::best(&mut conn, show.id, day, tz).await?;
    let templates = templates(&show, &ctx.state.config.http.public_base_url);
    Ok(axum::Json(Stats { report, templates }).into_response())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

impl std::str::FromStr for Format {
    type Err = ();
    fn from_str(s: &str) -> std::result::Result<Self, ()> {
        match s {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            _ => Err(()),
        }
    }
}

/// The show's texts with their placeholders filled as a text fills them:
/// `{link}` a player's page, `{url}` a souvenir's short link, `{rank}` a
/// two-digit rank, `{code}` a join code.
fn templates(show: &Show, base: &str) -> Vec<Template> {
    let base = base.trim_end_matches('/');
    let fill = |text: &str| {
        text.replace("{link}", &format!("{base}/p/{}", "x".repeat(22)))
            .replace("{url}", &format!("{base}/s/{}", "x".repeat(10)))
            .replace("{rank}", "#12 today")
            .replace("{code}", "123456")
            .replace("{show}", &show.name)
    };
    [
        ("welcome_message", show.welcome_message.as_str()),
        ("recall_message", show.recall_message.as_str()),
        ("souvenir_message", show.souvenir_message.as_str()),
        ("no_show_message", show.no_show_message.as_str()),
        ("join_code", crate::routes::join::CODE_TEXT),
    ]
    .into_iter()
    .map(|(name, text)| {
        let filled = Segments::of(&fill(text));
        Template {
            name,
            text: text.to_owned(),
            encoding: filled.encoding,
            segments: filled.count,
            units: filled.units,
            ucs2_because: filled.ucs2_because,
        }
    })
    .collect()
}
