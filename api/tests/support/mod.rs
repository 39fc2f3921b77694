//! A harness for process-level tests: the real `ondeck` binary against real
//! services, each private to one test.
//!
//! - [`Db`]: a fresh PostgreSQL database on the server `DATABASE_URL` names
//!   (the superuser), migrated with `ondeck migrate`, dropped `WITH (FORCE)`
//!   when the test ends, even by a panic.
//! - [`Redis`]: a `redis-server` of the test's own on a free loopback port,
//!   without persistence, that can be stopped and started again on that port.
//! - [`FakeTwilio`]: an HTTP server inside the test that stands in for
//!   Twilio's Messages API: it checks and records each request, can fail the
//!   next requests with 503 and answer slowly, and lists what it accepted.
//! - [`S3`]: `s3s-fs` (a real S3-compatible server that checks signatures) on
//!   a free loopback port, with one bucket.
//! - [`Ondeck`]: an `ondeck run|serve|work` process with a cleared
//!   environment, its output in a file that is printed when the test fails.
//!
//! [`Stack`] puts them together with tokens and a show made by the CLI.
#![allow(dead_code)]

pub mod pg;
pub mod sse;

use std::collections::HashMap;
use std::future::Future;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use reqwest::{Method, Url};
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection as _, PgConnection, PgPool};

pub const ONDECK: &str = env!("CARGO_BIN_EXE_ondeck");

// --- small helpers -------------------------------------------------------------

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("find a free loopback port")
        .port()
}

/// A name unique to this test run: process id, a counter and random bits.
pub fn unique(prefix: &str) -> String {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let bits: u32 = rand::random();
    format!("{prefix}_{}_{seq}_{bits:08x}", std::process::id())
}

/// Polls `check` every 100 ms until it gives `Some`, for at most `limit`;
/// then fails naming `what`.
pub async fn eventually<T>(
    what: &str,
    limit: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(unique(&format!("ondeck-e2e-{tag}")));
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The last `lines` lines of a file, for failure reports.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Sends a signal with the `kill` command.
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(status.is_ok(), "the kill command runs: {status:?}");
}

/// Finds a program: `$env_var`, else on PATH, else in `extra` directories.
fn find_program(name: &str, env_var: &str, extra: &[PathBuf], hint: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env_var).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{env_var} is {}, which is not a file; {hint}",
            path.display()
        );
        return path;
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(extra.iter().cloned())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{name} not found: {hint}"))
}

fn wait_for_port(port: u16, limit: Duration, mut alive: impl FnMut() -> bool) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        if !alive() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

// --- PostgreSQL ----------------------------------------------------------------

fn server_url() -> String {
    std::env::var("DATABASE_URL")
        .expect("DATABASE_URL names the PostgreSQL server for tests (its superuser)")
}

async fn on_server(server: &str, sql: String) -> Result<(), sqlx::Error> {
    let mut server = PgConnection::connect(server).await?;
    sqlx::query(AssertSqlSafe(sql)).execute(&mut server).await?;
    Ok(())
}

/// A database of one test's own, migrated by `ondeck migrate`.
pub struct Db {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
    /// The URL of the server's maintenance database, as its superuser.
    server: String,
}

impl Db {
    /// On the server of `DATABASE_URL`.
    pub async fn create() -> Db {
        Db::create_on(&server_url()).await
    }

    /// On the server `server` names (a URL as its superuser).
    pub async fn create_on(server: &str) -> Db {
        let name = unique("ondeck_e2e");
        on_server(server, format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("create a database on {server}: {e}"));
        let mut url = Url::parse(server).expect("the server's URL");
        url.set_path(&name);
        // Loopback: without TLS, unless DATABASE_URL asks for it. A debug
        // build's TLS handshake takes up to a second on a busy machine, and a
        // process starting a dozen connections at once would hit the pool's
        // acquire timeout.
        if !url.query_pairs().any(|(k, _)| k == "sslmode") {
            url.query_pairs_mut().append_pair("sslmode", "disable");
        }
        let url = url.to_string();
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect_lazy(&url)
            .expect("a pool over the test database");
        let db = Db {
            name,
            url,
            pool,
            server: server.to_owned(),
        };
        db.cli(&["migrate"]).await;
        db
    }

