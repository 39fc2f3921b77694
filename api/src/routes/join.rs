//! Joining from a phone (no token; on only while the current show has
//! `self_join`):
//!
//! - `GET /join`: the form, or why there is none (the line is closed or
//!   full; 404 while `self_join` is off). It works without JavaScript.
//! - `POST /join/start` (a form or JSON): checks the fields as a signup
//!   does and texts a 6-digit code (see `store::joins`); 202 with
//!   `{"join": id}`, or for a form the page that asks for the code.
//! - `POST /join/verify` (`join` and `code`): the right code makes the
//!   player and a queued game at once (`Lifecycle::join`) and answers 303
//!   to their page; a number already in line is sent to its own page.
//! - `GET /join/qr.svg`: the QR code of `{PUBLIC_BASE_URL}/join`, for the
//!   board.
//!
//! A form gets HTML back whatever happens (the form again with the
//! problem, and the problem's status); JSON gets problems.

use std::net::SocketAddr;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use ondeck_domain::error::DomainError;
use ondeck_domain::lifecycle::{Joined, refusal};
use ondeck_domain::line::LineRule;
use ondeck_domain::models::{PlayerInput, Show};
use ondeck_domain::store::{PgConnection, joins, players, shows};
use ondeck_domain::validation::FieldErrors;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app_state::AppState;
use crate::error::{ApiError, Problem, Result};
use crate::routes::pages::{escape_html, page};

const JOIN_HTML: &str = include_str!("../../assets/join.html");

/// A join's fields are a few short texts: anything larger is refused.
const BODY_LIMIT: usize = 16 * 1024;

/// The code's text; `{code}` is the code and `{show}` the show's name.
pub(crate) const CODE_TEXT: &str =
    "{code} is your code to join the line at {show}. It works for 10 minutes.";

/// The join routes; `/join/start` and `/join/verify` are in the OpenAPI
/// document (merged into the API's in `routes::api`), the pages are not.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .route("/join", get(join_page))
        .routes(routes!(start))
        .routes(routes!(verify))
        .route("/join/qr.svg", get(qr))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// What a player types on the join page, as a form or JSON sends it.
/// `signed_waiver` is `true`/`false` in JSON; in a form, a ticked box (`on`,
/// or `true`/`1`/`yes`).
#[derive(Debug, Default, Clone, Deserialize, Serialize, ToSchema)]
pub struct JoinForm {
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    mobile_number: Option<String>,
    #[serde(default)]
    handedness: Option<String>,
    #[serde(default)]
    team: Option<String>,
    #[serde(default, deserialize_with = "checkbox")]
    signed_waiver: bool,
}

/// `true` in JSON; in a form, a ticked box (`on`, or `true`/`1`/`yes`).
fn checkbox<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Bool(bool),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Bool(b) => Ok(b),
        Raw::Text(t) => match t.as_str() {
            "on" | "true" | "1" | "yes" => Ok(true),
            "" | "off" | "false" | "0" | "no" => Ok(false),
            _ => Err(serde::de::Error::custom(
                "signed_waiver must be true or false",
            )),
        },
    }
}

impl JoinForm {
    /// The signup these fields make, checked as a tablet's signup is, plus
    /// what joining asks for: a mobile number, and the waiver accepted when
    /// the show has one.
    fn checked(
        &self,
        state: &AppState,
        show: &Show,
    ) -> std::result::Result<ondeck_domain::models::PlayerChanges, FieldErrors> {
        let text = |v: &Option<String>| Some(v.clone());
        let input = PlayerInput {
            first_name: text(&self.first_name),
            last_name: text(&self.last_name),
            mobile_number: text(&self.mobile_number),
            handedness: text(&self.handedness),
            team: text(&self.team),
            signed_waiver: Some(Some(self.signed_waiver)),
            show_id: Some(Some(show.id)),
            ..PlayerInput::default()
        };
        let mut errors = FieldErrors::new();
        if self
            .mobile_number
            .as_deref()
            .is_none_or(|m| m.trim().is_empty())
        {
            errors.add(
                "mobile_number",
                "is required: the code to join is texted to it",
            );
        }
        if !show.waiver_text.is_empty() && !self.signed_waiver {
            errors.add("signed_waiver", "the waiver must be accepted to join");
        }
        let changes = input.validate(state.config.venue.default_region, true);
        match changes {
            Ok(changes) if errors.is_empty() => Ok(changes),
            Ok(_) => Err(errors),
            Err(more) => {
                errors.merge(more);
                Err(errors)
            }
        }
    }
}

