//! A stand-in for Twilio's Messages API, on a loopback port of the caller's
//! runtime. For tests it checks and records each request (the account and
//! Basic credentials, every form field), can fail the next sends with 503 and
//! answer slowly or refuse the next sends with a Twilio error code, and
//! lists what it accepted (with the `StatusCallback` of each). It also calls
//! ondeck's webhooks the way Twilio does: signed forms for texts coming in
//! and delivery reports. For benchmarks it accepts every
//! text at once without looking at it and only counts (`GET /count`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use reqwest::{Method, Url};
use serde_json::{Value, json};

use crate::process::serve_in_task;
use crate::reply::{self, Body, Reply};

pub const TWILIO_SID: &str = "AC0e2e0000000000000000000000000000";
pub const TWILIO_FROM: &str = "+15005550006";

/// A text the fake provider accepted.
#[derive(Debug, Clone)]
pub struct Sms {
    pub sid: String,
    pub to: String,
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub body: String,
    pub validity_period: Option<u32>,
    /// Where the provider would report the text's delivery.
    pub status_callback: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Default)]
struct TwilioState {
    /// Texts accepted (answered 201, or cut short by the client after being
    /// taken, as a real provider that has the text would).
    accepted: Vec<Sms>,
    /// Every POST that passed the checks, including those answered 503.
    posts: usize,
    /// POSTs answered 503 on purpose.
    failed: usize,
    /// Requests that broke the API contract (auth, fields): must stay empty.
    refused: Vec<String>,
    /// GETs of the message list.
    lists: usize,
    fail_next: usize,
    /// Twilio error codes to refuse the next sends with, in order.
    refuse_next: std::collections::VecDeque<u32>,
    delay: Duration,
    /// Texts taken, in either mode: the number in the next sid, and what
    /// `GET /count` answers.
    taken: u64,
}

/// How the stand-in treats a send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checks {
    /// Checks the account, the credentials and the form as Twilio does,
    /// and keeps every text it accepts.
    Strict,
    /// Takes every send at once, unread, and only counts it: a provider
    /// that costs the sender as little as possible, for benchmarks.
    Off,
}

/// Twilio's Messages API as far as ondeck uses it, on a loopback port of the
/// test's runtime.
pub struct FakeTwilio {
    pub base: String,
    pub token: String,
    state: Arc<Mutex<TwilioState>>,
    server: tokio::task::JoinHandle<()>,
}

struct Shared {
    token: String,
    checks: Checks,
    state: Arc<Mutex<TwilioState>>,
}

impl FakeTwilio {
    /// Checking and recording, on a free port.
    pub async fn start() -> FakeTwilio {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Twilio");
        FakeTwilio::serve(listener, Checks::Strict)
    }