    /// Runs `ondeck args` with only this database in its environment; it
    /// must succeed within 30 s. Returns its standard output.
    pub async fn cli(&self, args: &[&str]) -> String {
        cli(&self.url, args).await
    }

    pub async fn scalar_i64(&self, sql: &str) -> Option<i64> {
        sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
            .fetch_optional(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

/// Runs `ondeck args` with only `DATABASE_URL=database_url` in its
/// environment; it must succeed within 30 s. Returns its standard output.
pub async fn cli(database_url: &str, args: &[&str]) -> String {
    let mut command = tokio::process::Command::new(ONDECK);
    command
        .args(args)
        .env_clear()
        .env("DATABASE_URL", database_url)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .unwrap_or_else(|_| panic!("ondeck {args:?} finishes within 30 s"))
        .expect("ondeck runs");
    assert!(
        output.status.success(),
        "ondeck {args:?} failed with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

impl Drop for Db {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let (pool, server) = (self.pool.clone(), self.server.clone());
        // On a thread of its own: Drop may run inside the test's runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                pool.close().await;
                on_server(&server, sql).await
            })
        });
        if let Ok(Err(e)) = dropped.join() {
            eprintln!("could not drop {}: {e}", self.name);
        }
    }
}

// --- Redis ---------------------------------------------------------------------

/// A private `redis-server` on a fixed loopback port, no persistence.
pub struct Redis {
    pub port: u16,
    child: Option<Child>,
    dir: TempDir,
    binary: PathBuf,
}

impl Redis {
    pub fn start_new() -> Redis {
        let binary = find_program(
            "redis-server",
            "ONDECK_REDIS_SERVER",
            &[PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")],
            "install redis-server (apt-get install redis-server), or set ONDECK_REDIS_SERVER",
        );
        let mut redis = Redis {
            port: 0,
            child: None,
            dir: TempDir::new("redis"),
            binary,
        };
        for _ in 0..5 {
            redis.port = free_port();
            if redis.try_start() {
                return redis;
            }
        }
        panic!(
            "redis-server did not start in five tries; its log:\n{}",
            tail(&redis.dir.path().join("redis.log"), 50)
        );
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn try_start(&mut self) -> bool {
        let log = std::fs::File::create(self.dir.path().join("redis.log")).expect("a log file");
        let child = Command::new(&self.binary)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
        let mut child = child;
        let up = wait_for_port(self.port, Duration::from_secs(10), || {
            matches!(child.try_wait(), Ok(None))
        });
        if up && self.ping() {
            self.child = Some(child);
            true
        } else {
            let _ = child.kill();
            let _ = child.wait();
            false
        }
    }

    fn ping(&self) -> bool {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut answer = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut answer).is_ok()
            && &answer == b"+PONG\r\n"
    }

    /// Stops the server (SIGKILL: what it held is gone, as in an outage).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err(),
            "Redis still answers on port {} after stop()",
            self.port
        );
    }

    /// Starts the server again on the same port.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "Redis is already running");
        assert!(
            self.try_start(),
            "Redis did not start again on port {}; its log:\n{}",
            self.port,
            tail(&self.dir.path().join("redis.log"), 50)
        );
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// --- the fake Twilio -----------------------------------------------------------

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
    delay: Duration,
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
    state: Arc<Mutex<TwilioState>>,
}

