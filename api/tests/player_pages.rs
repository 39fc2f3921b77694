//! The player's page, `/p/{code}` (docs/player-side.md), against the real
//! `ondeck run`: every action from every state, the order "later" and
//! "Join again" make, what a code opens (its own game, nothing after it
//! expired), the rate limit, the page without JavaScript, bad input, and
//! which callers see `player_link`. Races and pages served from memory are
//! in `player_lines.rs`.

use std::collections::HashSet;

use ondeck_testkit::pages::{Player, act, anon, player_in, sign_up, start, status, waiting};
use ondeck_testkit::{Body, Ondeck, Reply, Stack, field};
use reqwest::Method;
use serde_json::json;

/// The player's actions as `docs/player-side.md` lists them, written out: which states each is legal from.
const TABLE: &[(&str, &[&str])] = &[
    ("coming", &["recalled"]),
    ("later", &["queued", "recalled"]),
    ("leave", &["new", "queued", "recalled"]),
    ("rejoin", &["cancelled"]),
];

const STATES: [&str; 7] = [
    "new",
    "queued",
    "recalled",
    "confirmed",
    "playing",
    "completed",
    "cancelled",
];

#[tokio::test]
async fn every_action_from_every_state() {
    let (stack, ondeck) = start(&[]).await;
    for &(action, legal_from) in TABLE {
        for state in STATES {
            let player = player_in(&stack, &ondeck, state).await;
            let before = stack.game(&ondeck, player.game).await;
            let games_before = stack.db.count("games").await;
            let offered = status(&stack, &ondeck, &player.code).await["actions"].clone();
            let legal = legal_from.contains(&state);
            assert_eq!(
                offered
                    .as_array()
                    .expect("actions")
                    .contains(&json!(action)),
                legal,
                "{action} offered in {state}: {offered}"
            );
            let reply = act(&stack, &ondeck, &player.code, action).await;
            let what = format!("{action} from {state}");
            if !legal {
                let problem = reply.problem(409);
                assert_eq!(problem["current_state"], state, "{what}: {problem}");
                assert_eq!(problem["action"], action, "{what}: {problem}");
                let after = stack.game(&ondeck, player.game).await;
                assert_eq!(after, before, "{what} changed nothing");
                assert_eq!(stack.db.count("games").await, games_before, "{what}");
                continue;
            }
            let body = reply.expect(200);
            let after = stack.game(&ondeck, player.game).await;
            match action {
                "coming" => {
                    assert_eq!(body["state"], "recalled", "{what}: {body}");
                    assert!(body["acknowledged_at"].is_string(), "{what}: {body}");
                    assert_eq!(after["acknowledged_at"], body["acknowledged_at"], "{what}");
                    // Once said, "On my way" is no longer offered ...
                    assert_eq!(body["actions"], json!(["later", "leave"]), "{what}: {body}");
                    // ... and a repeat (a double tap, a second "1") is harmless.
                    let again = act(&stack, &ondeck, &player.code, action).await.expect(200);
                    assert_eq!(again["acknowledged_at"], body["acknowledged_at"], "{what}");
                }
                "later" => {
                    assert_eq!(body["state"], "queued", "{what}: {body}");
                    assert_eq!(after["later_count"], 1, "{what}: {after}");
                    assert!(body["position"].as_i64().is_some(), "{what}: {body}");
                }
                "leave" => {
                    assert_eq!(body["state"], "cancelled", "{what}: {body}");
                    assert_eq!(body["cancel_reason"], "player_left", "{what}: {body}");
                    assert_eq!(after["cancel_reason"], "player_left", "{what}: {after}");
                    assert_eq!(body["actions"], json!(["rejoin"]), "{what}: {body}");
                    // A repeat is harmless.
                    let again = act(&stack, &ondeck, &player.code, action).await.expect(200);
                    assert_eq!(again["state"], "cancelled", "{what} twice: {again}");
                }
                "rejoin" => {
                    assert_eq!(after, before, "{what}: the old game stays as it was");
                    let link = field(&body, "link");
                    let new_code = link.rsplit('/').next().expect("a code").to_owned();
                    assert_ne!(new_code, player.code, "{what}: a new page");
                    assert_eq!(body["state"], "queued", "{what}: {body}");
                    assert_eq!(stack.db.count("games").await, games_before + 1, "{what}");
                    let new_status = status(&stack, &ondeck, &new_code).await;
                    assert_eq!(new_status["state"], "queued");
                    assert_eq!(new_status["position"], body["position"]);
                    // A repeat answers the new game and starts no third.
                    let again = act(&stack, &ondeck, &player.code, action).await.expect(200);
                    assert_eq!(again["link"], body["link"], "{what} twice: {again}");
                    assert_eq!(stack.db.count("games").await, games_before + 1, "{what}");
                }
                _ => unreachable!(),
            }
        }
    }
}

