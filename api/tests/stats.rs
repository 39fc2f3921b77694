//! `GET /api/v1/stats` (docs/reports.md) against the real `ondeck`: a day
//! of games written with fixed times across the night the clocks go back in
//! New York, every number checked against the one worked out by hand below;
//! the CSV against the JSON; the quote recorded when a game joins the line
//! and the segments of the texts sent, through the real flow; who may ask
//! and what a wrong question gets.

use chrono::{DateTime, Utc};
use ondeck_testkit::pages::{self, sign_up, status};
use ondeck_testkit::{Mode, Stack, eventually};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::Duration;

/// 2026-11-01 in New York: EDT (UTC−4) until 06:00Z, when 02:00 EDT becomes
/// 01:00 EST (UTC−5). The day runs from 04:00Z to 05:00Z the next day: 25
/// hours, and 01:00 happens twice.
const TZ: &str = "America/New_York";
const DAY: &str = "2026-11-01";

fn at(t: &str) -> DateTime<Utc> {
    t.parse().unwrap_or_else(|e| panic!("{t}: {e}"))
}

/// One game of the fixture: times as UTC instants (`None`: never).
struct G {
    name: &'static str,
    created: &'static str,
    queued: Option<&'static str>,
    recalled: Option<&'static str>,
    confirmed: Option<&'static str>,
    playing: Option<&'static str>,
    completed: Option<&'static str>,
    cancelled: Option<(&'static str, &'static str)>,
    score: Option<i32>,
    quoted: Option<i32>,
}

const NONE: G = G {
    name: "",
    created: "",
    queued: None,
    recalled: None,
    confirmed: None,
    playing: None,
    completed: None,
    cancelled: None,
    score: None,
    quoted: None,
};

