//! Players' pages served from memory. Every phone in line polls its page
//! every few seconds; at a busy show that is hundreds of reads a second
//! about a line that changes a few times a minute. So each API process
//! keeps, per show, what every working page of that show says (one
//! [`PlayerStatus`] per player code, with its JSON), built by one statement,
//! and builds it again only once something changed:
//!
//! - a commit of this process (a staff request, a player's action: every
//!   change that calls `Wake::after_commit`) makes what it read before out
//!   of date, so the next read after it already shows it;
//! - so does an event of any process (another API process, the worker's
//!   sweeps and renders, a change of the show's settings), as soon as this process's event hub has it, and
//!   a subscriber that fell behind;
//! - and, every [`FULL_RELOAD`], so does time (a renamed show or player, a
//!   purge: changes that write no event).
//!
//! The first read after a change rebuilds the show's pages; reads that come
//! meanwhile wait for that one rebuild instead of starting their own. When
//! the database cannot be read, pages answer as they last were until the
//! next change or full reload tries again. A
//! code no page in memory has (a show not read yet, a game younger than the
//! last rebuild, or a code that opens nothing) is looked up in the
//! database, by its SHA-256 like everywhere else: of all the reads of a
//! page, only that one costs a query of its own.
//!
//! Pages are keyed by the SHA-256 of the code: the code itself is never
//! kept.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use ondeck_domain::game_state::{CancelReason, PlayerAction};
use ondeck_domain::lifecycle::{PlayerPolicy, offered};
use ondeck_domain::line::Wait;
use ondeck_domain::store::player_games::{self, CODE_HOURS_AFTER_END, LineGame};
use ondeck_domain::store::wake::Wake;
use ondeck_domain::store::{scores, shows};
use ondeck_domain::{GameId, GameState, ShowId};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio::sync::broadcast::error::RecvError;
use utoipa::ToSchema;

use crate::error::Result;
use crate::event_hub::EventHub;
use crate::responses::GameView;
use crate::single_flight::Flights;

/// Every show's pages are rebuilt, at their next read, at least this often.
pub const FULL_RELOAD: Duration = Duration::from_secs(30);

/// Where a player's game stands, for their page.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlayerStatus {
    pub state: GameState,
    /// The player's first name.
    pub first_name: String,
    /// The show's name (the attraction).
    pub show: String,
    /// While queued: the 1-based place in line.
    pub position: Option<i64>,
    /// While queued: the estimated wait (as `/api/v1/queue` computes it);
    /// null while the show is paused.
    pub eta_seconds: Option<i64>,
    /// The show is paused: "Paused: the wait is on hold".
    pub paused: bool,
    /// How many games wait in the line.
    pub waiting: i64,
    pub recall_expires_at: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<CancelReason>,
    pub score: Option<i32>,
    pub distance: Option<i32>,
    pub homeruns: Option<i32>,
    /// While completed: the rank of the score among the day's completed
    /// games of the show.
    pub rank: Option<i64>,
    pub souvenir_url: Option<String>,
    /// The actions legal now.
    pub actions: Vec<PlayerAction>,
    /// After `rejoin`: the new game's page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// What a page needs of the configuration and the process.
#[derive(Debug, Clone)]
pub struct LineSettings {
    /// `VENUE_TZ`: the days ranks are counted in.
    pub tz: &'static str,
    /// `RECALL_MINUTES`: the recall countdown.
    pub recall_minutes: i64,
    /// Which actions are offered ("later" only while some are left).
    pub players: PlayerPolicy,
    /// Counts this process's commits.
    pub wake: Wake,
}

/// One player's page as it stands: its status and that status as JSON.
#[derive(Debug)]
pub struct Page {
    pub game_id: GameId,
    pub show_id: ShowId,
    pub status: PlayerStatus,
    /// `status` serialized once, for every poll until the next rebuild.
    pub json: Bytes,
    /// When the game completed or was cancelled: its page works for
    /// `CODE_HOURS_AFTER_END` after that.
    ended_at: Option<DateTime<Utc>>,
}

