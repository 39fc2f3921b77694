//! Photo uploads against a real `ondeck serve`: a flood of hostile photos
//! (decompression bombs just within and just beyond the limits) keeps the
//! process's memory bounded and the API answering, and what is stored and
//! served through `photo_url` is the photo upright, without its EXIF.
//! The real `ondeck` process, PostgreSQL, and s3s-fs (see `testkit/`).

use std::time::{Duration, Instant};

use image::{GenericImageView, ImageFormat, Rgb, RgbImage};
use ondeck_testkit::{Mode, Ondeck, Stack, exif_segment, grey_jpeg, insert_after_soi, zero_png};
use serde_json::Value;

fn id(value: &Value) -> i64 {
    value["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("an id: {value}"))
}

/// The peak (VmHWM) and current (VmRSS) resident memory of `pid`, in bytes.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
            * 1024
    };
    (field("VmHWM:"), field("VmRSS:"))
}

async fn put_photo(
    client: &reqwest::Client,
    ondeck_base: &str,
    token: &str,
    player: i64,
    content_type: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let res = client
        .put(format!("{ondeck_base}/api/v1/players/{player}/photo"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap_or_else(|e| panic!("PUT a photo: {e}"));
    let status = res.status().as_u16();
    let body = res.json().await.unwrap_or(Value::Null);
    (status, body)
}

const RSS_BOUND: u64 = 300 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_photo_bombs_keeps_memory_bounded_and_the_api_answering() {
    let stack = Stack::new().await;
    // A request waits at the decode gate as long as it takes: every upload
    // is answered for what it is, none for being slow.
    let ondeck = stack
        .spawn(Mode::Serve, &[("REQUEST_TIMEOUT_SECONDS", "600")])
        .await;
    let player = id(&stack.signup(&ondeck, "Mallory", "+14155550170").await);

    // (what, content type, bytes, the answer)
    let within_rgba = zero_png(4096, 3072, 8, 6); // 48 MiB decoded
    let within_16 = zero_png(2896, 2896, 16, 6); // 64 MiB decoded
    let mut upright = Vec::new();
    upright.extend(exif_segment(6));
    let within_jpeg = insert_after_soi(&grey_jpeg(4096, 3072, false), &upright);
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("a 4096×3072 RGBA PNG", within_rgba.clone(), 200),
        ("a 2896² 16-bit RGBA PNG", within_16, 200),
        ("a 4096×3072 JPEG to turn", within_jpeg.clone(), 200),
        ("an 8000×5000 16-bit PNG", zero_png(8000, 5000, 16, 2), 422),
        ("a 4096×3072 16-bit PNG", zero_png(4096, 3072, 16, 2), 422),
        ("a 4097×3072 PNG", zero_png(4097, 3072, 8, 2), 422),
        ("a 2897² 16-bit RGBA PNG", zero_png(2897, 2897, 16, 6), 422),
        (
            "a progressive 4096×3072 JPEG",
            grey_jpeg(4096, 3072, true),
            422,
        ),
        ("another 4096×3072 RGBA PNG", within_rgba, 200),
        ("another JPEG to turn", within_jpeg, 200),
    ];
    for (what, bytes, _) in &cases {
        assert!(
            bytes.len() < 2 * 1024 * 1024,
            "{what}: {} bytes",
            bytes.len()
        );
    }

    let pid = ondeck.pid();
    let (before, _) = memory(pid);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .expect("a client");
    let started = Instant::now();
    let uploads: Vec<_> = cases
        .into_iter()
        .map(|(what, bytes, expected)| {
            let content_type = if bytes.starts_with(b"\x89PNG") {
                "image/png"
            } else {
                "image/jpeg"
            };
            let (client, base, token) = (
                client.clone(),
                ondeck.base.clone(),
                stack.tokens.tablet.clone(),
            );
            tokio::spawn(async move {
                let (status, body) =
                    put_photo(&client, &base, &token, player, content_type, bytes).await;
                (what, status, body, expected)
            })
        })
        .collect();

    // While they run: the API answers /healthz and a tablet's read.
    let mut checks = 0;
    while uploads.iter().any(|u| !u.is_finished()) {
        let asked = Instant::now();
        let health = stack
            .http
            .get(format!("{}/healthz", ondeck.base))
            .send()
            .await;
        assert!(
            matches!(health.as_ref().map(|r| r.status().as_u16()), Ok(200)),
            "/healthz during the flood: {health:?}"
        );
        stack
            .get(
                &ondeck,
                &stack.tokens.tablet,
                &format!("/api/v1/players/{player}"),
            )
            .await
            .expect(200);
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "answered in {:?} during the flood",
            asked.elapsed()
        );
        checks += 1;
        let (_, now) = memory(pid);
        assert!(now < RSS_BOUND, "RSS {} MB during the flood", now >> 20);
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the flood is still running after 5 minutes"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for upload in uploads {
        let (what, status, body, expected) = upload.await.expect("the upload task");
        assert_eq!(status, expected, "{what}: {body}");
        if expected == 422 {
            assert!(!body["errors"]["photo"].is_null(), "{what}: {body}");
        }
    }
    let (peak, _) = memory(pid);
    eprintln!(
        "flood: {:?}, {checks} checks, peak RSS {} MB (before {} MB)",
        started.elapsed(),
        peak >> 20,
        before >> 20
    );
    assert!(checks > 0, "the API was asked during the flood");
    assert!(
        peak < RSS_BOUND,
        "peak RSS {} MB, over {} MB",
        peak >> 20,
        RSS_BOUND >> 20
    );
    let mut ondeck = ondeck;
    assert!(ondeck.is_running(), "the server survives the flood");
}