    /// Serves the Messages API on `listener`, checking sends or not.
    pub fn serve(listener: tokio::net::TcpListener, checks: Checks) -> FakeTwilio {
        let token = format!("tok{:016x}", rand::random::<u64>());
        let state = Arc::new(Mutex::new(TwilioState::default()));
        let shared = Arc::new(Shared {
            token: token.clone(),
            checks,
            state: state.clone(),
        });
        let app = axum::Router::new()
            .route(
                "/2010-04-01/Accounts/{sid}/Messages.json",
                post(twilio_create).get(twilio_list),
            )
            .route("/count", get(twilio_count))
            .fallback(|method: Method, uri: axum::http::Uri| async move {
                (
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({"code": 20404, "message": format!("no route {method} {uri}"), "status": 404})),
                )
            })
            .with_state(shared);
        let (addr, server) = serve_in_task(listener, app);
        FakeTwilio {
            base: format!("http://{addr}"),
            token,
            state,
            server,
        }
    }

    /// Serves until the process ends.
    pub async fn run(mut self) {
        let _ = (&mut self.server).await;
    }

    fn with<T>(&self, f: impl FnOnce(&mut TwilioState) -> T) -> T {
        f(&mut self.state.lock().expect("the fake Twilio's state"))
    }

    /// Answers the next `n` sends with 503.
    pub fn fail_next(&self, n: usize) {
        self.with(|s| s.fail_next = n);
    }

    /// Refuses the next send as Twilio refuses a text it will not send:
    /// HTTP 400 with `{"code": code, "message": ..., "status": 400}` (e.g.
    /// 21610, the recipient had replied STOP).
    pub fn refuse_next(&self, code: u32) {
        self.with(|s| s.refuse_next.push_back(code));
    }

    /// Answers every request only after `delay`.
    pub fn set_delay(&self, delay: Duration) {
        self.with(|s| s.delay = delay);
    }

    pub fn accepted(&self) -> Vec<Sms> {
        self.with(|s| s.accepted.clone())
    }

    /// The texts accepted for `to`.
    pub fn to(&self, to: &str) -> Vec<Sms> {
        self.with(|s| s.accepted.iter().filter(|m| m.to == to).cloned().collect())
    }

    pub fn posts(&self) -> usize {
        self.with(|s| s.posts)
    }

    pub fn failed(&self) -> usize {
        self.with(|s| s.failed)
    }

    pub fn lists(&self) -> usize {
        self.with(|s| s.lists)
    }

    pub fn refused(&self) -> Vec<String> {
        self.with(|s| s.refused.clone())
    }

    /// What it saw, for failure reports.
    pub fn summary(&self) -> String {
        self.with(|s| {
            let mut out = format!(
                "fake Twilio: {} POSTs ({} answered 503), {} list GETs, {} refused, {} accepted\n",
                s.posts,
                s.failed,
                s.lists,
                s.refused.len(),
                s.accepted.len()
            );
            for r in &s.refused {
                out.push_str(&format!("  refused: {r}\n"));
            }
            for m in &s.accepted {
                out.push_str(&format!(
                    "  {} {} to {} validity {:?}: {:?}\n",
                    m.at.to_rfc3339(),
                    m.sid,
                    m.to,
                    m.validity_period,
                    m.body
                ));
            }
            out
        })
    }
}