/// The fixture. Each wait is confirmed − queued, each play completed −
/// playing, in seconds.
fn fixture() -> Vec<G> {
    vec![
        // The evening before (23:50 EDT): not a game of the day, but still
        // waiting when it begins, and completed in its first hour.
        G {
            name: "Zed",
            created: "2026-11-01T03:50:00Z",
            queued: Some("2026-11-01T03:50:00Z"),
            confirmed: Some("2026-11-01T05:12:00Z"),
            playing: Some("2026-11-01T05:13:00Z"),
            completed: Some("2026-11-01T05:16:00Z"),
            score: Some(50),
            quoted: Some(100),
            ..NONE
        },
        // wait 900, play 180, quote error 600 − 900 = −300
        G {
            name: "Ann",
            created: "2026-11-01T05:10:00Z",
            queued: Some("2026-11-01T05:10:00Z"),
            recalled: Some("2026-11-01T05:20:00Z"),
            confirmed: Some("2026-11-01T05:25:00Z"),
            playing: Some("2026-11-01T05:30:00Z"),
            completed: Some("2026-11-01T05:33:00Z"),
            score: Some(500),
            quoted: Some(600),
            ..NONE
        },
        // wait 1800, play 240, quote error −600
        G {
            name: "Bo",
            created: "2026-11-01T05:15:00Z",
            queued: Some("2026-11-01T05:15:00Z"),
            recalled: Some("2026-11-01T05:40:00Z"),
            confirmed: Some("2026-11-01T05:45:00Z"),
            playing: Some("2026-11-01T05:46:00Z"),
            completed: Some("2026-11-01T05:50:00Z"),
            score: Some(900),
            quoted: Some(1200),
            ..NONE
        },
        // wait 1200, play 120, quote error +300
        G {
            name: "Cy",
            created: "2026-11-01T05:50:00Z",
            queued: Some("2026-11-01T05:50:00Z"),
            recalled: Some("2026-11-01T06:05:00Z"),
            confirmed: Some("2026-11-01T06:10:00Z"),
            playing: Some("2026-11-01T06:12:00Z"),
            completed: Some("2026-11-01T06:14:00Z"),
            score: Some(100),
            quoted: Some(1500),
            ..NONE
        },
        // 01:20 EST: called, never came.
        G {
            name: "Di",
            created: "2026-11-01T06:20:00Z",
            queued: Some("2026-11-01T06:20:00Z"),
            recalled: Some("2026-11-01T06:40:00Z"),
            cancelled: Some(("2026-11-01T06:50:00Z", "no_show")),
            quoted: Some(900),
            ..NONE
        },
        // Left the line.
        G {
            name: "Ed",
            created: "2026-11-01T06:25:00Z",
            queued: Some("2026-11-01T06:25:00Z"),
            cancelled: Some(("2026-11-01T06:30:00Z", "player_left")),
            quoted: Some(300),
            ..NONE
        },
        // Cancelled by staff before joining the line.
        G {
            name: "Flo",
            created: "2026-11-01T06:30:00Z",
            cancelled: Some(("2026-11-01T06:31:00Z", "staff")),
            ..NONE
        },
        // Joined while the line was paused: no quote. wait 2700, play 300.
        G {
            name: "Gus",
            created: "2026-11-01T06:45:00Z",
            queued: Some("2026-11-01T06:45:00Z"),
            recalled: Some("2026-11-01T07:00:00Z"),
            confirmed: Some("2026-11-01T07:30:00Z"),
            playing: Some("2026-11-01T07:31:00Z"),
            completed: Some("2026-11-01T07:36:00Z"),
            score: Some(1000),
            ..NONE
        },
        // Still waiting.
        G {
            name: "Hal",
            created: "2026-11-01T07:10:00Z",
            queued: Some("2026-11-01T07:10:00Z"),
            quoted: Some(400),
            ..NONE
        },
        // 23:30 EST: the day's last game. wait 600, play 240, error +100.
        G {
            name: "Ivy",
            created: "2026-11-02T04:30:00Z",
            queued: Some("2026-11-02T04:30:00Z"),
            confirmed: Some("2026-11-02T04:40:00Z"),
            playing: Some("2026-11-02T04:41:00Z"),
            completed: Some("2026-11-02T04:45:00Z"),
            score: Some(300),
            quoted: Some(700),
            ..NONE
        },
        // 00:10 EST the next day: not a game of the day.
        G {
            name: "Jo",
            created: "2026-11-02T05:10:00Z",
            ..NONE
        },
    ]
}

/// The state a game with these times is in: the last one it reached.
fn state(g: &G) -> &'static str {
    let reached = [
        (g.cancelled.is_some(), "cancelled"),
        (g.completed.is_some(), "completed"),
        (g.confirmed.is_some(), "confirmed"),
        (g.recalled.is_some(), "recalled"),
        (g.queued.is_some(), "queued"),
    ];
    reached
        .into_iter()
        .find_map(|(yes, state)| yes.then_some(state))
        .unwrap_or("new")
}

