//! The in-process way in: the API's own router (`ondeck_api::app_with`)
//! served by this test process on a loopback port, over the test's
//! `#[sqlx::test]` database and the shared Redis, with one token per role
//! and typed helpers.

use std::collections::HashMap;
use std::sync::Arc;

use ondeck_api::app_state::AppState;
use ondeck_api::config::Config;
use ondeck_domain::models::Role;
use ondeck_domain::store::tokens;
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::redis::redis_url;
use crate::reply::{self, Body, Reply};
use crate::temp::unique;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// The test's database, for setting up and checking rows directly.
    pub pool: PgPool,
    pub config: Arc<Config>,
    tokens: HashMap<Role, String>,
    server: Option<Server>,
}

/// The API runs on a multi-threaded runtime of its own, with its own pool
/// over the test's database, so racing requests really run in parallel.
struct Server {
    stop: tokio::sync::oneshot::Sender<()>,
    stopped: std::sync::mpsc::Receiver<()>,
}

impl Drop for TestApp {
    /// Stops the server and closes its connections before `#[sqlx::test]`
    /// drops the database.
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.stop.send(());
            let _ = server
                .stopped
                .recv_timeout(std::time::Duration::from_secs(10));
        }
    }
}

/// Settings for a test server: the documented defaults over this test's
/// database, with `overrides` on top.
pub fn test_config(overrides: &[(&str, &str)]) -> Config {
    let mut env: HashMap<String, String> = HashMap::new();
    let data_dir = std::env::temp_dir().join(unique("ondeck-test"));
    env.insert("DATA_DIR".into(), data_dir.to_string_lossy().into_owned());
    env.insert(
        "DATABASE_URL".into(),
        "postgres://unused/overridden-by-the-pool".into(),
    );
    env.insert("REDIS_URL".into(), redis_url());
    // Tests send bursts from one token; api/tests/limits.rs tests the limit.
    env.insert("RATE_LIMIT_PER_SECOND".into(), "0".into());
    for (k, v) in overrides {
        env.insert((*k).into(), (*v).into());
    }
    Config::from_source(&move |k: &str| env.get(k).cloned()).expect("test configuration is valid")
}

impl TestApp {
    pub async fn spawn(pool: PgPool) -> TestApp {
        Self::spawn_with(pool, &[]).await
    }

    /// Starts the API with these settings on a free loopback port.
    pub async fn spawn_with(pool: PgPool, overrides: &[(&str, &str)]) -> TestApp {
        Self::spawn_with_routes(pool, overrides, axum::Router::new()).await
    }

