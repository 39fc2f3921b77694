//! An HTTP reply read once, with the assertions every test makes of one,
//! and the one way both harnesses send a request.

use reqwest::header::{self, HeaderName};
use reqwest::{Method, Response};
use serde_json::Value;

/// The string `value[key]`; fails the test when it is not one.
#[track_caller]
pub fn field(value: &Value, key: &str) -> String {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is a string: {value}"))
        .to_owned()
}

/// A request body.
pub enum Body {
    Json(Value),
    Bytes(&'static str, Vec<u8>),
}

/// A reply, success or failure, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub location: Option<String>,
    pub body: Vec<u8>,
}

/// Sends `method url` with a bearer `token` (none when `None`), `body` and
/// `headers`; fails the test when the request does not reach the server.
pub async fn send(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<Body>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = http.request(method.clone(), url);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    match body {
        Some(Body::Json(v)) => {
            req = req
                .header("content-type", "application/json")
                .body(v.to_string());
        }
        Some(Body::Bytes(content_type, bytes)) => {
            req = req.header("content-type", content_type).body(bytes);
        }
        None => {}
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url} reaches the server: {e}"));
    Reply::read(res).await
}

impl Reply {
    /// Reads a whole response.
    pub async fn read(res: Response) -> Reply {
        let status = res.status().as_u16();
        let header = |name: HeaderName| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header(header::CONTENT_TYPE).unwrap_or_default();
        let location = header(header::LOCATION);
        let body = res.bytes().await.expect("the response body").to_vec();
        Reply {
            status,
            content_type,
            location,
            body,
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// Asserts the status; the body as JSON (or null when empty).
    #[track_caller]
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            self.text()
        );
        if self.body.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }

    /// Asserts an RFC 9457 problem with this status and returns it.
    #[track_caller]
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            self.text()
        );
        assert!(
            self.content_type.starts_with("application/problem+json"),
            "a {status} must be application/problem+json, got {:?}: {}",
            self.content_type,
            self.text()
        );
        let body = self.json();
        for key in ["type", "title", "status", "detail"] {
            assert!(body.get(key).is_some(), "a problem without {key}: {body}");
        }
        assert_eq!(body["status"], status, "the problem's status: {body}");
        body
    }

    /// Asserts a 422 whose `errors` name exactly `field` (among possibly others).
    #[track_caller]
    pub fn invalid_field(&self, field: &str) -> Value {
        let body = self.problem(422);
        assert!(
            body["errors"].get(field).is_some(),
            "422 should name {field}: {body}"
        );
        body
    }
}
