//! Request plumbing that sits in front of the handlers: the method override
//! for web views that can only POST, `Idempotency-Key`, HTTP metrics, the
//! routing of writes to the primary (see `db`), and the limits (rate per
//! token, request timeout, event streams).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ondeck_domain::TokenId;
use ondeck_domain::store::idempotency::{self, Claim};
use sha2::{Digest, Sha256};

use crate::app_state::AppState;
use crate::auth::authenticate;
use crate::config::Config;
use crate::db;
use crate::error::{ApiError, DATABASE_DOWN, problem};
use crate::extract::JSON_LIMIT;

/// In front of the `/api/v1` handlers. With a replica, a change (any method
/// but GET, HEAD, OPTIONS) answers 503 at once while the primary is known to
/// be down, and a successful one makes its client read from the primary
/// until the replica has it. Without one, every request answers 503 at once
/// while the database is known to refuse connections.
///
/// Every change, answered or cut short, is announced to `Wake` once it is
/// over: what this process and the others read before may be out of date
/// (see `read_cache`).
pub async fn route_writes(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method().is_safe() {
        if !state.reads.has_replica() && state.reads.primary_down() {
            return ApiError::Unavailable(DATABASE_DOWN.into()).into_response();
        }
        return next.run(req).await;
    }
    let mut announce = Announce(Some(state.wake.clone()));
    let response = write(state, req, next).await;
    if response.status().is_client_error() {
        // Refused: it changed nothing.
        announce.0 = None;
    }
    response
}

/// Announces a change when dropped: when its request is answered, or when
/// the client goes away and the request is cut short, perhaps after its
/// commit.
struct Announce(Option<ondeck_domain::store::wake::Wake>);

impl Drop for Announce {
    fn drop(&mut self) {
        if let Some(wake) = &self.0 {
            wake.after_commit();
        }
    }
}

async fn write(state: AppState, req: Request, next: Next) -> Response {
    if !state.reads.has_replica() {
        if state.reads.primary_down() {
            return ApiError::Unavailable(DATABASE_DOWN.into()).into_response();
        }
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    // Unauthenticated requests are refused by the handler as usual.
    let Ok(caller) = authenticate(&state, &parts).await else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    parts.extensions.insert(caller);
    if state.reads.primary_down() {
        return ApiError::Unavailable(db::PRIMARY_DOWN.into()).into_response();
    }
    let response = next.run(Request::from_parts(parts, body)).await;
    if response.status().is_success() {
        // Remembered even if the client goes away meanwhile.
        let reads = state.reads.clone();
        let _ = tokio::spawn(async move { reads.wrote(caller).await }).await;
    }
    response
}

/// `X-HTTP-Method-Override: PATCH|PUT|DELETE` on a POST. This must run
/// before routing, so it wraps the whole router (see `lib.rs`).
pub async fn method_override(mut req: Request, next: Next) -> Response {
    if req.method() == Method::POST {
        let wanted = req
            .headers()
            .get("x-http-method-override")
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_uppercase);
        match wanted.as_deref() {
            Some("PATCH") => *req.method_mut() = Method::PATCH,
            Some("PUT") => *req.method_mut() = Method::PUT,
            Some("DELETE") => *req.method_mut() = Method::DELETE,
            Some("POST") | None => {}
            Some(other) => {
                return ApiError::BadRequest(format!(
                    "X-HTTP-Method-Override {other:?} is not one of PATCH, PUT, DELETE"
                ))
                .into_response();
            }
        }
    }
    next.run(req).await
}

const MAX_KEY_LEN: usize = 255;

/// Releases an Idempotency-Key claim when the request holding it is dropped
/// before its response was kept (the client went away, the request timed
/// out, the handler panicked): a retry then runs instead of answering 409
/// for the next 24 hours.
struct ClaimGuard {
    db: sqlx::PgPool,
    token: TokenId,
    key: String,
    armed: bool,
}

impl ClaimGuard {
    /// The claim was saved or released the ordinary way.
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (db, token, key) = (self.db.clone(), self.token, std::mem::take(&mut self.key));
        runtime.spawn(async move {
            let released = async {
                let mut conn = db.acquire().await?;
                idempotency::release(&mut conn, token, &key).await?;
                Ok::<_, ApiError>(())
            };
            if let Err(e) = released.await {
                // The claim then expires after the request timeout.
                tracing::warn!(error = %e, "could not release an abandoned Idempotency-Key");
            }
        });
    }
}

