//! The player's page, `/p/{code}` (no token: the code is the credential,
//! and it opens its own game only):
//!
//! - `GET /p/{code}`: the page, rendered on the server so that it reads
//!   with JavaScript off; its script (`/assets/player.js`) polls
//!   `GET /p/{code}/status` every 5 s and swaps in the page again when
//!   anything changed.
//! - `GET /p/{code}/qr.svg`: the page's address as a QR code, which the
//!   kiosk shows a player who just signed up, to open it on their phone.
//! - `POST /p/{code}/{action}` (`coming`, `later`, `leave`, `rejoin`): the
//!   player's action, through `Lifecycle::act` like every other change. A
//!   plain form post is answered with 303 to the page; anything else with
//!   the status JSON.
//!
//! A code that is malformed, unknown or expired (24 h after its game ended)
//! answers the same 404 problem; malformed codes are refused before any
//! query, the others are looked up by their SHA-256.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use ondeck_domain::GameState;
use ondeck_domain::game_state::{CancelReason, PlayerAction};
use ondeck_domain::game_view::player_link;
use ondeck_domain::models::Game;
use ondeck_domain::store::PgConnection;
use ondeck_domain::store::player_games;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app_state::AppState;
use crate::error::{ApiError, Result};
use crate::player_lines::{Page, PlayerStatus};
use crate::routes::pages::{escape_html, page};

const PLAYER_HTML: &str = include_str!("../../assets/player.html");

/// A player's action carries no data: a body (a form's submit button, an
/// empty JSON object) is read only up to this size and then ignored.
const BODY_LIMIT: usize = 4 * 1024;

/// The routes; `routes::api` takes the JSON ones into the OpenAPI document.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .route("/p/{code}", axum::routing::get(player_page))
        .routes(routes!(status))
        .routes(routes!(qr_code))
        .routes(routes!(act))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// Whether `code` can be a player code at all: 22 URL-safe characters.
fn well_formed(code: &str) -> bool {
    code.len() == 22
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The one answer for a code that opens nothing.
fn no_such_page() -> ApiError {
    ApiError::NotFound("no such page: the link is wrong or has expired".into())
}

/// The code in the path; one that does not even decode (invalid UTF-8)
/// opens nothing, like any other malformed code.
struct Code(String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Code {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self> {
        let params = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| no_such_page())?;
        params
            .0
            .into_iter()
            .find(|(name, _)| name == "code")
            .map(|(_, code)| Code(code))
            .ok_or_else(no_such_page)
    }
}

/// The page `code` opens, from memory where it can (see `player_lines`).
async fn open(state: &AppState, code: &str) -> Result<Arc<Page>> {
    if !well_formed(code) {
        return Err(no_such_page());
    }
    state
        .lines
        .page(&state.db, &state.line_settings(), code)
        .await?
        .ok_or_else(no_such_page)
}

/// The game `code` opens, read in the caller's transaction.
async fn open_game(conn: &mut PgConnection, code: &str) -> Result<Game> {
    if !well_formed(code) {
        return Err(no_such_page());
    }
    let found = player_games::by_code(conn, code).await?;
    found.map(|(game, _)| game).ok_or_else(no_such_page)
}

/// The player's page: their game's state in words, and a button for each
/// action legal now.
async fn player_page(State(state): State<AppState>, Code(code): Code) -> Result<Response> {
    let opened = open(&state, &code).await?;
    Ok(page(StatusCode::OK, render(&code, &opened.status)))
}

/// Where the player's game stands: the JSON the page polls.
#[utoipa::path(get, path = "/p/{code}/status", tag = "player",
    params(("code" = String, Path, description = "the player code of the game's page")),
    security(()),
    responses((status = 200, body = PlayerStatus),
              (status = 404, description = "the code is unknown, malformed or expired")))]
async fn status(State(state): State<AppState>, Code(code): Code) -> Result<Response> {
    let opened = open(&state, &code).await?;
    let json = [(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    )];
    Ok(no_store((json, opened.json.clone()).into_response()))
}

/// The address of the player's page, `{PUBLIC_BASE_URL}/p/{code}`, as an
/// SVG QR code: what the kiosk shows after a signup.
#[utoipa::path(get, path = "/p/{code}/qr.svg", tag = "player",
    params(("code" = String, Path, description = "the player code of the game's page")),
    security(()),
    responses((status = 200, content_type = "image/svg+xml", body = String,
               description = "an SVG QR code of the page's address"),
              (status = 404, description = "the code is unknown, malformed or expired")))]
