//! The venue screens, served by ondeck itself (no build step, no CDN):
//!
//! - `/board`: the display board. A static page of plain JavaScript that reads
//!   `/api/v1/queue`, `/api/v1/leaderboard` and the event stream with a
//!   display token in the `Authorization` header. The token is given once, in
//!   the URL fragment (`/board#token=odk_...`, which never reaches a server or
//!   a log) or in the page's form, and kept in the browser's localStorage.
//! - `/admin`: the staff page. `POST /admin/login` (a form or JSON with
//!   `token`) checks that the token is a live admin token, opens a session
//!   (see `sessions`) and keeps its id, never the token, in the HttpOnly,
//!   SameSite=Strict cookie `ondeck_admin`; the page's script then calls
//!   `/api/v1` with that cookie and `X-Ondeck-Csrf: 1` (see `auth`).
//!   `POST /admin/logout` ends the session and clears the cookie. Without an
//!   open session, `/admin` is the login form.
//! - `/kiosk`: the signup page for the venue's own tablets. Static like the
//!   board, with a tablet token kept the same way; its script signs players
//!   up through `/api/v1` and shows the QR code of each player's page.
//! - `/assets/...`: the pages' scripts, styles and font, compiled into the binary.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use ondeck_domain::game_state::TRANSITIONS;
use ondeck_domain::models::Role;
use ondeck_domain::store::tokens;
use ondeck_domain::{GameState, Transition};
use serde::Deserialize;
use serde_json::json;

use crate::app_state::AppState;
use crate::auth::{ADMIN_COOKIE, cookie};
use crate::error::Result;

const BOARD_HTML: &str = include_str!("../../assets/board.html");
const ADMIN_HTML: &str = include_str!("../../assets/admin.html");
const KIOSK_HTML: &str = include_str!("../../assets/kiosk.html");

/// `api/assets/{name}`, served at `/assets/{name}` as `content_type`.
macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        (
            concat!("/assets/", $name),
            $content_type,
            include_bytes!(concat!("../../assets/", $name)),
        )
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// `(path, content type, body)` of every asset the pages load.
const ASSETS: &[(&str, &str, &[u8])] = &[
    asset!("board.js", JS),
    asset!("admin.js", JS),
    asset!("reports.js", JS),
    asset!("sse.js", JS),
    asset!("player.js", JS),
    asset!("kiosk.js", JS),
    asset!("board.css", CSS),
    asset!("player.css", CSS),
    asset!("admin.css", CSS),
    asset!("kiosk.css", CSS),
    // The souvenirs' typeface (Apache-2.0, see media/assets/fonts/), so that
    // a venue screen looks the same whatever fonts its machine has.
    (
        "/assets/roboto-condensed-bold.ttf",
        "font/ttf",
        include_bytes!("../../../media/assets/fonts/RobotoCondensed-Bold.ttf"),
    ),
];

/// How long the admin cookie lasts: as long as its session.
const ADMIN_COOKIE_SECONDS: u64 = crate::sessions::SESSION_TTL.as_secs();

/// Pages only load their own scripts, styles and fonts and talk to their own
/// origin; images (photos, souvenirs) may come from object storage.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self'; \
                   img-src 'self' data: https: http:; connect-src 'self'; form-action 'self'; \
                   base-uri 'none'; frame-ancestors 'none'";

pub fn router() -> Router<AppState> {
    let mut router = Router::new()
        .route("/board", get(board))
        .route("/kiosk", get(kiosk))
        .route("/admin", get(admin))
        .route(
            "/admin/login",
            get(|| async { Redirect::to("/admin") }).post(login),
        )
        .route(
            "/admin/logout",
            get(|| async { Redirect::to("/admin") }).post(logout),
        );
    for &(path, content_type, body) in ASSETS {
        router = router.route(
            path,
            get(move || async move {
                (
                    [
                        (header::CONTENT_TYPE, content_type),
                        (header::CACHE_CONTROL, "no-cache"),
                        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                    ],
                    body,
                )
            }),
        );
    }
    router
}

