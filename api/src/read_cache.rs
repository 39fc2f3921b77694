//! The venue's reads answered from memory: the queue, the leaderboard, a
//! team with its daily scores, and a game. Boards, tablets and the staff
//! page ask for these many times a second, about data that changes a few
//! times a minute; each costs queries over the show's games (the
//! leaderboard and team scores sum every completed game). So each API
//! process keeps every such answer it gave, as the JSON it sent, and makes
//! it again only once something may have changed it:
//!
//! - a change made through this process: every commit announced to `Wake`
//!   counts, which is every commit of the lifecycle (staff, a player's
//!   page, a text reply, a sweep) and every write request under `/api/v1`
//!   (any method but GET, HEAD and OPTIONS, see `middleware::route_writes`);
//! - a change made through another process: `Wake` sends a NOTIFY after
//!   each burst of its commits, and every NOTIFY this process's event hub
//!   receives counts, as does every event it passes on;
//! - and time: an answer older than [`FULL_RELOAD`] is made again (changes
//!   that wake no one, such as `ondeck` commands run by hand).
//!
//! An answer is made from the state after the change that outdated it: the
//! changes are counted before the answer is read from the database, so a
//! change that lands during the read makes that answer out of date at
//! once. The first read after a change makes the answer again; reads of the
//! same answer meanwhile wait for that one read instead of starting their
//! own. Only answers are kept, never errors.
//!
//! With a read replica (`DATABASE_READ_URL`) nothing is kept: a replica
//! lags the events that would outdate what it answered, so every read goes
//! to the database as it always did.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use ondeck_domain::store::wake::Wake;
use ondeck_domain::{GameId, ShowId, TeamId};
use serde::Serialize;

use crate::error::Result;
use crate::event_hub::EventHub;
use crate::single_flight::Flights;

/// An answer is made again, at its next read, at least this often.
pub const FULL_RELOAD: Duration = Duration::from_secs(30);

/// Answers kept at most, and their JSON's bytes in all; past either, the
/// out-of-date ones go, then all.
const MAX_ANSWERS: usize = 4096;
const MAX_BYTES: usize = 64 << 20;

/// A read whose answer is kept: what it names, and whether the caller sees
/// personal data (the same read answers differently for a display).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Read {
    /// `GET /api/v1/queue`; `None`: the current show.
    Queue { show: Option<ShowId>, pii: bool },
    /// `GET /api/v1/leaderboard`.
    Leaderboard {
        show: Option<ShowId>,
        day: Option<NaiveDate>,
        limit: i64,
    },
    /// `GET /api/v1/teams/{id}`.
    Team(TeamId),
    /// `GET /api/v1/games/{id}`.
    Game { id: GameId, pii: bool },
}

/// How many changes this process knew of at some moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    /// Changes made through this process.
    local: u64,
    /// Changes other processes announced (see `EventHub::changes`).
    announced: u64,
}

struct Answer {
    seen: Seen,
    made_at: Instant,
    json: Bytes,
    /// The JSON gzipped, made for the first client that takes it (`None`:
    /// too small to be worth it).
    gzip: OnceLock<Option<Bytes>>,
}

impl Answer {
    fn new(seen: Seen, json: Bytes) -> Answer {
        Answer {
            seen,
            made_at: Instant::now(),
            json,
            gzip: OnceLock::new(),
        }
    }

    /// The answer as sent: gzipped when the client takes it and that is
    /// worth it. Either way it says that it varies with `Accept-Encoding`.
    fn response(&self, gzip: bool) -> Response {
        let gzipped = gzip
            .then(|| self.gzip.get_or_init(|| gzipped(&self.json)).clone())
            .flatten();
        let vary = (header::VARY, "accept-encoding");
        let json = (header::CONTENT_TYPE, "application/json");
        match gzipped {
            Some(body) => ([json, vary, (header::CONTENT_ENCODING, "gzip")], body).into_response(),
            None => ([json, vary], self.json.clone()).into_response(),
        }
    }

    /// Whether this answer shows every change counted by `now`.
    fn shows(&self, now: Seen) -> bool {
        self.seen.local >= now.local
            && self.seen.announced >= now.announced
            && self.made_at.elapsed() < FULL_RELOAD
    }
}

/// Every kept answer of this process (see the module's documentation).
#[derive(Default)]
pub struct ReadCache {
    kept: RwLock<Kept>,
    /// One making of each answer at a time.
    making: Flights<Read>,
}

#[derive(Default)]
struct Kept {
    answers: HashMap<Read, Arc<Answer>>,
    /// The JSON of every answer, in bytes.
    bytes: usize,
}

