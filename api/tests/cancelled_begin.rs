//! A request cut off while its transaction's `BEGIN` is on the wire must
//! not leave its pooled connection inside that transaction.
//!
//! The API runs in the test over a pool of one connection, built as ondeck
//! builds it, to a PostgreSQL reached through a TCP proxy that can hold back
//! a `BEGIN`. A signup is cut off while its `BEGIN` is held, by its client
//! going away or by the request timeout; then the held `BEGIN` goes through.
//! Afterwards no session of the database may sit `idle in transaction`, and
//! a plain write through the same pool must be committed: visible at once
//! from another connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ondeck_api::config::Config;
use ondeck_domain::models::Role;
use ondeck_domain::store::tokens;
use serde_json::json;
use sqlx::{Connection as _, PgConnection, PgPool};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// A simple-protocol `Query` message carrying `BEGIN`, as sqlx sends it.
const BEGIN: &[u8] = b"Q\0\0\0\x0aBEGIN\0";

/// How long to wait for anything that should happen at once.
const PROMPTLY: Duration = Duration::from_secs(10);

/// A loopback TCP proxy to PostgreSQL that, once armed, holds back the next
/// `BEGIN` a client sends until released.
struct Proxy {
    port: u16,
    hold: Arc<Hold>,
}

#[derive(Default)]
struct Hold {
    armed: AtomicBool,
    seen: Notify,
    release: Notify,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().expect("the proxy's address").port();
        let hold = Arc::new(Hold::default());
        let shared = hold.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                tokio::spawn(pump(client, server, shared.clone()));
            }
        });
        Proxy { port, hold }
    }

    /// The next `BEGIN` waits until [`Proxy::release`].
    fn arm(&self) {
        self.hold.armed.store(true, Ordering::SeqCst);
    }

    /// Waits until the armed `BEGIN` has reached the proxy (and is held).
    async fn begin_held(&self) {
        tokio::time::timeout(PROMPTLY, self.hold.seen.notified())
            .await
            .expect("the signup's BEGIN reaches the proxy");
    }

    /// Lets the held `BEGIN` through to the server.
    fn release(&self) {
        self.hold.release.notify_one();
    }
}

/// Copies both ways; client bytes that carry an armed `BEGIN` wait for the
/// release first.
async fn pump(mut client: TcpStream, mut server: TcpStream, hold: Arc<Hold>) {
    let (mut client_rx, mut client_tx) = client.split();
    let (mut server_rx, mut server_tx) = server.split();
    let upstream = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_rx.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let chunk = &buf[..n];
            if chunk.windows(BEGIN.len()).any(|w| w == BEGIN)
                && hold.armed.swap(false, Ordering::SeqCst)
            {
                hold.seen.notify_one();
                hold.release.notified().await;
            }
            if server_tx.write_all(chunk).await.is_err() {
                break;
            }
        }
        let _ = server_tx.shutdown().await;
    };
    let downstream = async {
        let _ = tokio::io::copy(&mut server_rx, &mut client_tx).await;
        let _ = client_tx.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}

/// The API over the proxy, with a pool of one connection.
struct Api {
    base: String,
    token: String,
    /// The API's own pool (the one connection that goes through the proxy).
    pool: PgPool,
    proxy: Proxy,
    stop: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<()>,
}

impl Api {
    async fn start(direct: &PgPool, overrides: &[(&str, &str)]) -> Api {
        let options = direct.connect_options();
        let database = options.get_database().expect("the test database's name");
        let proxy = Proxy::start(format!("{}:{}", options.get_host(), options.get_port())).await;
        let data_dir = std::env::temp_dir().join(format!(
            "ondeck-cancelled-begin-{}-{database}",
            std::process::id()
        ));
        let mut env = std::collections::HashMap::from([
            (
                "DATABASE_URL".to_owned(),
                format!(
                    "postgres://{}@127.0.0.1:{}/{database}?sslmode=disable",
                    options.get_username(),
                    proxy.port
                ),
            ),
            ("DATABASE_POOL_SIZE".to_owned(), "1".to_owned()),
            ("REDIS_URL".to_owned(), redis_url()),
            (
                "DATA_DIR".to_owned(),
                data_dir.to_string_lossy().into_owned(),
            ),
            ("RATE_LIMIT_PER_SECOND".to_owned(), "0".to_owned()),
        ]);
        for (k, v) in overrides {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        let config = Config::from_source(&move |k: &str| env.get(k).cloned())
            .expect("a valid configuration");
        let state = ondeck_api::build_state(config)
            .await
            .expect("the API's state");
        let pool = state.db.clone();
        let mut conn = direct.acquire().await.expect("a direct connection");
        let token = tokens::create(&mut conn, "tablet", Role::Tablet)
            .await
            .expect("a tablet token");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the API");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app =
            ondeck_api::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
        let served = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .expect("the API serves");
        });
        Api {
            base,
            token,
            pool,
            proxy,
            stop,
            served,
        }
    }

    /// A signup, as a tablet sends it.
    fn signup(&self, http: &reqwest::Client) -> reqwest::RequestBuilder {
        http.post(format!("{}/api/v1/players", self.base))
            .bearer_auth(&self.token)
            .json(&json!({"first_name": "Cut", "handedness": "R"}))
    }

    /// Lets the held `BEGIN` go on; once the cut-off request's connection is
    /// back, checks that nothing was left inside a transaction, and stops.
    async fn release_then_check(self, direct: &PgPool) {
        self.proxy.release();
        settled(&self.pool).await;
        assert_no_transaction_left(&self.pool, direct).await;
        self.stop().await;
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(PROMPTLY, self.served).await;
        self.pool.close().await;
        drop(self.proxy);
    }
}