/// The code a player was texted, for the join `POST /join/start` answered.
#[derive(Debug, Default, Deserialize, ToSchema)]
struct VerifyForm {
    /// The join's id, as `POST /join/start` answered it.
    #[serde(default)]
    join: Option<String>,
    /// The 6-digit code from the text.
    #[serde(default)]
    code: Option<String>,
}

/// `POST /join/start`'s answer to JSON.
#[derive(Debug, Serialize, ToSchema)]
struct JoinStarted {
    /// The join's id: send it back with the code to `POST /join/verify`.
    join: String,
}

/// How the request was sent, and so how to answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Form,
    Json,
}

/// The body as a form or JSON, by its `Content-Type`.
fn read<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<(T, Via)> {
    let Ok(body) = body else {
        return Err(ApiError::PayloadTooLarge("16 KiB"));
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        let value = serde_urlencoded::from_bytes(&body)
            .map_err(|e| ApiError::BadRequest(format!("the form could not be read: {e}")))?;
        Ok((value, Via::Form))
    } else if essence.eq_ignore_ascii_case("application/json") {
        let value = serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("the JSON could not be read: {e}")))?;
        Ok((value, Via::Json))
    } else {
        Err(ApiError::BadRequest(
            "send a form or JSON (Content-Type: application/json)".into(),
        ))
    }
}

/// The client address a code is counted against.
fn client(peer: Option<Extension<ConnectInfo<SocketAddr>>>) -> String {
    peer.map_or_else(|| "unknown".to_owned(), |p| p.0.0.ip().to_string())
}

/// The current show if players may join it from their phone, else the 404
/// that says so.
async fn joinable_show(conn: &mut PgConnection) -> Result<Show> {
    match shows::current(conn).await? {
        Some(show) if show.self_join => Ok(show),
        _ => Err(not_on()),
    }
}

fn not_on() -> ApiError {
    ApiError::NotFound(
        "joining from a phone is not on here: sign up with staff at the attraction".into(),
    )
}

/// The join page: the form, or why the line takes no one now.
async fn join_page(State(state): State<AppState>) -> Result<Response> {
    let mut conn = state.db.acquire().await?;
    let show = match joinable_show(&mut conn).await {
        Ok(show) => show,
        Err(e) => return Ok(error_page(None, &e)),
    };
    if let Some(rule) = refusal(&mut conn, &show).await? {
        return Ok(render(StatusCode::OK, &show.name, &line_refused_html(rule)));
    }
    let teams = players::team_names(&mut conn).await?;
    Ok(render(
        StatusCode::OK,
        &show.name,
        &form_html(&show, &teams, &JoinForm::default(), None),
    ))
}

/// `POST /join/start`: checks the fields and texts a code.
///
/// A form gets HTML back, whatever the status (the page that asks for the
/// code, or the form again with the problem); JSON gets JSON, and problems.
#[utoipa::path(post, path = "/join/start", tag = "join", security(()),
    request_body(description = "what the player typed, as a form or JSON",
        content((JoinForm = "application/json"), (JoinForm = "application/x-www-form-urlencoded"))),
    responses(
        (status = 202, description = "the code is texted (through the outbox): the join's id for JSON, the page that asks for the code for a form",
            content((JoinStarted = "application/json"), (String = "text/html"))),
        (status = 400, description = "a body that is neither a form nor JSON, or does not parse"),
        (status = 404, description = "joining from a phone is not on (no current show, or `self_join` off)",
            content((Problem = "application/problem+json"), (String = "text/html"))),
        (status = 409, description = "the line takes no one now (`line-closed`, `line-full`, `line-full-today`, with `rule`)",
            content((Problem = "application/problem+json"), (String = "text/html"))),
        (status = 422, description = "a field is not valid (the mobile number is required; `signed_waiver` when the show has a waiver); see errors",
            content((Problem = "application/problem+json"), (String = "text/html"))),
        (status = 429, description = "too many codes for this number or this client address within the hour, or too many requests",
            content((Problem = "application/problem+json"), (String = "text/html"))),
    ))]