/// An HTML page with the headers every page gets.
pub(crate) fn page(status: StatusCode, html: String) -> Response {
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Escapes text for HTML (and XML) content and attribute values.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON that may sit inside a `<script type="application/json">` block.
fn script_json(value: &serde_json::Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// For each state, the transitions allowed from it, in the order of
/// `ondeck_domain::game_state::TRANSITIONS` (the table the API's guard uses).
pub fn allowed_transitions() -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for from in GameState::ALL {
        let allowed: Vec<&str> = TRANSITIONS
            .iter()
            .filter(|rule| rule.from.contains(&from))
            .map(|rule| rule.transition.as_str())
            .collect();
        map.insert(from.as_str().to_owned(), json!(allowed));
    }
    let targets: serde_json::Map<_, _> = Transition::ALL
        .iter()
        .map(|t| (t.as_str().to_owned(), json!(t.target().as_str())))
        .collect();
    json!({"allowed": map, "targets": targets})
}

async fn board(State(state): State<AppState>) -> Response {
    let html = BOARD_HTML.replace("{{VENUE_TZ}}", &escape_html(state.config.venue.tz_name()));
    page(StatusCode::OK, html)
}

/// The kiosk: all it shows comes from `/api/v1`, read by its script with
/// the tablet's token, so the page itself is the same for everyone.
async fn kiosk() -> Response {
    page(StatusCode::OK, KIOSK_HTML.to_owned())
}

/// The staff page when the admin cookie names an open session of a live
/// admin token, else the login form (clearing a cookie that no longer works).
async fn admin(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    let Some(session) = cookie(&headers, ADMIN_COOKIE) else {
        return Ok(login_page(&state, StatusCode::OK, None, false));
    };
    match crate::sessions::caller(&state, session).await? {
        Some(caller) if caller.role == Role::Admin => {
            let html = ADMIN_HTML
                .replace("{{VENUE_TZ}}", &escape_html(state.config.venue.tz_name()))
                .replace("{{TRANSITIONS}}", &script_json(&allowed_transitions()));
            Ok(page(StatusCode::OK, html))
        }
        _ => Ok(login_page(
            &state,
            StatusCode::OK,
            Some("Your session has ended (it expired, or the token was revoked). Log in again."),
            true,
        )),
    }
}

fn login_page(state: &AppState, status: StatusCode, error: Option<&str>, clear: bool) -> Response {
    let error = error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, escape_html(e)))
        .unwrap_or_default();
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ondeck staff — log in</title>
<link rel="stylesheet" href="/assets/admin.css">
</head>
<body class="login">
<main class="login-box">
<h1><span class="brand">ondeck</span> staff</h1>
<p>Paste an admin token (<code>ondeck token create --role admin --name NAME</code>).</p>
{error}
<form method="post" action="/admin/login" id="login-form">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required placeholder="odk_…" autofocus>
<button type="submit">Log in</button>
</form>
<p class="hint">The token is checked once and not kept: this browser stays logged in for 12 hours or until you log out.</p>
</main>
</body>
</html>
"#
    );
    let mut response = page(status, html);
    if clear {
        set_cookie(&mut response, state, None);
    }
    response
}

/// Sets the admin cookie to a session's id, or clears it.
fn set_cookie(response: &mut Response, state: &AppState, session: Option<&str>) {
    let secure = if state.config.http.public_base_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let value = match session {
        Some(session) => format!(
            "{ADMIN_COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict; Max-Age={ADMIN_COOKIE_SECONDS}{secure}"
        ),
        None => format!("{ADMIN_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// A browser says where a request came from: only the page itself (or the
/// user typing) may log in or out.
fn cross_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site != "same-origin" && site != "none")
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let ct = ct.trim_start().to_ascii_lowercase();
            ct.starts_with("application/json") || ct.contains("+json")
        })
}

#[derive(Debug, Deserialize)]
struct LoginInput {
    token: Option<String>,
}

