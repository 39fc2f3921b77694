//! The state machine through the real store: random sequences of
//! transitions, from every state, applied with `store::games::transition`
//! against PostgreSQL (`DATABASE_URL` names the server; the test makes a
//! database of its own and drops it). Each step must do what the table in
//! `game_state.rs` says, a refused step must change nothing, and the per-state
//! timestamps must never move backwards.

use std::str::FromStr as _;

use chrono::{DateTime, Utc};
use ondeck_domain::DomainError;
use ondeck_domain::game_state::{GameState, Transition};
use ondeck_domain::ids::GameId;
use ondeck_domain::models::{Completion, Game};
use ondeck_domain::store::games;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};

/// Cases per run: each is a handful of round trips, so CI stays quick.
const CASES: u32 = 48;

fn server_url() -> String {
    std::env::var("DATABASE_URL").expect("DATABASE_URL names the PostgreSQL server for tests")
}

/// The six per-state timestamps, in the order of `GameState::ALL` minus `new`.
fn stamps(game: &Game) -> [Option<DateTime<Utc>>; 6] {
    [
        game.queued_at,
        game.recalled_at,
        game.confirmed_at,
        game.playing_at,
        game.completed_at,
        game.cancelled_at,
    ]
}

fn stamp_of(game: &Game, state: GameState) -> Option<DateTime<Utc>> {
    match state {
        GameState::New => Some(game.created_at),
        GameState::Queued => game.queued_at,
        GameState::Recalled => game.recalled_at,
        GameState::Confirmed => game.confirmed_at,
        GameState::Playing => game.playing_at,
        GameState::Completed => game.completed_at,
        GameState::Cancelled => game.cancelled_at,
    }
}

async fn load(conn: &mut PgConnection, id: GameId) -> Game {
    games::get(conn, id).await.expect("the game")
}

/// A new player with one game already in `start` (entered an hour ago).
async fn game_in(conn: &mut PgConnection, show: i64, start: GameState) -> GameId {
    let player: i64 = sqlx::query_scalar(
        "INSERT INTO players (show_id, first_name, handedness) VALUES ($1, 'Prop', 'R') RETURNING id",
    )
    .bind(show)
    .fetch_one(&mut *conn)
    .await
    .expect("a player");
    let (column, value) = match start {
        GameState::New => (String::new(), ""),
        other => (
            format!(", {}_at", other.as_str()),
            ", now() - interval '1 hour'",
        ),
    };
    let sql = format!(
        "INSERT INTO games (player_id, show_id, state, created_at{column}) \
         VALUES ($1, $2, $3, now() - interval '1 hour'{value}) RETURNING id"
    );
    sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(player)
        .bind(show)
        .bind(start)
        .fetch_one(&mut *conn)
        .await
        .map(GameId)
        .expect("a game")
}

async fn run_case(
    pool: &PgPool,
    show: i64,
    start: GameState,
    steps: &[Transition],
) -> Result<(), TestCaseError> {
    let mut conn = pool.acquire().await.expect("a connection");
    let id = game_in(&mut conn, show, start).await;
    let mut before = load(&mut conn, id).await;
    for &t in steps {
        let completion = (t == Transition::Complete).then_some(Completion {
            score: 100,
            distance: 300,
            homeruns: 2,
        });
        let expected = before.state.apply(t);
        // Each step commits on its own, as a request would.
        let result = games::transition(&mut conn, id, t, completion, None).await;
        let after = load(&mut conn, id).await;
        match (expected, result) {
            (Ok(next), Ok(moved)) => {
                prop_assert_eq!(moved.previous_state, before.state);
                prop_assert_eq!(moved.game.state, next);
                prop_assert_eq!(after.state, next);
                prop_assert!(
                    after.updated_at >= before.updated_at,
                    "updated_at went back"
                );
                // A timestamp, once set, never changes; the new state's is
                // set, and no earlier than any before it.
                for (old, new) in stamps(&before).into_iter().zip(stamps(&after)) {
                    if old.is_some() {
                        prop_assert_eq!(old, new, "a timestamp changed");
                    }
                }
                // The new state's timestamp is set: kept from its first
                // entry, or, entered for the first time, no earlier than
                // any state before it.
                let entered = stamp_of(&after, next);
                prop_assert!(entered.is_some(), "no timestamp for {}", next);
                if stamp_of(&before, next).is_none() {
                    let latest = stamps(&before).into_iter().flatten().max();
                    prop_assert!(
                        entered >= latest.or(Some(before.created_at)),
                        "{} stamped before an earlier state",
                        next
                    );
                }
            }
            (Err(refused), Err(DomainError::IllegalTransition(e))) => {
                prop_assert_eq!(e.current, before.state);
                prop_assert_eq!(refused.current, before.state);
                prop_assert_eq!(after.state, before.state, "a refused step moved the game");
                prop_assert_eq!(stamps(&after), stamps(&before));
                prop_assert_eq!(after.updated_at, before.updated_at, "a refused step wrote");
            }
            (expected, result) => {
                return Err(TestCaseError::fail(format!(
                    "{} from {}: the table says {expected:?}, the store did {:?}",
                    t,
                    before.state,
                    result.map(|m| m.game.state)
                )));
            }
        }
        // Whatever happened, the game is in a state of the table.
        prop_assert!(GameState::ALL.contains(&after.state));
        before = after;
    }
    Ok(())
}

#[test]
fn any_sequence_through_the_store_follows_the_table_and_time_moves_forward() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let name = format!("ondeck_state_prop_{}", std::process::id());
    let server = PgConnectOptions::from_str(&server_url()).expect("DATABASE_URL");
    let pool = runtime.block_on(async {
        let mut admin = PgConnection::connect_with(&server).await.expect("connect");
        let drop_old = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        sqlx::query(AssertSqlSafe(drop_old))
            .execute(&mut admin)
            .await
            .expect("drop");
        let create = format!("CREATE DATABASE {name}");
        sqlx::query(AssertSqlSafe(create))
            .execute(&mut admin)
            .await
            .expect("create");
        admin.close().await.expect("close");
        let pool = PgPool::connect_with(server.clone().database(&name))
            .await
            .expect("connect to the test database");
        ondeck_domain::MIGRATOR.run(&pool).await.expect("migrate");
        pool
    });
    let show: i64 = runtime
        .block_on(
            sqlx::query_scalar(
                "INSERT INTO shows (name, date, welcome_message, recall_message, souvenir_message) \
                 VALUES ('Props', current_date, 'hi', 'back', 'see {url}') RETURNING id",
            )
            .fetch_one(&pool),
        )
        .expect("a show");

    let strategy = (
        proptest::sample::select(GameState::ALL.to_vec()),
        proptest::collection::vec(proptest::sample::select(Transition::ALL.to_vec()), 0..12),
    );
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(&strategy, |(start, steps)| {
        runtime.block_on(run_case(&pool, show, start, &steps))
    });

    runtime.block_on(async {
        pool.close().await;
        if let Ok(mut admin) = PgConnection::connect_with(&server).await {
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let _ = sqlx::query(AssertSqlSafe(drop)).execute(&mut admin).await;
        }
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
}