/// `Idempotency-Key` on a POST (or an overridden one): the first response is
/// kept for 24 hours and replayed for a repeat with the same body; the same
/// key with another body is a 422. A request that never answered leaves
/// its key free again (see [`ClaimGuard`]; a claim older than the request
/// timeout is taken over too).
pub async fn idempotency(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(key) = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_owned))
    else {
        return next.run(req).await;
    };
    // POSTs (and POSTs overridden to PATCH): photo PUTs are idempotent by nature.
    if req.method() != Method::POST && req.method() != Method::PATCH {
        return next.run(req).await;
    }
    let key = match key {
        Ok(k) if !k.trim().is_empty() && k.len() <= MAX_KEY_LEN => k,
        _ => {
            return ApiError::BadRequest(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible characters"
            ))
            .into_response();
        }
    };
    let (mut parts, body) = req.into_parts();
    // Keys are per token: without a valid one the request fails anyway.
    let caller = match authenticate(&state, &parts).await {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    parts.extensions.insert(caller);
    let bytes = match to_bytes(body, JSON_LIMIT).await {
        Ok(b) => b,
        Err(_) => return ApiError::PayloadTooLarge("1 MiB").into_response(),
    };
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update([0]);
    hasher.update(parts.uri.path());
    hasher.update([0]);
    hasher.update(&bytes);
    let hash = hasher.finalize().to_vec();

    let claim = async {
        let mut conn = state.db.acquire().await?;
        // A claim's work is cut off at the request timeout (see below) and
        // its outcome recorded right after: older than that and a little
        // more, nothing is working on it any more (its process died).
        let stale_after = state.config.http.request_timeout + STALE_MARGIN;
        let claimed = idempotency::claim(&mut conn, caller.token_id, &key, &hash, stale_after);
        Ok::<_, ApiError>(claimed.await?)
    };
    match claim.await {
        Err(e) => return e.into_response(),
        Ok(Claim::Mismatch) => {
            return ApiError::Unprocessable(
                "this Idempotency-Key was used with a different request".into(),
            )
            .into_response();
        }
        Ok(Claim::InProgress) => {
            return ApiError::Conflict(
                "a request with this Idempotency-Key is still being processed".into(),
            )
            .into_response();
        }
        Ok(Claim::Replay {
            status,
            content_type,
            body,
        }) => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = axum::http::StatusCode::from_u16(status).unwrap_or_default();
            if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                response.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return response;
        }
        Ok(Claim::New) => {}
    }
    let guard = ClaimGuard {
        db: state.db.clone(),
        token: caller.token_id,
        key: key.clone(),
        armed: true,
    };

    // The request and the recording of its outcome run to the end even
    // when the client goes away or the request timeout answers first:
    // cut between the handler's commit and the save, the key would stay "in
    // progress", and a retry would get 409 instead of the replay. The work
    // itself is bounded by the request timeout (a handler cut off rolls
    // back and answers 503, which releases the claim), so a claim older
    // than that is abandoned and may be taken over. The guard releases the
    // claim if the work dies another way (a panic).
    let limit = state.config.http.request_timeout;
    let work = async move {
        let response = match tokio::time::timeout(
            limit,
            next.run(Request::from_parts(parts, Body::from(bytes))),
        )
        .await
        {
            Ok(response) => response,
            Err(_) => timed_out(limit),
        };
        let (parts, body) = response.into_parts();
        // Our responses to POSTs are small JSON documents.
        let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
        let outcome = async {
            let mut conn = state.db.acquire().await?;
            if parts.status.is_server_error() {
                // A failure on our side changed nothing: let a retry run again.
                idempotency::release(&mut conn, caller.token_id, &key).await
            } else {
                let content_type = parts
                    .headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok());
                idempotency::save(
                    &mut conn,
                    caller.token_id,
                    &key,
                    parts.status.as_u16(),
                    content_type,
                    &body,
                )
                .await
            }
            .map_err(ApiError::from)
        };
        match outcome.await {
            Ok(()) => guard.disarm(),
            // The guard releases the claim, so that a retry can run.
            Err(e) => tracing::error!(error = %e, "could not record an idempotent response"),
        }
        Response::from_parts(parts, Body::from(body))
    };
    let work = sentry::SentryFutureExt::bind_hub(work, sentry::Hub::current());
    match tokio::spawn(tracing::Instrument::in_current_span(work)).await {
        Ok(response) => response,
        // A panic surfaces here, where the panic layer turns it into a 500.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => ApiError::Unavailable("the server is stopping".into()).into_response(),
    }
}

