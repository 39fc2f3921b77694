//! Joining from a phone (docs/running-the-line.md), against the real
//! `ondeck run` with the stand-in for Twilio: the code texted, the page it
//! leads to, a number already in line, wrong, expired and guessed codes, the
//! limits per number and per client address, the line's rules, the QR code
//! read back as a phone would, and bodies that are not a join at all.

use std::time::Duration;

use ondeck_testkit::{Body, Ondeck, Reply, Stack, eventually, next_mobile};
use reqwest::Method;
use serde_json::{Value, json};

/// `ondeck run` with texts to the stand-in and no auto-recall, so that a
/// joined game stays queued.
async fn joinable(extra: &[(&str, &str)]) -> (Stack, Ondeck) {
    let mut settings = vec![("RECALL_DISABLE", "true")];
    settings.extend_from_slice(extra);
    let stack = Stack::new().await;
    let ondeck = stack.spawn(ondeck_testkit::Mode::Run, &settings).await;
    stack.patch_show(&ondeck, json!({"self_join": true})).await;
    (stack, ondeck)
}

fn form(pairs: &[(&str, &str)]) -> Body {
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    Body::Bytes("application/x-www-form-urlencoded", encoded.into_bytes())
}

async fn post(stack: &Stack, ondeck: &Ondeck, path: &str, body: Body) -> Reply {
    stack
        .send(ondeck, Method::POST, path, None, Some(body))
        .await
}

async fn get(stack: &Stack, ondeck: &Ondeck, path: &str) -> Reply {
    stack.send(ondeck, Method::GET, path, None, None).await
}

fn details(first_name: &str, number: &str) -> Value {
    json!({"first_name": first_name, "mobile_number": number, "handedness": "R"})
}

/// What `POST /join/start` answers to `body` as JSON.
async fn start_reply(stack: &Stack, ondeck: &Ondeck, body: Value) -> Reply {
    post(stack, ondeck, "/join/start", Body::Json(body)).await
}

/// `POST /join/start` as JSON; the join's id.
async fn start(stack: &Stack, ondeck: &Ondeck, body: Value) -> String {
    let reply = start_reply(stack, ondeck, body).await;
    let started = reply.expect(202);
    started["join"]
        .as_str()
        .unwrap_or_else(|| panic!("a join id: {started}"))
        .to_owned()
}

/// The code in the `n`th text to `number` (1-based), once it arrived.
async fn code_texted(stack: &Stack, number: &str, n: usize) -> String {
    let texts = stack.texts_to(number, n, Duration::from_secs(20)).await;
    let body = &texts[n - 1].body;
    let code: String = body.chars().take_while(char::is_ascii_digit).collect();
    assert_eq!(code.len(), 6, "a 6-digit code leads the text: {body}");
    assert!(body.contains("join the line"), "{body}");
    code
}

async fn verify(stack: &Stack, ondeck: &Ondeck, join: &str, code: &str) -> Reply {
    post(
        stack,
        ondeck,
        "/join/verify",
        Body::Json(json!({"join": join, "code": code})),
    )
    .await
}

/// The player code a 303 to `/p/{code}` leads to.
fn page_of(reply: &Reply) -> String {
    assert_eq!(reply.status, 303, "{}", reply.text());
    let location = reply.location.clone().expect("a Location");
    location
        .strip_prefix("/p/")
        .unwrap_or_else(|| panic!("to a player's page: {location}"))
        .to_owned()
}

