//! Twilio's webhooks: texts players send in, and the
//! delivery status of the texts ondeck sent. No bearer token: each request
//! must carry Twilio's signature made with `TWILIO_AUTH_TOKEN` (see
//! [`signature_ok`]); with another `SMS_PROVIDER` no signature is valid, so
//! every request is refused.

use axum::extract::{FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use ondeck_domain::game_state::PlayerAction;
use ondeck_domain::store::messages::{self, Status};
use ondeck_domain::store::{games, opt_outs};
use ondeck_domain::{DomainError, GameState, MobileNumber, provider_errors};
use ondeck_jobs::sms::{SmsSettings, mask};
use secrecy::ExposeSecret;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app_state::AppState;
use crate::error::{ApiError, Result};

/// The largest webhook body taken: Twilio's forms are a few kilobytes (a
/// text's body is at most 1,600 characters).
pub const HOOK_LIMIT: usize = 32 * 1024;

/// Texts one number may send in per minute; beyond that a text is refused
/// (429) and changes nothing.
pub const INBOUND_PER_MINUTE: i64 = 10;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(incoming_text))
        .routes(routes!(delivery_status))
}

/// The form fields of a webhook, checked against its signature.
struct SignedForm(Vec<(String, String)>);

impl SignedForm {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn require(&self, name: &str) -> Result<&str> {
        self.get(name)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| ApiError::BadRequest(format!("the form has no {name}")))
    }
}

/// Reads and checks a webhook: Twilio is the provider (else 403), the body
/// a form (else 400) of at most [`HOOK_LIMIT`] (else 413), signed for
/// `PUBLIC_BASE_URL` + this path (else 403).
impl FromRequest<AppState> for SignedForm {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self> {
        let (parts, body) = req.into_parts();
        let (uri, headers) = (&parts.uri, &parts.headers);
        let SmsSettings::Twilio { auth_token, .. } = &state.config.worker.sms else {
            return Err(ApiError::Forbidden(
                "this ondeck does not send texts through Twilio (SMS_PROVIDER is not twilio)"
                    .into(),
            ));
        };
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(ApiError::BadRequest(
                "a webhook body must be application/x-www-form-urlencoded".into(),
            ));
        }
        let bytes = axum::body::to_bytes(body, HOOK_LIMIT)
            .await
            .map_err(|_| ApiError::PayloadTooLarge("32 KiB"))?;
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&bytes)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
        let url = format!("{}{path}", state.config.http.public_base_url);
        let signature = headers
            .get("x-twilio-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !signature_ok(auth_token.expose_secret(), &url, &pairs, signature) {
            tracing::warn!(
                path = uri.path(),
                "a webhook without a valid Twilio signature"
            );
            return Err(ApiError::Forbidden(
                "the X-Twilio-Signature header is missing or does not match".into(),
            ));
        }
        Ok(SignedForm(pairs))
    }
}

/// Twilio's request signature: base64 of the HMAC-SHA1, keyed with the auth
/// token, of the full URL followed by each POST parameter's name and value,
/// sorted by name. Compared in constant time.
pub fn signature_ok(token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()) else {
        return false;
    };
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac.verify_slice(&expected).is_ok()
}

/// What a text in asks for: its first word, in any case, without
/// punctuation (the table of "Texts in and delivery status" in
/// `docs/texts-and-media.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    Act(PlayerAction),
    OptOut,
    OptIn,
    Help,
}

impl Keyword {
    pub fn of(body: &str) -> Keyword {
        let word: String = body
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_uppercase)
            .collect();
        match word.as_str() {
            "1" | "YES" | "Y" | "OK" | "OMW" | "COMING" => Keyword::Act(PlayerAction::Coming),
            "2" | "LATER" | "WAIT" | "MORE" => Keyword::Act(PlayerAction::Later),
            "9" | "LEAVE" | "OUT" => Keyword::Act(PlayerAction::Leave),
            "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" | "OPTOUT"
            | "REVOKE" => Keyword::OptOut,
            "START" | "UNSTOP" => Keyword::OptIn,
            _ => Keyword::Help,
        }
    }
}

/// A TwiML answer: one reply text, or none.
fn twiml(reply: Option<&str>) -> Response {
    let body = match reply {
        Some(text) => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>{}</Message></Response>",
            super::pages::escape_html(text)
        ),
        None => "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>".to_owned(),
    };
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

