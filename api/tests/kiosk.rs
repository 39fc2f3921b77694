//! The kiosk (docs/running-the-line.md): the page and its assets are
//! served, and the QR code it shows a player, `GET /p/{code}/qr.svg`,
//! reads as that player's link, while a code that opens nothing gets the
//! very 404 of `/p/{code}`. The page's behaviour in a browser is tested in
//! `browser/kiosk.mjs`.

use ondeck_domain::models::Role;
use ondeck_testkit::qr::decode;
use ondeck_testkit::{Reply, TestApp, field};
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

const BASE_URL: &str = "https://derby.example";

async fn app(pool: PgPool) -> TestApp {
    let app = TestApp::spawn_with(pool, &[("PUBLIC_BASE_URL", BASE_URL)]).await;
    app.create_show("Derby", "2026-11-21").await;
    app
}

/// A new player's game and the code of its page, from the link a tablet sees.
async fn player(app: &TestApp) -> (String, String) {
    let body = json!({"first_name": "Quinn", "handedness": "L"});
    let player = app
        .post(Role::Tablet, "/api/v1/players", body)
        .await
        .expect(201);
    let link = field(&player["active_game"], "player_link");
    let code = link
        .strip_prefix(&format!("{BASE_URL}/p/"))
        .unwrap_or_else(|| panic!("a link under PUBLIC_BASE_URL: {link}"))
        .to_owned();
    (link, code)
}

async fn anon(app: &TestApp, path: &str) -> Reply {
    app.send(Method::GET, path, None, None, &[]).await
}

/// `GET path` without a token, with the headers of the answer.
async fn fetch(app: &TestApp, path: &str) -> reqwest::Response {
    let res = app
        .client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(res.status(), 200, "{path}");
    res
}

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn the_qr_code_reads_as_the_players_link(pool: PgPool) {
    let app = app(pool).await;
    let (link, code) = player(&app).await;
    let res = fetch(&app, &format!("/p/{code}/qr.svg")).await;
    assert_eq!(header(&res, "content-type"), "image/svg+xml");
    assert_eq!(header(&res, "cache-control"), "no-store");
    let svg = res.text().await.expect("the SVG");
    assert!(svg.contains("<svg"), "{svg}");
    assert_eq!(decode(&svg), link);
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn a_code_that_opens_nothing_has_no_qr_code_either(pool: PgPool) {
    let app = app(pool).await;
    let (_, code) = player(&app).await;
    let mut unknown = code.clone().into_bytes();
    unknown[0] = if unknown[0] == b'A' { b'B' } else { b'A' };
    let unknown = String::from_utf8(unknown).expect("ascii");
    for wrong in [
        unknown.as_str(),
        "short",
        "Ab3dE6gH9k.-xYz0123456",
        "%FF%FEAb3dE6gH9k_-xYz01",
    ] {
        let page = anon(&app, &format!("/p/{wrong}")).await;
        let qr = anon(&app, &format!("/p/{wrong}/qr.svg")).await;
        page.problem(404);
        qr.problem(404);
        assert_eq!(qr.body, page.body, "{wrong}: the same 404 as the page");
    }
    // The code itself still works: only the wrong ones were refused.
    let qr = anon(&app, &format!("/p/{code}/qr.svg")).await;
    assert_eq!(qr.status, 200, "{}", qr.text());
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn the_kiosk_page_and_its_assets_are_served(pool: PgPool) {
    let app = app(pool).await;
    let res = fetch(&app, "/kiosk").await;
    let csp = header(&res, "content-security-policy");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert_eq!(header(&res, "cache-control"), "no-store");
    let html = res.text().await.expect("html");
    for needle in ["/assets/kiosk.js", "/assets/kiosk.css", "id=\"signup\""] {
        assert!(html.contains(needle), "{needle} in the page");
    }
    for (path, kind) in [
        ("/assets/kiosk.js", "text/javascript"),
        ("/assets/kiosk.css", "text/css"),
    ] {
        let asset = anon(&app, path).await;
        assert_eq!(asset.status, 200, "{path}");
        assert!(
            asset.content_type.starts_with(kind),
            "{path}: {}",
            asset.content_type
        );
    }
}