/// Writes the fixture into `show`: players, their games, and texts.
async fn write_fixture(db: &PgPool, show: i64) -> Vec<i64> {
    let mut ids = Vec::new();
    for g in fixture() {
        let player: i64 = sqlx::query_scalar(
            "INSERT INTO players (show_id, first_name, handedness, mobile_number) \
             VALUES ($1, $2, 'R', NULL) RETURNING id",
        )
        .bind(show)
        .bind(g.name)
        .fetch_one(db)
        .await
        .expect("a player");
        let t = |s: Option<&str>| s.map(at);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO games (player_id, show_id, state, created_at, queued_at, recalled_at, confirmed_at, \
                                playing_at, completed_at, cancelled_at, cancel_reason, score, distance, homeruns, \
                                quoted_wait_s) \
             VALUES ($1, $2, $3::game_state, $4, $5, $6, $7, $8, $9, $10, $11::cancel_reason, $12, $12, 0, $13) \
             RETURNING id",
        )
        .bind(player)
        .bind(show)
        .bind(state(&g))
        .bind(at(g.created))
        .bind(t(g.queued))
        .bind(t(g.recalled))
        .bind(t(g.confirmed))
        .bind(t(g.playing))
        .bind(t(g.completed))
        .bind(t(g.cancelled.map(|c| c.0)))
        .bind(g.cancelled.map(|c| c.1))
        .bind(g.score)
        .bind(g.quoted)
        .fetch_one(db)
        .await
        .expect("a game");
        ids.push(id);
    }
    let texts: [Text; 8] = [
        (
            Some(0),
            "welcome",
            "delivered",
            Some(1),
            None,
            "2026-11-01T03:50:00Z",
        ),
        (
            Some(1),
            "welcome",
            "delivered",
            Some(1),
            None,
            "2026-11-01T05:10:00Z",
        ),
        (
            Some(2),
            "welcome",
            "delivered",
            Some(2),
            None,
            "2026-11-01T05:15:00Z",
        ),
        (
            Some(1),
            "recall",
            "sent",
            Some(1),
            None,
            "2026-11-01T05:20:00Z",
        ),
        (
            Some(4),
            "recall",
            "failed",
            None,
            Some("30003"),
            "2026-11-01T06:40:00Z",
        ),
        (
            Some(7),
            "recall",
            "failed",
            Some(1),
            Some("30005"),
            "2026-11-01T07:00:00Z",
        ),
        (
            None,
            "verify",
            "sent",
            Some(1),
            None,
            "2026-11-01T06:00:00Z",
        ),
        (
            Some(8),
            "reply",
            "delivered",
            None,
            None,
            "2026-11-01T07:15:00Z",
        ),
    ];
    for (game, kind, status, segments, code, when) in texts {
        let direction = if kind == "reply" {
            "inbound"
        } else {
            "outbound"
        };
        sqlx::query(
            "INSERT INTO messages (game_id, show_id, kind, \"to\", body, status, segments, error_code, \
                                   created_at, direction) \
             VALUES ($1, $2, $3::message_kind, '+15555550100', 'a text', $4::message_status, $5, $6, $7, \
                     $8::message_direction)",
        )
        .bind(game.map(|i| ids[i]))
        .bind(show)
        .bind(kind)
        .bind(status)
        .bind(segments)
        .bind(code)
        .bind(at(when))
        .bind(direction)
        .execute(db)
        .await
        .expect("a text");
    }
    ids
}

/// A text of the fixture: the index of its game (none for a join code's),
/// kind, status, segments, error code, when.
type Text = (
    Option<usize>,
    &'static str,
    &'static str,
    Option<i16>,
    Option<&'static str>,
    &'static str,
);

fn hour(row: &Value) -> (String, i64, i64, Option<i64>, i64) {
    (
        row["hour"].as_str().expect("hour").to_owned(),
        row["signups"].as_i64().expect("signups"),
        row["completed"].as_i64().expect("completed"),
        row["wait_p50"].as_i64(),
        row["longest_line"].as_i64().expect("longest_line"),
    )
}