/// A text a player sent in (Twilio's incoming-message webhook).
///
/// Recorded in `messages` (`direction` `inbound`, `kind` `reply`, status
/// `delivered`); its first word acts on the sender's newest game that is
/// neither completed nor cancelled, through the same path as the player's
/// page. Answers TwiML.
#[utoipa::path(post, path = "/hooks/twilio/sms", tag = "webhooks", security(()),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "Twilio's incoming-message parameters (`MessageSid`, `From`, `Body`, ...)"),
    params(("X-Twilio-Signature" = String, Header, description = "Twilio's signature of the request")),
    responses(
        (status = 200, description = "TwiML: `<Response><Message>…</Message></Response>`, or `<Response/>` for STOP and START", content_type = "text/xml", body = String),
        (status = 403, description = "no valid X-Twilio-Signature; nothing changed"),
        (status = 404, description = "SMS_PROVIDER is not twilio"),
        (status = 429, description = "too many texts from this number; nothing changed"),
    ))]
async fn incoming_text(State(state): State<AppState>, form: SignedForm) -> Result<Response> {
    let sid = form.require("MessageSid")?;
    let raw_from = form.require("From")?;
    let text = form.get("Body").unwrap_or_default();
    // Numbers are kept as E.164; a sender that does not parse as a phone
    // number (a short code) is kept as sent, and matches no game.
    let from = MobileNumber::parse(raw_from, state.config.venue.default_region)
        .map(|n| n.as_ref().to_owned())
        .unwrap_or_else(|_| raw_from.trim().chars().take(40).collect());
    let keyword = Keyword::of(text);
    let mut tx = state.db.begin().await?;
    if messages::inbound_since(&mut tx, &from, 60.0).await? >= INBOUND_PER_MINUTE {
        tracing::warn!(from = %mask(&from), "too many texts from one number");
        return Err(ApiError::TooManyRequests(format!(
            "more than {INBOUND_PER_MINUTE} texts a minute from this number"
        )));
    }
    let game = games::open_of_number(&mut tx, &from).await?;
    let game_id = game.as_ref().map(|(id, _)| *id);
    if messages::record_inbound(&mut tx, &from, text, sid, game_id)
        .await?
        .is_none()
    {
        // Recorded before: the same webhook again changes nothing more.
        return Ok(twiml(None));
    }
    tracing::info!(from = %mask(&from), ?keyword, game_id = ?game_id, "a text came in");
    let reply = answer(&state, tx, keyword, &from, game).await?;
    Ok(twiml(reply.as_deref()))
}