async fn start(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Response> {
    let (form, via) = read::<JoinForm>(&headers, body)?;
    let mut tx = state.db.begin().await?;
    let show = joinable_show(&mut tx).await;
    let outcome = match show {
        Ok(show) => start_in(&state, &mut tx, &show, &form, &client(peer))
            .await
            .map(|id| (show, id)),
        Err(e) => Err(e),
    };
    match outcome {
        Ok((show, id)) => {
            ondeck_domain::store::commit::commit(tx).await?;
            // The code's text is in the outbox: the relay need not wait
            // for its next poll.
            state.wake.after_outbox_commit();
            tracing::info!("a join code was asked for");
            Ok(match via {
                Via::Json => {
                    (StatusCode::ACCEPTED, axum::Json(JoinStarted { join: id })).into_response()
                }
                Via::Form => render(
                    StatusCode::ACCEPTED,
                    &show.name,
                    &code_html(&id, form.mobile_number.as_deref().unwrap_or_default(), None),
                ),
            })
        }
        Err(e) if via == Via::Form => {
            drop(tx);
            let mut conn = state.db.acquire().await?;
            let show = shows::current(&mut conn).await?;
            let teams = players::team_names(&mut conn).await?;
            Ok(match show.filter(|s| s.self_join) {
                Some(show) => render(
                    e.status(),
                    &show.name,
                    &form_html(&show, &teams, &form, Some(&e)),
                ),
                None => error_page(None, &e),
            })
        }
        Err(e) => Err(e),
    }
}

/// The code's row and text for `form`, once its fields and the line allow.
async fn start_in(
    state: &AppState,
    conn: &mut PgConnection,
    show: &Show,
    form: &JoinForm,
    client: &str,
) -> Result<String> {
    let changes = form.checked(state, show).map_err(ApiError::Invalid)?;
    if let Some(team) = changes.team.clone().flatten() {
        players::team_id_by_name(conn, &team).await?;
    }
    if let Some(rule) = refusal(conn, show).await? {
        return Err(ApiError::LineRefused(rule));
    }
    let number = changes.mobile_text().unwrap_or_default();
    let details = serde_json::to_value(form).map_err(anyhow::Error::from)?;
    let body = CODE_TEXT.replace("{show}", &show.name);
    let started = joins::start(
        conn,
        show.id,
        &number,
        client,
        &details,
        &body,
        state.config.http.join_codes,
    )
    .await?;
    Ok(started.id)
}

/// `POST /join/verify`: the right code makes the player's game.
///
/// A form gets HTML back for a problem (the code page again for a wrong
/// code, a page saying what went wrong otherwise); JSON gets problems.
#[utoipa::path(post, path = "/join/verify", tag = "join", security(()),
    request_body(description = "the join's id and the texted code, as a form or JSON",
        content((VerifyForm = "application/json"), (VerifyForm = "application/x-www-form-urlencoded"))),
    responses(
        (status = 303, description = "the player and a queued game were made (or the number already has a game in line): to the player's page",
            headers(("Location" = String, description = "`/p/{code}`, the player's page"))),
        (status = 400, description = "a body that is neither a form nor JSON, or does not parse"),
        (status = 409, description = "the line takes no one now (`line-closed`, `line-full`, `line-full-today`, with `rule`); the code is not used up",
            content((Problem = "application/problem+json"), (String = "text/html"))),
        (status = 422, description = "`join` or `code` missing, the join unknown, or the code wrong (with the tries left), expired or used; see errors",
            content((Problem = "application/problem+json"), (String = "text/html"))),
        (status = 429, description = "five wrong codes were given for this join: ask for a new one; or too many requests",
            content((Problem = "application/problem+json"), (String = "text/html"))),
    ))]