#[tokio::test]
async fn a_day_across_the_clock_change_adds_up_to_the_numbers_worked_out_by_hand() {
    let stack = Stack::new().await;
    let ondeck = stack.spawn(Mode::Serve, &[("VENUE_TZ", TZ)]).await;
    let ids = write_fixture(&stack.db.pool, stack.show_id).await;
    let path = format!("/api/v1/stats?show_id={}&day={DAY}", stack.show_id);
    let stats = stack.admin_get(&ondeck, &path).await;

    assert_eq!(stats["show_id"], stack.show_id);
    assert_eq!(stats["day"], DAY);
    assert_eq!(stats["time_zone"], TZ);
    // Ann … Ivy: not Zed (the evening before) nor Jo (the next day).
    assert_eq!(
        stats["games"],
        json!({
            "total": 9, "completed": 5, "left": 1, "no_show": 1, "cancelled": 1, "open": 1,
            // Di of the five called (Ann, Bo, Cy, Di, Gus).
            "no_show_rate": 0.2,
            // Di and Ed of the eight that joined the line.
            "drop_off_rate": 0.25,
        })
    );
    // Waits 600, 900, 1200, 1800, 2700: p90 = 1800 + 0.6 × 900. Quote
    // errors −600, −300, +100, +300 (Gus had no quote): median −100.
    assert_eq!(
        stats["wait"],
        json!({"p50": 1200, "p90": 2340, "max": 2700, "quote_error_p50": -100})
    );
    // Plays 120, 180, 240, 240, 300: p90 = 240 + 0.6 × 60.
    assert_eq!(stats["play"], json!({"p50": 240, "p90": 276}));

    // Scores 100, 300, 500, 900, 1000: ten bins 101 wide.
    let bins = stats["scores"]["bins"].as_array().expect("bins");
    assert_eq!(bins.len(), 10);
    assert_eq!(bins[0], json!({"from": 0, "to": 100, "count": 1}));
    assert_eq!(bins[9], json!({"from": 909, "to": 1009, "count": 1}));
    let counts: Vec<i64> = bins
        .iter()
        .map(|b| b["count"].as_i64().expect("count"))
        .collect();
    assert_eq!(counts, [1, 0, 1, 0, 1, 0, 0, 0, 1, 1]);
    let best = &stats["scores"]["best"];
    assert_eq!(best["game_id"], ids[7], "{best}");
    assert_eq!(
        (best["first_name"].as_str(), best["score"].as_i64()),
        (Some("Gus"), Some(1000))
    );
    assert!(best.get("mobile_number").is_none(), "{best}");

    // From 01:00 EDT (Ann's hour) to 23:00 EST (Ivy's): 24 rows, 01:00 twice.
    let hourly: Vec<_> = stats["hourly"]
        .as_array()
        .expect("hourly")
        .iter()
        .map(hour)
        .collect();
    assert_eq!(hourly.len(), 24, "{hourly:?}");
    let h = |s: &str| s.to_owned();
    // Zed waits from the evening before: with Ann and Bo, two at most.
    // Zed, Ann and Bo complete; Ann, Bo and Cy joined (waits 900, 1800, 1200).
    assert_eq!(
        hourly[0],
        (h("2026-11-01T01:00:00-04:00"), 3, 3, Some(1200), 2)
    );
    // Di, Ed, Flo, Gus sign up; Cy completes; of those who joined only Gus
    // was confirmed (2700); Di and Ed, then Di and Gus wait together.
    assert_eq!(
        hourly[1],
        (h("2026-11-01T01:00:00-05:00"), 4, 1, Some(2700), 2)
    );
    // Hal joins while Gus waits; Gus completes.
    assert_eq!(hourly[2], (h("2026-11-01T02:00:00-05:00"), 1, 1, None, 2));
    // Hal waits alone the rest of the day…
    for (i, row) in hourly.iter().enumerate().take(23).skip(3) {
        let local = format!("2026-11-01T{:02}:00:00-05:00", i);
        assert_eq!(*row, (local, 0, 0, None, 1), "row {i}");
    }
    // …until Ivy joins at 23:30 and is confirmed at 23:40.
    assert_eq!(
        hourly[23],
        (h("2026-11-01T23:00:00-05:00"), 1, 1, Some(600), 2)
    );

    // The day's texts: not Zed's welcome of the evening before.
    assert_eq!(
        stats["texts"]["by_kind"],
        json!({
            "welcome": {"delivered": 2},
            "recall": {"sent": 1, "failed": 2},
            "verify": {"sent": 1},
            "reply": {"delivered": 1},
        })
    );
    assert_eq!(
        stats["texts"]["errors"],
        json!([
            {"kind": "recall", "code": "30003", "count": 1},
            {"kind": "recall", "code": "30005", "count": 1},
        ])
    );
    assert_eq!(stats["texts"]["segments"], 1 + 2 + 1 + 1 + 1);

    // Every day: Zed and Jo too, from Zed's hour (23:00 EDT the evening
    // before) to Jo's (00:00 EST).
    let all = stack
        .admin_get(&ondeck, &format!("/api/v1/stats?show_id={}", stack.show_id))
        .await;
    assert_eq!(all["day"], Value::Null);
    assert_eq!(all["games"]["total"], 11);
    assert_eq!(all["games"]["completed"], 6);
    let rows = all["hourly"].as_array().expect("hourly");
    assert_eq!(rows[0]["hour"], "2026-10-31T23:00:00-04:00");
    assert_eq!(
        rows.last().expect("a row")["hour"],
        "2026-11-02T00:00:00-05:00"
    );
    assert_eq!(rows.len(), 27);
    assert_eq!(all["texts"]["by_kind"]["welcome"], json!({"delivered": 3}));

    // A day with nothing: zeros and nulls, no rows.
    let quiet = stack
        .admin_get(
            &ondeck,
            &format!("/api/v1/stats?show_id={}&day=2026-11-03", stack.show_id),
        )
        .await;
    assert_eq!(quiet["games"]["total"], 0);
    assert_eq!(quiet["games"]["no_show_rate"], 0.0);
    assert_eq!(
        quiet["wait"],
        json!({"p50": null, "p90": null, "max": null, "quote_error_p50": null})
    );
    assert_eq!(quiet["hourly"], json!([]));
    assert_eq!(quiet["scores"], json!({"bins": [], "best": null}));
}