#[tokio::test]
async fn later_moves_back_rejoin_goes_to_the_back_and_the_limit_holds() {
    let (stack, ondeck) = start(&[]).await;
    let mut line = Vec::new();
    for i in 0..6 {
        line.push(player_in(&stack, &ondeck, "queued").await);
        assert_eq!(
            status(&stack, &ondeck, &line[i].code).await["position"],
            i as i64 + 1
        );
    }
    let ids = |players: &[&Player]| players.iter().map(|p| p.game).collect::<Vec<_>>();
    let [a, b, c, d, e, f] = [&line[0], &line[1], &line[2], &line[3], &line[4], &line[5]];
    assert_eq!(waiting(&stack, &ondeck).await, ids(&[a, b, c, d, e, f]));

    // Queued: three places back.
    let moved = act(&stack, &ondeck, &b.code, "later").await.expect(200);
    assert_eq!(moved["position"], 5, "{moved}");
    assert_eq!(waiting(&stack, &ondeck).await, ids(&[a, c, d, e, b, f]));
    // Fewer than three behind: to the back.
    act(&stack, &ondeck, &e.code, "later").await.expect(200);
    assert_eq!(waiting(&stack, &ondeck).await, ids(&[a, c, d, b, f, e]));

    // The second "later" is the last one (LATER_LIMIT = 2).
    let second = act(&stack, &ondeck, &b.code, "later").await.expect(200);
    assert!(
        !second["actions"]
            .as_array()
            .expect("actions")
            .contains(&json!("later")),
        "{second}"
    );
    let line_now = waiting(&stack, &ondeck).await;
    let refused = act(&stack, &ondeck, &b.code, "later").await;
    assert_eq!(refused.problem(409)["current_state"], "queued");
    assert_eq!(
        waiting(&stack, &ondeck).await,
        line_now,
        "a refused later moves nothing"
    );

    // Recalled: queued again behind the first three waiting.
    let r = player_in(&stack, &ondeck, "recalled").await;
    let back = act(&stack, &ondeck, &r.code, "later").await.expect(200);
    assert_eq!(back["state"], "queued", "{back}");
    assert_eq!(back["position"], 4, "{back}");
    let order = waiting(&stack, &ondeck).await;
    assert_eq!(order[..4], [line_now[0], line_now[1], line_now[2], r.game]);
    assert_eq!(status(&stack, &ondeck, &r.code).await["position"], 4);

    // Join again: at the back of the line.
    let gone = player_in(&stack, &ondeck, "cancelled").await;
    let rejoined = act(&stack, &ondeck, &gone.code, "rejoin").await.expect(200);
    let order = waiting(&stack, &ondeck).await;
    assert_eq!(rejoined["position"], order.len() as i64, "{rejoined}");
    let eta = rejoined["eta_seconds"].as_i64().expect("an eta");
    // 180 s a game (none completed yet) on one station.
    assert_eq!(eta, 180 * order.len() as i64, "{rejoined}");
}

