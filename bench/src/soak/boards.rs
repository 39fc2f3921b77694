//! The display boards, as `board.js` runs them: an event stream for the
//! whole run, and a reload of the queue and the leaderboard after events and
//! every `board_refresh_seconds`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::ACCEPT;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::{Notify, watch};

use super::venue::Venue;
use crate::http::chain;
use crate::http::id_text;
use crate::sse::{complete_blocks, parse_block};

/// board.js reloads the queue and leaderboard at most every 200 ms (a client
/// constant, not venue time).
const BOARD_DEBOUNCE: Duration = Duration::from_millis(200);

/// What one board's event stream saw.
pub struct Feed {
    pub events: u64,
    pub disconnects: u64,
}

/// A display board: an event stream for the whole run, and a reload of the
/// queue and the leaderboard after events (debounced as board.js does) and
/// every `board_refresh_seconds`. `stop` ends the stream (after the drain).
pub async fn board(venue: Arc<Venue>, index: usize, stop: watch::Receiver<bool>) -> Feed {
    let token = venue.tokens.displays[index].clone();
    let wake = Arc::new(Notify::new());
    let feed = tokio::spawn(stream(
        Arc::clone(&venue),
        token.clone(),
        Arc::clone(&wake),
        stop,
    ));
    let period = venue.venue(venue.model.board_refresh_seconds);
    let mut leaderboard = venue.url(&["leaderboard"]);
    match &venue.day {
        Some(day) => leaderboard.set_query(Some(&format!("day={day}&limit=10"))),
        None => leaderboard.set_query(Some("limit=10")),
    }
    while venue.running() {
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(period) => {}
        }
        if !venue.sleep(BOARD_DEBOUNCE).await {
            break;
        }
        let queue = venue.call(
            "GET /queue",
            &token,
            Method::GET,
            venue.url(&["queue"]),
            None,
            StatusCode::OK,
        );
        let board = venue.call(
            "GET /leaderboard",
            &token,
            Method::GET,
            leaderboard.clone(),
            None,
            StatusCode::OK,
        );
        tokio::join!(queue, board);
    }
    feed.await.unwrap_or(Feed {
        events: 0,
        disconnects: 1,
    })
}

/// `GET /events` until `stop`, reconnecting with `Last-Event-ID` after a
/// drop (each drop is an error of the endpoint).
async fn stream(
    venue: Arc<Venue>,
    token: String,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) -> Feed {
    let mut feed = Feed {
        events: 0,
        disconnects: 0,
    };
    let mut last_id: Option<String> = None;
    loop {
        let mut request = venue
            .streams
            .get(venue.url(&["events"]))
            .bearer_auth(&token)
            .header(ACCEPT, "text/event-stream");
        if let Some(id) = &last_id {
            request = request.header("Last-Event-ID", id.as_str());
        }
        let start = Instant::now();
        let response = tokio::select! {
            r = request.send() => r,
            _ = stop.wait_for(|&s| s) => return feed,
        };
        let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
        let mut response = match response {
            Ok(r) if r.status() == StatusCode::OK => {
                venue.record("GET /events", Some(micros));
                r
            }
            Ok(r) => {
                venue.record("GET /events", None);
                venue.print_error("GET /events", &r.status().to_string());
                feed.disconnects += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(e) => {
                venue.record("GET /events", None);
                venue.print_error("GET /events", &chain(&e));
                feed.disconnects += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut buffer: Vec<u8> = Vec::new();
        loop {
            let chunk = tokio::select! {
                c = response.chunk() => c,
                _ = stop.wait_for(|&s| s) => return feed,
            };
            match chunk {
                Ok(Some(bytes)) => {
                    for block in complete_blocks(&mut buffer, &bytes) {
                        if let Some(event) = parse_event(&block) {
                            feed.events += 1;
                            if event.id.is_some() {
                                last_id = event.id;
                            }
                            if let Some(game) = event.recalled {
                                venue.recalled.lock().expect("recalled lock").insert(game);
                            }
                            wake.notify_one();
                        }
                    }
                }
                Ok(None) | Err(_) => {
                    // A drop: counted, then resumed where it stopped.
                    venue.record("GET /events (dropped)", None);
                    venue.print_error("GET /events", "the stream ended");
                    feed.disconnects += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}

struct Event {
    id: Option<String>,
    /// The game, when this is its recall (`queued` → `recalled`).
    recalled: Option<String>,
}

/// One SSE block; `None` for a keep-alive comment.
fn parse_event(block: &[u8]) -> Option<Event> {
    let (id, game) = parse_block(block)?;
    let state = |key: &str| game.get(key).and_then(Value::as_str);
    let recalled = (state("state") == Some("recalled")
        && state("previous_state") == Some("queued"))
    .then(|| game.get("id").and_then(id_text))
    .flatten();
    Some(Event { id, recalled })
}

#[cfg(test)]
mod tests {
    use super::parse_event;

    #[test]
    fn a_recall_event_names_its_game_and_keeps_its_id() {
        let block = b"event: game\nid: 42\ndata: {\"id\":7,\"state\":\"recalled\",\"previous_state\":\"queued\"}\n\n";
        let event = parse_event(block).expect("an event");
        assert_eq!(event.id.as_deref(), Some("42"));
        assert_eq!(event.recalled.as_deref(), Some("7"));
    }

    #[test]
    fn other_events_count_but_name_no_recall_and_comments_are_not_events() {
        let block = b"event: game\nid: 43\ndata: {\"id\":7,\"state\":\"confirmed\",\"previous_state\":\"recalled\"}\n\n";
        assert!(parse_event(block).expect("an event").recalled.is_none());
        assert!(parse_event(b": keep-alive\n\n").is_none());
    }
}
