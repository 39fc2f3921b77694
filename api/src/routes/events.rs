//! `GET /api/v1/events`: Server-Sent Events for the venue screens. Each event
//! is `event: game` with the game (no PII) and its `previous_state`, and the
//! event log's id; `Last-Event-ID` replays what a reconnecting client missed.
//! Each subscriber holds at most a few events in memory: one that falls
//! behind the live broadcast catches up from the log, and one that reads
//! nothing for 30 s is dropped.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use ondeck_domain::store::event_log::{self, Event};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app_state::AppState;
use crate::auth::still_live;
use crate::caller::Caller;
use crate::error::{ApiError, Result};
use crate::event_hub::{BATCH, EventHub};
use crate::extract::ApiQuery;
use crate::middleware::{Limits, StreamSlots};
use crate::token_cache::Revoked;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream_events))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Replay events after this id (the `Last-Event-ID` header wins; browsers
    /// send it themselves when they reconnect).
    last_event_id: Option<String>,
}

fn sse(event: &Event) -> SseEvent {
    metrics::counter!("ondeck_sse_events_sent_total").increment(1);
    SseEvent::default()
        .id(event.id.to_string())
        .event(event.kind.as_str())
        .data(event.data.as_str())
}

/// Counts this process's subscribers while a stream lives.
struct Subscribed;

impl Subscribed {
    fn new() -> Self {
        metrics::gauge!("ondeck_sse_subscribers").increment(1.0);
        Subscribed
    }
}

impl Drop for Subscribed {
    fn drop(&mut self) {
        metrics::gauge!("ondeck_sse_subscribers").decrement(1.0);
    }
}

/// Every transition, signup and souvenir, and every change of a show's
/// settings, live, as Server-Sent Events.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventsQuery),
    responses((status = 200, content_type = "text/event-stream",
               description = "`event: game`, `id: <n>`, `data: <game without PII, with previous_state>`; `event: show`, `data: <the show>` when its settings change"),
               (status = 503, description = "`SSE_MAX_SUBSCRIBERS` streams are open already, or `SSE_MAX_PER_TOKEN` with this token")))]
async fn stream_events(
    State(state): State<AppState>,
    caller: Caller,
    Extension(limits): Extension<Arc<Limits>>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Sse<impl Stream<Item = std::result::Result<SseEvent, Infallible>>>> {
    let raw = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(q.last_event_id);
    let last = match raw.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        None => None,
        Some(r) => Some(
            r.parse::<i64>()
                .map_err(|_| ApiError::invalid("last_event_id", "must be an event id"))?,
        ),
    };
    // `SSE_MAX_SUBSCRIBERS` and `SSE_MAX_PER_TOKEN`: the slots live as long
    // as the response body.
    let slots = limits.stream_slots(caller.token_id).map_err(|full| {
        ApiError::Unavailable(match full {
            crate::middleware::StreamsFull::Server(n) => {
                format!("this server already streams events to {n} subscribers; try again shortly")
            }
            crate::middleware::StreamsFull::Token(n) => format!(
                "this token already has {n} event streams open; close one or use another token"
            ),
        })
    })?;
    // Subscribed before the replay is read, so nothing falls between them.
    let mut live = state.events.subscribe();
    // Subscribed before anything is sent: a revocation from now on ends it.
    let mut revocations = state.tokens.revocations();
    // The hub's horizon is the primary's: replays read there too.
    let (db, hub) = (state.db.clone(), state.events.clone());
    let stream = async_stream(slots, move |yield_| async move {
        let _subscribed = Subscribed::new();
        // Without Last-Event-ID, the stream starts with the next live event.
        let mut sent = match last {
            Some(after) => match yield_.replay(&db, &hub, after).await {
                Some(sent) => sent,
                None => return,
            },
            None => 0,
        };
        let mut recheck = tokio::time::interval_at(
            tokio::time::Instant::now() + REAUTHENTICATE_EVERY,
            REAUTHENTICATE_EVERY,
        );
        loop {
            // A client that went away ends its stream at once, even while
            // no event comes; so does a revoked token.
            let received = tokio::select! {
                received = live.recv() => received,
                notice = revocations.recv() => {
                    let revoked = match notice {
                        Ok(Revoked::Token(id)) => id == caller.token_id,
                        // Revocations may have been missed: ask.
                        Ok(Revoked::Unknown) | Err(_) => !still_live(&state, caller).await.unwrap_or(true),
                    };
                    if revoked {
                        tracing::info!(token_id = %caller.token_id, "event stream ended: its token was revoked");
                        return;
                    }
                    continue;
                }
                _ = recheck.tick() => {
                    // A bound on a missed notice; an unreachable database
                    // keeps the stream (nothing can be revoked meanwhile).
                    if !still_live(&state, caller).await.unwrap_or(true) {
                        tracing::info!(token_id = %caller.token_id, "event stream ended: its token is no longer live");
                        return;
                    }
                    continue;
                }
                () = yield_.closed() => return,
                () = hub.stopped() => return,
            };
            match received {
                Ok(event) => {
                    if event.id <= sent {
                        continue;
                    }
                    if !yield_.send(sse(&event)).await {
                        return;
                    }
                    sent = event.id;
                }
                // This subscriber fell behind the broadcast (a burst, or a
                // slow network): it catches up from the log, at its own pace,
                // and goes on live.
                Err(RecvError::Lagged(_)) => match yield_.replay(&db, &hub, sent).await {
                    Some(caught_up) => sent = caught_up,
                    None => return,
                },
                Err(RecvError::Closed) => return,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// How often an open stream checks that its token is still live, whatever
/// revocation notices it heard: the bound on a missed one.
const REAUTHENTICATE_EVERY: Duration = Duration::from_secs(60);

/// A small generator: `body` sends items through a bounded channel whose
/// `send` reports whether the client is still there. `permit` is released
/// when the response body is dropped.
fn async_stream<F, Fut>(
    permit: StreamSlots,
    body: F,
) -> impl Stream<Item = std::result::Result<SseEvent, Infallible>>
where
    F: FnOnce(Yield) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(body(Yield(tx)));
    futures::stream::unfold((rx, permit), |(mut rx, permit)| async move {
        rx.recv().await.map(|e| (Ok(e), (rx, permit)))
    })
}

pub struct Yield(tokio::sync::mpsc::Sender<SseEvent>);

/// A client that takes no event for this long is gone or stuck: its stream
/// ends (and with it everything the server held for it).
const STALLED: Duration = Duration::from_secs(30);

impl Yield {
    /// Completes when the client's side of the stream is gone.
    async fn closed(&self) {
        self.0.closed().await;
    }

    /// Hands an event to the client; `false` when the client has gone or
    /// has not read anything for `STALLED`.
    async fn send(&self, event: SseEvent) -> bool {
        matches!(
            tokio::time::timeout(STALLED, self.0.send(event)).await,
            Ok(Ok(()))
        )
    }

    /// Sends every logged event after `after` up to the hub's horizon, in
    /// batches; returns the last id sent, or `None` when the client is gone
    /// or the log unreadable.
    async fn replay(&self, db: &sqlx::PgPool, hub: &EventHub, mut after: i64) -> Option<i64> {
        let mut conn = db.acquire().await.ok()?;
        let until = hub.horizon();
        loop {
            let batch = event_log::after(&mut conn, after, until, BATCH)
                .await
                .ok()?;
            let full = batch.len() as i64 == BATCH;
            for event in &batch {
                if !self.send(sse(event)).await {
                    return None;
                }
                after = event.id;
            }
            if !full {
                return Some(after);
            }
        }
    }
}