#[tokio::test]
async fn the_csv_holds_the_hourly_rows_of_the_json() {
    let stack = Stack::new().await;
    let ondeck = stack.spawn(Mode::Serve, &[("VENUE_TZ", TZ)]).await;
    write_fixture(&stack.db.pool, stack.show_id).await;
    let path = format!("/api/v1/stats?show_id={}&day={DAY}", stack.show_id);
    let json = stack.admin_get(&ondeck, &path).await;
    let reply = stack
        .get(&ondeck, &stack.tokens.admin, &format!("{path}&format=csv"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        reply.content_type.starts_with("text/csv"),
        "{}",
        reply.content_type
    );
    let mut reader = csv::Reader::from_reader(reply.body.as_slice());
    let header: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        ["hour", "signups", "completed", "wait_p50", "longest_line"]
    );
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.expect("a row").iter().map(str::to_owned).collect())
        .collect();
    let expected: Vec<Vec<String>> = json["hourly"]
        .as_array()
        .expect("hourly")
        .iter()
        .map(|row| {
            header
                .iter()
                .map(|column| match &row[column] {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 24);
    assert_eq!(rows, expected);
}

#[tokio::test]
async fn the_wait_quoted_at_joining_is_kept_and_held_against_the_actual_one() {
    let (stack, ondeck) = pages::start(&[]).await;
    let first = sign_up(&stack, &ondeck, "First").await;
    let second = sign_up(&stack, &ondeck, "Second").await;
    stack.advance(&ondeck, first.game, &["queue"]).await;
    stack.advance(&ondeck, second.game, &["queue"]).await;
    // What each player's page showed as they joined is what was kept.
    let shown = status(&stack, &ondeck, &second.code).await["eta_seconds"]
        .as_i64()
        .expect("an eta");
    assert_eq!(
        shown,
        2 * 180,
        "two places, 180 s a game before any is completed"
    );
    let quoted = |game: i64| {
        let db = stack.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, Option<i32>>("SELECT quoted_wait_s FROM games WHERE id = $1")
                .bind(game)
                .fetch_one(&db)
                .await
                .expect("the game")
        }
    };
    assert_eq!(quoted(first.game).await, Some(180));
    assert_eq!(quoted(second.game).await, Some(360));

    // "Later" moves the first behind the second: the quote of joining stays.
    pages::act(&stack, &ondeck, &first.code, "later")
        .await
        .expect(200);
    assert_eq!(quoted(first.game).await, Some(180));

    // While paused, no wait is quoted, so none is kept.
    stack.patch_show(&ondeck, json!({"paused": true})).await;
    let third = sign_up(&stack, &ondeck, "Third").await;
    stack.advance(&ondeck, third.game, &["queue"]).await;
    assert_eq!(quoted(third.game).await, None);

    // Confirmed at once: waited ~0 s after a quote of 360 (the second is
    // now first in line): the error is about +360 and the report says so.
    stack.advance(&ondeck, second.game, &["confirm"]).await;
    let stats = stack.admin_get(&ondeck, "/api/v1/stats").await;
    let error = stats["wait"]["quote_error_p50"]
        .as_i64()
        .expect("a quote error");
    assert!((350..=360).contains(&error), "{stats}");
    assert_eq!(stats["games"]["total"], 3);
}

#[tokio::test]
async fn texts_sent_count_their_segments_and_templates_say_what_they_cost() {
    let stack = Stack::new().await;
    let ondeck = stack.spawn(Mode::Run, &[]).await;
    // A curly apostrophe makes the welcome UCS-2: 71 characters or more
    // take two segments.
    let welcome = format!("You’re in line! {}", "x".repeat(60));
    stack
        .patch_show(&ondeck, json!({"welcome_message": welcome}))
        .await;
    let mobile = ondeck_testkit::next_mobile();
    stack.signup(&ondeck, "Seg", &mobile).await;
    let texts = stack.texts_to(&mobile, 1, Duration::from_secs(30)).await;
    assert_eq!(texts[0].body, welcome);
    assert_eq!(welcome.encode_utf16().count(), 76);
    eventually("the text's segments", Duration::from_secs(10), async || {
        let stats = stack.admin_get(&ondeck, "/api/v1/stats").await;
        (stats["texts"]["segments"] == 2).then_some(())
    })
    .await;

    let stats = stack.admin_get(&ondeck, "/api/v1/stats").await;
    let templates = stats["templates"].as_array().expect("templates");
    let names: Vec<&str> = templates
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "welcome_message",
            "recall_message",
            "souvenir_message",
            "no_show_message",
            "join_code"
        ]
    );
    let first = &templates[0];
    assert_eq!(first["text"], welcome);
    assert_eq!(first["encoding"], "UCS-2");
    assert_eq!(first["segments"], 2);
    assert_eq!(first["ucs2_because"], json!(["’"]));
    for t in &templates[1..] {
        assert_eq!(t["encoding"], "GSM-7", "{t}");
        assert_eq!(t["ucs2_because"], json!([]), "{t}");
        assert!(t["segments"].as_i64().is_some_and(|n| n >= 1), "{t}");
    }
}

