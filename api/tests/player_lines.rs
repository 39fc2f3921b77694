//! Players' pages under many players and more than one process, against
//! the real `ondeck serve|run`: a player's action racing a staff change,
//! 50 "later"s at once, and pages served from memory (no query per read)
//! that still follow every change, including those another process makes.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use ondeck_testkit::pages::{act, player_in, sign_up, start, status, waiting};
use ondeck_testkit::{Mode, Ondeck, Stack};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_player_leaving_and_staff_confirming_at_once_one_wins() {
    let (stack, ondeck) = start(&[]).await;
    for _ in 0..10 {
        let player = player_in(&stack, &ondeck, "queued").await;
        let leave = act(&stack, &ondeck, &player.code, "leave");
        let path = format!("/api/v1/games/{}/confirm", player.game);
        let confirm = stack.post(&ondeck, &stack.tokens.tablet, &path, json!({}));
        let (leave, confirm) = tokio::join!(leave, confirm);
        let game = stack.game(&ondeck, player.game).await;
        match (leave.status, confirm.status) {
            (200, 409) => {
                assert_eq!(game["state"], "cancelled");
                assert_eq!(confirm.problem(409)["current_state"], "cancelled");
            }
            (409, 200) => {
                assert_eq!(game["state"], "confirmed");
                assert_eq!(leave.problem(409)["current_state"], "confirmed");
            }
            other => panic!("exactly one wins, got {other:?}: {game}"),
        }
    }
}

#[tokio::test]
async fn fifty_laters_at_once_leave_a_line_without_gaps() {
    let (stack, ondeck) = start(&[]).await;
    let mut players = Vec::new();
    for i in 0..55 {
        players.push(sign_up(&stack, &ondeck, &format!("P{i}")).await);
        stack.advance(&ondeck, players[i].game, &["queue"]).await;
    }
    let movers = &players[..50];
    let replies = futures::future::join_all(
        movers
            .iter()
            .map(|p| act(&stack, &ondeck, &p.code, "later")),
    )
    .await;
    for reply in &replies {
        reply.expect(200);
    }
    let order = waiting(&stack, &ondeck).await;
    assert_eq!(order.len(), 55);
    let unique: HashSet<_> = order.iter().collect();
    assert_eq!(unique.len(), 55, "no game twice: {order:?}");
    for player in &players {
        let position = status(&stack, &ondeck, &player.code).await["position"]
            .as_i64()
            .expect("a position");
        assert_eq!(
            order[position as usize - 1],
            player.game,
            "the page and /queue agree"
        );
    }
}

/// A counter of `ondeck`'s `/metrics` (all its label sets summed).
async fn counter(stack: &Stack, ondeck: &Ondeck, name: &str, labels: &str) -> f64 {
    let reply = stack
        .send(ondeck, Method::GET, "/metrics", None, None)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let prefix = format!("{name}{labels} ");
    reply
        .text()
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.parse::<f64>().expect("a number"))
        .sum()
}

/// Page reads answered from memory, from the database, and rebuilds of a
/// show's pages, as `/metrics` counts them.
async fn reads(stack: &Stack, ondeck: &Ondeck) -> (f64, f64, f64) {
    let from = |from: &'static str| format!(r#"{{from="{from}"}}"#);
    (
        counter(
            stack,
            ondeck,
            "ondeck_player_status_reads_total",
            &from("memory"),
        )
        .await,
        counter(
            stack,
            ondeck,
            "ondeck_player_status_reads_total",
            &from("database"),
        )
        .await,
        counter(stack, ondeck, "ondeck_player_line_rebuilds_total", "").await,
    )
}

#[tokio::test]
async fn pages_are_read_from_memory_and_follow_changes_from_any_process() {
    let stack = Stack::new().await;
    let unlimited = [("PLAYER_RATE_LIMIT_PER_MINUTE", "1000000")];
    let phones = stack.spawn(Mode::Serve, &unlimited).await;
    let staff = stack.spawn(Mode::Serve, &unlimited).await;
    let mut players = Vec::new();
    for i in 0..6 {
        let player = sign_up(&stack, &staff, &format!("M{i}")).await;
        stack.advance(&staff, player.game, &["queue"]).await;
        players.push(player);
    }
    // The first reads find the show in the database, once.
    for player in &players {
        status(&stack, &phones, &player.code).await;
    }
    let before = reads(&stack, &phones).await;
    for _ in 0..20 {
        for (i, player) in players.iter().enumerate() {
            let s = status(&stack, &phones, &player.code).await;
            assert_eq!(s["position"], i as i64 + 1, "{s}");
            assert_eq!(s["waiting"], 6, "{s}");
        }
    }
    let after = reads(&stack, &phones).await;
    assert_eq!(
        after.0 - before.0,
        120.0,
        "every read from memory: {before:?} → {after:?}"
    );
    assert_eq!(after.1, before.1, "no read looked in the database");
    // One full reload may fall in the window (every 30 s), nothing else.
    assert!(
        after.2 - before.2 <= 1.0,
        "no rebuild without a change: {before:?} → {after:?}"
    );

    // Staff on the other process recall the first player: the pages on
    // this one follow (the contract allows 10 s; it takes an event's trip).
    let recall = format!("/api/v1/games/{}/recall", players[0].game);
    stack
        .post(&staff, &stack.tokens.tablet, &recall, json!({}))
        .await
        .expect(200);
    let changed = Instant::now();
    loop {
        let first = status(&stack, &phones, &players[0].code).await;
        let second = status(&stack, &phones, &players[1].code).await;
        if first["state"] == "recalled" && second["position"] == 1 {
            assert!(first["recall_expires_at"].is_string(), "{first}");
            assert_eq!(second["waiting"], 5, "{second}");
            break;
        }
        assert!(
            changed.elapsed() < Duration::from_secs(10),
            "the pages still say {first} and {second}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "another process's change reached the pages in {:?}",
        changed.elapsed()
    );

    // A player's own action on this process shows on the very next read.
    act(&stack, &phones, &players[3].code, "leave")
        .await
        .expect(200);
    let left = status(&stack, &phones, &players[3].code).await;
    assert_eq!(left["state"], "cancelled", "{left}");
    assert_eq!(left["cancel_reason"], "player_left", "{left}");
    assert_eq!(
        status(&stack, &phones, &players[4].code).await["position"],
        3
    );
    let done = reads(&stack, &phones).await;
    assert_eq!(done.1, before.1, "no read looked in the database: {done:?}");
}
