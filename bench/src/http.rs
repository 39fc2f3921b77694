//! What the load generators share about talking to ondeck: one pooled client
//! with the token, errors with their causes, and ids as URL text.

use std::error::Error as _;
use std::time::Duration;

use anyhow::Context;
use reqwest::Client;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::Value;

/// One client for every task, so connections are pooled and reused; the pool
/// keeps one idle connection per task, as each has at most one request in flight.
pub(crate) fn client(token: &str, concurrency: usize) -> anyhow::Result<Client> {
    let mut auth = HeaderValue::from_str(&format!("Bearer {token}"))
        .context("the token is not a valid header value")?;
    auth.set_sensitive(true);
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, auth);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(concurrency)
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")
}

/// An error with its causes, as reqwest's own `Display` leaves them out
/// ("error sending request" says nothing of "connection refused").
pub(crate) fn chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// The new game's id from a signup response. Ids are opaque (numbers or
/// strings), so it is kept as the text that goes into the URL.
pub(crate) fn active_game_id(body: &[u8]) -> Option<String> {
    let player: Value = serde_json::from_slice(body).ok()?;
    id_text(player.get("active_game")?.get("id")?)
}

/// An opaque id (a JSON number or string) as the text that goes into a URL.
pub(crate) fn id_text(id: &Value) -> Option<String> {
    match id {
        Value::String(id) => Some(id.clone()),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}