async fn count(stack: &Stack, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&stack.db.pool)
        .await
        .expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_joins_with_the_code_texted_to_them_and_lands_on_their_page() {
    let (stack, ondeck) = joinable(&[]).await;
    stack
        .patch_show(&ondeck, json!({"waiver_text": "I play at my own risk."}))
        .await;
    let page = get(&stack, &ondeck, "/join").await;
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    for part in [
        "action=\"/join/start\"",
        "name=\"mobile_number\"",
        "I play at my own risk.",
        "name=\"signed_waiver\"",
    ] {
        assert!(html.contains(part), "{part} in {html}");
    }

    // The waiver and the number are required; nothing is texted without.
    let number = next_mobile();
    let reply = start_reply(&stack, &ondeck, details("Ada", &number)).await;
    reply.invalid_field("signed_waiver");
    let reply = start_reply(
        &stack,
        &ondeck,
        json!({"first_name": "Ada", "handedness": "R", "signed_waiver": true}),
    )
    .await;
    reply.invalid_field("mobile_number");
    assert_eq!(count(&stack, "SELECT count(*) FROM join_codes").await, 0);

    // The form, as a phone's browser sends it: the code page, with the join
    // in a hidden field.
    let reply = post(
        &stack,
        &ondeck,
        "/join/start",
        form(&[
            ("first_name", "Ada"),
            ("last_name", "Lovelace"),
            ("mobile_number", &number),
            ("handedness", "L"),
            ("signed_waiver", "on"),
        ]),
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    let html = reply.text();
    assert!(html.contains("action=\"/join/verify\""), "{html}");
    let join = html
        .split("name=\"join\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("a hidden join field: {html}"))
        .to_owned();
    let code = code_texted(&stack, &number, 1).await;

    // Staff see the text, never the code in it.
    let listed = stack.messages(&ondeck, "kind=verify").await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let body = listed[0]["body"].as_str().expect("a body");
    assert!(!body.contains(&code), "the code is masked: {body}");

    // A wrong code is a 422 naming it; the right one opens the page.
    let wrong = if code == "000000" { "000001" } else { "000000" };
    verify(&stack, &ondeck, &join, wrong)
        .await
        .invalid_field("code");
    assert_eq!(count(&stack, "SELECT count(*) FROM players").await, 0);
    let reply = post(
        &stack,
        &ondeck,
        "/join/verify",
        form(&[("join", &join), ("code", &code)]),
    )
    .await;
    let player_code = page_of(&reply);
    let status = get(&stack, &ondeck, &format!("/p/{player_code}/status"))
        .await
        .expect(200);
    assert_eq!(status["state"], "queued", "{status}");
    assert_eq!(status["position"], 1, "{status}");
    let players = stack.admin_get(&ondeck, "/api/v1/players").await;
    let player = &players["items"][0];
    assert_eq!(player["first_name"], "Ada", "{player}");
    assert_eq!(player["last_name"], "Lovelace", "{player}");
    assert_eq!(player["handedness"], "L", "{player}");
    assert_eq!(player["signed_waiver"], true, "{player}");
    assert_eq!(player["mobile_number"], number.as_str(), "{player}");
    // The welcome text follows, with the page's link.
    let texts = stack.texts_to(&number, 2, Duration::from_secs(20)).await;
    assert!(texts[1].body.contains(&player_code), "{:?}", texts[1]);

    // The code was used up.
    verify(&stack, &ondeck, &join, &code)
        .await
        .invalid_field("code");

    // The same number again: after its code, its own page, no second game.
    let again = start(&stack, &ondeck, {
        let mut body = details("Ada", &number);
        body["signed_waiver"] = json!(true);
        body
    })
    .await;
    let code = code_texted(&stack, &number, 3).await;
    let reply = verify(&stack, &ondeck, &again, &code).await;
    assert_eq!(page_of(&reply), player_code);
    assert_eq!(count(&stack, "SELECT count(*) FROM games").await, 1);
    assert_eq!(count(&stack, "SELECT count(*) FROM players").await, 1);
    stack.assert_provider_calls_were_valid();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_allows_five_tries_and_ten_minutes() {
    let (stack, ondeck) = joinable(&[]).await;
    let number = next_mobile();
    let join = start(&stack, &ondeck, details("Bo", &number)).await;
    let code = code_texted(&stack, &number, 1).await;
    let wrong = if code == "999999" { "999998" } else { "999999" };
    for left in (0..5).rev() {
        let problem = verify(&stack, &ondeck, &join, wrong)
            .await
            .invalid_field("code");
        let expected = match left {
            0 => "ask for a new one".to_owned(),
            1 => "1 try left".to_owned(),
            n => format!("{n} tries left"),
        };
        assert!(problem.to_string().contains(&expected), "{problem}");
    }
    // The sixth try is refused, right code or not.
    let problem = verify(&stack, &ondeck, &join, &code).await.problem(429);
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("new one")),
        "{problem}"
    );
    assert_eq!(count(&stack, "SELECT count(*) FROM players").await, 0);

    // A code past its ten minutes is refused, however right.
    let join = start(&stack, &ondeck, details("Bo", &number)).await;
    let code = code_texted(&stack, &number, 2).await;
    sqlx::query("UPDATE join_codes SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(&join)
        .execute(&stack.db.pool)
        .await
        .expect("expire the code");
    let problem = verify(&stack, &ondeck, &join, &code)
        .await
        .invalid_field("code");
    assert!(problem.to_string().contains("expired"), "{problem}");
    assert_eq!(count(&stack, "SELECT count(*) FROM players").await, 0);

    // An unknown join, and a missing code, are 422s naming the field.
    verify(&stack, &ondeck, "AAAAAAAAAAAAAAAAAAAAAA", "123456")
        .await
        .invalid_field("join");
    verify(&stack, &ondeck, &join, "")
        .await
        .invalid_field("code");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_are_limited_per_number_and_per_client_address() {
    // The players' page limit is off: this test counts codes, not requests.
    let (stack, ondeck) = joinable(&[("PLAYER_RATE_LIMIT_PER_MINUTE", "0")]).await;
    let number = next_mobile();
    for _ in 0..3 {
        start(&stack, &ondeck, details("Cy", &number)).await;
    }
    let reply = start_reply(&stack, &ondeck, details("Cy", &number)).await;
    let problem = reply.problem(429);
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("this number")),
        "{problem}"
    );
    // Three texts, not four.
    stack.texts_to(&number, 3, Duration::from_secs(20)).await;
    stack.assert_no_more_texts(&number, 3, 3).await;

    // Twenty codes from one address (three are in already), then 429.
    for _ in 3..20 {
        start(&stack, &ondeck, details("Di", &next_mobile())).await;
    }
    let other = next_mobile();
    let reply = start_reply(&stack, &ondeck, details("Di", &other)).await;
    reply.problem(429);
    assert_eq!(count(&stack, "SELECT count(*) FROM join_codes").await, 20);
    eventually("20 codes texted", Duration::from_secs(30), async || {
        (stack.twilio.accepted().len() == 20).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(stack.twilio.accepted().len(), 20);
    assert!(stack.twilio.to(&other).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_guessed_at_speed_get_five_tries_in_all() {
    let (stack, ondeck) = joinable(&[("PLAYER_RATE_LIMIT_PER_MINUTE", "0")]).await;
    let number = next_mobile();
    let join = start(&stack, &ondeck, details("Eve", &number)).await;
    let code = code_texted(&stack, &number, 1).await;
    // 40 guesses at once, none of them the code.
    let guesses: Vec<String> = (0..40u32)
        .map(|n| format!("{:06}", (n * 7919) % 1_000_000))
        .filter(|g| *g != code)
        .collect();
    let replies = futures::future::join_all(
        guesses
            .iter()
            .map(|guess| verify(&stack, &ondeck, &join, guess)),
    )
    .await;
    let wrong = replies.iter().filter(|r| r.status == 422).count();
    let refused = replies.iter().filter(|r| r.status == 429).count();
    assert_eq!(wrong, 5, "five tries counted");
    assert_eq!(wrong + refused, guesses.len(), "every other guess refused");
    let tries: i32 = sqlx::query_scalar("SELECT tries FROM join_codes WHERE id = $1")
        .bind(&join)
        .fetch_one(&stack.db.pool)
        .await
        .expect("tries");
    assert_eq!(tries, 5);
    // The right code is now refused too; the process is fine.
    verify(&stack, &ondeck, &join, &code).await.problem(429);
    assert_eq!(count(&stack, "SELECT count(*) FROM players").await, 0);
    get(&stack, &ondeck, "/healthz").await.expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_line_rules_hold_for_joining_from_a_phone() {
    let (stack, ondeck) = joinable(&[("PLAYER_RATE_LIMIT_PER_MINUTE", "0")]).await;
    // Self-join off: no page, no codes.
    stack.patch_show(&ondeck, json!({"self_join": false})).await;
    let page = get(&stack, &ondeck, "/join").await;
    assert_eq!(page.status, 404);
    assert!(page.text().contains("not on"), "{}", page.text());
    start_reply(&stack, &ondeck, details("Fay", &next_mobile()))
        .await
        .problem(404);
    let queue = stack.admin_get(&ondeck, "/api/v1/queue").await;
    assert_eq!(queue["scan_to_join"], false, "{queue}");

    // Closed: the page says so; a start is the line's 409.
    stack
        .patch_show(&ondeck, json!({"self_join": true, "joining": "closed"}))
        .await;
    let page = get(&stack, &ondeck, "/join").await;
    assert_eq!(page.status, 200);
    assert!(
        page.text().contains("The line is closed"),
        "{}",
        page.text()
    );
    assert!(!page.text().contains("/join/start"), "no form");
    let problem = start_reply(&stack, &ondeck, details("Fay", &next_mobile()))
        .await
        .problem(409);
    assert_eq!(problem["rule"], "joining", "{problem}");
    let queue = stack.admin_get(&ondeck, "/api/v1/queue").await;
    assert_eq!(queue["scan_to_join"], false, "{queue}");

    // Open with room for one: the board shows the code.
    stack
        .patch_show(&ondeck, json!({"joining": "open", "max_waiting": 1}))
        .await;
    let queue = stack.admin_get(&ondeck, "/api/v1/queue").await;
    assert_eq!(queue["scan_to_join"], true, "{queue}");
    let (first, second) = (next_mobile(), next_mobile());
    let join_first = start(&stack, &ondeck, details("Gus", &first)).await;
    let join_second = start(&stack, &ondeck, details("Hal", &second)).await;
    let code_first = code_texted(&stack, &first, 1).await;
    let code_second = code_texted(&stack, &second, 1).await;
    page_of(&verify(&stack, &ondeck, &join_first, &code_first).await);
    // The line filled between the second's code and its check: a 409, and
    // the code is not spent, so it works once the line has room.
    let problem = verify(&stack, &ondeck, &join_second, &code_second)
        .await
        .problem(409);
    assert_eq!(problem["rule"], "max_waiting", "{problem}");
    let page = get(&stack, &ondeck, "/join").await;
    assert!(page.text().contains("The line is full"), "{}", page.text());
    let queue = stack.admin_get(&ondeck, "/api/v1/queue").await;
    assert_eq!(queue["scan_to_join"], false, "{queue}");
    stack.patch_show(&ondeck, json!({"max_waiting": 2})).await;
    page_of(&verify(&stack, &ondeck, &join_second, &code_second).await);
    assert_eq!(count(&stack, "SELECT count(*) FROM games").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_qr_code_reads_back_as_the_join_page_address() {
    let (stack, ondeck) = joinable(&[]).await;
    let reply = get(&stack, &ondeck, "/join/qr.svg").await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.content_type.starts_with("image/svg+xml"),
        "{}",
        reply.content_type
    );
    let read = ondeck_testkit::qr::decode(&reply.text());
    assert_eq!(read, format!("{}/join", ondeck.base));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_are_not_a_join_are_refused_and_change_nothing() {
    let (stack, ondeck) = joinable(&[("PLAYER_RATE_LIMIT_PER_MINUTE", "0")]).await;
    let huge = "x".repeat(64 * 1024);
    let oversize = start_reply(
        &stack,
        &ondeck,
        json!({"first_name": huge, "mobile_number": next_mobile()}),
    )
    .await;
    assert_eq!(oversize.status, 413, "{}", oversize.text());
    for (content_type, bytes) in [
        ("application/json", b"{not json".to_vec()),
        ("application/json", b"[1,2,3]".to_vec()),
        ("text/plain", b"first_name=Ivy".to_vec()),
        (
            "application/x-www-form-urlencoded",
            b"signed_waiver=maybe".to_vec(),
        ),
    ] {
        let reply = post(
            &stack,
            &ondeck,
            "/join/start",
            Body::Bytes(content_type, bytes),
        )
        .await;
        assert_eq!(reply.status, 400, "{content_type}: {}", reply.text());
    }
    let long_name = "y".repeat(65);
    start_reply(
        &stack,
        &ondeck,
        json!({"first_name": long_name, "handedness": "R", "mobile_number": next_mobile()}),
    )
    .await
    .invalid_field("first_name");
    start_reply(
        &stack,
        &ondeck,
        json!({"first_name": "Ivy", "handedness": "R", "mobile_number": "call me"}),
    )
    .await
    .invalid_field("mobile_number");
    start_reply(&stack, &ondeck, json!({"first_name": "Ivy", "handedness": "R", "mobile_number": next_mobile(), "team": "Nobody"})).await
    .invalid_field("team");
    let reply = post(
        &stack,
        &ondeck,
        "/join/verify",
        Body::Bytes("application/json", b"{\"join\": 5}".to_vec()),
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(count(&stack, "SELECT count(*) FROM join_codes").await, 0);
    assert_eq!(count(&stack, "SELECT count(*) FROM players").await, 0);
    assert!(stack.twilio.accepted().is_empty());
    get(&stack, &ondeck, "/healthz").await.expect(200);
}