async fn qr_code(State(state): State<AppState>, Code(code): Code) -> Result<Response> {
    open(&state, &code).await?;
    let link = player_link(&state.config.http.public_base_url, &code);
    let svg = crate::qr::svg(&link).ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!(
            "PUBLIC_BASE_URL is too long for a QR code of a player's page"
        ))
    })?;
    let headers = [
        (header::CONTENT_TYPE, "image/svg+xml"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Opened on its own, the image may run nothing and load nothing.
        (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
    ];
    Ok(no_store((headers, svg).into_response()))
}

/// The player's action: `coming` (recalled: "On my way"), `later`
/// (queued or recalled: more time), `leave` (new, queued, recalled) or
/// `rejoin` (cancelled: a new game at the back, whose page is `link`). Any
/// body is ignored; a plain HTML form post answers 303 to the page.
#[utoipa::path(post, path = "/p/{code}/{action}", tag = "player",
    params(("code" = String, Path, description = "the player code of the game's page"),
           ("action" = String, Path, description = "coming, later, leave or rejoin")),
    security(()),
    responses((status = 200, body = PlayerStatus),
              (status = 303, description = "after a plain form post: to the page"),
              (status = 400, description = "a body that is neither a form nor JSON"),
              (status = 404, description = "the code is unknown, malformed or expired, or no such action"),
              (status = 409, description = "not possible in the game's state (the problem carries `current_state` and `action`), or the show's line refuses \"Join again\" (`line-closed`, `line-full`, `line-full-today`, with `rule`)"),
              (status = 413, description = "the body is too large")))]
async fn act(
    State(state): State<AppState>,
    Code(code): Code,
    Path(params): Path<Vec<(String, String)>>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Response> {
    if body.is_err() {
        return Err(ApiError::PayloadTooLarge("4 KiB"));
    }
    let action = params.into_iter().find(|(name, _)| name == "action");
    let Some(Ok(action)) = action.map(|(_, a)| a.parse::<PlayerAction>()) else {
        return Err(ApiError::NotFound(
            "no such action: coming, later, leave or rejoin".into(),
        ));
    };
    let form = match headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or_default())
    {
        None => false,
        Some(ct) => {
            let essence = ct.split(';').next().unwrap_or_default().trim();
            if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
                true
            } else if essence.eq_ignore_ascii_case("application/json") {
                false
            } else {
                return Err(ApiError::BadRequest(
                    "send no body, a form, or JSON (Content-Type: application/json)".into(),
                ));
            }
        }
    };
    let mut tx = state.db.begin().await?;
    let game = open_game(&mut tx, &code).await?;
    let acted = state.lifecycle().act(&mut tx, game.id, action).await?;
    let acted = acted.commit(tx).await?;
    let new_code = acted.game.player_code.clone().unwrap_or_default();
    let moved = acted.game.id != game.id;
    if form {
        let to = if moved { new_code } else { code };
        return Ok(Redirect::to(&format!("/p/{to}")).into_response());
    }
    let opened = open(&state, if moved { &new_code } else { &code }).await?;
    let mut status = opened.status.clone();
    status.link = moved.then(|| player_link(&state.config.http.public_base_url, &new_code));
    Ok(no_store(axum::Json(status).into_response()))
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// "1st", "2nd", "3rd", "4th", ... "11th", "21st".
fn ordinal(n: i64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// A wait in words: "about 6 minutes".
fn wait_words(seconds: i64) -> String {
    match (seconds + 30) / 60 {
        0 => "less than a minute".to_owned(),
        1 => "about 1 minute".to_owned(),
        m if m < 90 => format!("about {m} minutes"),
        m => format!("about {} h {} min", m / 60, m % 60),
    }
}

fn people(n: i64) -> String {
    match n {
        0 => "Nobody is waiting right now.".to_owned(),
        1 => "1 person is waiting.".to_owned(),
        n => format!("{n} people are waiting."),
    }
}

/// What the page says about the game, as HTML.
fn state_html(s: &PlayerStatus) -> String {
    let show = escape_html(&s.show);
    match s.state {
        GameState::New => format!(
            "<h2>You're signed up</h2><p>{} Staff will put you in line soon.</p>{}",
            people(s.waiting),
            if s.paused {
                "<p>Paused: the wait is on hold.</p>"
            } else {
                ""
            }
        ),
        GameState::Queued => {
            let position = s.position.unwrap_or(0);
            let wait = match s.eta_seconds {
                _ if s.paused => "<p>Paused: the wait is on hold.</p>".to_owned(),
                Some(eta) => format!("<p>Estimated wait: {}.</p>", wait_words(eta)),
                None => String::new(),
            };
            format!(
                "<h2>You're {} in line</h2>{wait}<p>We'll text you when it's your turn. \
                 Feel free to walk around.</p>",
                ordinal(position)
            )
        }
        GameState::Recalled => {
            let left = s
                .recall_expires_at
                .map(|at| {
                    let minutes = ((at - Utc::now()).num_seconds().max(0) + 59) / 60;
                    format!(
                        r#"<p class="countdown">Time left: <time datetime="{}" data-expires>{minutes} min</time></p>"#,
                        at.to_rfc3339()
                    )
                })
                .unwrap_or_default();
            let coming = if s.acknowledged_at.is_some() {
                "<p>Thanks, we know you're on your way.</p>"
            } else {
                ""
            };
            format!("<h2>It's your turn: come to {show} now</h2>{left}{coming}")
        }
        GameState::Confirmed | GameState::Playing => {
            "<h2>You're up</h2><p>Have a great game!</p>".to_owned()
        }
        GameState::Completed => {
            let n = |v: Option<i32>| v.unwrap_or(0);
            let rank = s
                .rank
                .map(|r| format!("<p>That's <strong>{}</strong> today.</p>", ordinal(r)))
                .unwrap_or_default();
            let souvenir = s
                .souvenir_url
                .as_deref()
                .map(|url| {
                    let url = escape_html(url);
                    format!(
                        r#"<figure><img src="{url}" alt="Your souvenir"></figure><p><a class="button" href="{url}" download>Download your souvenir</a></p>"#
                    )
                })
                .unwrap_or_else(|| "<p>Your souvenir is on its way.</p>".to_owned());
            format!(
                "<h2>Thanks for playing!</h2><dl><dt>Score</dt><dd>{}</dd><dt>Distance</dt>\
                 <dd>{} ft</dd><dt>Home runs</dt><dd>{}</dd></dl>{rank}{souvenir}",
                n(s.score),
                n(s.distance),
                n(s.homeruns)
            )
        }
        GameState::Cancelled => {
            let why = match s.cancel_reason {
                Some(CancelReason::PlayerLeft) => "You left the line.",
                Some(CancelReason::NoShow) => "We called you but couldn't find you.",
                Some(CancelReason::Staff) | None => "Staff took you out of the line.",
            };
            format!(
                "<h2>You're not in line</h2><p>{why} ({})</p>",
                s.cancel_reason.unwrap_or(CancelReason::Staff).words()
            )
        }
    }
}

/// The label of an action's button.
fn label(action: PlayerAction) -> &'static str {
    match action {
        PlayerAction::Coming => "On my way",
        PlayerAction::Later => "I need more time",
        PlayerAction::Leave => "Leave the line",
        PlayerAction::Rejoin => "Join again",
    }
}

