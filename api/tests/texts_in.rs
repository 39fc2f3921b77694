//! Texts in and delivery status (docs/texts-and-media.md): the real `ondeck
//! run` with `SMS_PROVIDER=twilio`, the fake Twilio of `testkit` sending
//! signed webhooks the way Twilio does, and a real PostgreSQL and Redis.

use std::time::Duration;

use ondeck_testkit::twilio::post_form;
use ondeck_testkit::{Body, Mode, Ondeck, Reply, Stack, eventually, next_mobile};
use reqwest::Method;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

fn game_of(player: &Value) -> i64 {
    player["active_game"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("the player's game: {player}"))
}

/// The `<Message>` of a TwiML answer, which must be a 200 `text/xml`;
/// `None` for an empty `<Response/>`.
#[track_caller]
fn twiml(reply: &Reply) -> Option<String> {
    assert_eq!(reply.status, 200, "a TwiML answer: {}", reply.text());
    assert!(
        reply.content_type.starts_with("text/xml"),
        "TwiML is text/xml, not {:?}",
        reply.content_type
    );
    let text = reply.text();
    if text.ends_with("<Response/>") {
        return None;
    }
    let start = text
        .find("<Response><Message>")
        .unwrap_or_else(|| panic!("<Response><Message>: {text}"));
    let inner = &text[start + "<Response><Message>".len()..];
    let end = inner
        .find("</Message></Response>")
        .unwrap_or_else(|| panic!("</Message></Response>: {text}"));
    let escaped = &inner[..end];
    assert!(
        !escaped.contains('<') && !escaped.contains('>'),
        "the message is escaped: {text}"
    );
    // The entities an XML parser (Twilio's) reads back.
    let text = [
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", "\""),
        ("&#39;", "'"),
    ]
    .iter()
    .fold(escaped.to_owned(), |t, (entity, c)| t.replace(entity, c));
    Some(text.replace("&amp;", "&"))
}

/// Waits for the one message listed for `query` to be failed; returns it.
async fn failed_message(stack: &Stack, ondeck: &Ondeck, query: &str) -> Value {
    let what = format!("the message of {query} failed");
    eventually(&what, WAIT, async || {
        let items = stack.messages(ondeck, query).await;
        assert!(items.len() <= 1, "one message: {items:#?}");
        items.into_iter().find(|m| m["status"] == "failed")
    })
    .await
}

async fn run(stack: &Stack) -> Ondeck {
    // No auto-recall: the tests recall by hand.
    stack.spawn(Mode::Run, &[("RECALL_DISABLE", "true")]).await
}

/// Texts `body` from `from` and returns the TwiML reply's message.
async fn text(stack: &Stack, ondeck: &Ondeck, from: &str, body: &str) -> Option<String> {
    let reply = stack
        .twilio
        .text_in(&stack.http, &ondeck.base, from, body)
        .await;
    twiml(&reply)
}

async fn inbound(stack: &Stack, ondeck: &Ondeck) -> Vec<Value> {
    stack
        .messages(ondeck, "kind=reply")
        .await
        .into_iter()
        .inspect(|m| assert_eq!(m["direction"], "inbound", "{m}"))
        .collect()
}

