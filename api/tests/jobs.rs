//! The background-job pipeline end to end (docs/texts-and-media.md): the real
//! `ondeck` processes against a real PostgreSQL and a Redis of the test's
//! own, a fake Twilio inside the test that checks and records every request,
//! and a real S3-compatible server (s3s-fs) on loopback. See `testkit/`.

use std::time::{Duration, Instant};

use ondeck_media::images::photo::{self, PhotoFormat};
use ondeck_testkit::{
    Mode, Ondeck, Stack, TWILIO_FROM, eventually, field, jpeg_dimensions, mobile, noise_png,
    png_header,
};
use serde_json::{Value, json};

const SOUVENIR_SIDE: u32 = 1080;

fn id(value: &Value) -> i64 {
    value["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("an id: {value}"))
}

fn game_of(player: &Value) -> i64 {
    player["active_game"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("the player's game: {player}"))
}

/// Decodes a souvenir with the `image` crate (through ondeck-media's photo
/// check) and reads its JPEG header by hand: a `side`×`side` JPEG that is
/// not a blank square.
#[track_caller]
fn assert_souvenir_jpeg(bytes: &[u8], side: u32, what: &str) {
    assert!(
        bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "{what}: JPEG magic bytes, got {:02x?}",
        &bytes[..bytes.len().min(8)]
    );
    assert!(
        bytes.ends_with(&[0xFF, 0xD9]),
        "{what}: a complete JPEG (EOI at the end)"
    );
    assert_eq!(
        jpeg_dimensions(bytes),
        Some((side, side)),
        "{what}: the SOF segment's size"
    );
    let decoded = photo::check(bytes).unwrap_or_else(|e| panic!("{what} decodes: {e}"));
    assert_eq!(decoded.format, PhotoFormat::Jpeg, "{what}");
    assert_eq!(
        (decoded.width, decoded.height),
        (side, side),
        "{what}: decoded size"
    );
    let rgb = decoded.image.to_rgb8();
    let mut colours = std::collections::HashSet::new();
    for pixel in rgb.pixels().step_by(97) {
        colours.insert(pixel.0);
    }
    assert!(
        colours.len() > 20,
        "{what}: a picture, not a blank square ({} colours)",
        colours.len()
    );
}

/// The `/s/{code}` link in a text sent by `ondeck`.
fn short_link(body: &str, ondeck: &Ondeck) -> String {
    let prefix = format!("{}/s/", ondeck.base);
    let at = body
        .find(&prefix)
        .unwrap_or_else(|| panic!("the souvenir text links to {prefix}...: {body:?}"));
    let code: String = body[at + prefix.len()..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    assert!(code.len() >= 6, "a short link code: {body:?}");
    format!("{prefix}{code}")
}

/// Follows one redirect from `url` (which must be a 302) and returns the
/// image it leads to, checking it is a JPEG.
async fn follow_to_image(stack: &Stack, url: &str, token: Option<&str>, what: &str) -> Vec<u8> {
    let mut req = stack.http.get(url);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let first = ondeck_testkit::Reply::read(
        req.send()
            .await
            .unwrap_or_else(|e| panic!("{what}: GET {url}: {e}")),
    )
    .await;
    assert_eq!(
        first.status,
        302,
        "{what}: GET {url} must redirect with 302 (docs/api.md, section Resources); body: {}",
        first.text()
    );
    let location = first
        .location
        .unwrap_or_else(|| panic!("{what}: a Location header"));
    let image = reqwest::get(&location)
        .await
        .unwrap_or_else(|e| panic!("{what}: GET {location}: {e}"));
    let image = ondeck_testkit::Reply::read(image).await;
    assert_eq!(
        image.status,
        200,
        "{what}: the image at {location}: {}",
        image.text()
    );
    assert!(
        image.content_type.starts_with("image/jpeg"),
        "{what}: served as image/jpeg, not {:?}",
        image.content_type
    );
    image.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_recall_and_completion_send_one_text_each_and_a_1080_jpeg_souvenir() {
    let stack = Stack::new().await;
    // No auto-recall: the test recalls by hand.
    let ondeck = stack.spawn(Mode::Run, &[("RECALL_DISABLE", "true")]).await;
    let show = stack.show(&ondeck).await;
    let tokens = &stack.tokens;
    let sluggers = json!({"name": "Sluggers"});
    stack
        .post(&ondeck, &tokens.admin, "/api/v1/teams", sluggers)
        .await
        .expect(201);
    let number = mobile(101);
    let ada = json!({"first_name": "Ada", "last_name": "Lovelace", "handedness": "R",
                     "team": "Sluggers", "mobile_number": number});
    let player = stack
        .post(&ondeck, &tokens.tablet, "/api/v1/players", ada)
        .await
        .expect(201);
    let game = game_of(&player);

    // A photo for the souvenir, through the API into the bucket.
    let photo = noise_png(300, 400, 7);
    let reply = stack
        .put_photo(&ondeck, id(&player), "image/png", photo)
        .await;
    let updated = reply.expect(200);
    assert!(
        updated["photo_url"].is_string(),
        "the player has a photo_url: {updated}"
    );

    // `{link}` in the default texts is the player's page, which the tablet
    // sees as `player_link`.
    let link = player["active_game"]["player_link"]
        .as_str()
        .unwrap_or_else(|| panic!("a tablet sees the player's link: {player}"));
    assert!(link.starts_with(&format!("{}/p/", ondeck.base)), "{link}");
    let with_link = |field_name: &str| field(&show, field_name).replace("{link}", link);
    let texts = stack.texts_to(&number, 1, Duration::from_secs(30)).await;
    assert_eq!(
        texts[0].body,
        with_link("welcome_message"),
        "the welcome text is the show's, with the player's link"
    );
    assert_eq!(
        texts[0].from.as_deref(),
        Some(TWILIO_FROM),
        "sent from TWILIO_FROM"
    );

    stack.advance(&ondeck, game, &["queue", "recall"]).await;
    let texts = stack.texts_to(&number, 2, Duration::from_secs(30)).await;
    let recall = &texts[1];
    assert_eq!(
        recall.body,
        with_link("recall_message"),
        "the recall text is the show's, with the player's link"
    );
    let validity = recall
        .validity_period
        .unwrap_or_else(|| panic!("a recall text carries ValidityPeriod: {recall:?}"));
    // RECALL_WINDOW_MINUTES is 20: a recall text is worthless after that.
    assert!(
        (1..=20 * 60).contains(&validity),
        "ValidityPeriod {validity} s within the recall window"
    );

    stack
        .advance(&ondeck, game, &["confirm", "play", "complete"])
        .await;
    let souvenir_url = stack.souvenir_url(&ondeck, game).await;
    let key = format!("souvenirs/{game}.jpg");
    let stored = std::fs::read(stack.s3.object_path(&key))
        .unwrap_or_else(|e| panic!("{key} is in the bucket once souvenir_url is set: {e}"));
    assert_souvenir_jpeg(&stored, SOUVENIR_SIDE, "the souvenir in the bucket");

    let texts = stack.texts_to(&number, 3, Duration::from_secs(30)).await;
    let souvenir_text = &texts[2].body;
    let link = short_link(souvenir_text, &ondeck);
    let expected = field(&show, "souvenir_message").replace("{url}", &link);
    assert_eq!(
        souvenir_text, &expected,
        "the souvenir text is the show's, with the link"
    );
    let image = follow_to_image(&stack, &link, None, "the texted short link").await;
    assert!(
        image == stored,
        "the short link leads to the souvenir in the bucket"
    );
    assert_souvenir_jpeg(&image, SOUVENIR_SIDE, "the image behind the short link");
    let image = follow_to_image(&stack, &souvenir_url, None, "souvenir_url").await;
    assert!(
        image == stored,
        "souvenir_url leads to the souvenir in the bucket"
    );
    let api_path = format!("{}/api/v1/games/{game}/souvenir", ondeck.base);
    let image = follow_to_image(&stack, &api_path, Some(&tokens.display), "GET .../souvenir").await;
    assert!(
        image == stored,
        "GET /api/v1/games/{{id}}/souvenir leads to the souvenir"
    );

    // Each text is recorded as sent, once, with the provider's id.
    let query = format!("game_id={game}");
    let listed = stack
        .sent_messages(&ondeck, &query, 3, Duration::from_secs(10))
        .await;
    for (kind, sms) in ["welcome", "recall", "souvenir"].iter().zip(&texts) {
        let row = listed
            .iter()
            .find(|m| m["kind"] == *kind)
            .unwrap_or_else(|| panic!("a {kind} message: {listed:?}"));
        assert_eq!(row["to"], number.as_str(), "{kind}: {row}");
        assert_eq!(row["body"], sms.body.as_str(), "{kind}: {row}");
        assert_eq!(row["attempts"], 1, "{kind}: {row}");
        assert_eq!(row["provider_id"], sms.sid.as_str(), "{kind}: {row}");
        assert!(row["sent_at"].is_string(), "{kind}: {row}");
        assert_eq!(row["game_id"], game, "{kind}: {row}");
    }

    // An explicit re-send is a new message, with the same link.
    let path = format!("/api/v1/games/{game}/souvenir");
    let reply = stack.post(&ondeck, &tokens.admin, &path, json!({})).await;
    assert_eq!(reply.status, 202, "re-render: {}", reply.text());
    let texts = stack.texts_to(&number, 4, Duration::from_secs(60)).await;
    assert_eq!(
        &texts[3].body, souvenir_text,
        "the re-sent text links to the same souvenir"
    );
    let query = format!("game_id={game}&kind=souvenir");
    let souvenirs = stack
        .sent_messages(&ondeck, &query, 2, Duration::from_secs(10))
        .await;
    assert_ne!(
        souvenirs[0]["id"], souvenirs[1]["id"],
        "two messages: {souvenirs:?}"
    );
    let rerendered =
        std::fs::read(stack.s3.object_path(&key)).expect("the souvenir is still there");
    assert_souvenir_jpeg(&rerendered, SOUVENIR_SIDE, "the re-rendered souvenir");

    // Nothing more arrives: each text went out exactly once.
    stack.assert_no_more_texts(&number, 4, 4).await;
    stack.assert_provider_calls_were_valid();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_the_provider_answers_503_three_times_goes_out_once_on_the_fourth_attempt() {
    let stack = Stack::new().await;
    stack.twilio.fail_next(3);
    let ondeck = stack.spawn(Mode::Run, &[]).await;
    let show = stack.show(&ondeck).await;
    let number = mobile(202);
    let player = stack.signup(&ondeck, "Flaky", &number).await;
    let game = game_of(&player);

    let texts = stack.texts_to(&number, 1, Duration::from_secs(45)).await;
    let link = player["active_game"]["player_link"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        texts[0].body,
        field(&show, "welcome_message").replace("{link}", link)
    );
    assert_eq!(
        stack.twilio.failed(),
        3,
        "three sends answered 503: {}",
        stack.twilio.summary()
    );
    let query = format!("game_id={game}&kind=welcome");
    let message = eventually(
        "the welcome recorded as sent",
        Duration::from_secs(10),
        async || {
            let items = stack.messages(&ondeck, &query).await;
            assert!(items.len() <= 1, "one message for one welcome: {items:?}");
            items.into_iter().find(|m| m["status"] == "sent")
        },
    )
    .await;
    assert_eq!(
        message["attempts"], 4,
        "three failed attempts and one that went through: {message}"
    );
    assert_eq!(
        message["provider_id"],
        texts[0].sid.as_str(),
        "the provider's id: {message}"
    );
    assert!(message["sent_at"].is_string(), "{message}");

    // Sent once, in four attempts.
    stack.assert_no_more_texts(&number, 1, 4).await;
    stack.assert_provider_calls_were_valid();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_photo_uploads_are_refused_with_a_problem_and_the_server_stays_up() {
    let stack = Stack::new().await;
    let mut ondeck = stack.spawn(Mode::Serve, &[]).await;
    let player = id(&stack.signup(&ondeck, "Mallory", &mobile(404)).await);
    let player_path = format!("/api/v1/players/{player}");

    let valid_png = noise_png(64, 48, 1);
    let mut truncated_png = valid_png.clone();
    truncated_png.truncate(valid_png.len() / 2);
    let mut huge_png = png_header(30_000, 30_000);
    huge_png.extend_from_slice(&valid_png[33..]);
    let mut random = vec![0u8; 64 * 1024];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for byte in &mut random {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = (state >> 32) as u8;
    }
    let mut truncated_jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
    truncated_jpeg.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0\xFF\xDB\x00\x43\x00");
    let cases: [(&str, &'static str, Vec<u8>, u16); 6] = [
        ("a truncated PNG", "image/png", truncated_png, 422),
        ("a PNG header of 30000×30000", "image/png", huge_png, 422),
        ("random bytes", "image/jpeg", random, 422),
        ("a truncated JPEG", "image/jpeg", truncated_jpeg, 422),
        ("an empty body", "image/png", Vec::new(), 422),
        (
            "a 12 MiB body",
            "image/jpeg",
            vec![0xFF; 12 * 1024 * 1024],
            413,
        ),
    ];
    for (what, content_type, bytes, status) in cases {
        let started = Instant::now();
        let reply = stack.put_photo(&ondeck, player, content_type, bytes).await;
        let problem = reply.problem(status);
        if status == 422 {
            assert!(
                problem["errors"].get("photo").is_some(),
                "{what}: the 422 names photo: {problem}"
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what}: refused in {:?}",
            started.elapsed()
        );
        assert!(ondeck.is_running(), "the server survives {what}");
        let health = stack
            .http
            .get(format!("{}/healthz", ondeck.base))
            .send()
            .await;
        let health = health.map(|r| r.status().as_u16());
        assert!(
            matches!(health, Ok(200)),
            "/healthz after {what}: {health:?}"
        );
        let unchanged = stack.admin_get(&ondeck, &player_path).await;
        assert!(
            unchanged["photo_url"].is_null(),
            "{what} set no photo: {unchanged}"
        );
    }

    // Real photos are still taken: a PNG over the 1 MiB JSON limit, and a JPEG.
    let big_png = noise_png(700, 600, 3);
    assert!(big_png.len() > 1024 * 1024, "a PNG over 1 MiB");
    let reply = stack.put_photo(&ondeck, player, "image/png", big_png).await;
    let first = reply.expect(200);
    let first_url = first["photo_url"]
        .as_str()
        .unwrap_or_else(|| panic!("a photo_url: {first}"))
        .to_owned();
    let card = ondeck_media::images::souvenir::Souvenir {
        first_name: "Mallory",
        last_name: None,
        team: None,
        show: "Home Run Derby",
        score: 1,
        distance: 2,
        homeruns: 3,
        photo: None,
    };
    let jpeg = ondeck_media::images::souvenir::render(
        &card,
        256,
        ondeck_media::images::souvenir::Format::Jpeg,
    )
    .expect("a JPEG to upload");
    let reply = stack.put_photo(&ondeck, player, "image/jpeg", jpeg).await;
    let second = reply.expect(200);
    assert!(second["photo_url"].is_string(), "a photo_url: {second}");
    assert_ne!(
        second["photo_url"],
        first_url.as_str(),
        "a new photo, a new URL"
    );
    assert!(ondeck.is_running(), "the server is still up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_souvenir_text_carries_the_rank_of_the_day() {
    let stack = Stack::new().await;
    let ondeck = stack.spawn(Mode::Run, &[("RECALL_DISABLE", "true")]).await;
    let tokens = &stack.tokens;
    let show = format!("/api/v1/shows/{}", stack.show_id);
    let template = json!({"souvenir_message": "You're {rank}! {url}"});
    let reply = stack
        .send(
            &ondeck,
            reqwest::Method::PATCH,
            &show,
            Some(&tokens.admin),
            Some(ondeck_testkit::Body::Json(template)),
        )
        .await;
    reply.expect(200);

    // Each game completes, and its text is read, before the next one.
    // Ada's higher score is moved to yesterday before Bo plays; Cy and Dee
    // tie on score and distance, so Cy, who finished first, ranks first.
    let players = [
        ("Ada", 1500, 300),
        ("Bo", 1200, 300),
        ("Cy", 900, 350),
        ("Dee", 900, 350),
    ];
    let mut ranks = Vec::new();
    for (i, (name, score, distance)) in players.into_iter().enumerate() {
        let number = mobile(301 + i as u32);
        let body = json!({"first_name": name, "handedness": "R", "mobile_number": number});
        let player = stack
            .post(&ondeck, &tokens.tablet, "/api/v1/players", body)
            .await
            .expect(201);
        let game = game_of(&player);
        stack
            .advance(&ondeck, game, &["queue", "confirm", "play"])
            .await;
        let result = json!({"score": score, "distance": distance, "homeruns": 3});
        let path = format!("/api/v1/games/{game}/complete");
        stack
            .post(&ondeck, &tokens.game, &path, result)
            .await
            .expect(200);
        let texts = stack.texts_to(&number, 2, Duration::from_secs(30)).await;
        let souvenir = &texts[1].body;
        let link = short_link(souvenir, &ondeck);
        let rank = souvenir
            .strip_prefix("You're ")
            .and_then(|rest| rest.strip_suffix(&format!("! {link}")))
            .unwrap_or_else(|| panic!("{name}: the template filled in: {souvenir:?}"));
        ranks.push(rank.to_owned());
        if name == "Ada" {
            sqlx::query(
                "UPDATE games SET completed_at = completed_at - interval '1 day' WHERE id = $1",
            )
            .bind(game)
            .execute(&stack.db.pool)
            .await
            .expect("Ada played yesterday");
        }
    }
    assert_eq!(ranks, ["#1 today", "#1 today", "#2 today", "#3 today"]);
}
