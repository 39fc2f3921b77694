//! Error reporting to Sentry (`SENTRY_DSN`): panics and 5xx answers of the
//! API with their route, and jobs that failed for good (see the worker).
//! Nothing is sent without a DSN, and every event and breadcrumb passes
//! [`scrub_event`] first: no phone number, token, query string, cookie,
//! body or user ever leaves the process.

use std::borrow::Cow;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use sentry::protocol::{Breadcrumb, Event, Map, Value};

/// The release events carry: `ondeck@VERSION`, and `+COMMIT` when the
/// build was given `ONDECK_GIT_SHA` (the Docker build passes it).
pub fn release() -> Cow<'static, str> {
    let name = sentry::release_name!().unwrap_or(Cow::Borrowed("ondeck"));
    match option_env!("ONDECK_GIT_SHA").map(str::trim) {
        Some(sha) if !sha.is_empty() => format!("{name}+{}", &sha[..sha.len().min(12)]).into(),
        _ => name,
    }
}

/// Starts reporting to `dsn` for the life of the returned guard (dropping
/// it flushes what is queued, for up to two seconds). Call it before the
/// async runtime starts, so that every thread's hub has the client.
pub fn init(dsn: sentry::types::Dsn) -> sentry::ClientInitGuard {
    let options = sentry::ClientOptions::new()
        .release(release())
        .send_default_pii(false)
        .before_send(scrub_event)
        .before_breadcrumb(scrub_breadcrumb);
    sentry::init((dsn, options))
}

/// `layer` when reporting is on (a client is bound to the main hub), else
/// nothing: without `SENTRY_DSN` a request pays nothing for Sentry.
pub fn when_on<L>(layer: L) -> tower::util::Either<L, tower::layer::util::Identity> {
    tower::util::option_layer(sentry::Hub::main().client().map(|_| layer))
}

/// The response extension by which `ApiError` hands the cause of a 5xx to
/// [`report_server_errors`], which runs where the request's hub is bound.
#[derive(Clone)]
pub struct Cause(pub Arc<anyhow::Error>);

/// Tags the request's scope with its route template and method (and a
/// proxy's `X-Request-Id`), and reports a 5xx answer once: an error of
/// ours as an error with its cause chain (a 503, such as a busy database,
/// as a warning), any other 5xx as a message, except a 503 that is no
/// error of ours (`/readyz` saying "not ready", which a probe asks every
/// few seconds). A panic never reaches here as an answer: the panic
/// integration has reported it, with these same tags, before
/// `CatchPanicLayer` turns it into a 500.
pub async fn report_server_errors(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = req.method().as_str().to_owned();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(|id| scrub_text(id).chars().take(64).collect::<String>());
    sentry::configure_scope(|scope| {
        scope.set_transaction(Some(&format!("{method} {route}")));
        scope.set_tag("route", &route);
        scope.set_tag("method", &method);
        if let Some(id) = &request_id {
            scope.set_tag("request_id", id);
        }
    });
    let response = next.run(req).await;
    let status = response.status();
    let cause = response.extensions().get::<Cause>();
    let unavailable = status == axum::http::StatusCode::SERVICE_UNAVAILABLE;
    if status.is_server_error() && (cause.is_some() || !unavailable) {
        let level = if unavailable {
            sentry::Level::Warning
        } else {
            sentry::Level::Error
        };
        sentry::with_scope(
            |scope| {
                scope.set_level(Some(level));
                scope.set_tag("status", status.as_u16());
            },
            || match cause {
                Some(Cause(error)) => sentry::capture_error(&***error),
                None => {
                    sentry::capture_message(&format!("{method} {route} answered {status}"), level)
                }
            },
        );
    }
    response
}

/// Tags that ondeck sets itself from values it controls (route templates,
/// methods, ids): kept as they are. Any other tag is scrubbed.
const OWN_TAGS: [&str; 7] = [
    "route",
    "method",
    "status",
    "request_id",
    "job.kind",
    "job.outbox_id",
    "job.attempt",
];

/// Request headers that may be reported; every other header is dropped.
const SAFE_HEADERS: [&str; 6] = [
    "accept",
    "content-length",
    "content-type",
    "host",
    "user-agent",
    "x-request-id",
];