impl FakeTwilio {
    pub async fn start() -> FakeTwilio {
        let token = format!("tok{:016x}", rand::random::<u64>());
        let state = Arc::new(Mutex::new(TwilioState::default()));
        let shared = Arc::new(Shared {
            token: token.clone(),
            state: state.clone(),
        });
        let app = axum::Router::new()
            .route(
                "/2010-04-01/Accounts/{sid}/Messages.json",
                post(twilio_create).get(twilio_list),
            )
            .fallback(|method: Method, uri: axum::http::Uri| async move {
                (
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({"code": 20404, "message": format!("no route {method} {uri}"), "status": 404})),
                )
            })
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Twilio");
        let addr = listener.local_addr().expect("its address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeTwilio {
            base: format!("http://{addr}"),
            token,
            state,
            server,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut TwilioState) -> T) -> T {
        f(&mut self.state.lock().expect("the fake Twilio's state"))
    }

    /// Answers the next `n` sends with 503.
    pub fn fail_next(&self, n: usize) {
        self.with(|s| s.fail_next = n);
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
    // Parameters Twilio knows but ondeck need not send.
    for known in [
        "StatusCallback",
        "MaxPrice",
        "ProvideFeedback",
        "Attempt",
        "SmartEncoded",
    ] {
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
                if state.fail_next > 0 {
                    state.fail_next -= 1;
                    state.failed += 1;
                    Ok(None)
                } else {
                    // Taken as soon as it arrives: a client that hangs up
                    // before the answer does not unsend it.
                    sms.sid = format!("SM{:032x}", state.accepted.len() + 1);
                    state.accepted.push(sms.clone());
                    Ok(Some(sms))
                }
            }
        };
        (outcome, delay)
    };
    tokio::time::sleep(delay).await;
    match outcome {
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
    if let Err(why) = twilio_auth(&shared, &sid, &headers) {
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

// --- S3 ------------------------------------------------------------------------

pub const S3_ACCESS_KEY: &str = "ondeck-e2e";
pub const S3_BUCKET: &str = "ondeck-e2e";

const S3S_FS_HINT: &str = "the end-to-end tests need the s3s-fs binary (a local S3-compatible \
     server): `cargo install s3s-fs@0.14.1 --features binary --locked` (about 3 minutes), or \
     run deploy/test, which installs it, or set ONDECK_S3S_FS to its path";

/// A running s3s-fs with the bucket [`S3_BUCKET`].
pub struct S3 {
    pub port: u16,
    pub secret: String,
    child: Child,
    dir: TempDir,
}

impl S3 {
    pub fn start() -> S3 {
        let home_bins = [
            std::env::var_os("CARGO_HOME").map(|h| PathBuf::from(h).join("bin")),
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin")),
        ];
        let extra: Vec<PathBuf> = home_bins.into_iter().flatten().collect();
        let binary = find_program("s3s-fs", "ONDECK_S3S_FS", &extra, S3S_FS_HINT);
        let dir = TempDir::new("s3");
        // s3s-fs keeps each bucket in a directory of that name.
        std::fs::create_dir_all(dir.path().join("data").join(S3_BUCKET))
            .expect("the bucket directory");
        let secret = format!("secret{:016x}", rand::random::<u64>());
        let log_path = dir.path().join("s3s-fs.log");
        for _ in 0..5 {
            let port = free_port();
            let log = std::fs::File::create(&log_path).expect("the s3s-fs log");
            let mut child = Command::new(&binary)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", S3_ACCESS_KEY, "--secret-key", &secret])
                .arg(dir.path().join("data"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("clone the log handle"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
            if wait_for_port(port, Duration::from_secs(20), || {
                matches!(child.try_wait(), Ok(None))
            }) {
                return S3 {
                    port,
                    secret,
                    child,
                    dir,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "s3s-fs did not start in five tries; its log:\n{}",
            tail(&log_path, 50)
        );
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Where s3s-fs keeps the object `key` of the bucket.
    pub fn object_path(&self, key: &str) -> PathBuf {
        self.dir.path().join("data").join(S3_BUCKET).join(key)
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// --- ondeck processes ----------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Run,
    Serve,
    Work,
}

impl Mode {
    fn arg(self) -> &'static str {
        match self {
            Mode::Run => "run",
            Mode::Serve => "serve",
            Mode::Work => "work",
        }
    }

    fn serves(self) -> bool {
        self != Mode::Work
    }
}

/// An `ondeck` process; killed on drop, its output printed if the test failed.
pub struct Ondeck {
    pub name: String,
    /// `http://127.0.0.1:PORT` for `run` and `serve`.
    pub base: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Ondeck {
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .expect("the process was not reaped")
            .id()
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Everything it wrote so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "KILL");
            let _ = child.wait();
        }
    }

    /// SIGTERM; waits up to `limit` for the exit status.
    pub async fn terminate(&mut self, limit: Duration) -> std::process::ExitStatus {
        signal(self.pid(), "TERM");
        self.wait_for_exit(limit).await
    }

    /// Waits up to `limit` for the process to exit (after a signal sent
    /// with [`signal`]); kills it and fails the test past that.
    pub async fn wait_for_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("a running process");
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{} did not exit within {limit:?}", self.name);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the log has a line containing `text`.
    pub async fn wait_for_log(&mut self, text: &str, limit: Duration) {
        let name = self.name.clone();
        eventually(&format!("{name} to log {text:?}"), limit, async || {
            assert!(
                self.is_running(),
                "{name} exited; its log:\n{}",
                tail(&self.log, 80)
            );
            self.log().contains(text).then_some(())
        })
        .await;
    }
}

impl Drop for Ondeck {
    fn drop(&mut self) {
        self.kill();
        // ONDECK_E2E_LOGS=1 prints every process's log, passing or not.
        if std::thread::panicking() || std::env::var_os("ONDECK_E2E_LOGS").is_some() {
            eprintln!(
                "----- last lines of {} ({}) -----\n{}\n----- end of {} -----",
                self.name,
                self.log.display(),
                tail(&self.log, 150),
                self.name
            );
        }
    }
}

/// A reply read once.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub location: Option<String>,
    pub body: Vec<u8>,
}

impl Reply {
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
}

/// Tokens made with `ondeck token create`.
pub struct Tokens {
    pub admin: String,
    pub tablet: String,
    pub game: String,
    pub display: String,
}

/// Everything one test needs: a database with tokens and a show, a private
/// Redis, the fake Twilio and an S3 server.
pub struct Stack {
    pub db: Db,
    pub redis: Redis,
    pub twilio: FakeTwilio,
    pub s3: S3,
    pub tokens: Tokens,
    pub show_id: i64,
    /// Follows no redirects, so that a 302 can be checked; keeps no idle
    /// connections.
    pub http: reqwest::Client,
    dir: TempDir,
    spawned: AtomicU32,
}

impl Stack {
    /// With a database on the server of `DATABASE_URL`.
    pub async fn new() -> Stack {
        Stack::with_db(Db::create().await).await
    }

    /// With a database on the server `server` names (e.g. a
    /// [`pg::Cluster`] that the test stops and starts).
    pub async fn on_server(server: &str) -> Stack {
        Stack::with_db(Db::create_on(server).await).await
    }

    async fn with_db(db: Db) -> Stack {
        let s3 = S3::start();
        let redis = Redis::start_new();
        let twilio = FakeTwilio::start().await;
        let mut tokens = Vec::new();
        for role in ["admin", "tablet", "game", "display"] {
            let printed = db
                .cli(&[
                    "token",
                    "create",
                    "--role",
                    role,
                    "--name",
                    &format!("e2e-{role}"),
                ])
                .await;
            let token = printed.trim().to_owned();
            assert!(
                !token.is_empty() && !token.contains('\n'),
                "one token: {printed:?}"
            );
            tokens.push(token);
        }
        let [admin, tablet, game, display] = <[String; 4]>::try_from(tokens).expect("four tokens");
        let printed = db
            .cli(&[
                "show",
                "create",
                "--name",
                "Home Run Derby",
                "--date",
                "2026-11-21",
            ])
            .await;
        let show_id = printed
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("a show id: {printed:?}"));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A connection per request: a server that closes one after
            // refusing a body (a 413) must not fail the next request.
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        Stack {
            db,
            redis,
            twilio,
            s3,
            tokens: Tokens {
                admin,
                tablet,
                game,
                display,
            },
            show_id,
            http,
            dir: TempDir::new("logs"),
            spawned: AtomicU32::new(0),
        }
    }

    /// The environment of an `ondeck` process listening on `listen`.
    pub fn env(&self, listen: &str) -> Vec<(String, String)> {
        let pairs = [
            ("DATABASE_URL", self.db.url.clone()),
            ("REDIS_URL", self.redis.url()),
            ("LISTEN_ADDR", listen.to_owned()),
            ("PUBLIC_BASE_URL", format!("http://{listen}")),
            ("SMS_PROVIDER", "twilio".to_owned()),
            ("TWILIO_API_BASE", self.twilio.base.clone()),
            ("TWILIO_ACCOUNT_SID", TWILIO_SID.to_owned()),
            ("TWILIO_AUTH_TOKEN", self.twilio.token.clone()),
            ("TWILIO_FROM", TWILIO_FROM.to_owned()),
            ("STORAGE", "s3".to_owned()),
            ("S3_BUCKET", S3_BUCKET.to_owned()),
            ("S3_REGION", "us-east-1".to_owned()),
            ("S3_ENDPOINT", self.s3.endpoint()),
            ("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", self.s3.secret.clone()),
            // Loopback only: never ask a cloud metadata service.
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("DATABASE_POOL_SIZE", "6".to_owned()),
            // Load from one token is the tests' business; limits.rs turns it on.
            ("RATE_LIMIT_PER_SECOND", "0".to_owned()),
            ("RUST_LOG", "info".to_owned()),
            ("LOG_FORMAT", "json".to_owned()),
        ];
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// Starts `ondeck MODE` with [`Stack::env`] and `extra` (which wins), and
    /// for `run`/`serve` waits until `/healthz` answers 200.
    pub async fn spawn(&self, mode: Mode, extra: &[(&str, &str)]) -> Ondeck {
        for _attempt in 0..3 {
            let n = self.spawned.fetch_add(1, Ordering::Relaxed);
            let name = format!("ondeck-{}-{n}", mode.arg());
            let listen = format!("127.0.0.1:{}", free_port());
            let mut env: HashMap<String, String> = self.env(&listen).into_iter().collect();
            for (k, v) in extra {
                env.insert((*k).to_owned(), (*v).to_owned());
            }
            let log = self.dir.path().join(format!("{name}.log"));
            let file = std::fs::File::create(&log).expect("a log file");
            let child = Command::new(ONDECK)
                .arg(mode.arg())
                .env_clear()
                .envs(&env)
                .stdin(Stdio::null())
                .stdout(file.try_clone().expect("clone the log handle"))
                .stderr(file)
                .spawn()
                .expect("ondeck starts");
            let mut process = Ondeck {
                name,
                base: format!("http://{listen}"),
                child: Some(child),
                log,
            };
            if !mode.serves() {
                return process;
            }
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let health = self
                    .http
                    .get(format!("{}/healthz", process.base))
                    .send()
                    .await;
                if health.is_ok_and(|r| r.status() == StatusCode::OK) {
                    return process;
                }
                if !process.is_running() {
                    let log = process.log();
                    if log.contains("cannot listen") {
                        // Someone took the port in between: another one.
                        break;
                    }
                    panic!(
                        "{} exited at start; its log:\n{}",
                        process.name,
                        tail(&process.log, 80)
                    );
                }
                assert!(
                    Instant::now() < deadline,
                    "{} answered no /healthz within 20 s; its log:\n{}",
                    process.name,
                    tail(&process.log, 80)
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        panic!(
            "ondeck {} could not listen on a free port in three tries",
            mode.arg()
        );
    }

    /// Any request to an `ondeck` API.
    pub async fn send(
        &self,
        ondeck: &Ondeck,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Body>,
    ) -> Reply {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", ondeck.base)
        };
        let mut req = self.http.request(method.clone(), &url);
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
        let res = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path} reaches {}: {e}", ondeck.name));
        read_reply(res).await
    }

    pub async fn get(&self, ondeck: &Ondeck, token: &str, path: &str) -> Reply {
        self.send(ondeck, Method::GET, path, Some(token), None)
            .await
    }

    pub async fn post(&self, ondeck: &Ondeck, token: &str, path: &str, body: Value) -> Reply {
        self.send(
            ondeck,
            Method::POST,
            path,
            Some(token),
            Some(Body::Json(body)),
        )
        .await
    }

    /// The show as the API gives it.
    pub async fn show(&self, ondeck: &Ondeck) -> Value {
        let path = format!("/api/v1/shows/{}", self.show_id);
        self.get(ondeck, &self.tokens.admin, &path)
            .await
            .expect(200)
    }

    /// Signs up a player with this mobile number; returns the player.
    pub async fn signup(&self, ondeck: &Ondeck, first_name: &str, mobile: &str) -> Value {
        let body = json!({"first_name": first_name, "last_name": "Tester", "handedness": "R", "mobile_number": mobile});
        self.post(ondeck, &self.tokens.tablet, "/api/v1/players", body)
            .await
            .expect(201)
    }

    /// The messages `GET /api/v1/messages` lists for this query.
    pub async fn messages(&self, ondeck: &Ondeck, query: &str) -> Vec<Value> {
        let path = format!("/api/v1/messages?limit=500&{query}");
        let page = self
            .get(ondeck, &self.tokens.admin, &path)
            .await
            .expect(200);
        page["items"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("items: {page}"))
    }

    /// Waits until the fake Twilio has accepted `n` texts to `to`; returns them.
    pub async fn texts_to(&self, to: &str, n: usize, limit: Duration) -> Vec<Sms> {
        let what = format!("{n} text(s) to {to}");
        eventually(&what, limit, async || {
            let texts = self.twilio.to(to);
            assert!(
                texts.len() <= n,
                "more than {n} text(s) to {to}:\n{}",
                self.twilio.summary()
            );
            (texts.len() == n).then_some(texts)
        })
        .await
    }

    /// Asserts that nothing reached the fake Twilio that breaks its API.
    #[track_caller]
    pub fn assert_provider_calls_were_valid(&self) {
        let refused = self.twilio.refused();
        assert!(
            refused.is_empty(),
            "requests the provider refused: {refused:#?}"
        );
    }
}

impl Stack {
    /// Where the jobs stand in the database, for failure reports.
    fn job_state(&self) -> String {
        let url = self.db.url.clone();
        let report = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async move {
                let mut conn = PgConnection::connect(&url).await.ok()?;
                let outbox: (i64, i64) = sqlx::query_as(
                    "SELECT count(*), count(*) FILTER (WHERE relayed_at IS NULL) FROM outbox",
                )
                .fetch_one(&mut conn)
                .await
                .ok()?;
                let messages: Vec<(String, String, i64)> = sqlx::query_as(
                    "SELECT kind::text, status::text, count(*) FROM messages GROUP BY 1, 2 ORDER BY 1, 2",
                )
                .fetch_all(&mut conn)
                .await
                .ok()?;
                Some(format!(
                    "outbox: {} jobs, {} not relayed; messages (kind, status, count): {messages:?}",
                    outbox.0, outbox.1
                ))
            })
        });
        report
            .join()
            .ok()
            .flatten()
            .unwrap_or_else(|| "the database could not be read".into())
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.twilio.summary());
            eprintln!("{}", self.job_state());
        }
    }
}