#[tokio::test]
async fn a_code_opens_its_own_game_and_nothing_else() {
    let (stack, ondeck) = start(&[]).await;
    let ann = sign_up(&stack, &ondeck, "Ann").await;
    let bob = sign_up(&stack, &ondeck, "Bob").await;
    stack.advance(&ondeck, bob.game, &["queue"]).await;
    assert_eq!(
        status(&stack, &ondeck, &ann.code).await["first_name"],
        "Ann"
    );
    assert_eq!(
        status(&stack, &ondeck, &bob.code).await["first_name"],
        "Bob"
    );
    let bob_before = stack.game(&ondeck, bob.game).await;
    act(&stack, &ondeck, &ann.code, "leave").await.expect(200);
    assert_eq!(stack.game(&ondeck, bob.game).await, bob_before);

    // Expired: 24 h after the game ended.
    let old = player_in(&stack, &ondeck, "completed").await;
    status(&stack, &ondeck, &old.code).await;
    sqlx::query("UPDATE games SET completed_at = now() - interval '25 hours' WHERE id = $1")
        .bind(old.game)
        .execute(&stack.db.pool)
        .await
        .expect("age the game");
    // Pages are kept in memory until the show changes (or 30 s pass): a
    // signup makes the server read the show again, and the game aged
    // behind its back is gone from it.
    sign_up(&stack, &ondeck, "Cy").await;

    let mut unknown = bob.code.clone().into_bytes();
    unknown[0] = if unknown[0] == b'A' { b'B' } else { b'A' };
    let unknown = String::from_utf8(unknown).expect("ascii");
    let codes = [
        unknown.as_str(),
        old.code.as_str(),
        "short",
        &format!("{}x", bob.code),
        "Ab3dE6gH9k.-xYz0123456",
        "Ab3dE6gH9k%20xYz012345",
        "..%2F..%2Fapi%2Fv1%2Fgames",
        "%FF%FEAb3dE6gH9k_-xYz01",
    ];
    let mut bodies = HashSet::new();
    for code in codes {
        for (method, path) in [
            (Method::GET, format!("/p/{code}")),
            (Method::GET, format!("/p/{code}/status")),
            (Method::GET, format!("/p/{code}/qr.svg")),
            (Method::POST, format!("/p/{code}/leave")),
        ] {
            let reply = anon(&stack, &ondeck, method.clone(), &path, None).await;
            reply.problem(404);
            bodies.insert(reply.body.clone());
        }
    }
    assert_eq!(
        bodies.len(),
        1,
        "one 404 body for every code that opens nothing"
    );
    assert_eq!(stack.game(&ondeck, bob.game).await, bob_before);

    // No code in the log, though every request above named one.
    let log = ondeck.log();
    for code in [&ann.code, &bob.code, &old.code] {
        assert!(!log.contains(code.as_str()), "a player code in the log");
    }
}

#[tokio::test]
async fn requests_beyond_the_players_rate_limit_answer_429() {
    let (stack, ondeck) = start(&[("PLAYER_RATE_LIMIT_PER_MINUTE", "5")]).await;
    // The signup goes through /api/v1, which this limit does not touch.
    let player = sign_up(&stack, &ondeck, "Rita").await;
    for _ in 0..5 {
        status(&stack, &ondeck, &player.code).await;
    }
    let refused = anon(
        &stack,
        &ondeck,
        Method::POST,
        &format!("/p/{}/leave", player.code),
        None,
    )
    .await;
    let problem = refused.problem(429);
    assert!(field(&problem, "detail").contains("try again"), "{problem}");
    assert_eq!(
        stack.game(&ondeck, player.game).await["state"],
        "new",
        "a 429 changes nothing"
    );
    let unknown = anon(&stack, &ondeck, Method::GET, "/p/short/status", None).await;
    unknown.problem(429);
    let qr = format!("/p/{}/qr.svg", player.code);
    anon(&stack, &ondeck, Method::GET, &qr, None)
        .await
        .problem(429);
    // Staff are not limited by the players' limit.
    stack.admin_get(&ondeck, "/api/v1/queue").await;
}

/// `action` posted as a plain HTML form does it (with `fields`): a 303,
/// whose location this returns.
async fn form_post(
    stack: &Stack,
    ondeck: &Ondeck,
    code: &str,
    action: &str,
    fields: &[u8],
) -> String {
    let form = Some(Body::Bytes(
        "application/x-www-form-urlencoded",
        fields.to_vec(),
    ));
    let path = format!("/p/{code}/{action}");
    let reply = anon(stack, ondeck, Method::POST, &path, form).await;
    assert_eq!(reply.status, 303, "{}", reply.text());
    reply.location.expect("a location")
}

/// The page as a phone without JavaScript gets it, with its headers.
async fn page(stack: &Stack, ondeck: &Ondeck, code: &str) -> (reqwest::header::HeaderMap, String) {
    let res = stack
        .http
        .get(format!("{}/p/{code}", ondeck.base))
        .send()
        .await
        .expect("the page");
    assert_eq!(res.status(), 200);
    let headers = res.headers().clone();
    (headers, res.text().await.expect("html"))
}