/// Decodes `application/x-www-form-urlencoded` text.
fn form_value(body: &str, name: &str) -> Option<String> {
    body.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k)? == name).then(|| percent_decode(v))?
    })
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// `POST /admin/login`: a form (`token=...`) or JSON (`{"token": "..."}`).
/// A live admin token opens a session whose id is the cookie (a form is
/// sent on to `/admin`, JSON gets `{"role": "admin"}`); any other token gets
/// no cookie: 401 when it is unknown or revoked, 403 when its role is not
/// admin.
async fn login(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response> {
    let json = wants_json(&headers);
    let fail = |status: StatusCode, message: &str| -> Response {
        if json {
            let slug = match status {
                StatusCode::UNAUTHORIZED => "unauthorized",
                StatusCode::FORBIDDEN => "forbidden",
                _ => "bad-request",
            };
            crate::error::problem(status, slug, message, serde_json::Map::new())
        } else {
            login_page(&state, status, Some(message), false)
        }
    };
    if cross_site(&headers) {
        return Ok(fail(
            StatusCode::FORBIDDEN,
            "Log in from the staff page itself.",
        ));
    }
    if body.len() > 4096 {
        return Ok(fail(
            StatusCode::BAD_REQUEST,
            "That is not an ondeck token.",
        ));
    }
    let token = if json {
        serde_json::from_slice::<LoginInput>(&body)
            .ok()
            .and_then(|i| i.token)
    } else {
        std::str::from_utf8(&body)
            .ok()
            .and_then(|b| form_value(b, "token"))
    };
    let token = token.map(|t| t.trim().to_owned()).unwrap_or_default();
    if token.is_empty() {
        return Ok(fail(StatusCode::BAD_REQUEST, "Paste an admin token."));
    }
    // The primary, so that a token created a moment ago works at once.
    let found = {
        let mut conn = state.db.acquire().await?;
        tokens::authenticate(&mut conn, &token).await?
    };
    match found {
        None => Ok(fail(
            StatusCode::UNAUTHORIZED,
            "That token is not a live ondeck token (unknown or revoked).",
        )),
        Some((_, role)) if role != Role::Admin => Ok(fail(
            StatusCode::FORBIDDEN,
            &format!("That is a {role} token: the staff page needs an admin token."),
        )),
        Some((token_id, _)) => {
            let session = crate::sessions::open(&state, token_id).await?;
            let mut response = if json {
                axum::Json(json!({"role": "admin"})).into_response()
            } else {
                Redirect::to("/admin").into_response()
            };
            set_cookie(&mut response, &state, Some(&session));
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(response)
        }
    }
}

/// `POST /admin/logout`: ends the session (a copy of the cookie no longer
/// works), clears the cookie and shows the login form again.
async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    if cross_site(&headers) {
        return Ok(login_page(
            &state,
            StatusCode::FORBIDDEN,
            Some("Log out from the staff page itself."),
            false,
        ));
    }
    if let Some(session) = cookie(&headers, ADMIN_COOKIE) {
        crate::sessions::close(&state, session).await?;
    }
    let mut response = if wants_json(&headers) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        Redirect::to("/admin").into_response()
    };
    set_cookie(&mut response, &state, None);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_decoded() {
        assert_eq!(
            form_value("a=1&token=odk_ab%2Dc+d", "token").as_deref(),
            Some("odk_ab-c d")
        );
        assert_eq!(form_value("token=", "token").as_deref(), Some(""));
        assert_eq!(form_value("tok=x", "token"), None);
        assert_eq!(form_value("token=%zz", "token"), None);
    }

    #[test]
    fn html_and_script_json_are_escaped() {
        assert_eq!(
            escape_html(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(script_json(&json!("</script>")), r#""\u003c/script\u003e""#);
    }

    #[test]
    fn the_page_offers_exactly_the_table_transitions() {
        let map = allowed_transitions();
        for state in GameState::ALL {
            let offered: Vec<String> = map["allowed"][state.as_str()]
                .as_array()
                .expect("a list per state")
                .iter()
                .map(|t| t.as_str().expect("transition names").to_owned())
                .collect();
            let legal: Vec<String> = state.allowed().map(|t| t.as_str().to_owned()).collect();
            assert_eq!(offered, legal, "from {state:?}");
        }
        assert_eq!(map["allowed"]["cancelled"], json!([]));
        assert_eq!(map["targets"]["confirm"], json!("confirmed"));
    }

    #[test]
    fn cross_site_requests_are_recognised() {
        let mut headers = HeaderMap::new();
        assert!(!cross_site(&headers));
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(!cross_site(&headers));
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(cross_site(&headers));
    }
}