/// Does what `keyword` from `from` asks of their open game (if any), then
/// commits `tx` (which holds the recorded text); the reply, if any.
async fn answer(
    state: &AppState,
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    keyword: Keyword,
    from: &str,
    game: Option<(ondeck_domain::GameId, String)>,
) -> Result<Option<String>> {
    let reply = match (keyword, game) {
        (Keyword::OptOut, _) => {
            opt_outs::opt_out(&mut tx, from).await?;
            None
        }
        (Keyword::OptIn, _) => {
            opt_outs::opt_in(&mut tx, from).await?;
            None
        }
        (_, None) => Some(NOT_IN_LINE.to_owned()),
        (Keyword::Help, Some((_, show))) => Some(help(&show)),
        (Keyword::Act(action), Some((game_id, show))) => {
            match state.lifecycle().act(&mut tx, game_id, action).await {
                Ok(acted) => {
                    acted.commit(tx).await?;
                    let places = state.config.worker.recall.players.later_places;
                    return Ok(Some(done(action, &show, places)));
                }
                // Refused before anything was written: the text stays recorded.
                Err(DomainError::IllegalAction { current, action }) => {
                    Some(refusal(action, current, &show))
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    tx.commit().await?;
    Ok(reply)
}

const NOT_IN_LINE: &str = "You're not in line right now.";

fn help(show: &str) -> String {
    format!(
        "{show}: reply 1 when you're on your way, 2 for more time, 9 to leave the line. Reply STOP to get no more texts."
    )
}

/// What a player's action did, in words.
fn done(action: PlayerAction, show: &str, places: i64) -> String {
    match action {
        PlayerAction::Coming => format!("Thanks: we've told {show} you're on your way."),
        PlayerAction::Later => format!(
            "OK: you've moved {} places back in the line for {show}.",
            places.max(1)
        ),
        PlayerAction::Leave => format!("You've left the line for {show}."),
        PlayerAction::Rejoin => format!("You're back in the line for {show}."),
    }
}

/// Why an action is not possible now, in words.
fn refusal(action: PlayerAction, current: GameState, show: &str) -> String {
    let wanted = match action {
        PlayerAction::Coming => "say you're on your way",
        PlayerAction::Later => "ask for more time",
        PlayerAction::Leave => "leave the line",
        PlayerAction::Rejoin => "join again",
    };
    if action == PlayerAction::Later && action.offered_in(current) {
        return format!("You've already asked for more time as often as you can for {show}.");
    }
    let now = match current {
        GameState::New => "you're signed up but not in the line yet",
        GameState::Queued => "we haven't called you yet; we'll text you when it's your turn",
        GameState::Recalled => "it's your turn now",
        GameState::Confirmed | GameState::Playing => "you're up",
        GameState::Completed | GameState::Cancelled => "your game is over",
    };
    format!("You can't {wanted} now for {show}: {now}.")
}

/// Twilio's delivery report of a text ondeck sent (its `StatusCallback`).
///
/// `delivered` marks the text delivered; `undelivered` or `failed` marks
/// it failed with the `ErrorCode` and what it means. A status never goes
/// backwards. Error 21610 opts the number out.
#[utoipa::path(post, path = "/hooks/twilio/status", tag = "webhooks", security(()),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "Twilio's status-callback parameters (`MessageSid`, `MessageStatus`, `ErrorCode`, ...)"),
    params(("X-Twilio-Signature" = String, Header, description = "Twilio's signature of the request")),
    responses(
        (status = 204, description = "recorded (or nothing to record)"),
        (status = 403, description = "no valid X-Twilio-Signature; nothing changed"),
        (status = 404, description = "SMS_PROVIDER is not twilio"),
    ))]
async fn delivery_status(State(state): State<AppState>, form: SignedForm) -> Result<StatusCode> {
    let sid = form.require("MessageSid")?;
    let reported = form.require("MessageStatus")?;
    let code = form.get("ErrorCode").and_then(provider_errors::valid_code);
    let status = match reported {
        "delivered" | "read" => Status::Delivered,
        "undelivered" | "failed" | "canceled" => Status::Failed,
        "queued" | "accepted" | "scheduled" | "sending" | "sent" => Status::Sent,
        // Statuses of other channels or of texts coming in: nothing to record.
        _ => return Ok(StatusCode::NO_CONTENT),
    };
    let error = (status == Status::Failed).then(|| provider_errors::describe(code, reported));
    let mut tx = state.db.begin().await?;
    let moved = messages::record_delivery(&mut tx, sid, status, code, error.as_deref()).await?;
    if code == Some(provider_errors::OPTED_OUT) {
        messages::opt_out_recipient(&mut tx, sid).await?;
    }
    tx.commit().await?;
    tracing::info!(provider_id = sid, reported, moved, "delivery status");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_signature_is_twilios_own_example() {
        // The example of Twilio's webhook security documentation.
        let params = pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]);
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert!(signature_ok(
            "12345",
            url,
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!signature_ok(
            "12346",
            url,
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        let other = "https://mycompany.com/myapp.php?foo=1&bar=3";
        assert!(!signature_ok(
            "12345",
            other,
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!signature_ok("12345", url, &params, ""));
        assert!(!signature_ok("12345", url, &params, "not base64!"));
    }

    #[test]
    fn the_first_word_decides_in_any_case_without_punctuation() {
        let cases = [
            ("yes", Keyword::Act(PlayerAction::Coming)),
            ("OMW!", Keyword::Act(PlayerAction::Coming)),
            ("  1 ", Keyword::Act(PlayerAction::Coming)),
            ("Ok, coming", Keyword::Act(PlayerAction::Coming)),
            ("wait...", Keyword::Act(PlayerAction::Later)),
            ("2", Keyword::Act(PlayerAction::Later)),
            ("Leave.", Keyword::Act(PlayerAction::Leave)),
            ("9", Keyword::Act(PlayerAction::Leave)),
            ("Stop", Keyword::OptOut),
            ("unsubscribe please", Keyword::OptOut),
            ("START", Keyword::OptIn),
            ("unstop", Keyword::OptIn),
            ("help", Keyword::Help),
            ("where are you?", Keyword::Help),
            ("", Keyword::Help),
            ("12", Keyword::Help),
        ];
        for (body, expected) in cases {
            assert_eq!(Keyword::of(body), expected, "{body:?}");
        }
    }

    #[test]
    fn replies_are_escaped_xml() {
        let response = twiml(Some("Fish & <Chips>"));
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/xml; charset=utf-8"
        );
        let body = axum::body::to_bytes(response.into_body(), 1024);
        let body = futures::executor::block_on(body).expect("a body");
        assert!(
            body.ends_with(b"<Response><Message>Fish &amp; &lt;Chips&gt;</Message></Response>"),
            "{body:?}"
        );
    }
}