async fn player(stack: &Stack, ondeck: &Ondeck, token: &str, id: &Value) -> Value {
    stack
        .get(ondeck, token, &format!("/api/v1/players/{id}"))
        .await
        .expect(200)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_forged_and_retargeted_webhooks_are_refused_and_change_nothing() {
    let stack = Stack::new().await;
    let ondeck = run(&stack).await;
    let number = next_mobile();
    let signed_up = stack.signup(&ondeck, "Eve", &number).await;
    let game = game_of(&signed_up);
    stack.advance(&ondeck, game, &["queue"]).await;
    let welcome = stack.texts_to(&number, 1, WAIT).await.remove(0);

    let sms_url = format!("{}/hooks/twilio/sms", ondeck.base);
    let status_url = format!("{}/hooks/twilio/status", ondeck.base);
    let params = stack.twilio.incoming(&number, "LEAVE");
    let params: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let forged = ondeck_testkit::twilio::sign("not-the-token", &sms_url, &params);
    let retargeted = stack.twilio.sign(&status_url, &params);
    let mut tampered = params.clone();
    tampered.retain(|(k, _)| *k != "From");
    tampered.push(("From", "+14155550000"));
    let for_original = stack.twilio.sign(&sms_url, &params);
    let cases = [
        ("no signature", params.clone(), None),
        (
            "signed with another token",
            params.clone(),
            Some(forged.as_str()),
        ),
        (
            "signed for the status URL",
            params.clone(),
            Some(retargeted.as_str()),
        ),
        (
            "a parameter changed after signing",
            tampered,
            Some(for_original.as_str()),
        ),
        (
            "a signature that is not base64",
            params.clone(),
            Some("%%%"),
        ),
    ];
    for (what, params, signature) in cases {
        let reply = post_form(&stack.http, &sms_url, &params, signature).await;
        let problem = reply.problem(403);
        assert!(
            !reply.text().contains(&stack.twilio.token),
            "{what}: the problem shows no token: {problem}"
        );
    }

    // A delivery report without a valid signature moves nothing either.
    let report = [
        ("MessageSid", welcome.sid.as_str()),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "30003"),
    ];
    post_form(&stack.http, &status_url, &report, None)
        .await
        .problem(403);
    let wrong = stack.twilio.sign(&sms_url, &report);
    post_form(&stack.http, &status_url, &report, Some(&wrong))
        .await
        .problem(403);

    let current = stack.game(&ondeck, game).await;
    assert_eq!(
        current["state"], "queued",
        "the game stayed queued: {current}"
    );
    assert!(
        inbound(&stack, &ondeck).await.is_empty(),
        "no text was recorded"
    );
    let welcome_row = &stack.messages(&ondeck, "kind=welcome").await[0];
    assert_eq!(welcome_row["status"], "sent", "{welcome_row}");
    assert!(welcome_row["error_code"].is_null(), "{welcome_row}");

    // The same text, signed as Twilio signs it, is taken.
    let reply = stack.twilio.webhook(&stack.http, &sms_url, &params).await;
    assert_eq!(
        twiml(&reply).as_deref(),
        Some("You've left the line for Home Run Derby.")
    );
    let current = stack.game(&ondeck, game).await;
    assert_eq!(current["state"], "cancelled", "{current}");
    assert_eq!(current["cancel_reason"], "player_left", "{current}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_keyword_acts_on_the_senders_game_through_the_players_path() {
    let stack = Stack::new().await;
    let ondeck = run(&stack).await;
    // A name that needs escaping in XML.
    let show_path = format!("/api/v1/shows/{}", stack.show_id);
    let rename = json!({"name": "Fan Fest & <Derby>"});
    stack
        .send(
            &ondeck,
            Method::PATCH,
            &show_path,
            Some(&stack.tokens.admin),
            Some(Body::Json(rename)),
        )
        .await
        .expect(200);
    let show = "Fan Fest & <Derby>";

    let stranger = next_mobile();
    for word in ["YES", "9", "help"] {
        assert_eq!(
            text(&stack, &ondeck, &stranger, word).await.as_deref(),
            Some("You're not in line right now."),
            "{word} from a number with no game"
        );
    }

    let number = next_mobile();
    let ada = stack.signup(&ondeck, "Ada", &number).await;
    let game = game_of(&ada);
    // New: not in the line yet.
    let said = text(&stack, &ondeck, &number, "omw!")
        .await
        .expect("a reply");
    assert!(said.contains("not in the line yet"), "{said}");
    stack.advance(&ondeck, game, &["queue"]).await;
    // Queued: "on my way" is not possible before the recall.
    let said = text(&stack, &ondeck, &number, "Yes")
        .await
        .expect("a reply");
    assert!(said.contains("haven't called you yet"), "{said}");
    assert!(stack.game(&ondeck, game).await["acknowledged_at"].is_null());
    // Queued: more time.
    let said = text(&stack, &ondeck, &number, "2").await.expect("a reply");
    assert_eq!(
        said,
        format!("OK: you've moved 3 places back in the line for {show}.")
    );
    assert_eq!(stack.game(&ondeck, game).await["later_count"], 1);
    // Recalled: on my way, then more time (queued again).
    stack.advance(&ondeck, game, &["recall"]).await;
    let said = text(&stack, &ondeck, &number, "OMW")
        .await
        .expect("a reply");
    assert_eq!(
        said,
        format!("Thanks: we've told {show} you're on your way.")
    );
    let current = stack.game(&ondeck, game).await;
    assert!(current["acknowledged_at"].is_string(), "{current}");
    let said = text(&stack, &ondeck, &number, "wait.")
        .await
        .expect("a reply");
    assert!(said.contains("moved 3 places back"), "{said}");
    let current = stack.game(&ondeck, game).await;
    assert_eq!(current["state"], "queued", "{current}");
    assert_eq!(current["later_count"], 2, "{current}");
    // LATER_LIMIT (2) reached: said plainly, nothing moves.
    let said = text(&stack, &ondeck, &number, "MORE")
        .await
        .expect("a reply");
    assert!(said.contains("as often as you can"), "{said}");
    assert_eq!(stack.game(&ondeck, game).await["later_count"], 2);
    // Anything else: the help reply.
    let raw = stack
        .twilio
        .text_in(&stack.http, &ondeck.base, &number, "where is it?")
        .await
        .text();
    assert!(
        raw.contains("Fan Fest &amp; &lt;Derby&gt;"),
        "escaped XML: {raw}"
    );
    let said = text(&stack, &ondeck, &number, "info")
        .await
        .expect("a reply");
    assert!(said.starts_with(show) && said.contains("reply 1"), "{said}");
    // Leave, from queued.
    let said = text(&stack, &ondeck, &number, "Leave.")
        .await
        .expect("a reply");
    assert_eq!(said, format!("You've left the line for {show}."));
    let current = stack.game(&ondeck, game).await;
    assert_eq!(current["state"], "cancelled", "{current}");
    assert_eq!(current["cancel_reason"], "player_left", "{current}");
    let said = text(&stack, &ondeck, &number, "9").await;
    assert_eq!(said.as_deref(), Some("You're not in line right now."));

    // Leave, from recalled; and a confirmed game cannot leave by text.
    let bo_number = next_mobile();
    let bo = game_of(&stack.signup(&ondeck, "Bo", &bo_number).await);
    stack.advance(&ondeck, bo, &["queue", "recall"]).await;
    let said = text(&stack, &ondeck, &bo_number, "out")
        .await
        .expect("a reply");
    assert_eq!(said, format!("You've left the line for {show}."));
    assert_eq!(stack.game(&ondeck, bo).await["state"], "cancelled");
    let cy_number = next_mobile();
    let cy = game_of(&stack.signup(&ondeck, "Cy", &cy_number).await);
    stack.advance(&ondeck, cy, &["confirm"]).await;
    let said = text(&stack, &ondeck, &cy_number, "9")
        .await
        .expect("a reply");
    assert!(
        said.contains("can't leave the line now") && said.contains("you're up"),
        "{said}"
    );
    assert_eq!(stack.game(&ondeck, cy).await["state"], "confirmed");

    // Every text in was recorded, with its sender and the game it matched.
    let recorded = inbound(&stack, &ondeck).await;
    assert_eq!(recorded.len(), 15, "{recorded:#?}");
    let from_ada: Vec<&Value> = recorded
        .iter()
        .filter(|m| m["from"] == number.as_str())
        .collect();
    assert_eq!(from_ada.len(), 10, "{from_ada:#?}");
    // Newest first: the last "9" matched no game, the ones before did.
    assert!(from_ada[0]["game_id"].is_null(), "{}", from_ada[0]);
    for m in &from_ada[1..] {
        assert_eq!(m["game_id"], game, "{m}");
        assert_eq!(m["status"], "delivered", "{m}");
        assert!(
            m.get("to").is_none(),
            "an inbound text has `from`, not `to`: {m}"
        );
    }
    assert_eq!(from_ada[1]["body"], "Leave.");
    assert!(
        recorded
            .iter()
            .filter(|m| m["from"] == stranger.as_str())
            .all(|m| m["game_id"].is_null()),
        "{recorded:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_keeps_every_text_from_the_number_until_start() {
    let stack = Stack::new().await;
    let ondeck = run(&stack).await;
    let number = next_mobile();
    let signed_up = stack.signup(&ondeck, "Stu", &number).await;
    let game = game_of(&signed_up);
    let welcome = stack.texts_to(&number, 1, WAIT).await.remove(0);
    assert_eq!(
        welcome.status_callback.as_deref(),
        Some(format!("{}/hooks/twilio/status", ondeck.base).as_str()),
        "every text names the status webhook"
    );
    stack.advance(&ondeck, game, &["queue"]).await;

    assert_eq!(text(&stack, &ondeck, &number, "Stop").await, None);
    let seen = player(&stack, &ondeck, &stack.tokens.admin, &signed_up["id"]).await;
    assert_eq!(seen["sms_opted_out"], true, "{seen}");
    let seen = player(&stack, &ondeck, &stack.tokens.tablet, &signed_up["id"]).await;
    assert_eq!(seen["sms_opted_out"], true, "{seen}");
    for token in [&stack.tokens.display, &stack.tokens.game] {
        let seen = player(&stack, &ondeck, token, &signed_up["id"]).await;
        assert!(seen.get("sms_opted_out").is_none(), "{seen}");
        assert!(seen.get("mobile_number").is_none(), "{seen}");
    }
    assert_eq!(
        stack.game(&ondeck, game).await["state"],
        "queued",
        "the game stays in line"
    );

    // The recall is not sent: its message fails "opted out".
    let posts = stack.twilio.posts();
    stack.advance(&ondeck, game, &["recall"]).await;
    let query = format!("game_id={game}&kind=recall");
    let recall = failed_message(&stack, &ondeck, &query).await;
    assert_eq!(recall["error"], "opted out", "{recall}");
    assert!(recall["provider_id"].is_null(), "{recall}");
    stack.assert_no_more_texts(&number, 1, posts).await;

    // START: texts go out again.
    assert_eq!(text(&stack, &ondeck, &number, "start").await, None);
    let seen = player(&stack, &ondeck, &stack.tokens.admin, &signed_up["id"]).await;
    assert_eq!(seen["sms_opted_out"], false, "{seen}");
    stack.advance(&ondeck, game, &["queue", "recall"]).await;
    let texts = stack.texts_to(&number, 2, WAIT).await;
    assert!(texts[1].status_callback.is_some());
    stack.assert_provider_calls_were_valid();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_21610_on_sending_or_in_a_report_opts_the_number_out() {
    let stack = Stack::new().await;
    stack.twilio.refuse_next(21610);
    let ondeck = run(&stack).await;
    let number = next_mobile();
    let signed_up = stack.signup(&ondeck, "Reed", &number).await;
    let game = game_of(&signed_up);
    let query = format!("game_id={game}&kind=welcome");
    let welcome = failed_message(&stack, &ondeck, &query).await;
    assert_eq!(welcome["error_code"], "21610", "{welcome}");
    assert!(
        welcome["error"]
            .as_str()
            .is_some_and(|e| e.contains("STOP")),
        "a readable error: {welcome}"
    );
    assert_eq!(welcome["attempts"], 1, "not tried again: {welcome}");
    let seen = player(&stack, &ondeck, &stack.tokens.admin, &signed_up["id"]).await;
    assert_eq!(seen["sms_opted_out"], true, "{seen}");
    let posts = stack.twilio.posts();
    stack.advance(&ondeck, game, &["queue", "recall"]).await;
    let query = format!("game_id={game}&kind=recall");
    let recall = failed_message(&stack, &ondeck, &query).await;
    assert_eq!(recall["error"], "opted out", "{recall}");
    stack.assert_no_more_texts(&number, 0, posts).await;

    // In a delivery report.
    let other = next_mobile();
    let signed_up = stack.signup(&ondeck, "Rae", &other).await;
    let sms = stack.texts_to(&other, 1, WAIT).await.remove(0);
    let query = format!("game_id={}&kind=welcome", game_of(&signed_up));
    stack.sent_messages(&ondeck, &query, 1, WAIT).await;
    let reply = stack
        .twilio
        .report(&stack.http, &sms, "failed", Some("21610"))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text());
    let seen = player(&stack, &ondeck, &stack.tokens.admin, &signed_up["id"]).await;
    assert_eq!(seen["sms_opted_out"], true, "{seen}");
    let row = &stack.messages(&ondeck, &query).await[0];
    assert_eq!(row["status"], "failed", "{row}");
    assert_eq!(row["error_code"], "21610", "{row}");
    stack.assert_provider_calls_were_valid();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_reports_move_a_status_only_forwards() {
    let stack = Stack::new().await;
    let ondeck = run(&stack).await;
    let (one, two) = (next_mobile(), next_mobile());
    let first = game_of(&stack.signup(&ondeck, "Del", &one).await);
    let second = game_of(&stack.signup(&ondeck, "Und", &two).await);
    let delivered = stack.texts_to(&one, 1, WAIT).await.remove(0);
    let undelivered = stack.texts_to(&two, 1, WAIT).await.remove(0);
    stack.sent_messages(&ondeck, "kind=welcome", 2, WAIT).await;
    let row = async |game: i64| {
        stack
            .messages(&ondeck, &format!("game_id={game}&kind=welcome"))
            .await
            .remove(0)
    };

    for (status, expected) in [
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("sent", "delivered"),
        ("queued", "delivered"),
    ] {
        let reply = stack
            .twilio
            .report(&stack.http, &delivered, status, None)
            .await;
        assert_eq!(reply.status, 204, "{status}: {}", reply.text());
        let now = row(first).await;
        assert_eq!(now["status"], expected, "after {status}: {now}");
    }
    let reply = stack
        .twilio
        .report(&stack.http, &undelivered, "undelivered", Some("30003"))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text());
    let now = row(second).await;
    assert_eq!(now["status"], "failed", "{now}");
    assert_eq!(now["error_code"], "30003", "{now}");
    assert!(
        now["error"]
            .as_str()
            .is_some_and(|e| e.contains("30003") && e.contains("unreachable")),
        "a readable error: {now}"
    );
    // A failed text stays failed; a report of a text ondeck never sent changes nothing.
    stack
        .twilio
        .report(&stack.http, &undelivered, "delivered", None)
        .await;
    assert_eq!(row(second).await["status"], "failed");
    let mut unknown = delivered.clone();
    unknown.sid = format!("SM{:032x}", 7);
    let reply = stack
        .twilio
        .report(&stack.http, &unknown, "failed", Some("30005"))
        .await;
    assert_eq!(reply.status, 204);
    assert_eq!(row(first).await["status"], "delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_huge_bodies_and_wrong_content_types_get_4xx_and_change_nothing() {
    let stack = Stack::new().await;
    let ondeck = run(&stack).await;
    let number = next_mobile();
    let game = game_of(&stack.signup(&ondeck, "Flo", &number).await);
    stack.advance(&ondeck, game, &["queue"]).await;
    let sms_url = format!("{}/hooks/twilio/sms", ondeck.base);

    // A body over the limit, signed.
    let mut params = stack.twilio.incoming(&number, "LEAVE");
    params.push(("Padding".to_owned(), "x".repeat(64 * 1024)));
    let params: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    stack
        .twilio
        .webhook(&stack.http, &sms_url, &params)
        .await
        .problem(413);

    // JSON instead of a form, and a form without a content type.
    let leave = stack.twilio.incoming(&number, "LEAVE");
    let leave: Vec<(&str, &str)> = leave
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let signature = stack.twilio.sign(&sms_url, &leave);
    let as_json: serde_json::Map<String, Value> = leave
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let headers = [("x-twilio-signature", signature.as_str())];
    let reply = ondeck_testkit::reply::send(
        &stack.http,
        Method::POST,
        &sms_url,
        None,
        Some(Body::Json(Value::Object(as_json))),
        &headers,
    )
    .await;
    reply.problem(400);
    let reply = ondeck_testkit::reply::send(
        &stack.http,
        Method::POST,
        &sms_url,
        None,
        Some(Body::Bytes("text/plain", b"Body=LEAVE".to_vec())),
        &headers,
    )
    .await;
    reply.problem(400);
    assert_eq!(stack.game(&ondeck, game).await["state"], "queued");
    assert!(inbound(&stack, &ondeck).await.is_empty());

    // A flood from one number: ten texts a minute are taken, then 429.
    for _ in 0..10 {
        assert!(text(&stack, &ondeck, &number, "HELP").await.is_some());
    }
    let reply = stack
        .twilio
        .text_in(&stack.http, &ondeck.base, &number, "LEAVE")
        .await;
    reply.problem(429);
    assert_eq!(
        stack.game(&ondeck, game).await["state"],
        "queued",
        "the flood changed nothing"
    );
    assert_eq!(inbound(&stack, &ondeck).await.len(), 10);
    // Another number is not held up by it.
    let other = next_mobile();
    assert_eq!(
        text(&stack, &ondeck, &other, "1").await.as_deref(),
        Some("You're not in line right now.")
    );

    // The same webhook twice (a replay) acts once.
    let replayed = stack.twilio.incoming(&other, "STOP");
    let replayed: Vec<(&str, &str)> = replayed
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    for _ in 0..2 {
        let reply = stack.twilio.webhook(&stack.http, &sms_url, &replayed).await;
        assert_eq!(twiml(&reply), None);
    }
    let from_other = inbound(&stack, &ondeck)
        .await
        .into_iter()
        .filter(|m| m["from"] == other.as_str())
        .count();
    assert_eq!(from_other, 2, "the replay was not recorded again");

    // Documented, without a token.
    let doc = stack
        .get(&ondeck, &stack.tokens.display, "/api/v1/openapi.json")
        .await
        .expect(200);
    for path in ["/hooks/twilio/sms", "/hooks/twilio/status"] {
        let op = &doc["paths"][path]["post"];
        assert_eq!(op["security"], json!([{}]), "{path}: {op}");
        assert!(op["responses"]["403"].is_object(), "{path}: {op}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hooks_refuse_every_request_unless_twilio_is_the_provider() {
    let stack = Stack::new().await;
    let ondeck = stack.spawn(Mode::Serve, &[("SMS_PROVIDER", "log")]).await;
    let reply = stack
        .twilio
        .text_in(&stack.http, &ondeck.base, &next_mobile(), "YES")
        .await;
    let problem = reply.problem(403);
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("SMS_PROVIDER"), "{problem}");
    let url = format!("{}/hooks/twilio/status", ondeck.base);
    let params = [("MessageSid", "SM1"), ("MessageStatus", "delivered")];
    stack
        .twilio
        .webhook(&stack.http, &url, &params)
        .await
        .problem(403);
    assert_eq!(inbound(&stack, &ondeck).await, Vec::<Value>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_deletes_the_number_and_the_player_code_and_keeps_the_opt_out() {
    let stack = Stack::new().await;
    let ondeck = run(&stack).await;
    let number = next_mobile();
    let pat = stack.signup(&ondeck, "Pat", &number).await;
    let game = game_of(&pat);
    stack.advance(&ondeck, game, &["queue"]).await;
    assert_eq!(text(&stack, &ondeck, &number, "STOP").await, None);
    assert!(text(&stack, &ondeck, &number, "9").await.is_some());
    // From the number, matched to no game any more.
    assert!(text(&stack, &ondeck, &number, "hello").await.is_some());

    // Everything of Pat's ended long ago.
    for sql in [
        "UPDATE players SET created_at = '2026-01-01T00:00:00Z'",
        "UPDATE games SET cancelled_at = '2026-01-01T01:00:00Z'",
    ] {
        sqlx::query(sql).execute(&stack.db.pool).await.expect(sql);
    }
    let data = ondeck_testkit::TempDir::new("purge");
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let data_dir = data.path().to_string_lossy().into_owned();
    let output = ondeck_testkit::process::run_ondeck(
        &["purge", "--before", &today],
        &[("DATABASE_URL", &stack.db.url), ("DATA_DIR", &data_dir)],
    )
    .await;
    assert!(
        output.status.success(),
        "purge: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let db = &stack.db;
    assert_eq!(db.count("players WHERE mobile_number IS NOT NULL").await, 0);
    assert_eq!(db.count("games WHERE player_code IS NOT NULL").await, 0);
    assert_eq!(
        db.count("messages WHERE \"to\" <> '' OR body <> ''").await,
        0,
        "texts either way lose the number and the body"
    );
    let opted_out = format!("sms_opt_outs WHERE number_hash = number_hash('{number}')");
    assert_eq!(db.count(&opted_out).await, 1, "the STOP still holds");

    // Pat signs up again with the same number: still opted out.
    let again = stack.signup(&ondeck, "Pat", &number).await;
    let seen = player(&stack, &ondeck, &stack.tokens.admin, &again["id"]).await;
    assert_eq!(seen["sms_opted_out"], true, "{seen}");
    let query = format!("game_id={}&kind=welcome", game_of(&again));
    let welcome = failed_message(&stack, &ondeck, &query).await;
    assert_eq!(welcome["error"], "opted out", "{welcome}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_queued_before_the_stop_is_not_sent_after_it() {
    let stack = Stack::new().await;
    // The provider is down: the welcome waits between attempts.
    stack.twilio.fail_next(100);
    let ondeck = run(&stack).await;
    let number = next_mobile();
    let game = game_of(&stack.signup(&ondeck, "Quinn", &number).await);
    eventually("a first attempt", WAIT, async || {
        (stack.twilio.posts() >= 1).then_some(())
    })
    .await;
    assert_eq!(text(&stack, &ondeck, &number, "STOP").await, None);
    let query = format!("game_id={game}&kind=welcome");
    let welcome = failed_message(&stack, &ondeck, &query).await;
    assert_eq!(welcome["error"], "opted out", "{welcome}");
    let attempts = welcome["attempts"].as_i64().expect("attempts");
    assert!(
        (1..5).contains(&attempts),
        "stopped before the last attempt: {welcome}"
    );
    stack
        .assert_no_more_texts(&number, 0, attempts as usize)
        .await;
}