async fn verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Response> {
    let (form, via) = read::<VerifyForm>(&headers, body)?;
    let join = form.join.clone().unwrap_or_default();
    match verify_in(&state, &join, form.code.as_deref().unwrap_or_default()).await {
        Ok(code) => Ok(Redirect::to(&format!("/p/{code}")).into_response()),
        Err(e) if via == Via::Form => {
            let mut conn = state.db.acquire().await?;
            let show = shows::current(&mut conn).await?.map(|s| s.name);
            // Another try makes sense for a wrong code; for anything else
            // the player starts again.
            let retry = matches!(&e, ApiError::Invalid(errors) if errors.has("code"));
            Ok(if retry {
                render(
                    e.status(),
                    show.as_deref().unwrap_or("ondeck"),
                    &code_html(&join, "", Some(&e)),
                )
            } else {
                error_page(show.as_deref(), &e)
            })
        }
        Err(e) => Err(e),
    }
}

/// Checks the code and makes the game; returns the player code of the
/// page to go to.
async fn verify_in(state: &AppState, join: &str, code: &str) -> Result<String> {
    let mut errors = FieldErrors::new();
    if join.is_empty() {
        errors.add("join", "is required");
    }
    if code.trim().is_empty() {
        errors.add("code", "is required");
    }
    errors.into_result().map_err(ApiError::Invalid)?;
    let mut tx = state.db.begin().await?;
    let verified = match joins::verify(&mut tx, join, code.trim()).await {
        Ok(verified) => verified,
        Err(DomainError::Database(e)) => return Err(DomainError::Database(e).into()),
        Err(refused) => {
            // A wrong code counts as a try even though the answer is an error.
            ondeck_domain::store::commit::commit(tx).await?;
            return Err(refused.into());
        }
    };
    let form: JoinForm = serde_json::from_value(verified.details).map_err(anyhow::Error::from)?;
    let show = shows::get(&mut tx, verified.show_id).await?;
    let changes = form.checked(state, &show).map_err(ApiError::Invalid)?;
    let joined = state.lifecycle().join(&mut tx, &changes).await?;
    let joined = joined.commit(tx).await?;
    let game = match joined {
        Joined::New(signed_up) => {
            tracing::info!(player_id = %signed_up.player_id, game_id = %signed_up.game.id, "a player joined from their phone");
            signed_up.game
        }
        Joined::AlreadyInLine(game) => game,
    };
    game.player_code
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a game in line without a player code")))
}

/// The QR code of the join page's address.
async fn qr(State(state): State<AppState>) -> Result<Response> {
    let url = format!("{}/join", state.config.http.public_base_url);
    let svg = crate::qr::svg(&url).ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!("PUBLIC_BASE_URL is too long for a QR code"))
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        svg,
    )
        .into_response())
}

fn render(status: StatusCode, show: &str, body: &str) -> Response {
    let html = JOIN_HTML
        .replace("{{SHOW}}", &escape_html(show))
        .replace("{{BODY}}", body);
    page(status, html)
}

/// A page that only says what went wrong, with a way back to the start.
fn error_page(show: Option<&str>, e: &ApiError) -> Response {
    let body = format!(
        r#"<section class="state"><h2>{}</h2><p><a class="button" href="/join">Start again</a></p></section>"#,
        escape_html(&sentence(&e.to_string()))
    );
    render(e.status(), show.unwrap_or("Join the line"), &body)
}

fn line_refused_html(rule: LineRule) -> String {
    let words = match rule {
        LineRule::Closed => "The line is closed. No one can join right now.",
        LineRule::Full => "The line is full right now. Try again in a little while.",
        LineRule::FullToday => "The line is full for today: the wait would run past last call.",
    };
    format!(r#"<section class="state"><h2>{words}</h2></section>"#)
}

/// The text of an error as a sentence for a player.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>() + ".",
        None => String::new(),
    }
}

