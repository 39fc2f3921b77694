//! The conventions and resources of docs/api.md: field validation, problem
//! statuses, idempotency, the method override, lists and their CSV form.

use ondeck_domain::models::Role;
use ondeck_testkit::{Reply, TestApp};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

const ADMIN: Role = Role::Admin;
const TABLET: Role = Role::Tablet;

/// A signup with a raw body, as admin, with an `Idempotency-Key` if given.
async fn raw(app: &TestApp, content_type: Option<&str>, body: String, key: Option<&str>) -> Reply {
    let url = format!("{}/api/v1/players", app.base);
    let mut req = app
        .client
        .post(url)
        .bearer_auth(app.token(ADMIN))
        .body(body);
    for (name, value) in [("content-type", content_type), ("idempotency-key", key)] {
        if let Some(value) = value {
            req = req.header(name, value);
        }
    }
    Reply::read(req.send().await.expect("request reaches the server")).await
}

#[track_caller]
fn expect_problem(reply: &Reply, status: u16, label: &str) -> Value {
    let (got, body) = (reply.status, &reply.text());
    assert_eq!(got, status, "{label}: expected {status}; body: {body}");
    reply.problem(status)
}

#[track_caller]
fn expect_invalid(reply: &Reply, field: &str, label: &str) {
    let (got, body) = (reply.status, &reply.text());
    assert_eq!(got, 422, "{label}: expected a 422 naming {field}: {body}");
    let named = reply.json()["errors"].get(field).is_some();
    assert!(named, "{label}: the 422 should name {field}: {body}");
    reply.invalid_field(field);
}

/// `base` with `field` set to `value`, or left out when `value` is null.
fn with(base: &Value, field: &str, value: &Value) -> Value {
    let mut body = base.clone();
    let object = body.as_object_mut().expect("an object");
    match value {
        Value::Null => object.remove(field),
        value => object.insert(field.to_owned(), value.clone()),
    };
    body
}

/// An id as it goes into a path, whether the API gave it as a number or a string.
fn plain(id: &Value) -> String {
    match id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn ids(list: &Value) -> Vec<String> {
    let items = list["items"].as_array().expect("a list has items");
    items.iter().map(|item| plain(&item["id"])).collect()
}

async fn read(app: &TestApp, path: &str) -> Value {
    app.get(ADMIN, path).await.expect(200)
}

/// The rows of every table a refused request must leave alone.
async fn counts(app: &TestApp) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in ["shows", "teams", "players", "games"] {
        counts.push(app.count(table).await);
    }
    counts
}

