//! PostgreSQL for one test: a database of its own on the server
//! `DATABASE_URL` names (or on any server a test gives), and, in
//! [`Cluster`], a whole server of its own with streaming replicas.

mod cluster;

use std::process::Output;

use reqwest::Url;
use sqlx::{AssertSqlSafe, Connection as _, PgConnection, PgPool};

pub use cluster::Cluster;

use crate::process::run_ondeck;
use crate::temp::unique;

/// The server tests make their databases on: `DATABASE_URL`, as a
/// superuser (who may create and drop databases).
pub fn server_url() -> String {
    std::env::var("DATABASE_URL")
        .expect("DATABASE_URL names the PostgreSQL server for tests (its superuser)")
}

async fn on_server(server: &str, sql: String) -> Result<(), sqlx::Error> {
    let mut server = PgConnection::connect(server).await?;
    sqlx::query(AssertSqlSafe(sql)).execute(&mut server).await?;
    Ok(())
}

/// A database of one test's own, dropped `WITH (FORCE)` when the test
/// ends, even by a panic.
pub struct Db {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
    /// The URL of the server's maintenance database, as its superuser.
    server: String,
}

impl Db {
    /// Migrated by `ondeck migrate`, on the server of `DATABASE_URL`.
    pub async fn create() -> Db {
        Db::create_on(&server_url()).await
    }

    /// Migrated by `ondeck migrate`, on the server `server` names (a URL as
    /// its superuser).
    pub async fn create_on(server: &str) -> Db {
        let db = Db::empty_on(server).await;
        db.cli(&["migrate"]).await;
        db
    }

    /// Without a schema, on the server of `DATABASE_URL`.
    pub async fn empty() -> Db {
        Db::empty_on(&server_url()).await
    }

    async fn empty_on(server: &str) -> Db {
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
        Db {
            name,
            url,
            pool,
            server: server.to_owned(),
        }
    }

    /// Runs `ondeck args` with only this database in its environment; it
    /// must succeed within 30 s. Returns its standard output.
    pub async fn cli(&self, args: &[&str]) -> String {
        cli(&self.url, args).await
    }

    /// Runs `ondeck args` with only this database in its environment, for
    /// at most 30 s, whether it succeeds or not.
    pub async fn run(&self, args: &[&str]) -> Output {
        run_ondeck(args, &[("DATABASE_URL", &self.url)]).await
    }

    /// `SELECT count(*) FROM {from}`, where `from` is a table and any
    /// `WHERE` clause.
    pub async fn count(&self, from: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {from}");
        self.scalar_i64(&sql).await.unwrap_or_default()
    }

    pub async fn scalar_i64(&self, sql: &str) -> Option<i64> {
        sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
            .fetch_optional(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

/// A transaction of the test's own holding a lock: every change of what it
/// holds waits until it is released.
pub struct RowLock(PgConnection);

impl RowLock {
    /// Holds a game's row: every change of that game waits.
    pub async fn take(db: &Db, game: i64) -> RowLock {
        let mut lock = RowLock::begin(db).await;
        sqlx::query("SELECT id FROM games WHERE id = $1 FOR UPDATE")
            .bind(game)
            .fetch_one(&mut lock.0)
            .await
            .expect("lock the game's row");
        lock
    }

    /// Holds the whole tokens table: every token look-up waits.
    pub async fn tokens(db: &Db) -> RowLock {
        let mut lock = RowLock::begin(db).await;
        sqlx::query("LOCK TABLE api_tokens IN ACCESS EXCLUSIVE MODE")
            .execute(&mut lock.0)
            .await
            .expect("lock the tokens");
        lock
    }

    async fn begin(db: &Db) -> RowLock {
        let mut conn = PgConnection::connect(&db.url)
            .await
            .expect("a connection of the test's own");
        sqlx::query("BEGIN")
            .execute(&mut conn)
            .await
            .expect("BEGIN");
        RowLock(conn)
    }

    /// Rolls the transaction back: what waited goes on.
    pub async fn release(mut self) {
        sqlx::query("ROLLBACK")
            .execute(&mut self.0)
            .await
            .expect("ROLLBACK");
        let _ = self.0.close().await;
    }
}

/// Runs `ondeck args` with only `DATABASE_URL=database_url` in its
/// environment; it must succeed within 30 s. Returns its standard output.
pub async fn cli(database_url: &str, args: &[&str]) -> String {
    let output = run_ondeck(args, &[("DATABASE_URL", database_url)]).await;
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
        // The pool's connections belong to the test's runtime, which waits
        // below: a single-threaded one could not close them, so there they
        // are left for `WITH (FORCE)` to end.
        let close = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() != tokio::runtime::RuntimeFlavor::CurrentThread);
        // On a thread of its own: Drop may run inside the test's runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                if close {
                    pool.close().await;
                }
                on_server(&server, sql).await
            })
        });
        if let Ok(Err(e)) = dropped.join() {
            eprintln!("could not drop {}: {e}", self.name);
        }
    }
}