    /// [`TestApp::spawn_with`], with `extra` routes served under every layer
    /// of the app (see `ondeck_api::app_with`).
    pub async fn spawn_with_routes(
        pool: PgPool,
        overrides: &[(&str, &str)],
        extra: axum::Router<AppState>,
    ) -> TestApp {
        let config = Arc::new(test_config(overrides));
        let options = (*pool.connect_options()).clone();
        let storage = ondeck_media::storage::Storage::open(&config.worker.storage, &pool)
            .await
            .expect("storage");
        let server_config = config.clone();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (stopped_tx, stopped) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let db = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(24)
                    .connect_with(options)
                    .await
                    .expect("server pool");
                let state = AppState {
                    wake: ondeck_domain::store::wake::Wake::start(db.clone()),
                    db: db.clone(),
                    reads: Arc::new(ondeck_api::db::Reads::primary_only(db.clone())),
                    redis: redis::Client::open(redis_url()).expect("redis url"),
                    config: server_config,
                    metrics: ondeck_api::metrics_handle(),
                    tokens: Default::default(),
                    events: Default::default(),
                    lines: Default::default(),
                    reports: Default::default(),
                    answers: Default::default(),
                    storage,
                };
                state.follow_events();
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind a port");
                addr_tx
                    .send(listener.local_addr().expect("local addr"))
                    .expect("report the address");
                axum::serve(listener, ondeck_api::app_with(state, extra))
                    .with_graceful_shutdown(async move {
                        let _ = stop_rx.await;
                    })
                    .await
                    .expect("server runs");
                db.close().await;
            });
            let _ = stopped_tx.send(());
        });
        let addr = addr_rx.recv().expect("the server starts");
        let mut conn = pool.acquire().await.expect("connection");
        let mut tokens = HashMap::new();
        for role in Role::ALL {
            // A second app on the same database (another process, or the
            // same one restarted) names its tokens after its port.
            let token = match tokens::create(&mut conn, &format!("test-{role}"), role).await {
                Err(ondeck_domain::DomainError::Conflict(_)) => {
                    let name = format!("test-{role}-{}", addr.port());
                    tokens::create(&mut conn, &name, role).await
                }
                created => created,
            }
            .expect("token");
            tokens.insert(role, token);
        }
        TestApp {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            pool,
            config,
            tokens,
            server: Some(Server { stop, stopped }),
        }
    }

    pub fn token(&self, role: Role) -> &str {
        &self.tokens[&role]
    }

    /// Any request; `token: None` sends no Authorization header.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let url = format!("{}{path}", self.base);
        let body = body.map(|v| Body::Json(v.clone()));
        reply::send(&self.client, method, &url, token, body, headers).await
    }

    pub async fn get(&self, role: Role, path: &str) -> Reply {
        self.send(Method::GET, path, Some(self.token(role)), None, &[])
            .await
    }

    pub async fn post(&self, role: Role, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(self.token(role)), Some(&body), &[])
            .await
    }

    pub async fn patch(&self, role: Role, path: &str, body: Value) -> Reply {
        self.send(
            Method::PATCH,
            path,
            Some(self.token(role)),
            Some(&body),
            &[],
        )
        .await
    }

    /// [`TestApp::spawn`], with a show ("Derby", on 2026-11-21) for the
    /// players to sign up to.
    pub async fn with_show(pool: PgPool) -> TestApp {
        let app = TestApp::spawn(pool).await;
        app.create_show("Derby", "2026-11-21").await;
        app
    }

    pub async fn create_show(&self, name: &str, date: &str) -> Value {
        self.post(
            Role::Admin,
            "/api/v1/shows",
            json!({"name": name, "date": date}),
        )
        .await
        .expect(201)
    }

    pub async fn create_team(&self, name: &str) -> Value {
        self.post(Role::Admin, "/api/v1/teams", json!({"name": name}))
            .await
            .expect(201)
    }

    /// Signs a player up; returns the player JSON.
    pub async fn signup(&self, body: Value) -> Value {
        self.post(Role::Tablet, "/api/v1/players", body)
            .await
            .expect(201)
    }

    /// Signs up a player without a mobile number; returns their game's id.
    pub async fn new_game(&self, first_name: &str) -> i64 {
        let player = self
            .signup(json!({"first_name": first_name, "last_name": "Tester", "handedness": "R"}))
            .await;
        player["active_game"]["id"].as_i64().expect("game id")
    }

    /// Signs up a player with a mobile number; returns their game's id.
    pub async fn new_game_with_mobile(&self, first_name: &str, n: u32) -> i64 {
        let mobile = format!("+1415555{:04}", n % 10_000);
        let player = self
            .signup(json!({"first_name": first_name, "handedness": "L", "mobile_number": mobile}))
            .await;
        player["active_game"]["id"].as_i64().expect("game id")
    }

    /// POST a transition as admin (who may make all of them).
    pub async fn transition(&self, game: i64, transition: &str) -> Reply {
        let body = if transition == "complete" {
            json!({"score": 100, "distance": 350, "homeruns": 2})
        } else {
            json!({})
        };
        self.post(
            Role::Admin,
            &format!("/api/v1/games/{game}/{transition}"),
            body,
        )
        .await
    }

    pub async fn complete(&self, game: i64, score: i64, distance: i64, homeruns: i64) -> Value {
        self.post(
            Role::Game,
            &format!("/api/v1/games/{game}/complete"),
            json!({"score": score, "distance": distance, "homeruns": homeruns}),
        )
        .await
        .expect(200)
    }

    /// The path of transitions from `new` to each state.
    pub fn path_to(state: &str) -> &'static [&'static str] {
        match state {
            "new" => &[],
            "queued" => &["queue"],
            "recalled" => &["queue", "recall"],
            "confirmed" => &["confirm"],
            "playing" => &["confirm", "play"],
            "completed" => &["confirm", "play", "complete"],
            "cancelled" => &["cancel"],
            other => panic!("no such state {other}"),
        }
    }

    /// A fresh game in `state`.
    pub async fn game_in(&self, state: &str) -> i64 {
        let game = self.new_game(&format!("In {state}")).await;
        for t in Self::path_to(state) {
            self.transition(game, t).await.expect(200);
        }
        game
    }

    pub async fn game(&self, id: i64) -> Value {
        self.get(Role::Admin, &format!("/api/v1/games/{id}"))
            .await
            .expect(200)
    }

    /// Rows in a table, to check that a refused request changed nothing.
    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {table}");
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }
}