#[tokio::test]
async fn the_page_reads_without_javascript_and_its_forms_work() {
    let (stack, ondeck) = start(&[]).await;
    let show = stack.show(&ondeck).await;
    let show_name = field(&show, "name");
    let first = player_in(&stack, &ondeck, "queued").await;
    let queued = player_in(&stack, &ondeck, "queued").await;
    let (headers, html) = page(&stack, &ondeck, &queued.code).await;
    assert!(
        headers["content-type"]
            .to_str()
            .expect("a content type")
            .starts_with("text/html")
    );
    let csp = headers["content-security-policy"]
        .to_str()
        .expect("a policy");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(html.contains("You're 2nd in line"), "{html}");
    assert!(html.contains("Estimated wait: about 6 minutes"), "{html}");
    assert!(html.contains(&format!(r#"action="/p/{}/later""#, queued.code)));
    assert!(html.contains(&format!(r#"action="/p/{}/leave""#, queued.code)));
    assert!(
        !html.contains("/coming\""),
        "no button for an illegal action"
    );
    assert!(!html.contains("<script>"), "no inline script");

    // Under 60 KB with everything it loads but images.
    let mut total = html.len();
    for asset in ["/assets/player.css", "/assets/player.js"] {
        assert!(html.contains(asset), "{asset}");
        let bytes = anon(&stack, &ondeck, Method::GET, asset, None).await;
        assert_eq!(bytes.status, 200);
        total += bytes.body.len();
    }
    assert!(total < 60 * 1024, "{total} bytes");

    let new = sign_up(&stack, &ondeck, "Nell").await;
    let (_, html) = page(&stack, &ondeck, &new.code).await;
    assert!(
        html.contains("You're signed up") && html.contains("2 people are waiting"),
        "{html}"
    );
    assert!(html.contains("Hi Nell"), "{html}");

    // A plain form post: 303 back to the page, which then shows the change.
    let to = form_post(&stack, &ondeck, &first.code, "later", b"").await;
    assert_eq!(to, format!("/p/{}", first.code));
    // Fewer than three waited behind: now at the back.
    let (_, html) = page(&stack, &ondeck, &first.code).await;
    assert!(html.contains("You're 2nd in line"), "{html}");
    let (_, html) = page(&stack, &ondeck, &queued.code).await;
    assert!(html.contains("You're 1st in line"), "{html}");

    let recalled = player_in(&stack, &ondeck, "recalled").await;
    let (_, html) = page(&stack, &ondeck, &recalled.code).await;
    assert!(
        html.contains(&format!("It's your turn: come to {show_name} now")),
        "{html}"
    );
    assert!(html.contains("data-expires"), "{html}");
    assert!(html.contains("On my way"), "{html}");

    let up = player_in(&stack, &ondeck, "playing").await;
    let (_, html) = page(&stack, &ondeck, &up.code).await;
    assert!(
        html.contains("You're up") && !html.contains("<form"),
        "{html}"
    );

    // Completed: the result and its rank of the day.
    let best = player_in(&stack, &ondeck, "playing").await;
    let body = json!({"score": 500, "distance": 410, "homeruns": 4});
    let path = format!("/api/v1/games/{}/complete", best.game);
    stack
        .post(&ondeck, &stack.tokens.game, &path, body)
        .await
        .expect(200);
    let done = player_in(&stack, &ondeck, "completed").await;
    let result = status(&stack, &ondeck, &done.code).await;
    assert_eq!(result["rank"], 2, "{result}");
    assert_eq!(result["score"], 10, "{result}");
    assert_eq!(status(&stack, &ondeck, &best.code).await["rank"], 1);
    let (_, html) = page(&stack, &ondeck, &done.code).await;
    assert!(
        html.contains("<dd>10</dd>") && html.contains("<dd>300 ft</dd>"),
        "{html}"
    );
    assert!(html.contains("<strong>2nd</strong> today"), "{html}");

    // Cancelled: why, and Join again, which as a form goes to the new page.
    let left = player_in(&stack, &ondeck, "queued").await;
    act(&stack, &ondeck, &left.code, "leave").await.expect(200);
    let (_, html) = page(&stack, &ondeck, &left.code).await;
    assert!(
        html.contains("You left the line") && html.contains("Join again"),
        "{html}"
    );
    let to = form_post(&stack, &ondeck, &left.code, "rejoin", b"x=1").await;
    assert!(to.starts_with("/p/") && !to.contains(&left.code), "{to}");
    let (_, html) = page(&stack, &ondeck, &to["/p/".len()..]).await;
    assert!(html.contains("in line"), "{html}");
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let (stack, ondeck) = start(&[]).await;
    let player = player_in(&stack, &ondeck, "queued").await;
    let before = stack.game(&ondeck, player.game).await;
    let leave = format!("/p/{}/leave", player.code);
    let flood: String = (0..5000).map(|i| format!("k{i}=later&")).collect();
    let cases: Vec<(&str, Option<Body>, u16)> = vec![
        (
            "huge body",
            Some(Body::Bytes("application/json", vec![b' '; 200_000])),
            413,
        ),
        (
            "keyword flood",
            Some(Body::Bytes(
                "application/x-www-form-urlencoded",
                flood.into_bytes(),
            )),
            413,
        ),
        (
            "wrong content type",
            Some(Body::Bytes("text/plain", b"leave".to_vec())),
            400,
        ),
        (
            "an image",
            Some(Body::Bytes("image/png", vec![0x89, b'P', b'N', b'G'])),
            400,
        ),
    ];
    for (what, body, expected) in cases {
        let reply = anon(&stack, &ondeck, Method::POST, &leave, body).await;
        let problem = reply.problem(expected);
        assert!(!reply.text().contains(&player.code), "{what}: {problem}");
        assert_eq!(stack.game(&ondeck, player.game).await, before, "{what}");
    }
    for path in [
        format!("/p/{}/cancel", player.code),
        format!("/p/{}/LEAVE", player.code),
        format!("/p/{}/leave/now", player.code),
    ] {
        anon(&stack, &ondeck, Method::POST, &path, None)
            .await
            .problem(404);
    }
    for (method, path) in [
        (Method::PUT, leave.clone()),
        (Method::TRACE, format!("/p/{}/status", player.code)),
    ] {
        let res = stack
            .http
            .request(method.clone(), format!("{}{path}", ondeck.base))
            .send()
            .await
            .expect("an answer");
        assert_eq!(res.status(), 405, "{method}");
        let allow = res.headers()["allow"].to_str().expect("allow");
        assert!(
            allow.contains("GET") || allow.contains("POST"),
            "{method}: {allow}"
        );
        let body = Reply::read(res).await;
        body.problem(405);
    }
    assert_eq!(stack.game(&ondeck, player.game).await, before);
    // The page still answers.
    assert_eq!(status(&stack, &ondeck, &player.code).await["position"], 1);
}

#[tokio::test]
async fn only_admin_and_tablet_see_the_players_link() {
    let (stack, ondeck) = start(&[]).await;
    let player = sign_up(&stack, &ondeck, "Lia").await;
    stack.advance(&ondeck, player.game, &["queue"]).await;
    let link = format!("{}/p/{}", ondeck.base, player.code);
    let detail = format!("/api/v1/games/{}", player.game);
    for token in [&stack.tokens.admin, &stack.tokens.tablet] {
        let game = stack.get(&ondeck, token, &detail).await.expect(200);
        assert_eq!(game["player_link"], link.as_str());
        let list = stack.get(&ondeck, token, "/api/v1/games").await.expect(200);
        assert_eq!(list["items"][0]["player_link"], link.as_str(), "{list}");
    }
    for token in [&stack.tokens.display, &stack.tokens.game] {
        let game = stack.get(&ondeck, token, &detail).await.expect(200);
        assert!(game.get("player_link").is_none(), "{game}");
        let queue = stack.get(&ondeck, token, "/api/v1/queue").await.expect(200);
        assert!(!queue.to_string().contains(&player.code), "{queue}");
    }
    let csv = stack
        .get(&ondeck, &stack.tokens.admin, "/api/v1/games?format=csv")
        .await;
    assert_eq!(csv.status, 200);
    assert!(csv.text().contains(&player.game.to_string()));
    assert!(!csv.text().contains(&player.code), "no code in CSV");
    let events = stack
        .db
        .scalar_i64(&format!(
            "SELECT count(*) FROM events WHERE payload::text LIKE '%{}%'",
            player.code
        ))
        .await;
    let all = stack.db.count("events").await;
    assert!(all > 0, "the signup and queue were events");
    assert_eq!(events, Some(0), "no code in any event");
}