/// Where the cache learns of changes: this process's commits and what its
/// event hub heard from the others.
#[derive(Clone, Copy)]
pub struct Changes<'a> {
    pub wake: &'a Wake,
    pub hub: &'a EventHub,
}

impl ReadCache {
    fn seen(changes: Changes<'_>) -> Seen {
        Seen {
            local: changes.wake.commits(),
            announced: changes.hub.changes(),
        }
    }

    /// The answer kept for `read`, if it shows every change counted by `now`.
    fn kept(&self, read: &Read, now: Seen) -> Option<Arc<Answer>> {
        let kept = self.kept.read().unwrap_or_else(|e| e.into_inner());
        kept.answers
            .get(read)
            .filter(|answer| answer.shows(now))
            .cloned()
    }

    /// The answer to `read` as JSON (gzipped if `gzip`, see
    /// [`accepts_gzip`]): the one kept if nothing changed since it was
    /// made, else the one `make` gives, then kept.
    pub async fn answer<T, F>(
        &self,
        changes: Changes<'_>,
        read: Read,
        gzip: bool,
        make: impl FnOnce() -> F,
    ) -> Result<Response>
    where
        T: Serialize,
        F: Future<Output = Result<T>>,
    {
        let now = Self::seen(changes);
        if let Some(answer) = self.kept(&read, now) {
            metrics::counter!("ondeck_read_answers_total", "from" => "memory").increment(1);
            return Ok(answer.response(gzip));
        }
        let _turn = self.making.turn(read).await;
        // Made meanwhile by the read this one waited for.
        if let Some(answer) = self.kept(&read, now) {
            metrics::counter!("ondeck_read_answers_total", "from" => "memory").increment(1);
            return Ok(answer.response(gzip));
        }
        metrics::counter!("ondeck_read_answers_total", "from" => "database").increment(1);
        let seen = Self::seen(changes);
        let made = async {
            let value = make().await?;
            let json = serde_json::to_vec(&value)
                .map_err(|e| crate::error::ApiError::Internal(e.into()))?;
            Ok::<_, crate::error::ApiError>(Bytes::from(json))
        }
        .await;
        let made = made.map(|json| Arc::new(Answer::new(seen, json)));
        if let Ok(answer) = &made {
            self.keep(read, answer.clone());
        }
        Ok(made?.response(gzip))
    }

    fn keep(&self, read: Read, answer: Arc<Answer>) {
        let (seen, size) = (answer.seen, answer.json.len());
        let mut kept = self.kept.write().unwrap_or_else(|e| e.into_inner());
        let kept = &mut *kept;
        if let Some(old) = kept.answers.remove(&read) {
            kept.bytes -= old.json.len();
        }
        if size > MAX_BYTES {
            return;
        }
        if kept.answers.len() >= MAX_ANSWERS || kept.bytes + size > MAX_BYTES {
            kept.answers.retain(|_, answer| answer.shows(seen));
            kept.bytes = kept.answers.values().map(|a| a.json.len()).sum();
            if kept.answers.len() >= MAX_ANSWERS || kept.bytes + size > MAX_BYTES {
                kept.answers.clear();
                kept.bytes = 0;
            }
        }
        kept.bytes += size;
        kept.answers.insert(read, answer);
    }
}

/// Answers smaller than this go as they are: gzip would save too little.
const GZIP_FROM: usize = 1024;

/// `json` gzipped, if it is large enough to be worth it.
fn gzipped(json: &[u8]) -> Option<Bytes> {
    use std::io::Write as _;

    if json.len() < GZIP_FROM {
        return None;
    }
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(json.len() / 8),
        flate2::Compression::default(),
    );
    encoder.write_all(json).ok()?;
    encoder.finish().ok().map(Bytes::from)
}