/// The messages of `e` for one field, if it names it.
fn field_error(e: Option<&ApiError>, field: &str) -> String {
    match e {
        Some(ApiError::Invalid(errors)) => errors
            .get(field)
            .map(|messages| {
                format!(
                    r#"<span class="field-error" id="{field}-error">{}</span>"#,
                    escape_html(&messages.join("; "))
                )
            })
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// The whole-form error of `e` (anything not about one field).
fn form_error(e: Option<&ApiError>) -> String {
    match e {
        None | Some(ApiError::Invalid(_)) => String::new(),
        Some(e) => format!(
            r#"<p class="note" role="alert">{}</p>"#,
            escape_html(&sentence(&e.to_string()))
        ),
    }
}

fn form_html(show: &Show, teams: &[String], form: &JoinForm, e: Option<&ApiError>) -> String {
    let value = |v: &Option<String>| escape_html(v.as_deref().unwrap_or_default());
    let hand = form.handedness.as_deref().unwrap_or_default();
    let checked = |on: bool| if on { " checked" } else { "" };
    let team = form.team.as_deref().unwrap_or_default();
    let team_options: String = teams
        .iter()
        .map(|name| {
            format!(
                r#"<option value="{0}"{1}>{0}</option>"#,
                escape_html(name),
                if name == team { " selected" } else { "" }
            )
        })
        .collect();
    let teams_html = if teams.is_empty() {
        String::new()
    } else {
        format!(
            r#"<label>Team <small>(optional)</small>
<select name="team"><option value="">Any team</option>{team_options}</select></label>{}"#,
            field_error(e, "team")
        )
    };
    let waiver = if show.waiver_text.is_empty() {
        String::new()
    } else {
        format!(
            r#"<div class="waiver"><p>{}</p>
<label class="check"><input type="checkbox" name="signed_waiver" value="on"{}> I accept the waiver</label>{}</div>"#,
            escape_html(&show.waiver_text).replace('\n', "<br>"),
            checked(form.signed_waiver),
            field_error(e, "signed_waiver")
        )
    };
    format!(
        r#"<section class="state"><h2>Join the line</h2>
<p>We'll text you a code to check your number, then you'll see your place in line.</p>
{form_error}
<form method="post" action="/join/start" class="join" novalidate>
<label>First name <input name="first_name" autocomplete="given-name" maxlength="64" required value="{first}"></label>{first_error}
<label>Last name <small>(optional)</small> <input name="last_name" autocomplete="family-name" maxlength="64" value="{last}"></label>{last_error}
<label>Mobile number <input name="mobile_number" type="tel" autocomplete="tel" inputmode="tel" required value="{mobile}"></label>{mobile_error}
<fieldset><legend>You bat</legend>
<label class="check"><input type="radio" name="handedness" value="R"{right}> Right-handed</label>
<label class="check"><input type="radio" name="handedness" value="L"{left}> Left-handed</label>
</fieldset>{hand_error}
{teams_html}
{waiver}
<button class="primary" type="submit">Text me a code</button>
</form></section>"#,
        form_error = form_error(e),
        first = value(&form.first_name),
        first_error = field_error(e, "first_name"),
        last = value(&form.last_name),
        last_error = field_error(e, "last_name"),
        mobile = value(&form.mobile_number),
        mobile_error = field_error(e, "mobile_number"),
        right = checked(hand == "R"),
        left = checked(hand == "L"),
        hand_error = field_error(e, "handedness"),
    )
}

fn code_html(join: &str, number: &str, e: Option<&ApiError>) -> String {
    let sent_to = if number.is_empty() {
        "We texted you a 6-digit code.".to_owned()
    } else {
        format!("We texted a 6-digit code to {}.", escape_html(number))
    };
    format!(
        r#"<section class="state"><h2>Enter your code</h2>
<p>{sent_to} It works for 10 minutes.</p>
<form method="post" action="/join/verify" class="join" novalidate>
<input type="hidden" name="join" value="{join}">
<label>Code <input name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]*" maxlength="6" required autofocus></label>{code_error}
<button class="primary" type="submit">Join the line</button>
</form>
<p><a href="/join">Didn't get a code? Start again</a></p></section>"#,
        join = escape_html(join),
        code_error = field_error(e, "code"),
    )
}