impl Page {
    fn new(line: LineGame, wait: Wait, settings: &LineSettings) -> Page {
        let game = line.game;
        let mut actions = offered(&game, &settings.players);
        // A closed line takes no one back: "Join again" would be refused.
        if !line.joining_open {
            actions.retain(|a| *a != PlayerAction::Rejoin);
        }
        let ended_at = match (game.completed_at, game.cancelled_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let (game_id, show_id) = (game.id, game.show_id);
        let view = GameView::new(game, false, settings.recall_minutes);
        let status = PlayerStatus {
            state: view.state,
            first_name: view.player.first_name,
            show: line.show_name,
            position: line.position,
            eta_seconds: line.position.and_then(|p| wait.eta_seconds(p)),
            paused: wait.paused,
            waiting: line.waiting,
            recall_expires_at: view.recall_expires_at,
            acknowledged_at: view.acknowledged_at,
            cancel_reason: view.cancel_reason,
            score: view.score,
            distance: view.distance,
            homeruns: view.homeruns,
            rank: line.rank,
            souvenir_url: view.souvenir_url,
            actions,
            link: None,
        };
        let json = serde_json::to_vec(&status).unwrap_or_default().into();
        Page {
            game_id,
            show_id,
            status,
            json,
            ended_at,
        }
    }

    fn expired(&self, now: DateTime<Utc>) -> bool {
        self.ended_at
            .is_some_and(|at| at <= now - chrono::Duration::hours(CODE_HOURS_AFTER_END))
    }
}

type CodeHash = [u8; 32];

fn hash(code: &str) -> CodeHash {
    Sha256::digest(code.as_bytes()).into()
}

/// A show's pages, by code hash, and what they were built after.
struct ShowPages {
    /// This process's commits and events seen before the build began.
    seen: Seen,
    pages: HashMap<CodeHash, Arc<Page>>,
}

/// How many changes this process knew of at some moment: its own commits
/// and the events (and full-reload ticks) its hub passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    commits: u64,
    events: u64,
}

impl Seen {
    /// Whether what was read after `self` is out of date at `now`.
    fn outdated_by(self, now: Seen) -> bool {
        self.commits < now.commits || self.events < now.events
    }
}

/// The pages of every show this process has been asked about.
#[derive(Default)]
pub struct PlayerLines {
    shows: RwLock<HashMap<ShowId, Arc<ShowPages>>>,
    /// Game events (and full-reload ticks) passed on by the hub.
    events: AtomicU64,
    /// One rebuild of a show at a time: the reads that find the show out of
    /// date meanwhile wait for it, and are then answered by it.
    rebuilding: Flights<ShowId>,
}

impl PlayerLines {
    fn seen(&self, settings: &LineSettings) -> Seen {
        // Events first: a commit counted after them may only add a rebuild.
        let events = self.events.load(Ordering::Acquire);
        Seen {
            commits: settings.wake.commits(),
            events,
        }
    }

    /// The page of `code` in memory, up to date or not, and its show's.
    fn in_memory(&self, code: &str) -> Option<(Arc<Page>, Seen)> {
        let key = hash(code);
        let shows = self.shows.read().unwrap_or_else(|e| e.into_inner());
        shows
            .values()
            .find_map(|show| Some((show.pages.get(&key)?.clone(), show.seen)))
    }

    /// The page of `code`, or `None` when the code opens nothing. From
    /// memory while nothing changed since its show was read; else its show
    /// is read again first (see the module's documentation).
    pub async fn page(
        &self,
        db: &PgPool,
        settings: &LineSettings,
        code: &str,
    ) -> Result<Option<Arc<Page>>> {
        let now = self.seen(settings);
        let fresh = |page: Option<Arc<Page>>| page.filter(|page| !page.expired(Utc::now()));
        match self.in_memory(code) {
            Some((page, seen)) if !seen.outdated_by(now) => {
                metrics::counter!("ondeck_player_status_reads_total", "from" => "memory")
                    .increment(1);
                Ok(fresh(Some(page)))
            }
            Some((page, _)) => {
                metrics::counter!("ondeck_player_status_reads_total", "from" => "rebuild")
                    .increment(1);
                self.after_rebuild(db, settings, code, page, now).await
            }
            None => {
                metrics::counter!("ondeck_player_status_reads_total", "from" => "database")
                    .increment(1);
                let mut conn = db.acquire().await?;
                let Some((game, _)) = player_games::by_code(&mut conn, code).await? else {
                    return Ok(None);
                };
                drop(conn);
                self.rebuild(db, settings, game.show_id, now).await?;
                Ok(fresh(self.in_memory(code).map(|(page, _)| page)))
            }
        }
    }