/// Past the request timeout, how long a claim's outcome may take to be
/// recorded before the claim counts as abandoned.
const STALE_MARGIN: Duration = Duration::from_secs(10);

/// Counts requests by route and status, with their latency.
pub async fn http_metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("ondeck_http_requests_total", &labels).increment(1);
    metrics::histogram!("ondeck_http_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    response
}

/// What a request is counted against: its token, or without a valid one the
/// address it came from (all such requests of an in-process server without
/// peer addresses share one bucket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum RateKey {
    Token(TokenId),
    Peer(IpAddr),
    UnknownPeer,
}

/// The per-process limits of docs/limits-and-faults.md: the request rate per token
/// and the number of event streams.
pub struct Limits {
    rate: Option<DefaultKeyedRateLimiter<RateKey>>,
    /// Requests to players' pages per client address
    /// (`PLAYER_RATE_LIMIT_PER_MINUTE`).
    players: Option<DefaultKeyedRateLimiter<RateKey>>,
    /// When idle keys were last dropped from `rate`.
    swept: Mutex<Instant>,
    /// When idle keys were last dropped from `players`.
    swept_players: Mutex<Instant>,
    /// One permit per open `GET /api/v1/events` stream.
    sse: Arc<tokio::sync::Semaphore>,
    /// Open streams per token, at most `sse_per_token` each: one leaked
    /// token cannot take every stream the server has.
    sse_by_token: Arc<Mutex<HashMap<TokenId, usize>>>,
    sse_per_token: usize,
    sse_max: usize,
}

/// Why no event stream can be opened now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamsFull {
    /// `SSE_MAX_SUBSCRIBERS` streams are open on this server.
    Server(usize),
    /// `SSE_MAX_PER_TOKEN` streams are open with this token.
    Token(usize),
}

/// An open event stream's places in both limits, given back when dropped.
pub struct StreamSlots {
    _permit: tokio::sync::OwnedSemaphorePermit,
    token: TokenId,
    by_token: Arc<Mutex<HashMap<TokenId, usize>>>,
}

impl Drop for StreamSlots {
    fn drop(&mut self) {
        let mut by_token = self.by_token.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(open) = by_token.get_mut(&self.token) {
            *open -= 1;
            if *open == 0 {
                by_token.remove(&self.token);
            }
        }
    }
}

/// Idle rate-limit keys are forgotten this often (or at once when there are
/// more than `MAX_IDLE_KEYS`), so the limiter's memory stays bounded.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
const MAX_IDLE_KEYS: usize = 100_000;

impl Limits {
    pub fn new(config: &Config) -> Limits {
        let nonzero = |n: u32| NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
        let rate = config.http.rate_limit.map(|limit| {
            RateLimiter::keyed(
                Quota::per_second(nonzero(limit.per_second)).allow_burst(nonzero(limit.burst)),
            )
        });
        let players = config
            .http
            .player_rate_per_minute
            .map(|n| RateLimiter::keyed(Quota::per_minute(nonzero(n))));
        Limits {
            rate,
            players,
            swept: Mutex::new(Instant::now()),
            swept_players: Mutex::new(Instant::now()),
            sse: Arc::new(tokio::sync::Semaphore::new(config.http.sse_max_subscribers)),
            sse_by_token: Arc::default(),
            sse_per_token: config.http.sse_max_per_token,
            sse_max: config.http.sse_max_subscribers,
        }
    }