/// Twilio's signature of a webhook (its `X-Twilio-Signature`): base64 of the
/// HMAC-SHA1, keyed with the auth token, of the full URL followed by each
/// POST parameter's name and value, sorted by name.
pub fn sign(token: &str, url: &str, params: &[(&str, &str)]) -> String {
    use hmac::Mac as _;
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Posts `params` to `url` as a form, with `signature` as its
/// `X-Twilio-Signature` (none when `None`), as Twilio calls a webhook.
pub async fn post_form(
    http: &reqwest::Client,
    url: &str,
    params: &[(&str, &str)],
    signature: Option<&str>,
) -> Reply {
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let headers: Vec<(&str, &str)> = signature
        .map(|s| ("x-twilio-signature", s))
        .into_iter()
        .collect();
    let body = Body::Bytes("application/x-www-form-urlencoded", form.into_bytes());
    reply::send(http, Method::POST, url, None, Some(body), &headers).await
}

impl FakeTwilio {
    /// Signs `params` for `url` with this account's auth token.
    pub fn sign(&self, url: &str, params: &[(&str, &str)]) -> String {
        sign(&self.token, url, params)
    }

    /// Posts `params` to `url`, signed for it, as Twilio calls a webhook.
    pub async fn webhook(
        &self,
        http: &reqwest::Client,
        url: &str,
        params: &[(&str, &str)],
    ) -> Reply {
        post_form(http, url, params, Some(&self.sign(url, params))).await
    }

    /// The parameters of a text from `from` with `body`, as Twilio's
    /// incoming-message webhook sends them, with a new `MessageSid`.
    pub fn incoming(&self, from: &str, body: &str) -> Vec<(String, String)> {
        let sid = format!("SM{:032x}", rand::random::<u128>());
        [
            ("MessageSid", sid.as_str()),
            ("SmsMessageSid", sid.as_str()),
            ("SmsSid", sid.as_str()),
            ("AccountSid", TWILIO_SID),
            ("From", from),
            ("To", TWILIO_FROM),
            ("Body", body),
            ("NumMedia", "0"),
            ("NumSegments", "1"),
            ("SmsStatus", "received"),
            ("FromCountry", "US"),
            ("ApiVersion", "2010-04-01"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// A text from `from` with `body`, posted to `{base}/hooks/twilio/sms`
    /// as Twilio does.
    pub async fn text_in(
        &self,
        http: &reqwest::Client,
        base: &str,
        from: &str,
        body: &str,
    ) -> Reply {
        let params = self.incoming(from, body);
        let params: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.webhook(http, &format!("{base}/hooks/twilio/sms"), &params)
            .await
    }

    /// Reports `status` (with `error_code`) of the accepted text `sms` to
    /// the `StatusCallback` it was sent with, as Twilio does.
    pub async fn report(
        &self,
        http: &reqwest::Client,
        sms: &Sms,
        status: &str,
        error_code: Option<&str>,
    ) -> Reply {
        let url = sms
            .status_callback
            .as_deref()
            .unwrap_or_else(|| panic!("text {} was sent without a StatusCallback", sms.sid));
        let mut params = vec![
            ("MessageSid", sms.sid.as_str()),
            ("SmsSid", sms.sid.as_str()),
            ("MessageStatus", status),
            ("SmsStatus", status),
            ("AccountSid", TWILIO_SID),
            ("From", TWILIO_FROM),
            ("To", sms.to.as_str()),
            ("ApiVersion", "2010-04-01"),
        ];
        if let Some(code) = error_code {
            params.push(("ErrorCode", code));
        }
        self.webhook(http, url, &params).await
    }
}

impl Drop for FakeTwilio {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn twilio_error(status: StatusCode, code: u32, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"code": code, "message": message, "more_info": "https://www.twilio.com/docs/errors", "status": status.as_u16()})),
    )
        .into_response()
}

fn form_pairs(raw: &str) -> Vec<(String, String)> {
    let url = Url::parse(&format!("http://form.invalid/?{raw}")).expect("a form parses as a query");
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Checks the account in the path and HTTP Basic auth; the refusal if wrong.
fn twilio_auth(shared: &Shared, sid: &str, headers: &HeaderMap) -> Result<(), String> {
    if sid != TWILIO_SID {
        return Err(format!(
            "account {sid:?} in the path, expected {TWILIO_SID}"
        ));
    }
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{TWILIO_SID}:{}", shared.token))
    );
    match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        Some(got) if got == expected => Ok(()),
        Some(_) => Err("wrong Basic credentials".into()),
        None => Err("no Authorization header".into()),
    }
}

fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit())
    })
}