/// Tokens, credentials, short-link codes and phone numbers out of a text
/// (the same scrubber the log and the stored provider errors use).
pub use ondeck_domain::scrub::scrub_text;

fn scrub_string(text: &mut String) {
    if let Cow::Owned(scrubbed) = scrub_text(text) {
        *text = scrubbed;
    }
}

fn scrub_value(value: &mut Value) {
    match value {
        Value::String(s) => scrub_string(s),
        Value::Array(items) => items.iter_mut().for_each(scrub_value),
        Value::Object(map) => map.values_mut().for_each(scrub_value),
        _ => {}
    }
}

fn scrub_map(map: &mut Map<String, Value>) {
    map.values_mut().for_each(scrub_value);
}

/// What may leave the process of an event (`before_send`): the message,
/// exception values, breadcrumbs, extra data, the transaction name and
/// foreign tags are scrubbed; the request keeps its method, its path
/// (scrubbed) and the [`SAFE_HEADERS`], and loses its query string,
/// cookies, body and environment; the user is dropped.
pub fn scrub_event(mut event: Event<'static>) -> Option<Event<'static>> {
    if let Some(message) = &mut event.message {
        scrub_string(message);
    }
    if let Some(entry) = &mut event.logentry {
        scrub_string(&mut entry.message);
        entry.params.iter_mut().for_each(scrub_value);
    }
    for exception in &mut event.exception.values {
        if let Some(value) = &mut exception.value {
            scrub_string(value);
        }
    }
    for crumb in &mut event.breadcrumbs.values {
        scrub_crumb(crumb);
    }
    scrub_map(&mut event.extra);
    if let Some(transaction) = &mut event.transaction {
        scrub_string(transaction);
    }
    for (name, value) in &mut event.tags {
        if !OWN_TAGS.contains(&name.as_str()) {
            scrub_string(value);
        }
    }
    if let Some(request) = &mut event.request {
        if let Some(url) = &mut request.url {
            url.set_query(None);
            url.set_fragment(None);
            let _ = url.set_username("");
            let _ = url.set_password(None);
            let path = scrub_text(url.path()).into_owned();
            url.set_path(&path);
        }
        request.query_string = None;
        request.cookies = None;
        request.data = None;
        request.env.clear();
        request
            .headers
            .retain(|name, _| SAFE_HEADERS.contains(&name.to_ascii_lowercase().as_str()));
        request.headers.values_mut().for_each(scrub_string);
    }
    event.user = None;
    Some(event)
}

fn scrub_crumb(crumb: &mut Breadcrumb) {
    if let Some(message) = &mut crumb.message {
        scrub_string(message);
    }
    scrub_map(&mut crumb.data);
}

/// `before_breadcrumb`: breadcrumbs are scrubbed as they are recorded.
pub fn scrub_breadcrumb(mut crumb: Breadcrumb) -> Option<Breadcrumb> {
    scrub_crumb(&mut crumb);
    Some(crumb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry::protocol::{Exception, LogEntry, Request as SentryRequest};

    const TOKEN: &str = "odk_Zm9vYmFyYmF6cXV4LTEyMzQ1Njc4OTA";

    #[test]
    fn text_loses_phone_numbers_in_every_usual_form() {
        for number in [
            "+14155552671",
            "(415) 555-2671",
            "415-555-2671",
            "415.555.2671",
            "+44 20 7946 0958",
            "555-2671",
        ] {
            let text = format!("cannot text {number} today");
            assert_eq!(scrub_text(&text), "cannot text [phone] today", "{number}");
        }
    }

    #[test]
    fn text_loses_tokens_and_credentials() {
        assert_eq!(
            scrub_text(&format!("token {TOKEN} refused")),
            "token [token] refused"
        );
        assert_eq!(
            scrub_text("Authorization: Bearer abc.DEF-123"),
            "Authorization: [token]"
        );
        assert_eq!(scrub_text("Basic QUM6dG9rZW4="), "[token]");
    }

    #[test]
    fn text_keeps_what_is_harmless() {
        for text in [
            "game 42 cannot confirm from queued",
            "GET /api/v1/games/{id}/queue",
            "pool timed out after 3 s",
        ] {
            assert!(matches!(scrub_text(text), Cow::Borrowed(_)), "{text}");
        }
    }

    #[test]
    fn an_event_keeps_its_route_and_loses_every_secret() {
        let mut request = SentryRequest {
            url: "http://api.example/api/v1/players/4155552671?q=4155552671&token=x#f"
                .parse()
                .ok(),
            method: Some("POST".into()),
            query_string: Some("q=4155552671".into()),
            cookies: Some("ondeck_admin=odk_secret".into()),
            data: Some(r#"{"mobile_number": "+14155552671"}"#.into()),
            ..Default::default()
        };
        for (name, value) in [
            ("Authorization", format!("Bearer {TOKEN}")),
            ("Cookie", "ondeck_admin=x".into()),
            ("X-Forwarded-For", "10.0.0.1".into()),
            ("User-Agent", "tablet/1.0".into()),
        ] {
            request.headers.insert(name.into(), value);
        }
        let mut event = Event {
            message: Some(format!("panicked for +14155552671 with {TOKEN}")),
            logentry: Some(LogEntry {
                message: "sent to {}".into(),
                params: vec![Value::from("+1 415 555 2671")],
            }),
            request: Some(request),
            transaction: Some("POST /api/v1/players/{id}".into()),
            user: Some(Default::default()),
            ..Default::default()
        };
        event.exception.values.push(Exception {
            ty: "panic".into(),
            value: Some("no game for (415) 555-2671".into()),
            ..Default::default()
        });
        event.breadcrumbs.values.push(Breadcrumb {
            message: Some(format!("auth {TOKEN}")),
            ..Default::default()
        });
        event
            .extra
            .insert("body".into(), serde_json::json!({"to": ["+14155552671"]}));
        event
            .tags
            .insert("route".into(), "POST /api/v1/players/{id}".into());
        event.tags.insert("job.outbox_id".into(), "12345678".into());
        event.tags.insert("foreign".into(), "415-555-2671".into());

        let event = scrub_event(event).expect("the event is sent");
        let json = serde_json::to_string(&event).expect("serialises");
        for secret in [
            "4155552671",
            "555-2671",
            "415 555",
            "odk_",
            "Bearer",
            "ondeck_admin",
            "10.0.0.1",
        ] {
            assert!(!json.contains(secret), "{secret} left in {json}");
        }
        let request = event.request.expect("the request stays");
        assert_eq!(
            request.url.expect("its URL").as_str(),
            "http://api.example/api/v1/players/[phone]"
        );
        assert_eq!(request.method.as_deref(), Some("POST"));
        assert_eq!(
            request.headers.get("User-Agent").map(String::as_str),
            Some("tablet/1.0")
        );
        assert_eq!(request.headers.len(), 1, "{:?}", request.headers);
        assert!(event.user.is_none());
        assert_eq!(
            event.transaction.as_deref(),
            Some("POST /api/v1/players/{id}")
        );
        assert_eq!(event.tags["job.outbox_id"], "12345678");
        assert_eq!(event.tags["foreign"], "[phone]");
        assert_eq!(
            event.exception.values[0].value.as_deref(),
            Some("no game for [phone]")
        );
    }

    #[test]
    fn an_event_loses_a_short_link_code_in_its_url_and_message() {
        let event = Event {
            message: Some("cannot open https://venue.example/s/Ab3dE6gH9k".into()),
            request: Some(SentryRequest {
                url: "https://venue.example/s/Ab3dE6gH9k".parse().ok(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let event = scrub_event(event).expect("the event is sent");
        let json = serde_json::to_string(&event).expect("serialises");
        assert!(!json.contains("Ab3dE6gH9k"), "{json}");
        assert_eq!(
            event.request.and_then(|r| r.url).map(|u| u.to_string()),
            Some("https://venue.example/s/[link]".to_owned())
        );
    }

    #[test]
    fn the_release_names_the_package_and_version() {
        assert!(release().starts_with(concat!("ondeck@", env!("CARGO_PKG_VERSION"))));
    }
}