    /// Places for one more event stream with `token`, or which limit is full.
    pub fn stream_slots(&self, token: TokenId) -> Result<StreamSlots, StreamsFull> {
        let mut by_token = self.sse_by_token.lock().unwrap_or_else(|e| e.into_inner());
        if by_token.get(&token).copied().unwrap_or(0) >= self.sse_per_token {
            return Err(StreamsFull::Token(self.sse_per_token));
        }
        let permit = self
            .sse
            .clone()
            .try_acquire_owned()
            .map_err(|_| StreamsFull::Server(self.sse_max))?;
        *by_token.entry(token).or_insert(0) += 1;
        Ok(StreamSlots {
            _permit: permit,
            token,
            by_token: self.sse_by_token.clone(),
        })
    }

    /// `None` when `key` may go on, else how long it should wait.
    fn wait(&self, key: RateKey) -> Option<Duration> {
        Self::wait_in(self.rate.as_ref()?, &self.swept, key)
    }

    /// [`Limits::wait`] for a player's page, per client address.
    fn wait_player(&self, key: RateKey) -> Option<Duration> {
        Self::wait_in(self.players.as_ref()?, &self.swept_players, key)
    }

    fn wait_in(
        rate: &DefaultKeyedRateLimiter<RateKey>,
        swept: &Mutex<Instant>,
        key: RateKey,
    ) -> Option<Duration> {
        let due = swept
            .try_lock()
            .ok()
            .filter(|at| at.elapsed() >= SWEEP_EVERY || rate.len() > MAX_IDLE_KEYS);
        if let Some(mut at) = due {
            rate.retain_recent();
            rate.shrink_to_fit();
            *at = Instant::now();
        }
        rate.check_key(&key)
            .err()
            .map(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// Operations endpoints a monitor polls are never limited.
const UNLIMITED: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// Per-token rate limit (`RATE_LIMIT_PER_SECOND`, `RATE_LIMIT_BURST`): over
/// it, a 429 problem with `Retry-After` in whole seconds. The caller it
/// authenticates is left in the request for the handler.
///
/// A request whose token was authenticated a moment ago counts against that
/// token. Any other request counts against its client address *before* its
/// credential is looked up: a client that sends made-up tokens costs the
/// database at most its address's rate, and a 429 costs it nothing.
pub async fn rate_limit(
    State((state, limits)): State<(AppState, Arc<Limits>)>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    if path.starts_with("/p/") || path == "/join" || path.starts_with("/join/") {
        // Players' pages carry no token: only their own limit applies.
        if let Some(wait) = limits.wait_player(peer_key(&req)) {
            return too_many_requests(wait);
        }
        return next.run(req).await;
    }
    if limits.rate.is_none() || UNLIMITED.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    let peer = peer_key(&req);
    let (mut parts, body) = req.into_parts();
    let caller = match crate::auth::cached(&state, &parts) {
        Some(caller) => Some(caller),
        None => {
            if let Some(wait) = limits.wait(peer) {
                return too_many_requests(wait);
            }
            // Refused (or not checkable now): the handler answers for that.
            authenticate(&state, &parts).await.ok()
        }
    };
    if let Some(caller) = caller {
        parts.extensions.insert(caller);
        if let Some(wait) = limits.wait(RateKey::Token(caller.token_id)) {
            return too_many_requests(wait);
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

/// The client address a request counts against without a token.
fn peer_key(req: &Request) -> RateKey {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(RateKey::UnknownPeer, |peer| RateKey::Peer(peer.0.ip()))
}

fn too_many_requests(wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let mut response = problem(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        &format!("too many requests from this client; try again in {seconds} s"),
        Default::default(),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// `REQUEST_TIMEOUT_SECONDS`: a request whose response has not started by
/// then answers a 503 problem. Only the wait for the response is timed, so
/// an event stream, once started, runs as long as its client reads.
pub async fn request_timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => timed_out(limit),
    }
}

/// The answer to a request cut off at `REQUEST_TIMEOUT_SECONDS`.
fn timed_out(limit: Duration) -> Response {
    tracing::warn!(limit_s = limit.as_secs(), "request timed out");
    ApiError::Unavailable(format!(
        "the request took longer than {} s and was abandoned; try again shortly",
        limit.as_secs()
    ))
    .into_response()
}
