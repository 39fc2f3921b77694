//! The end-to-end way in: the real `ondeck` binary against services private
//! to one test.
//!
//! - [`Db`]: a fresh PostgreSQL database on the server `DATABASE_URL` names
//!   (the superuser), migrated with `ondeck migrate`, dropped `WITH (FORCE)`
//!   when the test ends, even by a panic.
//! - [`Redis`]: a `redis-server` of the test's own on a free loopback port,
//!   without persistence, that can be stopped and started again on that port.
//! - [`FakeTwilio`]: an HTTP server inside the test that stands in for
//!   Twilio's Messages API and checks and records each request.
//! - [`S3`]: `s3s-fs` (a real S3-compatible server that checks signatures) on
//!   a free loopback port, with one bucket.
//! - [`Ondeck`]: an `ondeck run|serve|work` process with a cleared
//!   environment, its output in a file that is printed when the test fails.
//!
//! [`Stack`] puts them together with tokens and a show made by the CLI.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{Connection as _, PgConnection};

use crate::postgres::Db;
use crate::process::{Mode, Ondeck, free_port};
use crate::redis::Redis;
use crate::reply::{self, Body, Reply};
use crate::s3::S3;
use crate::temp::TempDir;
use crate::twilio::{FakeTwilio, Sms, TWILIO_FROM, TWILIO_SID};
use crate::wait::eventually;

/// A distinct, valid US mobile number for each `n`.
pub fn mobile(n: u32) -> String {
    format!("+1415555{:04}", n % 10_000)
}

/// A valid US mobile number that no other call in this test binary's run
/// has given (and none of [`mobile`]'s).
pub fn next_mobile() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("+1415556{:04}", n % 10_000)
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

    /// A new stack and `ondeck serve` on it with `settings` (see
    /// [`Stack::spawn`]).
    pub async fn serve(settings: &[(&str, &str)]) -> (Stack, Ondeck) {
        let stack = Stack::new().await;
        let ondeck = stack.spawn(Mode::Serve, settings).await;
        (stack, ondeck)
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
            ("S3_BUCKET", self.s3.bucket.clone()),
            ("S3_REGION", "us-east-1".to_owned()),
            ("S3_ENDPOINT", self.s3.endpoint()),
            ("AWS_ACCESS_KEY_ID", self.s3.access_key.clone()),
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
            if let Some(process) = Ondeck::start(name, mode, &listen, &env, log, &self.http).await {
                return process;
            }
            // Someone took the port in between: another one.
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
        reply::send(&self.http, method, &url, token, body, &[]).await
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

    /// What `GET path` answers an admin, which must be a 200.
    pub async fn admin_get(&self, ondeck: &Ondeck, path: &str) -> Value {
        self.get(ondeck, &self.tokens.admin, path).await.expect(200)
    }

    /// `PUT /api/v1/players/{player}/photo` from the tablet with these bytes.
    pub async fn put_photo(
        &self,
        ondeck: &Ondeck,
        player: i64,
        content_type: &'static str,
        bytes: Vec<u8>,
    ) -> Reply {
        let path = format!("/api/v1/players/{player}/photo");
        let body = Some(Body::Bytes(content_type, bytes));
        self.send(ondeck, Method::PUT, &path, Some(&self.tokens.tablet), body)
            .await
    }

    /// The show as the API gives it.
    pub async fn show(&self, ondeck: &Ondeck) -> Value {
        let path = format!("/api/v1/shows/{}", self.show_id);
        self.admin_get(ondeck, &path).await
    }

    /// The game as the admin sees it.
    pub async fn game(&self, ondeck: &Ondeck, game: i64) -> Value {
        self.admin_get(ondeck, &format!("/api/v1/games/{game}"))
            .await
    }

    /// The status `/readyz` answers, or `None` when nothing answers.
    pub async fn readyz(&self, ondeck: &Ondeck) -> Option<u16> {
        let url = format!("{}/readyz", ondeck.base);
        let reply = self.http.get(url).send().await.ok()?;
        Some(reply.status().as_u16())
    }

    /// Waits up to `limit` until `/readyz` answers `status`.
    pub async fn readyz_becomes(&self, ondeck: &Ondeck, status: u16, limit: Duration) {
        let what = format!("/readyz {status}");
        eventually(&what, limit, async || {
            (self.readyz(ondeck).await == Some(status)).then_some(())
        })
        .await;
    }

    /// Moves `game` through `steps`, each with the token of the role that
    /// makes it (the tablet, or the game for `play` and `complete`); a
    /// `complete` scores 10, 300 feet and one home run.
    pub async fn advance(&self, ondeck: &Ondeck, game: i64, steps: &[&str]) {
        for step in steps {
            let (token, body) = match *step {
                "play" => (&self.tokens.game, json!({})),
                "complete" => (
                    &self.tokens.game,
                    json!({"score": 10, "distance": 300, "homeruns": 1}),
                ),
                _ => (&self.tokens.tablet, json!({})),
            };
            let path = format!("/api/v1/games/{game}/{step}");
            self.post(ondeck, token, &path, body).await.expect(200);
        }
    }

    /// Waits (up to a minute) for the game's `souvenir_url` and returns it.
    pub async fn souvenir_url(&self, ondeck: &Ondeck, game: i64) -> String {
        eventually(
            "the game's souvenir_url",
            Duration::from_secs(60),
            async || {
                let current = self.game(ondeck, game).await;
                current["souvenir_url"].as_str().map(str::to_owned)
            },
        )
        .await
    }

    /// Changes this stack's show as an admin; returns the show.
    pub async fn patch_show(&self, ondeck: &Ondeck, changes: Value) -> Value {
        let path = format!("/api/v1/shows/{}", self.show_id);
        self.send(
            ondeck,
            Method::PATCH,
            &path,
            Some(&self.tokens.admin),
            Some(Body::Json(changes)),
        )
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

    /// The messages `GET /api/v1/messages` lists for this query, every page.
    pub async fn messages(&self, ondeck: &Ondeck, query: &str) -> Vec<Value> {
        let mut all = vec![];
        let mut cursor = String::new();
        loop {
            let path = format!("/api/v1/messages?limit=500&cursor={cursor}&{query}");
            let page = self.admin_get(ondeck, &path).await;
            let items = page["items"]
                .as_array()
                .unwrap_or_else(|| panic!("items: {page}"));
            all.extend(items.iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = next.to_owned(),
                None => return all,
            }
        }
    }

    /// Waits up to `limit` until `n` messages are listed for `query`, each
    /// recorded as sent; returns them.
    pub async fn sent_messages(
        &self,
        ondeck: &Ondeck,
        query: &str,
        n: usize,
        limit: Duration,
    ) -> Vec<Value> {
        let what = format!("{n} message(s) listed for {query:?}, each sent");
        eventually(&what, limit, async || {
            let items = self.messages(ondeck, query).await;
            (items.len() == n && items.iter().all(|m| m["status"] == "sent")).then_some(items)
        })
        .await
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

    /// After a second for stragglers: `to` has had exactly `texts` texts,
    /// and the fake Twilio `posts` sends in all (failed ones included).
    pub async fn assert_no_more_texts(&self, to: &str, texts: usize, posts: usize) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let summary = self.twilio.summary();
        assert_eq!(self.twilio.to(to).len(), texts, "texts to {to}: {summary}");
        assert_eq!(self.twilio.posts(), posts, "sends tried: {summary}");
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