/// Whether a request's `Accept-Encoding` takes gzip (and does not refuse it
/// with `q=0`).
pub fn accepts_gzip(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::error::ApiError;

    fn changes_for_test() -> (Wake, EventHub) {
        // A pool that never connects: nothing here wakes the NOTIFY task.
        let pool = sqlx::PgPool::connect_lazy("postgres://nobody@127.0.0.1:1/none").expect("url");
        (Wake::start(pool), EventHub::default())
    }

    #[tokio::test]
    async fn an_answer_is_kept_until_a_change_is_counted() {
        let (wake, hub) = changes_for_test();
        let changes = Changes {
            wake: &wake,
            hub: &hub,
        };
        let cache = ReadCache::default();
        let made = AtomicUsize::new(0);
        let read = Read::Team(TeamId(1));
        let make = || async { Ok::<_, ApiError>(made.fetch_add(1, Ordering::SeqCst)) };
        for _ in 0..3 {
            cache
                .answer(changes, read, false, make)
                .await
                .expect("answer");
        }
        assert_eq!(made.load(Ordering::SeqCst), 1, "made once, then kept");
        wake.after_commit();
        cache
            .answer(changes, read, false, make)
            .await
            .expect("answer");
        cache
            .answer(changes, read, false, make)
            .await
            .expect("answer");
        assert_eq!(
            made.load(Ordering::SeqCst),
            2,
            "made again once after a change"
        );
    }

    #[tokio::test]
    async fn a_failed_read_keeps_nothing_and_leaves_no_gate_behind() {
        let (wake, hub) = changes_for_test();
        let changes = Changes {
            wake: &wake,
            hub: &hub,
        };
        let cache = ReadCache::default();
        for id in 0..100 {
            let read = Read::Game {
                id: GameId(id),
                pii: false,
            };
            let failed = cache
                .answer(changes, read, false, || async {
                    Err::<(), _>(ApiError::NotFound("no such game".into()))
                })
                .await;
            assert!(matches!(failed, Err(ApiError::NotFound(_))));
        }
        assert!(cache.kept.read().expect("lock").answers.is_empty());
        assert!(cache.making.is_empty());
    }

    #[tokio::test]
    async fn a_read_cut_short_leaves_no_gate_behind() {
        let (wake, hub) = changes_for_test();
        let changes = Changes {
            wake: &wake,
            hub: &hub,
        };
        let cache = ReadCache::default();
        let read = Read::Team(TeamId(7));
        let never = cache.answer(changes, read, false, || async {
            std::future::pending::<Result<(), ApiError>>().await
        });
        // The client goes away while the answer is being read.
        let cut = tokio::time::timeout(std::time::Duration::from_millis(50), never).await;
        assert!(cut.is_err());
        assert!(cache.making.is_empty());
    }

    #[test]
    fn the_answers_kept_stay_within_their_count_and_bytes() {
        let cache = ReadCache::default();
        let seen = Seen {
            local: 0,
            announced: 0,
        };
        for id in 0..(MAX_ANSWERS as i64 + 10) {
            let read = Read::Game {
                id: GameId(id),
                pii: true,
            };
            let answer = Answer::new(seen, Bytes::from(vec![b'x'; 100]));
            cache.keep(read, Arc::new(answer));
        }
        let kept = cache.kept.read().expect("lock");
        assert!(kept.answers.len() <= MAX_ANSWERS);
        assert_eq!(
            kept.bytes,
            kept.answers.values().map(|a| a.json.len()).sum::<usize>()
        );
        let before = kept.answers.len();
        assert!(before > 0);
        drop(kept);
        // One answer too large to keep is not kept, and takes no other.
        let huge = Answer::new(seen, Bytes::from(vec![b'x'; MAX_BYTES + 1]));
        cache.keep(Read::Team(TeamId(1)), Arc::new(huge));
        let kept = cache.kept.read().expect("lock");
        assert!(!kept.answers.contains_key(&Read::Team(TeamId(1))));
        assert_eq!(kept.answers.len(), before);
    }

    #[test]
    fn gzip_is_taken_as_accept_encoding_says() {
        let takes = |value: &str| {
            let mut headers = axum::http::HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, value.parse().expect("header"));
            accepts_gzip(&headers)
        };
        assert!(takes("gzip"));
        assert!(takes("gzip, deflate, br, zstd"));
        assert!(takes("br;q=1.0, GZIP;q=0.5"));
        assert!(takes("*"));
        assert!(!takes("gzip;q=0"));
        assert!(!takes("br, deflate"));
        assert!(!takes("identity"));
        assert!(!accepts_gzip(&axum::http::HeaderMap::new()));
    }

    #[test]
    fn a_large_answer_goes_gzipped_to_who_takes_it_and_a_small_one_as_it_is() {
        use std::io::Read as _;

        let seen = Seen {
            local: 0,
            announced: 0,
        };
        let json = Bytes::from(format!("[{}]", vec!["{\"id\": 1}"; 500].join(",")));
        let answer = Answer::new(seen, json.clone());
        let plain = answer.response(false);
        assert_eq!(plain.headers()[header::VARY], "accept-encoding");
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        let gzipped = answer.response(true);
        assert_eq!(gzipped.headers()[header::CONTENT_ENCODING], "gzip");
        let body = answer.gzip.get().cloned().flatten().expect("gzipped once");
        assert!(
            body.len() * 10 < json.len(),
            "{} of {}",
            body.len(),
            json.len()
        );
        let mut back = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut back)
            .expect("gunzips");
        assert_eq!(back.as_bytes(), &json[..]);
        let small = Answer::new(seen, Bytes::from_static(b"{}"));
        assert!(
            small
                .response(true)
                .headers()
                .get(header::CONTENT_ENCODING)
                .is_none()
        );
    }
}