/// Checks a send's form; the text, or why it breaks Twilio's API.
fn parse_send(headers: &HeaderMap, body: &[u8]) -> Result<Sms, String> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(format!("Content-Type {content_type:?}, expected a form"));
    }
    let body = std::str::from_utf8(body).map_err(|_| "the form is not UTF-8".to_owned())?;
    let pairs = form_pairs(body);
    let mut fields: HashMap<String, String> = HashMap::new();
    for (k, v) in pairs {
        if fields.insert(k.clone(), v).is_some() {
            return Err(format!("field {k} given twice"));
        }
    }
    let to = fields.remove("To").ok_or("no To")?;
    if !is_e164(&to) {
        return Err(format!("To {to:?} is not E.164"));
    }
    let from = fields.remove("From");
    let messaging_service_sid = fields.remove("MessagingServiceSid");
    match (&from, &messaging_service_sid) {
        (Some(from), None) if from == TWILIO_FROM => {}
        (Some(from), None) => return Err(format!("From {from:?}, expected {TWILIO_FROM}")),
        (None, Some(service)) if service.starts_with("MG") => {}
        (None, Some(service)) => return Err(format!("MessagingServiceSid {service:?}")),
        (Some(_), Some(_)) => return Err("both From and MessagingServiceSid".into()),
        (None, None) => return Err("neither From nor MessagingServiceSid".into()),
    }
    let body = fields.remove("Body").ok_or("no Body")?;
    if body.trim().is_empty() || body.chars().count() > 1600 {
        return Err(format!("Body of {} characters", body.chars().count()));
    }
    let validity_period = match fields.remove("ValidityPeriod") {
        None => None,
        Some(raw) => match raw.parse::<u32>() {
            Ok(v) if (1..=36_000).contains(&v) => Some(v),
            _ => return Err(format!("ValidityPeriod {raw:?} is not 1 to 36000 seconds")),
        },
    };
    let status_callback = fields.remove("StatusCallback");
    if let Some(url) = &status_callback
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(format!("StatusCallback {url:?} is not a URL"));
    }
    // Parameters Twilio knows but ondeck need not send.
    for known in ["MaxPrice", "ProvideFeedback", "Attempt", "SmartEncoded"] {
        fields.remove(known);
    }
    if let Some(unknown) = fields.keys().next() {
        return Err(format!("unknown parameter {unknown}"));
    }
    Ok(Sms {
        sid: String::new(),
        to,
        from,
        messaging_service_sid,
        body,
        validity_period,
        status_callback,
        at: Utc::now(),
    })
}

fn message_json(m: &Sms, status: &str) -> Value {
    let date = m.at.to_rfc2822();
    json!({
        "sid": m.sid,
        "account_sid": TWILIO_SID,
        "to": m.to,
        "from": m.from,
        "messaging_service_sid": m.messaging_service_sid,
        "body": m.body,
        "status": status,
        "direction": "outbound-api",
        "num_segments": "1",
        "date_created": date,
        "date_updated": date,
        "date_sent": if status == "queued" { Value::Null } else { json!(date) },
        "uri": format!("/2010-04-01/Accounts/{TWILIO_SID}/Messages/{}.json", m.sid),
    })
}

async fn twilio_create(
    State(shared): State<Arc<Shared>>,
    UrlPath(sid): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if shared.checks == Checks::Off {
        let mut state = shared.state.lock().expect("the fake Twilio's state");
        state.taken += 1;
        let sid = format!("SM{:032x}", state.taken);
        return (
            StatusCode::CREATED,
            axum::Json(json!({"sid": sid, "status": "queued"})),
        )
            .into_response();
    }
    let checked = twilio_auth(&shared, &sid, &headers).and_then(|()| parse_send(&headers, &body));
    let (outcome, delay) = {
        let mut state = shared.state.lock().expect("the fake Twilio's state");
        let delay = state.delay;
        let outcome = match checked {
            Err(why) => {
                state.refused.push(format!("POST: {why}"));
                Err(why)
            }
            Ok(mut sms) => {
                state.posts += 1;
                if let Some(code) = state.refuse_next.pop_front() {
                    Err(format!("refused:{code}"))
                } else if state.fail_next > 0 {
                    state.fail_next -= 1;
                    state.failed += 1;
                    Ok(None)
                } else {
                    // Taken as soon as it arrives: a client that hangs up
                    // before the answer does not unsend it.
                    state.taken += 1;
                    sms.sid = format!("SM{:032x}", state.taken);
                    state.accepted.push(sms.clone());
                    Ok(Some(sms))
                }
            }
        };
        (outcome, delay)
    };
    tokio::time::sleep(delay).await;
    match outcome {
        Err(why) if why.starts_with("refused:") => {
            let code = why["refused:".len()..].parse().unwrap_or_default();
            twilio_error(StatusCode::BAD_REQUEST, code, "the text was refused")
        }
        Err(why) if why.contains("credentials") || why.contains("Authorization") => {
            twilio_error(StatusCode::UNAUTHORIZED, 20003, &why)
        }
        Err(why) if why.starts_with("account") => twilio_error(StatusCode::NOT_FOUND, 20404, &why),
        Err(why) => twilio_error(StatusCode::BAD_REQUEST, 21602, &why),
        Ok(None) => twilio_error(
            StatusCode::SERVICE_UNAVAILABLE,
            20500,
            "Service Unavailable",
        ),
        Ok(Some(sms)) => (
            StatusCode::CREATED,
            axum::Json(message_json(&sms, "queued")),
        )
            .into_response(),
    }
}