/// Uploads a JPEG; returns the photo served through `photo_url`.
async fn upload_and_fetch(stack: &Stack, ondeck: &Ondeck, player: i64, jpeg: Vec<u8>) -> Vec<u8> {
    let uploaded = stack
        .put_photo(ondeck, player, "image/jpeg", jpeg)
        .await
        .expect(200);
    let url = uploaded["photo_url"]
        .as_str()
        .unwrap_or_else(|| panic!("a photo_url: {uploaded}"));
    let res = stack.http.get(url).send().await.expect("GET the photo");
    assert_eq!(res.status().as_u16(), 200, "GET {url}");
    let content_type = res.headers().get("content-type").cloned();
    assert_eq!(
        content_type.as_ref().and_then(|v| v.to_str().ok()),
        Some("image/jpeg")
    );
    res.bytes().await.expect("the photo").to_vec()
}

/// The markers of a JPEG's segments before its scan.
fn markers(jpeg: &[u8]) -> Vec<u8> {
    assert!(jpeg.starts_with(&[0xFF, 0xD8]), "a JPEG");
    let mut out = Vec::new();
    let mut at = 2;
    while at + 4 <= jpeg.len() && jpeg[at] == 0xFF {
        let marker = jpeg[at + 1];
        out.push(marker);
        if marker == 0xDA {
            break;
        }
        at += 2 + usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
    }
    out
}

fn two_tone_jpeg(width: u32, height: u32) -> Vec<u8> {
    // The left half bright, the right half dark.
    let img = RgbImage::from_fn(width, height, |x, _| {
        if x < width / 2 {
            Rgb([240, 200, 40])
        } else {
            Rgb([20, 30, 120])
        }
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Jpeg).expect("encodes");
    out.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_is_served_upright_without_its_exif() {
    let stack = Stack::new().await;
    let ondeck = stack.spawn(Mode::Serve, &[]).await;
    let player = id(&stack.signup(&ondeck, "Gina", "+14155550171").await);

    // Orientation 1 (as taken), with a GPS position.
    let original = two_tone_jpeg(64, 48);
    let uploaded = insert_after_soi(&original, &exif_segment(1));
    assert!(markers(&uploaded).contains(&0xE1));
    assert!(uploaded.windows(4).any(|w| w == b"Exif"));
    let served = upload_and_fetch(&stack, &ondeck, player, uploaded).await;
    let found = markers(&served);
    assert!(
        found
            .iter()
            .all(|m| !(0xE1..=0xEF).contains(m) && *m != 0xFE),
        "no APP1–APP15 and no comment, only what the encoder writes: {found:x?}"
    );
    assert!(!served.windows(4).any(|w| w == b"Exif"), "no EXIF anywhere");
    let image = image::load_from_memory_with_format(&served, ImageFormat::Jpeg).expect("decodes");
    assert_eq!(image.dimensions(), (64, 48));

    // Orientation 6 (turned a quarter clockwise to view): 20×10 comes back
    // 10×20, its bright left half now on top.
    let sideways = insert_after_soi(&two_tone_jpeg(20, 10), &exif_segment(6));
    let served = upload_and_fetch(&stack, &ondeck, player, sideways).await;
    assert!(!served.windows(4).any(|w| w == b"Exif"), "no EXIF anywhere");
    let image = image::load_from_memory_with_format(&served, ImageFormat::Jpeg)
        .expect("decodes")
        .to_rgb8();
    assert_eq!(image.dimensions(), (10, 20));
    let (top, bottom) = (image.get_pixel(5, 2), image.get_pixel(5, 17));
    assert!(
        top[0] > 180 && bottom[2] > 80,
        "top {top:?}, bottom {bottom:?}"
    );
}