/// Signs a player up; returns the path of their detail.
async fn sign_up(app: &TestApp, first_name: &str, handedness: &str) -> String {
    let body = json!({"first_name": first_name, "handedness": handedness});
    let player = app.signup(body).await;
    format!("/api/v1/players/{}", plain(&player["id"]))
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn every_field_rule_is_a_422_naming_the_field_and_changes_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let show = app.create_show("Derby", "2026-11-21").await;
    let show = format!("/api/v1/shows/{}", plain(&show["id"]));
    app.create_team("Sluggers").await;
    let ada = sign_up(&app, "Ada", "R").await;
    let finished = app.game(app.game_in("cancelled").await).await["player_id"].clone();
    let complete = format!("/api/v1/games/{}/complete", app.game_in("playing").await);
    let (post, patch) = (Method::POST, Method::PATCH);
    // Each request: a valid body for the path, with `field` set to `value`
    // (or left out when `value` is null).
    let ada_body = json!({"first_name": "A", "handedness": "R"});
    let signup = (&post, "/api/v1/players", ada_body);
    let update = (&patch, ada.as_str(), json!({}));
    let game = (&post, "/api/v1/games", json!({"player_id": finished}));
    let result = json!({"score": 1, "distance": 2, "homeruns": 3});
    let scores = (&post, complete.as_str(), result);
    let derby = json!({"name": "D", "date": "2026-11-21"});
    let new_show = (&post, "/api/v1/shows", derby);
    let show_patch = (&patch, show.as_str(), json!({}));
    let team = (&post, "/api/v1/teams", json!({"name": "Bats"}));
    let name = json!("x".repeat(65));
    let message = json!(format!("{}{{url}}", "m".repeat(156)));
    let mut cases = vec![
        (&signup, "first_name", Value::Null),
        (&signup, "handedness", Value::Null),
        (&game, "player_id", Value::Null),
        (&game, "player_id", json!(999999)),
        (&game, "show_id", json!(999999)),
        (&new_show, "name", Value::Null),
        (&new_show, "name", json!("")),
        (&new_show, "date", Value::Null),
        (&new_show, "date", json!("21/11/2026")),
        (&new_show, "welcome_message", message.clone()),
        (&new_show, "recall_message", message.clone()),
        (&new_show, "souvenir_message", message),
        (&new_show, "souvenir_message", json!("Thanks for playing!")),
        (&show_patch, "souvenir_message", json!("no link")),
        (&team, "name", Value::Null),
        (&team, "name", json!("")),
        (&team, "name", json!("SLUGGERS")),
        (&team, "name", json!("sluggers")),
    ];
    let player_rules = [
        ("first_name", json!("")),
        ("first_name", name.clone()),
        ("handedness", json!("X")),
        ("mobile_number", json!("12345")),
        ("mobile_number", json!("hello")),
        ("email", json!("nope")),
        ("team", json!("Nobody")),
        ("show_id", json!(999999)),
        ("signed_waiver", json!("yes")),
        ("last_name", name),
    ];
    for (field, value) in player_rules {
        cases.push((&signup, field, value.clone()));
        cases.push((&update, field, value));
    }
    for field in ["score", "distance", "homeruns"] {
        for value in [Value::Null, json!(-1), json!(1_000_001), json!("x")] {
            cases.push((&scores, field, value));
        }
    }
    let snapshot = async || {
        let resources = [&ada, &show, &complete.replace("/complete", "")];
        let mut all = vec![json!(counts(&app).await)];
        for path in resources {
            all.push(read(&app, path).await);
        }
        all
    };
    let before = snapshot().await;
    for ((method, path, base), field, value) in cases {
        let label = format!("{method} {path} with {field} = {value} (null: left out)");
        let body = with(base, field, &value);
        let token = Some(app.token(ADMIN));
        let method = (*method).clone();
        let reply = app.send(method, path, token, Some(&body), &[]).await;
        expect_invalid(&reply, field, &label);
        assert_eq!(snapshot().await, before, "{label} must change nothing");
    }
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn values_at_the_limits_are_accepted(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let message = format!("{}{{url}}", "m".repeat(155));
    let show = json!({"name": "Derby", "date": "2026-11-21", "souvenir_message": message});
    app.post(ADMIN, "/api/v1/shows", show).await.expect(201);
    let name = "n".repeat(64);
    let player = json!({"first_name": name, "last_name": name, "handedness": "L"});
    let signup = app.post(TABLET, "/api/v1/players", player).await;
    signup.expect(201);
    let complete = format!("/api/v1/games/{}/complete", app.game_in("playing").await);
    let bounds = json!({"score": 1_000_000, "distance": 0, "homeruns": 0});
    let done = app.post(Role::Game, &complete, bounds).await.expect(200);
    assert_eq!(done["score"], 1_000_000, "the result is recorded: {done}");
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn malformed_or_mislabelled_bodies_are_400_and_oversized_ones_413(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    let valid = json!({"first_name": "Ada", "handedness": "R"}).to_string();
    // A body of exactly `len` bytes (its first_name is far too long).
    let sized = |len: usize| {
        let shell = r#"{"first_name":"","handedness":"R"}"#.len();
        json!({"first_name": "x".repeat(len - shell), "handedness": "R"}).to_string()
    };
    let (json, text, mib) = (Some("application/json"), Some("text/plain"), 1 << 20);
    let key = Some("an Idempotency-Key");
    let cases = [
        ("malformed JSON", json, r#"{"first_"#.into(), None, 400),
        ("a text/plain body", text, valid.clone(), None, 400),
        ("no content type", None, valid, None, 400),
        ("a body of exactly 1 MiB", json, sized(mib), None, 422),
        ("a body over 1 MiB", json, sized(mib + 1), None, 413),
        ("over 1 MiB with a key", json, sized(2 * mib), key, 413),
    ];
    for (what, content_type, body, key, status) in cases {
        let reply = raw(&app, content_type, body, key).await;
        expect_problem(&reply, status, &format!("a signup with {what}"));
        let players = app.count("players").await;
        assert_eq!(players, 0, "a signup with {what} must create nobody");
    }
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn unknown_ids_and_routes_are_404_problems(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    let cases = [
        (Method::GET, "/api/v1/games/999999"),
        (Method::GET, "/api/v1/players/abc"),
        (Method::GET, "/api/v1/players/999999"),
        (Method::GET, "/api/v1/shows/999999"),
        (Method::GET, "/api/v1/teams/999999"),
        (Method::PATCH, "/api/v1/players/999999"),
        (Method::POST, "/api/v1/games/999999/queue"),
        (Method::POST, "/api/v1/games/abc/cancel"),
        (Method::GET, "/api/v1/no-such-thing"),
        (Method::GET, "/no-such-page"),
    ];
    for (method, path) in cases {
        let body = (method == Method::PATCH).then(|| json!({"last_name": "X"}));
        let token = Some(app.token(ADMIN));
        let reply = app
            .send(method.clone(), path, token, body.as_ref(), &[])
            .await;
        expect_problem(&reply, 404, &format!("{method} {path}"));
    }
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn signing_up_before_any_show_exists_is_a_409_that_says_to_create_one(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let ada = json!({"first_name": "Ada", "handedness": "R"});
    let reply = app.post(TABLET, "/api/v1/players", ada).await;
    let problem = expect_problem(&reply, 409, "a signup without a show");
    let detail = problem["detail"].as_str().expect("a detail").to_lowercase();
    let says = detail.contains("create") && detail.contains("show");
    assert!(says, "the detail should say to create a show: {detail}");
    let rows = counts(&app).await;
    assert_eq!(rows, [0; 4], "a signup without a show creates nothing");
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn a_new_game_waits_until_the_active_one_is_completed_or_cancelled(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    for state in "new queued recalled confirmed playing completed cancelled".split(' ') {
        let player = app.game(app.game_in(state).await).await["player_id"].clone();
        let before = counts(&app).await;
        let reply = app
            .post(TABLET, "/api/v1/games", json!({"player_id": player}))
            .await;
        let label = format!("a new game while the active one is {state}");
        if !matches!(state, "completed" | "cancelled") {
            expect_problem(&reply, 409, &label);
            assert_eq!(counts(&app).await, before, "{label} must not be created");
            continue;
        }
        let game = reply.expect(201);
        let new_for_player = game["state"] == "new" && game["player_id"] == player;
        assert!(new_for_player, "{label}: a new game for the player: {game}");
        let detail = read(&app, &format!("/api/v1/players/{}", plain(&player))).await;
        let active = &detail["active_game"]["id"];
        assert_eq!(active, &game["id"], "{label}: it is the active one");
    }
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn a_repeated_idempotency_key_replays_the_first_response_once(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    let post = async |path: &str, body: Option<Value>, key: &str| {
        let (token, key) = (Some(app.token(TABLET)), [("idempotency-key", key)]);
        let body = body.as_ref();
        app.send(Method::POST, path, token, body, &key).await
    };
    let ada = Some(json!({"first_name": "Ada", "handedness": "R"}));
    let grace = Some(json!({"first_name": "Grace", "handedness": "L"}));
    let first = post("/api/v1/players", ada.clone(), "ada").await;
    let first = first.expect(201);
    let second = post("/api/v1/players", ada, "ada").await.expect(201);
    assert_eq!(second, first, "the repeat replays the first response");
    let rows = counts(&app).await;
    assert_eq!(rows, [1, 0, 1, 1], "the repeat has no second effect");
    let reused = post("/api/v1/players", grace.clone(), "ada").await;
    expect_problem(&reused, 422, "the same Idempotency-Key with another body");
    let players = app.count("players").await;
    assert_eq!(players, 1, "a reused key with another body creates nobody");
    post("/api/v1/players", grace, "grace").await.expect(201);
    let players = app.count("players").await;
    assert_eq!(players, 2, "another key is another request");

    // A repeated transition replays its 200 instead of answering 409.
    let queue = format!("/api/v1/games/{}/queue", plain(&first["active_game"]["id"]));
    let queued = post(&queue, None, "queue-ada").await.expect(200);
    let again = post(&queue, None, "queue-ada").await.expect(200);
    assert_eq!(again, queued, "a repeated queue replays its first response");
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn a_post_with_method_override_patch_updates_the_player(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    let path = sign_up(&app, "Ada", "R").await;
    let (token, body) = (Some(app.token(TABLET)), json!({"last_name": "Lovelace"}));
    let header = [("x-http-method-override", "PATCH")];
    let body = Some(&body);
    let reply = app.send(Method::POST, &path, token, body, &header).await;
    let answered = reply.expect(200)["last_name"].clone();
    assert_eq!(answered, "Lovelace", "the POST answers the patched player");
    let stored = read(&app, &path).await["last_name"].clone();
    assert_eq!(stored, "Lovelace", "the change is stored");
    assert_eq!(app.count("players").await, 1, "the POST creates nobody");
}

/// Every id of a list, page by page, each page at most `limit` items long.
async fn walk(app: &TestApp, path: &str, limit: usize) -> Vec<String> {
    let (mut all, mut cursor) = (Vec::new(), String::new());
    for _ in 0..100 {
        let page = read(app, &format!("{path}limit={limit}{cursor}")).await;
        let items = ids(&page);
        let fits = items.len() <= limit;
        assert!(fits, "{path}: a page longer than {limit}: {page}");
        all.extend(items);
        match &page["next_cursor"] {
            Value::Null => return all,
            Value::String(next) => cursor = format!("&cursor={next}"),
            other => panic!("{path}: next_cursor must be a string or null, not {other}"),
        }
    }
    panic!("{path}: the cursor never ran out");
}

/// An app with a show and `n` players signed up, each with a game.
async fn with_players(pool: PgPool, n: usize) -> TestApp {
    let app = TestApp::with_show(pool).await;
    for n in 0..n {
        sign_up(&app, &format!("P{n}"), "R").await;
    }
    app
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn cursors_walk_every_item_exactly_once_in_either_order(pool: PgPool) {
    let app = with_players(pool, 7).await;
    for list in ["/api/v1/players", "/api/v1/games"] {
        let oldest_first: Vec<String> = {
            let sql = format!("SELECT id::text FROM {} ORDER BY id", &list[8..]);
            let query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
            query.fetch_all(&app.pool).await.expect("ids")
        };
        assert_eq!(oldest_first.len(), 7, "seven players, seven games");
        let newest_first: Vec<String> = oldest_first.iter().rev().cloned().collect();
        let by = |order: &str| format!("{list}?order={order}&");
        let walked = walk(&app, &format!("{list}?"), 3).await;
        assert_eq!(walked, oldest_first, "{list}, oldest first by default");
        let walked = walk(&app, &by("created_at"), 3).await;
        assert_eq!(walked, oldest_first, "{list}?order=created_at");
        let walked = walk(&app, &by("-created_at"), 3).await;
        assert_eq!(walked, newest_first, "{list}?order=-created_at");
        let whole = ids(&read(&app, &format!("{list}?order=-created_at")).await);
        assert_eq!(whole, newest_first, "{list}?order=-created_at, one page");
        let garbage = app.get(ADMIN, &format!("{list}?cursor=garbage")).await;
        expect_invalid(&garbage, "cursor", &format!("{list} with a garbage cursor"));
    }
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn lists_give_50_items_by_default_and_at_most_500(pool: PgPool) {
    let app = with_players(pool, 51).await;
    for list in ["/api/v1/players", "/api/v1/games"] {
        let page = read(&app, list).await;
        assert_eq!(ids(&page).len(), 50, "{list} gives 50 items by default");
        let next = &page["next_cursor"];
        assert!(next.is_string(), "{list}: 51 items, a next page: {next}");
        let all = read(&app, &format!("{list}?limit=500")).await;
        assert_eq!(ids(&all).len(), 51, "{list}?limit=500 gives all 51");
        let last = all["next_cursor"].is_null();
        assert!(last, "{list}?limit=500 is the last page");
        for limit in ["501", "0", "abc"] {
            let path = format!("{list}?limit={limit}");
            expect_invalid(&app.get(ADMIN, &path).await, "limit", &path);
        }
    }
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn player_and_game_filters_narrow_the_lists(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    app.create_team("Sluggers").await;
    let mut players = Vec::new();
    for (name, hand, team, waiver) in [("Ada", "L", "Sluggers", true), ("Grace", "R", "", false)] {
        let body = json!({"first_name": name, "handedness": hand,
                          "team": team, "signed_waiver": waiver});
        players.push(plain(&app.signup(body).await["id"]));
    }
    let linus = json!({"first_name": "Linus", "handedness": "R", "team": "Sluggers"});
    players.push(plain(&app.signup(linus).await["id"]));
    let (ada, grace, linus) = (&players[0], &players[1], &players[2]);
    let ada_detail = read(&app, &format!("/api/v1/players/{ada}")).await;
    let ada_game = ada_detail["active_game"]["id"]
        .as_i64()
        .expect("Ada's game");
    app.transition(ada_game, "queue").await.expect(200);
    let cases = [
        ("state=queued", vec![ada]),
        ("state=new", vec![grace, linus]),
        ("team=Sluggers", vec![ada, linus]),
        ("handedness=L", vec![ada]),
        ("handedness=R", vec![grace, linus]),
        ("signed_waiver=true", vec![ada]),
        ("signed_waiver=false", vec![grace, linus]),
        ("team=Sluggers&handedness=R", vec![linus]),
        // An empty text filter is the same as none.
        ("team=&q=&handedness=L", vec![ada]),
        ("state=completed", vec![]),
    ];
    for (query, expected) in cases {
        let found = ids(&read(&app, &format!("/api/v1/players?{query}")).await);
        let found: Vec<_> = found.iter().collect();
        assert_eq!(found, expected, "/api/v1/players?{query}");
    }
    // A value is taken exactly as the document lists it: not empty, not
    // padded, not in another case.
    let refused = [
        ("state", "bogus"),
        ("state", ""),
        ("state", "%20queued"),
        ("handedness", "bogus"),
        ("handedness", ""),
        ("handedness", "l"),
        ("signed_waiver", "bogus"),
        ("signed_waiver", ""),
        ("order", "%20score"),
        ("format", "%20csv"),
        ("format", ""),
    ];
    for (field, value) in refused {
        let path = format!("/api/v1/players?{field}={value}");
        expect_invalid(&app.get(ADMIN, &path).await, field, &path);
    }

    // Ada's game is queued too; the games of Grace and Linus are new.
    let mut games = vec![("queued", ada_game)];
    for state in ["queued", "recalled", "playing", "completed"] {
        games.push((state, app.game_in(state).await));
    }
    let filters: [&[&str]; 3] = [
        &["queued", "recalled"],
        &["playing"],
        &["completed", "playing"],
    ];
    for states in filters {
        let query: Vec<String> = states.iter().map(|s| format!("state={s}")).collect();
        let path = format!("/api/v1/games?{}", query.join("&"));
        let mut found = ids(&read(&app, &path).await);
        let wanted = games.iter().filter(|(s, _)| states.contains(s));
        let mut wanted: Vec<String> = wanted.map(|(_, id)| id.to_string()).collect();
        found.sort();
        wanted.sort();
        assert_eq!(found, wanted, "{path}");
    }
    for path in [
        "/api/v1/games?state=queued&state=bogus",
        "/api/v1/games?state=queued&state=",
    ] {
        expect_invalid(&app.get(ADMIN, path).await, "state", path);
    }
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn lists_answer_csv_with_a_header_row(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    app.create_team("Sluggers").await;
    sign_up(&app, "Ada", "R").await;
    sign_up(&app, "Grace", "L").await;
    let accept: &[(&str, &str)] = &[("accept", "text/csv")];
    let lists = "shows? teams? players? games? games?state=completed&";
    for list in lists.split(' ') {
        let list = format!("/api/v1/{list}");
        let rows = ids(&read(&app, &list).await).len();
        let ways = [
            (format!("{list}format=csv"), &[][..]),
            (list.clone(), accept),
        ];
        for (path, headers) in ways {
            let label = format!("GET {path} with {headers:?}");
            let token = Some(app.token(ADMIN));
            let reply = app.send(Method::GET, &path, token, None, headers).await;
            assert_eq!(reply.status, 200, "{label}: {}", reply.text());
            let content_type = &reply.content_type;
            let is_csv = content_type.starts_with("text/csv");
            assert!(is_csv, "{label}: {content_type:?}");
            let mut csv = csv::Reader::from_reader(reply.body.as_slice());
            let header = csv.headers().expect("a header row").clone();
            let names_id = header.iter().any(|h| h == "id");
            assert!(names_id, "{label}: header {header:?}");
            assert_eq!(csv.records().count(), rows, "{label}: a row per item");
        }
    }
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn phone_numbers_are_stored_and_returned_as_e164(pool: PgPool) {
    let app = TestApp::with_show(pool).await;
    let body = json!({"first_name": "Ada", "handedness": "R", "mobile_number": "(415) 555-2671"});
    let ada = app.signup(body).await;
    let answered = &ada["mobile_number"];
    assert_eq!(answered, "+14155552671", "the signup answers E.164");
    let path = format!("/api/v1/players/{}", plain(&ada["id"]));
    let read_back = read(&app, &path).await["mobile_number"].clone();
    assert_eq!(read_back, "+14155552671", "a read answers E.164");
    let sql = "SELECT mobile_number FROM players";
    let stored = sqlx::query_scalar(sql).fetch_all(&app.pool).await;
    let stored: Vec<String> = stored.expect("rows");
    assert_eq!(stored, ["+14155552671"], "the database keeps E.164");
    let patch = json!({"mobile_number": "415.555.2672"});
    let patched = app.patch(TABLET, &path, patch).await.expect(200);
    let answered = &patched["mobile_number"];
    assert_eq!(answered, "+14155552672", "a PATCH stores E.164");
}

#[sqlx::test(migrator = "ondeck_domain::MIGRATOR")]
async fn a_500_shows_no_internals(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.create_team("Sluggers").await;
    // Break this test's own database under the API so that the next read fails inside.
    let rename = "ALTER TABLE teams RENAME TO teams_moved_away";
    let renamed = sqlx::query(rename).execute(&app.pool).await;
    renamed.expect("the table is renamed");
    let reply = app.get(ADMIN, "/api/v1/teams").await;
    expect_problem(&reply, 500, "a read of a table that is gone");
    let internals = "teams_moved_away|relation|does not exist|sqlx|SELECT|.rs:";
    for internal in internals.split('|') {
        let text = &reply.text();
        assert!(!text.contains(internal), "a 500 shows {internal:?}: {text}");
    }
}