#[tokio::test]
async fn only_admins_ask_and_a_wrong_question_is_refused() {
    let stack = Stack::new().await;
    let ondeck = stack.spawn(Mode::Serve, &[]).await;
    for token in [
        &stack.tokens.tablet,
        &stack.tokens.game,
        &stack.tokens.display,
    ] {
        stack
            .get(&ondeck, token, "/api/v1/stats")
            .await
            .problem(403);
    }
    stack
        .send(&ondeck, reqwest::Method::GET, "/api/v1/stats", None, None)
        .await
        .problem(401);
    let bad = stack
        .get(
            &ondeck,
            &stack.tokens.admin,
            "/api/v1/stats?day=yesterday&format=pdf&show_id=x",
        )
        .await;
    let errors = &bad.problem(422)["errors"];
    for field in ["day", "format", "show_id"] {
        assert!(errors.get(field).is_some(), "{field}: {errors}");
    }
    stack
        .get(&ondeck, &stack.tokens.admin, "/api/v1/stats?show_id=999999")
        .await
        .problem(404);
    // The cache answers again with what changed in between.
    let before = stack.admin_get(&ondeck, "/api/v1/stats").await;
    assert_eq!(before["games"]["total"], 0);
    stack
        .signup(&ondeck, "Late", &ondeck_testkit::next_mobile())
        .await;
    let after = stack.admin_get(&ondeck, "/api/v1/stats").await;
    assert_eq!(after["games"]["total"], 1, "{after}");
}