/// A request body.
pub enum Body {
    Json(Value),
    Bytes(&'static str, Vec<u8>),
}

pub async fn read_reply(res: reqwest::Response) -> Reply {
    let status = res.status().as_u16();
    let header = |name: header::HeaderName| {
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

/// Runs `futures` at most `n` at a time, in order of completion.
pub async fn at_most<F: Future>(n: usize, futures: Vec<F>) -> Vec<F::Output> {
    use futures::StreamExt as _;
    futures::stream::iter(futures)
        .buffer_unordered(n)
        .collect()
        .await
}

// --- images --------------------------------------------------------------------

/// The width and height in a JPEG's SOF0/SOF1/SOF2 segment, read by hand.
pub fn jpeg_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    if !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return None;
    }
    let mut at = 2;
    while at + 4 <= bytes.len() {
        if bytes[at] != 0xFF {
            return None;
        }
        let marker = bytes[at + 1];
        if marker == 0xFF {
            at += 1;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
        if matches!(marker, 0xC0..=0xC2) {
            let segment = bytes.get(at + 4..at + 2 + len)?;
            let height = u16::from_be_bytes([segment[1], segment[2]]);
            let width = u16::from_be_bytes([segment[3], segment[4]]);
            return Some((u32::from(width), u32::from(height)));
        }
        at += 2 + len;
    }
    None
}

fn crc32(chunks: &[&[u8]]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for chunk in chunks {
        for &byte in *chunk {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                let mask = (crc & 1).wrapping_neg();
                crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
            }
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(&[kind, data]).to_be_bytes());
}

/// A PNG's signature and IHDR (8-bit RGB) claiming these dimensions.
pub fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    out
}

/// A valid RGB PNG of noise (so it does not compress), written with stored
/// deflate blocks: about `3 × width × height` bytes.
pub fn noise_png(width: u32, height: u32, seed: u64) -> Vec<u8> {
    let mut raw = Vec::with_capacity((width as usize * 3 + 1) * height as usize);
    let mut state = seed | 1;
    for _ in 0..height {
        raw.extend([0u8]); // filter: none
        for _ in 0..width * 3 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            raw.push((state >> 24) as u8);
        }
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut out = png_header(width, height);
    png_chunk(&mut out, b"IDAT", &zlib);
    png_chunk(&mut out, b"IEND", &[]);
    out
}
