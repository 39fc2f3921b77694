//! A subscriber of `GET /api/v1/events` that parses Server-Sent Events as
//! they arrive.

use std::time::Duration;

use serde_json::Value;

use super::{Ondeck, Stack};

/// One parsed Server-Sent Event.
#[derive(Debug, Clone)]
pub struct Sse {
    pub id: i64,
    pub event: String,
    pub data: Value,
}

/// A subscriber reading `/api/v1/events` as it arrives.
pub struct Subscriber {
    events: tokio::sync::mpsc::UnboundedReceiver<Sse>,
    /// Ends with the stream: `Ok` when the server ended it, `Err` when the
    /// connection broke.
    task: tokio::task::JoinHandle<Result<(), String>>,
}

impl Subscriber {
    pub async fn connect(stack: &Stack, ondeck: &Ondeck, last_event_id: Option<i64>) -> Subscriber {
        Subscriber::connect_as(stack, ondeck, &stack.tokens.display, last_event_id).await
    }

    /// [`Subscriber::connect`] with another token than the display's.
    pub async fn connect_as(
        stack: &Stack,
        ondeck: &Ondeck,
        token: &str,
        last_event_id: Option<i64>,
    ) -> Subscriber {
        let mut request = stack
            .http
            .get(format!("{}/api/v1/events", ondeck.base))
            .bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.expect("the event stream opens");
        assert_eq!(response.status(), 200, "GET /api/v1/events");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        let (tx, events) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut response = response;
            let mut buffer = String::new();
            loop {
                let chunk = match response.chunk().await {
                    Ok(Some(chunk)) => chunk,
                    Ok(None) => return Ok(()),
                    Err(e) => return Err(format!("the stream broke: {e}")),
                };
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let block: String = buffer.drain(..end + 2).collect();
                    let (mut id, mut event, mut data) = (None, String::new(), String::new());
                    for line in block.lines() {
                        if let Some(v) = line.strip_prefix("id:") {
                            id = v.trim().parse().ok();
                        } else if let Some(v) = line.strip_prefix("event:") {
                            event = v.trim().to_owned();
                        } else if let Some(v) = line.strip_prefix("data:") {
                            data.push_str(v.trim_start());
                        }
                    }
                    // Keep-alive comments carry no id.
                    if let Some(id) = id {
                        let data = serde_json::from_str(&data).expect("event data is JSON");
                        if tx.send(Sse { id, event, data }).is_err() {
                            return Ok(());
                        }
                    }
                }
            }
        });
        Subscriber { events, task }
    }

    pub async fn next(&mut self, limit: Duration) -> Sse {
        tokio::time::timeout(limit, self.events.recv())
            .await
            .unwrap_or_else(|_| panic!("no event within {limit:?}"))
            .expect("the stream is open")
    }

    /// The events still to come, once the stream has ended (within `limit`):
    /// `Err` when it broke instead of being ended by the server.
    pub async fn end(mut self, limit: Duration) -> Result<Vec<Sse>, String> {
        let mut got = Vec::new();
        let ended = tokio::time::timeout(limit, async {
            while let Some(event) = self.events.recv().await {
                got.push(event);
            }
            (&mut self.task).await
        })
        .await
        .map_err(|_| format!("the stream was still open after {limit:?}"))?;
        ended.map_err(|e| format!("the reader failed: {e}"))??;
        Ok(got)
    }

    /// Events until none arrives for `quiet`.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<Sse> {
        let mut got = Vec::new();
        while let Ok(Some(event)) = tokio::time::timeout(quiet, self.events.recv()).await {
            got.push(event);
        }
        got
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}