async fn twilio_list(
    State(shared): State<Arc<Shared>>,
    UrlPath(sid): UrlPath<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let checked = match shared.checks {
        Checks::Strict => twilio_auth(&shared, &sid, &headers),
        Checks::Off => Ok(()),
    };
    if let Err(why) = checked {
        shared
            .state
            .lock()
            .expect("the fake Twilio's state")
            .refused
            .push(format!("GET: {why}"));
        return twilio_error(StatusCode::UNAUTHORIZED, 20003, &why);
    }
    let pairs = form_pairs(&query.unwrap_or_default());
    let to = pairs
        .iter()
        .find(|(k, _)| k == "To")
        .map(|(_, v)| v.clone());
    let (messages, delay) = {
        let mut state = shared.state.lock().expect("the fake Twilio's state");
        state.lists += 1;
        // Newest first, as Twilio lists them.
        let messages: Vec<Value> = state
            .accepted
            .iter()
            .rev()
            .filter(|m| to.as_deref().is_none_or(|to| m.to == to))
            .map(|m| message_json(m, "sent"))
            .collect();
        (messages, state.delay)
    };
    tokio::time::sleep(delay).await;
    axum::Json(json!({
        "messages": messages,
        "page": 0,
        "page_size": 100,
        "next_page_uri": null,
        "previous_page_uri": null,
    }))
    .into_response()
}

/// How many texts it took.
async fn twilio_count(State(shared): State<Arc<Shared>>) -> String {
    let state = shared.state.lock().expect("the fake Twilio's state");
    state.taken.to_string()
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};

    use super::{TWILIO_FROM, parse_send};

    fn form() -> HeaderMap {
        let mut headers = HeaderMap::new();
        let value = HeaderValue::from_static("application/x-www-form-urlencoded");
        headers.insert(header::CONTENT_TYPE, value);
        headers
    }

    #[test]
    fn a_send_as_twilio_documents_it_is_taken() {
        let body = format!(
            "To=%2B14155552671&From={}&Body=Up+next&ValidityPeriod=600",
            TWILIO_FROM.replace('+', "%2B")
        );
        let sms = parse_send(&form(), body.as_bytes()).expect("a valid send");
        assert_eq!(sms.to, "+14155552671");
        assert_eq!(sms.body, "Up next");
        assert_eq!(sms.validity_period, Some(600));
    }

    #[test]
    fn sends_that_break_the_api_are_refused_saying_why() {
        let cases = [
            ("To=14155552671&From=%2B15005550006&Body=x", "E.164"),
            ("To=%2B14155552671&From=%2B19999999999&Body=x", "From"),
            ("To=%2B14155552671&From=%2B15005550006", "no Body"),
            (
                "To=%2B14155552671&From=%2B15005550006&Body=x&ValidityPeriod=0",
                "ValidityPeriod",
            ),
            (
                "To=%2B14155552671&From=%2B15005550006&Body=x&Colour=red",
                "unknown parameter",
            ),
        ];
        for (body, why) in cases {
            let refused = parse_send(&form(), body.as_bytes()).expect_err(body);
            assert!(
                refused.contains(why),
                "{body}: {refused:?} should say {why}"
            );
        }
        let not_a_form = parse_send(&HeaderMap::new(), b"To=%2B14155552671");
        assert!(not_a_form.is_err(), "a send must be a form");
    }
}
