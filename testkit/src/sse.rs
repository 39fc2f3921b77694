//! Server-Sent Events: one block parsed (shared with the benchmarks), and a
//! subscriber of `GET /api/v1/events` that parses events as they arrive.

use std::time::Duration;

use serde_json::Value;

use crate::process::Ondeck;
use crate::stack::Stack;

/// The fields of one block of an event stream (the lines before a blank
/// line): `data:` lines joined with newlines, a leading space dropped from
/// each value, as the HTML standard reads them. Comments (`:`) are skipped.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Block {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
}

impl Block {
    pub fn parse(block: &str) -> Block {
        let mut parsed = Block::default();
        let mut data: Vec<&str> = Vec::new();
        for line in block.lines() {
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "id" => parsed.id = Some(value.trim().to_owned()),
                "event" => parsed.event = value.trim().to_owned(),
                "data" => data.push(value),
                _ => {}
            }
        }
        parsed.data = data.join("\n");
        parsed
    }

    /// The data as JSON; `None` for a block without data (a keep-alive
    /// comment) or data that is not JSON.
    pub fn json(&self) -> Option<Value> {
        if self.data.is_empty() {
            return None;
        }
        serde_json::from_str(&self.data).ok()
    }
}

/// One parsed Server-Sent Event.
#[derive(Debug, Clone)]
pub struct Sse {
    pub id: i64,
    pub event: String,
    pub data: Value,
}

/// `GET /api/v1/events` with `token`, to send.
pub fn request(stack: &Stack, ondeck: &Ondeck, token: &str) -> reqwest::RequestBuilder {
    stack
        .http
        .get(format!("{}/api/v1/events", ondeck.base))
        .bearer_auth(token)
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
        let mut request = request(stack, ondeck, token);
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
                    let block = Block::parse(&block);
                    // Keep-alive comments carry no id.
                    if let Some(id) = block.id.and_then(|id| id.parse().ok()) {
                        let (event, data) = (block.event, block.data);
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

#[cfg(test)]
mod tests {
    use super::Block;

    #[test]
    fn a_block_gives_its_id_event_and_joined_data() {
        let block = Block::parse(
            "event: game\nid: 9\ndata: {\"id\":\"g1\",\ndata: \"state\":\"queued\"}\n\n",
        );
        assert_eq!(block.id.as_deref(), Some("9"));
        assert_eq!(block.event, "game");
        assert_eq!(block.data, "{\"id\":\"g1\",\n\"state\":\"queued\"}");
        let data = block.json().expect("JSON data");
        assert_eq!(data["state"], "queued");
    }

    #[test]
    fn a_keep_alive_comment_has_no_id_and_no_data() {
        let block = Block::parse(": keep-alive\n\n");
        assert_eq!(block, Block::default());
        assert!(block.json().is_none());
    }
}
