//! Photos and souvenirs behind URLs that work for the storage in use: with
//! `STORAGE=local`, `/media/` serves a file only to a URL signed with the
//! key in the database (any process, after restarts), and refuses every
//! other request alike; with `STORAGE=s3`, `photo_url` points to the bucket.
//! The real `ondeck` processes, PostgreSQL, and s3s-fs (see `testkit/`).

use std::time::Duration;

use image::GenericImageView;
use ondeck_media::media_key::MediaKey;
use ondeck_testkit::{Mode, Ondeck, Reply, Stack, TempDir, noise_png};
use serde_json::Value;

fn id(value: &Value) -> i64 {
    value["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("an id: {value}"))
}

fn photo_url(player: &Value) -> String {
    player["photo_url"]
        .as_str()
        .unwrap_or_else(|| panic!("a photo_url: {player}"))
        .to_owned()
}

/// The `photo_url` of `GET /players/{id}` as the display gets it.
async fn displayed_photo_url(stack: &Stack, ondeck: &Ondeck, player: i64) -> String {
    let path = format!("/api/v1/players/{player}");
    photo_url(
        &stack
            .get(ondeck, &stack.tokens.display, &path)
            .await
            .expect(200),
    )
}

/// `STORAGE=local` under `dir`.
fn local(dir: &TempDir) -> [(&'static str, String); 2] {
    [
        ("STORAGE", "local".to_owned()),
        ("DATA_DIR", dir.path().to_string_lossy().into_owned()),
    ]
}

async fn spawn_local(stack: &Stack, mode: Mode, dir: &TempDir) -> Ondeck {
    let env = local(dir);
    let mut extra: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    extra.push(("RECALL_DISABLE", "true"));
    stack.spawn(mode, &extra).await
}

/// Uploads `bytes` (a PNG) as the player's photo; returns the player.
async fn upload_photo(stack: &Stack, ondeck: &Ondeck, player: i64, bytes: Vec<u8>) -> Value {
    stack
        .put_photo(ondeck, player, "image/png", bytes)
        .await
        .expect(200)
}

/// Whether `served` is the photo `uploaded`: a photo is stored encoded again
/// (without its metadata), so the pixels are compared, not the bytes.
fn same_photo(served: &[u8], uploaded: &[u8]) -> bool {
    let decode = |bytes| image::load_from_memory_with_format(bytes, image::ImageFormat::Png);
    match (decode(served), decode(uploaded)) {
        (Ok(a), Ok(b)) => a.dimensions() == b.dimensions() && a.to_rgba8() == b.to_rgba8(),
        _ => false,
    }
}

/// A GET without a token; the reply and its Cache-Control.
async fn fetch(stack: &Stack, url: &str) -> (Reply, Option<String>) {
    let res = stack
        .http
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let cache_control = res
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (Reply::read(res).await, cache_control)
}

/// Asserts that `url` is refused as `/media/` refuses: a 404 problem, no
/// image bytes. Returns the problem's detail.
async fn assert_refused(stack: &Stack, url: &str, what: &str) -> String {
    let (reply, _) = fetch(stack, url).await;
    assert_eq!(reply.status, 404, "{what}: GET {url}: {}", reply.text());
    let problem = reply.problem(404);
    assert!(
        !reply.body.starts_with(&[0x89, b'P', b'N', b'G']) && !reply.text().contains("IHDR"),
        "{what}: no image bytes"
    );
    problem["detail"].as_str().unwrap_or_default().to_owned()
}

/// Splits a signed `/media/` URL into (the URL without its query, expires, sig).
fn signed_parts(url: &str) -> (String, String, String) {
    let (bare, query) = url
        .split_once('?')
        .unwrap_or_else(|| panic!("a query: {url}"));
    let pairs: std::collections::HashMap<&str, &str> =
        query.split('&').filter_map(|p| p.split_once('=')).collect();
    let get = |name: &str| {
        pairs
            .get(name)
            .unwrap_or_else(|| panic!("{name} in {url}"))
            .to_string()
    };
    (bare.to_owned(), get("expires"), get("sig"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_media_is_served_to_signed_urls_only() {
    let stack = Stack::new().await;
    let data = TempDir::new("media-local");
    let first = spawn_local(&stack, Mode::Serve, &data).await;
    let ada = id(&stack.signup(&first, "Ada", "+14155550101").await);
    let bea = id(&stack.signup(&first, "Bea", "+14155550102").await);
    let ada_photo = noise_png(120, 90, 1);
    let uploaded = upload_photo(&stack, &first, ada, ada_photo.clone()).await;
    let bea_url = photo_url(&upload_photo(&stack, &first, bea, noise_png(80, 60, 2)).await);

    // The photo_url of GET /players/{id} fetches the photo, privately cached.
    let url = displayed_photo_url(&stack, &first, ada).await;
    let prefix = format!("{}/media/photos/{ada}-", first.base);
    assert!(
        url.starts_with(&prefix) && url.contains("?expires=") && url.contains("&sig="),
        "a signed /media/ URL: {url}"
    );
    assert!(
        photo_url(&uploaded).starts_with(&prefix),
        "the upload's answer too: {uploaded}"
    );
    let (image, cache_control) = fetch(&stack, &url).await;
    assert_eq!(image.status, 200, "GET {url}: {}", image.text());
    assert_eq!(image.content_type, "image/png");
    assert!(same_photo(&image.body, &ada_photo), "the photo uploaded");
    let cache_control = cache_control.unwrap_or_default();
    let max_age: i64 = cache_control
        .strip_prefix("private, max-age=")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("Cache-Control private with a max-age: {cache_control:?}"));
    assert!(
        (3500..=7200).contains(&max_age),
        "cached no longer than the link lasts: {cache_control}"
    );
    // The list gives a URL that works too.
    let list = stack
        .get(&first, &stack.tokens.display, "/api/v1/players?limit=10")
        .await
        .expect(200);
    let listed = list["items"]
        .as_array()
        .and_then(|items| items.iter().find(|p| id(p) == ada))
        .unwrap_or_else(|| panic!("Ada in the list: {list}"))
        .clone();
    let (image, _) = fetch(&stack, &photo_url(&listed)).await;
    assert!(
        image.status == 200 && same_photo(&image.body, &ada_photo),
        "the listed photo_url"
    );

    // Refused alike: unsigned, tampered, another key under Ada's signature,
    // expired; and an unsigned URL of a file that does not exist.
    let (bare, expires, sig) = signed_parts(&url);
    let unsigned = assert_refused(&stack, &bare, "unsigned").await;
    let mut flipped = sig.clone().into_bytes();
    flipped[10] = if flipped[10] == b'a' { b'b' } else { b'a' };
    let flipped = String::from_utf8(flipped).expect("hex");
    let tampered = format!("{bare}?expires={expires}&sig={flipped}");
    assert_refused(&stack, &tampered, "a tampered signature").await;
    let later = expires.parse::<i64>().expect("expires") + 3600;
    let extended = format!("{bare}?expires={later}&sig={sig}");
    assert_refused(&stack, &extended, "a later expiry under the signature").await;
    let (bea_bare, _, _) = signed_parts(&bea_url);
    let swapped = format!("{bea_bare}?expires={expires}&sig={sig}");
    assert_refused(&stack, &swapped, "Bea's key under Ada's signature").await;
    assert_refused(&stack, &format!("{bare}?sig={sig}"), "no expiry").await;
    assert_refused(&stack, &format!("{bare}?expires={expires}"), "no sig").await;
    let missing = format!("{}/media/souvenirs/999999.jpg", first.base);
    let detail = assert_refused(&stack, &missing, "a missing file").await;
    assert_eq!(detail, unsigned, "a refusal says nothing of the file");

    // A signature of the database's key, made here: good until it expires.
    let stored: Vec<u8> = sqlx::query_scalar("SELECT key FROM media_signing_key")
        .fetch_one(&stack.db.pool)
        .await
        .expect("the media signing key");
    let key = MediaKey::from_bytes(stored.try_into().expect("32 bytes"));
    let object = bare
        .split_once("/media/")
        .map(|(_, k)| k.to_owned())
        .expect("a key");
    let now = chrono::Utc::now().timestamp();
    let good = format!(
        "{bare}?expires={}&sig={}",
        now + 600,
        key.sign(&object, now + 600)
    );
    let (image, _) = fetch(&stack, &good).await;
    assert_eq!(image.status, 200, "signed with the database's key");
    let expired = format!(
        "{bare}?expires={}&sig={}",
        now - 5,
        key.sign(&object, now - 5)
    );
    assert_refused(&stack, &expired, "an expired signature").await;

    // Another process (another start) verifies what the first signed.
    let second = spawn_local(&stack, Mode::Serve, &data).await;
    let elsewhere = url.replacen(&first.base, &second.base, 1);
    let (image, _) = fetch(&stack, &elsewhere).await;
    assert!(
        image.status == 200 && same_photo(&image.body, &ada_photo),
        "a URL signed by one process works in another: {} {}",
        image.status,
        image.text()
    );
    assert_eq!(
        stack
            .db
            .scalar_i64("SELECT count(*) FROM media_signing_key")
            .await,
        Some(1),
        "one key for every process"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_souvenir_is_reached_through_its_short_link() {
    let stack = Stack::new().await;
    let data = TempDir::new("media-souvenir");
    let ondeck = spawn_local(&stack, Mode::Run, &data).await;
    let tokens = &stack.tokens;
    let number = "+14155550111";
    let player = stack.signup(&ondeck, "Cy", number).await;
    let game = player["active_game"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("a game: {player}"));
    let steps = ["queue", "recall", "confirm", "play", "complete"];
    stack.advance(&ondeck, game, &steps).await;
    let souvenir_url = stack.souvenir_url(&ondeck, game).await;
    assert!(
        souvenir_url.starts_with(&format!("{}/s/", ondeck.base)),
        "a lasting short link, not an expiring /media/ URL: {souvenir_url}"
    );
    let stored = std::fs::read(data.path().join(format!("souvenirs/{game}.jpg")))
        .expect("the souvenir under DATA_DIR");

    // The short link, and GET .../souvenir, redirect to a signed URL.
    let api = format!("{}/api/v1/games/{game}/souvenir", ondeck.base);
    for (url, token) in [(&souvenir_url, None), (&api, Some(&tokens.display))] {
        let mut req = stack.http.get(url.as_str());
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let reply = Reply::read(req.send().await.expect("a reply")).await;
        assert_eq!(reply.status, 302, "GET {url}: {}", reply.text());
        let location = reply.location.expect("a Location");
        let media = format!("{}/media/souvenirs/{game}.jpg?expires=", ondeck.base);
        assert!(location.starts_with(&media), "a signed URL: {location}");
        let (image, _) = fetch(&stack, &location).await;
        assert_eq!(image.status, 200, "GET {location}");
        assert_eq!(image.content_type, "image/jpeg");
        assert!(image.body == stored, "the souvenir");
    }
    // The guessable key alone gets nothing.
    let guessed = format!("{}/media/souvenirs/{game}.jpg", ondeck.base);
    assert_refused(&stack, &guessed, "the souvenir's bare key").await;
    // The texted link is the recorded one.
    let texts = stack.texts_to(number, 3, Duration::from_secs(30)).await;
    assert!(
        texts[2].body.contains(&souvenir_url),
        "the souvenir text carries {souvenir_url}: {:?}",
        texts[2].body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_s3_photo_url_points_to_the_bucket() {
    let stack = Stack::new().await;
    let ondeck = stack.spawn(Mode::Serve, &[]).await;
    let player = id(&stack.signup(&ondeck, "Di", "+14155550121").await);
    let photo = noise_png(100, 100, 3);
    upload_photo(&stack, &ondeck, player, photo.clone()).await;
    let url = displayed_photo_url(&stack, &ondeck, player).await;
    assert!(
        url.starts_with(&format!("{}/", stack.s3.endpoint())) && url.contains("X-Amz-Signature="),
        "a presigned URL of the S3 server, not /media/: {url}"
    );
    let (image, _) = fetch(&stack, &url).await;
    assert_eq!(image.status, 200, "GET {url}: {}", image.text());
    assert!(
        same_photo(&image.body, &photo),
        "the photo, from the bucket"
    );
    // /media/ serves nothing with S3.
    let (bare, _) = url.split_once('?').expect("a query");
    let key = bare.rsplit_once("/photos/").map(|(_, k)| k).expect("a key");
    let media = format!("{}/media/photos/{key}", ondeck.base);
    assert_refused(&stack, &media, "/media/ with STORAGE=s3").await;
}