/// Waits until no connection of `pool` is checked out or on its way back:
/// a cut-off request's connection is back in the pool, or was closed.
async fn settled(pool: &PgPool) {
    let deadline = Instant::now() + PROMPTLY;
    while pool.num_idle() != pool.size() as usize {
        assert!(
            Instant::now() < deadline,
            "the cut-off request's connection never came back to the pool"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn redis_url() -> String {
    std::env::var("ONDECK_TEST_REDIS_URL")
        .or_else(|_| std::env::var("REDIS_URL"))
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// What must hold once a cut-off request's connection is back: no session
/// left inside a transaction, and a plain write through the API's pool
/// committed at once.
async fn assert_no_transaction_left(pool: &PgPool, direct: &PgPool) {
    let mut other = PgConnection::connect_with(&direct.connect_options())
        .await
        .expect("another connection");
    let stuck: Vec<(i32, String)> = sqlx::query_as(
        "SELECT pid, coalesce(query, '') FROM pg_stat_activity \
         WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
    )
    .fetch_all(&mut other)
    .await
    .expect("read pg_stat_activity");
    let players = count(&mut other, "players").await;
    sqlx::query("INSERT INTO cancelled_begin_probe (note) VALUES ('after the cut')")
        .execute(pool)
        .await
        .expect("a write through the API's pool");
    let seen = count(&mut other, "cancelled_begin_probe").await;
    assert!(
        stuck.is_empty() && seen == 1,
        "after a request cut off during BEGIN: sessions idle in transaction: {stuck:?}; \
         a write through the same pool is {} from another connection",
        if seen == 1 { "visible" } else { "NOT visible" }
    );
    assert_eq!(players, 0, "the cut-off signup must not have been made");
    sqlx::query("DELETE FROM cancelled_begin_probe")
        .execute(&mut other)
        .await
        .expect("empty the probe table");
}

/// The rows of `table`, as `conn` sees them.
async fn count(conn: &mut PgConnection, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {table}");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(conn)
        .await
        .unwrap_or_else(|e| panic!("count {table}: {e}"))
}

async fn probe_table(direct: &PgPool) {
    sqlx::query("CREATE TABLE cancelled_begin_probe (note text NOT NULL)")
        .execute(direct)
        .await
        .expect("create the probe table");
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn a_client_that_goes_away_during_begin_leaves_no_transaction_open(direct: PgPool) {
    probe_table(&direct).await;
    let api = Api::start(&direct, &[]).await;
    let http = reqwest::Client::new();
    api.proxy.arm();
    let request = tokio::spawn(api.signup(&http).send());
    api.proxy.begin_held().await;
    // The client goes away while the BEGIN is on its way.
    request.abort();
    let _ = request.await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    api.release_then_check(&direct).await;
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn a_request_timed_out_during_begin_leaves_no_transaction_open(direct: PgPool) {
    probe_table(&direct).await;
    let api = Api::start(&direct, &[("REQUEST_TIMEOUT_SECONDS", "1")]).await;
    let http = reqwest::Client::new();
    api.proxy.arm();
    let answer = tokio::time::timeout(PROMPTLY, api.signup(&http).send())
        .await
        .expect("the request timeout answers")
        .expect("a response");
    assert_eq!(answer.status(), 503, "the request timed out");
    api.proxy.begin_held().await;
    api.release_then_check(&direct).await;
}

/// Whatever leaves a session inside a transaction that sqlx does not know
/// of, the pool closes that connection when it comes back instead of
/// handing it out, and counts it.
#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn a_connection_returned_inside_a_transaction_is_closed_and_counted(direct: PgPool) {
    probe_table(&direct).await;
    let metrics = ondeck_api::metrics_handle().expect("the metrics recorder");
    let options = direct.connect_options();
    let url = format!(
        "postgres://{}@{}:{}/{}",
        options.get_username(),
        options.get_host(),
        options.get_port(),
        options.get_database().expect("the test database's name")
    );
    let pool = ondeck_api::connect(&url.into(), 1)
        .await
        .expect("ondeck's pool");
    let discarded = || {
        metrics
            .render()
            .lines()
            .find(|l| {
                l.starts_with(ondeck_api::pool::DISCARDED)
                    && l.contains(r#"pool="primary""#)
                    && l.contains(r#"when="release""#)
            })
            .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let before = discarded();
    // A transaction opened behind sqlx's back, then one that failed.
    for statements in ["BEGIN", "BEGIN; SELECT 1 / 0"] {
        {
            let mut conn = pool.acquire().await.expect("a connection");
            let _ = sqlx::raw_sql(statements).execute(&mut *conn).await;
        }
        settled(&pool).await;
        assert_no_transaction_left(&pool, &direct).await;
    }
    // Other tests of this binary may count too: at least these two.
    assert!(
        discarded() >= before + 2,
        "both connections counted in {}",
        ondeck_api::pool::DISCARDED
    );
    pool.close().await;
}
