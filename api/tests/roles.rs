//! The role matrix of docs/api.md, section Roles: who may call each `/api/v1` endpoint,
//! that refused calls change nothing, and that a player's mobile number and
//! email reach only the roles that may see them.

use ondeck_domain::models::Role;
use ondeck_domain::store::tokens;
use ondeck_testkit::{Reply, TestApp};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

/// What an endpoint needs before it can be called; `prepare` makes it and
/// returns the id that takes the place of `{id}` in the path.
#[derive(Clone, Copy, Debug)]
enum Fixture {
    Nothing,
    Show,
    Team,
    Player,
    /// A player whose active game is cancelled, so that a new game may start.
    FinishedPlayer,
    /// A fresh game in a state from which the endpoint's transition is legal.
    Game(&'static str),
}
use Fixture::*;

const ADMIN_ONLY: &[Role] = &[];
const READERS: &[Role] = &[Role::Tablet, Role::Game, Role::Display];
const TABLET: &[Role] = &[Role::Tablet];
const GAME: &[Role] = &[Role::Game];

/// Every endpoint under `/api/v1` that is routed today, and who besides
/// admin (who may do everything) may call it.
const ENDPOINTS: &[(&str, &str, Fixture, &[Role])] = &[
    ("POST", "/api/v1/shows", Nothing, ADMIN_ONLY),
    ("GET", "/api/v1/shows", Nothing, READERS),
    ("GET", "/api/v1/shows/{id}", Show, READERS),
    ("PATCH", "/api/v1/shows/{id}", Show, ADMIN_ONLY),
    ("POST", "/api/v1/teams", Nothing, ADMIN_ONLY),
    ("GET", "/api/v1/teams", Nothing, READERS),
    ("GET", "/api/v1/teams/{id}", Team, READERS),
    ("POST", "/api/v1/players", Nothing, TABLET),
    ("GET", "/api/v1/players", Nothing, READERS),
    ("GET", "/api/v1/players/{id}", Player, READERS),
    ("PATCH", "/api/v1/players/{id}", Player, TABLET),
    ("POST", "/api/v1/games", FinishedPlayer, TABLET),
    ("GET", "/api/v1/games", Nothing, READERS),
    ("GET", "/api/v1/games/{id}", Game("new"), READERS),
    ("POST", "/api/v1/games/{id}/queue", Game("new"), TABLET),
    ("POST", "/api/v1/games/{id}/recall", Game("queued"), TABLET),
    ("POST", "/api/v1/games/{id}/confirm", Game("new"), TABLET),
    ("POST", "/api/v1/games/{id}/play", Game("confirmed"), GAME),
    ("POST", "/api/v1/games/{id}/complete", Game("playing"), GAME),
    ("POST", "/api/v1/games/{id}/cancel", Game("new"), TABLET),
    ("GET", "/api/v1/queue", Nothing, READERS),
    ("GET", "/api/v1/leaderboard", Nothing, READERS),
    ("PUT", "/api/v1/players/{id}/photo", Player, TABLET),
    (
        "GET",
        "/api/v1/games/{id}/souvenir",
        Game("completed"),
        READERS,
    ),
    (
        "POST",
        "/api/v1/games/{id}/souvenir",
        Game("completed"),
        ADMIN_ONLY,
    ),
    ("GET", "/api/v1/messages", Nothing, ADMIN_ONLY),
    ("GET", "/api/v1/cues", Nothing, READERS),
    ("GET", "/api/v1/cues/runs", Nothing, ADMIN_ONLY),
];

/// A valid body for an endpoint, given its fixture's id; `n` keeps names unique.
fn body(method: &str, path: &str, id: &Value, n: usize) -> Option<Value> {
    Some(match (method, path) {
        ("POST", "/api/v1/shows") => json!({"name": format!("Show {n}"), "date": "2026-01-01"}),
        ("PATCH", "/api/v1/shows/{id}") => json!({"name": format!("Renamed {n}")}),
        ("POST", "/api/v1/teams") => json!({"name": format!("Team {n}")}),
        ("POST", "/api/v1/players") => json!({"first_name": format!("P{n}"), "handedness": "R"}),
        ("PATCH", "/api/v1/players/{id}") => json!({"last_name": format!("Patched {n}")}),
        ("POST", "/api/v1/games") => json!({"player_id": id}),
        (_, "/api/v1/games/{id}/complete") => json!({"score": 10, "distance": 20, "homeruns": 1}),
        _ => return None,
    })
}

/// A body that is not JSON: an image for a photo upload.
fn raw_body(method: &str, path: &str) -> Option<(&'static str, Vec<u8>)> {
    if (method, path) != ("PUT", "/api/v1/players/{id}/photo") {
        return None;
    }
    use ondeck_media::images::souvenir::{Format, Souvenir, render};
    let card = Souvenir {
        first_name: "Photo",
        last_name: None,
        team: None,
        show: "Derby",
        score: 0,
        distance: 0,
        homeruns: 0,
        photo: None,
    };
    let png = render(&card, 200, Format::Png).expect("a PNG to upload");
    Some(("image/png", png))
}

/// What an allowed call answers: 201 for a create, 202 for work queued,
/// 404 for a souvenir not rendered yet (no worker runs here), else 200.
fn allowed_status(method: &str, template: &str) -> u16 {
    match (method, template) {
        ("GET", "/api/v1/games/{id}/souvenir") => 404,
        ("POST", "/api/v1/games/{id}/souvenir") => 202,
        ("POST", t) if !t.contains("{id}") => 201,
        _ => 200,
    }
}

/// Sends a non-JSON body.
async fn send_raw(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: (&str, Vec<u8>),
) -> Reply {
    let mut req = app.client.request(method, format!("{}{path}", app.base));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let res = req.header("content-type", body.0).body(body.1).send().await;
    Reply::read(res.expect("request reaches the server")).await
}

/// Who calls: nobody in particular, a stranger, or a holder of a role's token.
#[derive(Clone, Copy, Debug)]
enum Who {
    NoToken,
    UnknownToken,
    Holder(Role),
}

const EVERYONE: [Who; 6] = [
    Who::NoToken,
    Who::UnknownToken,
    Who::Holder(Role::Admin),
    Who::Holder(Role::Tablet),
    Who::Holder(Role::Game),
    Who::Holder(Role::Display),
];

/// An id as it goes into a path, whether the API gave it as a number or a string.
fn plain(id: &Value) -> String {
    match id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

async fn prepare(app: &TestApp, fixture: Fixture, n: usize) -> Value {
    let created = match fixture {
        Nothing => return Value::Null,
        Show => app.create_show(&format!("Fixture {n}"), "2026-01-02").await,
        Team => app.create_team(&format!("Fixture {n}")).await,
        Player => {
            app.signup(json!({"first_name": format!("F{n}"), "handedness": "L"}))
                .await
        }
        FinishedPlayer => {
            return app.game(app.game_in("cancelled").await).await["player_id"].clone();
        }
        Game(state) => return json!(app.game_in(state).await),
    };
    created["id"].clone()
}

/// The rows of every table a request could write, and the resource it names.
async fn snapshot(app: &TestApp, resource: Option<&str>) -> (Vec<i64>, Value) {
    let mut counts = Vec::new();
    for table in ["shows", "teams", "players", "games"] {
        counts.push(app.count(table).await);
    }
    let current = match resource {
        Some(path) => app.get(Role::Admin, path).await.expect(200),
        None => Value::Null,
    };
    (counts, current)
}

/// A problem with `status`, failing with `label` when it is not one.
#[track_caller]
fn expect_problem(reply: &Reply, status: u16, label: &str) -> Value {
    let body = &reply.text();
    assert_eq!(
        reply.status, status,
        "{label}: expected {status}; body: {body}"
    );
    let content_type = &reply.content_type;
    let is_problem = content_type.starts_with("application/problem+json");
    assert!(
        is_problem,
        "{label}: a {status} must be a problem, not {content_type:?}"
    );
    reply.problem(status)
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn every_endpoint_answers_each_caller_as_the_role_table_says(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    let mut n = 0;
    for &(method, template, fixture, allowed) in ENDPOINTS {
        for who in EVERYONE {
            n += 1;
            let id = prepare(&app, fixture, n).await;
            let path = template.replace("{id}", &plain(&id));
            let body = body(method, template, &id, n);
            let raw = raw_body(method, template);
            let wanted = allowed_status(method, template);
            let label = format!("{method} {template} as {who:?}");
            let token = match who {
                Who::NoToken => None,
                Who::UnknownToken => Some("odk_this-token-was-never-issued"),
                Who::Holder(role) => Some(app.token(role)),
            };
            let resource = template
                .find("{id}")
                .map(|at| format!("{}{}", &template[..at], plain(&id)));
            let before = snapshot(&app, resource.as_deref()).await;
            let method = Method::from_bytes(method.as_bytes()).expect("a method");
            let reply = match raw {
                Some(raw) => send_raw(&app, method.clone(), &path, token, raw).await,
                None => {
                    app.send(method.clone(), &path, token, body.as_ref(), &[])
                        .await
                }
            };
            let refusal = match who {
                Who::NoToken | Who::UnknownToken => Some(401),
                Who::Holder(Role::Admin) => None,
                Who::Holder(role) => (!allowed.contains(&role)).then_some(403),
            };
            if let Some(status) = refusal {
                expect_problem(&reply, status, &label);
                let after = snapshot(&app, resource.as_deref()).await;
                assert_eq!(
                    before, after,
                    "{label} was refused with {status} but changed something"
                );
            } else {
                let got = reply.status;
                assert_eq!(
                    got,
                    wanted,
                    "{label} should be allowed; body: {}",
                    reply.text()
                );
            }
        }
    }
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn a_revoked_token_is_refused_with_401(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    app.get(Role::Tablet, "/api/v1/shows").await.expect(200);
    let mut conn = app.pool.acquire().await.expect("connection");
    tokens::revoke(&mut conn, "test-tablet")
        .await
        .expect("the tablet token is revoked");

    let read = app.get(Role::Tablet, "/api/v1/shows").await;
    expect_problem(&read, 401, "GET /api/v1/shows with a revoked token");
    let ada = json!({"first_name": "Ada", "handedness": "R"});
    let signup = app.post(Role::Tablet, "/api/v1/players", ada).await;
    expect_problem(&signup, 401, "POST /api/v1/players with a revoked token");
    assert_eq!(
        app.count("players").await,
        0,
        "a revoked token must not sign anyone up"
    );
    app.get(Role::Admin, "/api/v1/shows").await.expect(200);
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn only_an_admin_may_mark_a_finalist(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    let finalist = json!({"first_name": "Ada", "handedness": "R", "is_finalist": true});
    let signup = app.post(Role::Tablet, "/api/v1/players", finalist).await;
    expect_problem(&signup, 403, "a tablet signing up a finalist");
    assert_eq!(
        app.count("players").await,
        0,
        "a refused signup must create nobody"
    );

    let player = app
        .signup(json!({"first_name": "Ada", "handedness": "R"}))
        .await;
    let path = format!("/api/v1/players/{}", plain(&player["id"]));
    let patch = app
        .patch(Role::Tablet, &path, json!({"is_finalist": true}))
        .await;
    expect_problem(&patch, 403, "a tablet patching is_finalist");
    let unchanged = app.get(Role::Admin, &path).await.expect(200);
    assert_eq!(
        unchanged["is_finalist"], false,
        "a refused PATCH changed nothing: {unchanged}"
    );
    let marked = app
        .patch(Role::Admin, &path, json!({"is_finalist": true}))
        .await
        .expect(200);
    assert_eq!(
        marked["is_finalist"], true,
        "an admin may mark a finalist: {marked}"
    );
}

const ADA_MOBILE: &str = "+14155550123";
const ADA_EMAIL: &str = "ada@example.com";
const GRACE_MOBILE: &str = "+14155550124";
const GRACE_EMAIL: &str = "grace@example.com";
const ADA: &[&str] = &[ADA_MOBILE, ADA_EMAIL];
const GRACE: &[&str] = &[GRACE_MOBILE, GRACE_EMAIL];
const BOTH: &[&str] = &[ADA_MOBILE, ADA_EMAIL, GRACE_MOBILE, GRACE_EMAIL];

/// Nothing a PII-blind role receives may contain any of these: the numbers
/// (also as bare digits), the emails, and the keys that would carry them.
const SECRETS: &[&str] = &[
    ADA_MOBILE,
    "14155550123",
    "4155550123",
    ADA_EMAIL,
    GRACE_MOBILE,
    "14155550124",
    "4155550124",
    GRACE_EMAIL,
    "mobile_number",
    "email",
];

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn only_admin_and_tablet_tokens_ever_see_a_mobile_number_or_an_email(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let show = app.create_show("Derby", "2026-11-21").await;
    let team = app.create_team("Sluggers").await;
    let ada = app
        .signup(
            json!({"first_name": "Ada", "last_name": "Lovelace", "handedness": "R",
                       "team": "Sluggers", "mobile_number": ADA_MOBILE, "email": ADA_EMAIL}),
        )
        .await;
    let grace = app
        .signup(
            json!({"first_name": "Grace", "last_name": "Hopper", "handedness": "L",
                       "mobile_number": GRACE_MOBILE, "email": GRACE_EMAIL}),
        )
        .await;
    let ada_game = ada["active_game"]["id"].as_i64().expect("Ada's game");
    let grace_game = grace["active_game"]["id"].as_i64().expect("Grace's game");
    // Ada waits in the queue; Grace plays and lands on the leaderboard.
    app.transition(ada_game, "queue").await.expect(200);
    for t in ["confirm", "play", "complete"] {
        app.transition(grace_game, t).await.expect(200);
    }
    // Every read, and what admin and tablet tokens must see in it.
    let reads: [(String, &[&str]); 12] = [
        ("/api/v1/shows".into(), &[]),
        (format!("/api/v1/shows/{}", plain(&show["id"])), &[]),
        ("/api/v1/teams".into(), &[]),
        (format!("/api/v1/teams/{}", plain(&team["id"])), &[]),
        ("/api/v1/players".into(), BOTH),
        (format!("/api/v1/players/{}", plain(&ada["id"])), ADA),
        (format!("/api/v1/players/{}", plain(&grace["id"])), GRACE),
        ("/api/v1/games".into(), BOTH),
        (format!("/api/v1/games/{ada_game}"), ADA),
        (format!("/api/v1/games/{grace_game}"), GRACE),
        ("/api/v1/queue".into(), ADA),
        ("/api/v1/leaderboard".into(), &[]),
    ];
    let csv: &[(&str, &str)] = &[("accept", "text/csv")];
    for role in Role::ALL {
        for (path, pii) in &reads {
            for (suffix, headers) in [("", &[][..]), ("?format=csv", &[][..]), ("", csv)] {
                let label = format!("GET {path}{suffix} with {headers:?} as {role}");
                let path = format!("{path}{suffix}");
                let reply = app
                    .send(Method::GET, &path, Some(app.token(role)), None, headers)
                    .await;
                let text = &reply.text();
                assert_eq!(reply.status, 200, "{label}: {text}");
                if matches!(role, Role::Admin | Role::Tablet) {
                    for value in *pii {
                        assert!(text.contains(value), "{label} should show {value}: {text}");
                    }
                } else {
                    for secret in SECRETS {
                        assert!(!text.contains(secret), "{label} leaks {secret:?}: {text}");
                    }
                }
            }
        }
    }
}