    /// The page of `code` once its show, found out of date, is read again.
    async fn after_rebuild(
        &self,
        db: &PgPool,
        settings: &LineSettings,
        code: &str,
        page: Arc<Page>,
        now: Seen,
    ) -> Result<Option<Arc<Page>>> {
        let page = match self.rebuild(db, settings, page.show_id, now).await {
            // A code the new pages lack opens nothing any more.
            Ok(()) => self.in_memory(code).map(|(page, _)| page),
            // While the database cannot be read, the page as it last was
            // is better than an error.
            Err(e) => {
                tracing::warn!(error = %e, "cannot read a show's pages again; the last ones answer");
                Some(page)
            }
        };
        Ok(page.filter(|page| !page.expired(Utc::now())))
    }

    /// Rebuilds the pages of `show_id` unless a rebuild that began after
    /// `now` (or later) already did.
    async fn rebuild(
        &self,
        db: &PgPool,
        settings: &LineSettings,
        show_id: ShowId,
        now: Seen,
    ) -> Result<()> {
        let _one_at_a_time = self.rebuilding.turn(show_id).await;
        if self.show(show_id).is_some_and(|s| !s.seen.outdated_by(now)) {
            return Ok(());
        }
        let seen = self.seen(settings);
        let read = async {
            let mut conn = db.acquire().await?;
            let games = player_games::line(&mut conn, show_id, settings.tz).await?;
            let show = shows::get(&mut conn, show_id).await?;
            let wait = scores::wait(&mut conn, &show).await?;
            Ok::<_, crate::error::ApiError>((games, wait))
        };
        let (games, wait) = match read.await {
            Ok(read) => read,
            Err(e) => {
                // The pages as they were stand until the next change (or
                // full reload): reads do not queue up behind the database.
                let mut shows = self.shows.write().unwrap_or_else(|e| e.into_inner());
                if let Some(old) = shows.get(&show_id).cloned() {
                    let pages = old.pages.clone();
                    shows.insert(show_id, Arc::new(ShowPages { seen, pages }));
                }
                return Err(e);
            }
        };
        let pages: HashMap<CodeHash, Arc<Page>> = games
            .into_iter()
            .filter_map(|line| {
                let key = CodeHash::try_from(line.code_hash.as_slice()).ok()?;
                Some((key, Arc::new(Page::new(line, wait, settings))))
            })
            .collect();
        metrics::counter!("ondeck_player_line_rebuilds_total").increment(1);
        let mut shows = self.shows.write().unwrap_or_else(|e| e.into_inner());
        if pages.is_empty() {
            shows.remove(&show_id);
        } else {
            shows.insert(show_id, Arc::new(ShowPages { seen, pages }));
        }
        Ok(())
    }

    fn show(&self, show_id: ShowId) -> Option<Arc<ShowPages>> {
        let shows = self.shows.read().unwrap_or_else(|e| e.into_inner());
        shows.get(&show_id).cloned()
    }

    /// Counts `hub`'s game and show events (and, every [`FULL_RELOAD`], a
    /// tick) until the hub stops: each makes the pages in memory out of date.
    pub async fn follow(self: Arc<Self>, hub: Arc<EventHub>) {
        let mut events = hub.subscribe();
        let stopped = hub.stopped();
        tokio::pin!(stopped);
        let mut every = tokio::time::interval(FULL_RELOAD);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every.tick().await;
        loop {
            let changed = tokio::select! {
                () = &mut stopped => return,
                _ = every.tick() => true,
                got = events.recv() => match got {
                    Ok(event) => event.kind == "game" || event.kind == "show",
                    Err(RecvError::Lagged(_)) => true,
                    Err(RecvError::Closed) => return,
                },
            };
            if changed {
                self.events.fetch_add(1, Ordering::AcqRel);
            }
        }
    }
}