fn render(code: &str, s: &PlayerStatus) -> String {
    let buttons: String = s
        .actions
        .iter()
        .map(|a| {
            let class = if *a == PlayerAction::Leave {
                "secondary"
            } else {
                "primary"
            };
            format!(
                r#"<form method="post" action="/p/{code}/{a}"><button class="{class}" type="submit">{}</button></form>"#,
                label(*a)
            )
        })
        .collect();
    PLAYER_HTML
        .replace("{{FIRST_NAME}}", &escape_html(&s.first_name))
        .replace("{{SHOW}}", &escape_html(&s.show))
        .replace("{{STATE}}", s.state.as_str())
        .replace("{{BODY}}", &state_html(s))
        .replace("{{BUTTONS}}", &buttons)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_22_url_safe_characters_are_a_code() {
        assert!(well_formed("Ab3dE6gH9k_-xYz0123456"));
        for bad in [
            "",
            "short",
            "Ab3dE6gH9k_-xYz01234567",
            "Ab3dE6gH9k_-xYz012345%",
            "Ab3dE6gH9k_-xYz01234é",
        ] {
            assert!(!well_formed(bad), "{bad}");
        }
    }

    #[test]
    fn places_read_as_ordinals() {
        let words: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111]
            .into_iter()
            .map(ordinal)
            .collect();
        assert_eq!(
            words,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd",
                "101st", "111th"
            ]
        );
    }

    #[test]
    fn waits_read_in_minutes() {
        assert_eq!(wait_words(10), "less than a minute");
        assert_eq!(wait_words(60), "about 1 minute");
        assert_eq!(wait_words(540), "about 9 minutes");
        assert_eq!(wait_words(2 * 3600 + 600), "about 2 h 10 min");
    }
}
