//! Players' pages (`/p/{code}`) through the real `ondeck run`: a player
//! with the code of their page, a game moved by staff into some state, and
//! the page's requests, which carry no token.

use reqwest::Method;
use serde_json::{Value, json};

use crate::app::TestApp;
use crate::process::{Mode, Ondeck};
use crate::reply::{Body, Reply, field};
use crate::stack::Stack;

/// A stack with `ondeck run` whose page limit no test here reaches, except
/// with `extra` settings.
pub async fn start(extra: &[(&str, &str)]) -> (Stack, Ondeck) {
    let stack = Stack::new().await;
    let mut settings = vec![("PLAYER_RATE_LIMIT_PER_MINUTE", "1000000")];
    settings.extend_from_slice(extra);
    let ondeck = stack.spawn(Mode::Run, &settings).await;
    (stack, ondeck)
}

/// A game and the code of its page.
#[derive(Debug, Clone)]
pub struct Player {
    pub game: i64,
    pub code: String,
}

/// Signs a player up without a mobile number (so that auto-recall leaves
/// the game alone) and reads the code from the admin's `player_link`.
pub async fn sign_up(stack: &Stack, ondeck: &Ondeck, first_name: &str) -> Player {
    let body = json!({"first_name": first_name, "handedness": "R"});
    let player = stack
        .post(ondeck, &stack.tokens.tablet, "/api/v1/players", body)
        .await
        .expect(201);
    let game = player["active_game"]["id"].as_i64().expect("a game");
    let link = field(&stack.game(ondeck, game).await, "player_link");
    let code = link
        .strip_prefix(&format!("{}/p/", ondeck.base))
        .unwrap_or_else(|| panic!("a link under PUBLIC_BASE_URL: {link}"))
        .to_owned();
    assert_eq!(code.len(), 22, "{code}");
    Player { game, code }
}

/// A fresh game moved by staff into `state`.
pub async fn player_in(stack: &Stack, ondeck: &Ondeck, state: &str) -> Player {
    let player = sign_up(stack, ondeck, &format!("In{state}")).await;
    stack
        .advance(ondeck, player.game, TestApp::path_to(state))
        .await;
    player
}

/// A request without a token.
pub async fn anon(
    stack: &Stack,
    ondeck: &Ondeck,
    method: Method,
    path: &str,
    body: Option<Body>,
) -> Reply {
    stack.send(ondeck, method, path, None, body).await
}

pub async fn status(stack: &Stack, ondeck: &Ondeck, code: &str) -> Value {
    anon(
        stack,
        ondeck,
        Method::GET,
        &format!("/p/{code}/status"),
        None,
    )
    .await
    .expect(200)
}

pub async fn act(stack: &Stack, ondeck: &Ondeck, code: &str, action: &str) -> Reply {
    anon(
        stack,
        ondeck,
        Method::POST,
        &format!("/p/{code}/{action}"),
        None,
    )
    .await
}

/// The waiting line as `/api/v1/queue` gives it: game ids in order.
pub async fn waiting(stack: &Stack, ondeck: &Ondeck) -> Vec<i64> {
    waiting_ids(&stack.admin_get(ondeck, "/api/v1/queue").await)
}

/// The game ids of a `/api/v1/queue` answer's waiting line, in order,
/// checking that their positions are 1..N.
#[track_caller]
pub fn waiting_ids(queue: &Value) -> Vec<i64> {
    let items = queue["waiting"].as_array().expect("waiting");
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item["position"], i as i64 + 1, "{queue}");
    }
    items
        .iter()
        .map(|g| g["id"].as_i64().expect("id"))
        .collect()
}

/// Whether `text` is `template` (a show's text) with its `{link}` filled in
/// with a player's page: `http(s)://…/p/` and a 22-character code.
pub fn fills(template: &str, text: &str) -> bool {
    let Some((before, after)) = template.split_once("{link}") else {
        return template == text;
    };
    let Some(link) = text
        .strip_prefix(before)
        .and_then(|rest| rest.strip_suffix(after))
    else {
        return false;
    };
    let Some((base, code)) = link.rsplit_once("/p/") else {
        return false;
    };
    (base.starts_with("http://") || base.starts_with("https://"))
        && !base.contains(char::is_whitespace)
        && code.len() == 22
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::fills;

    #[test]
    fn a_text_fills_its_template_with_a_page_link() {
        let template = "Hi! Your place in line: {link} See you.";
        let code = "Ab3dE6gH9k_-xYz0123456";
        assert!(fills(
            template,
            &format!("Hi! Your place in line: http://127.0.0.1:9/p/{code} See you.")
        ));
        assert!(fills("No link here", "No link here"));
        for wrong in [
            "Hi! Your place in line: {link} See you.".to_owned(),
            format!("Hi! Your place in line: http://x/p/{code}x See you."),
            format!("Hi! Your place in line: ftp://x/p/{code} See you."),
            format!("Hello! Your place in line: http://x/p/{code} See you."),
            format!("Hi! Your place in line: http://x/q/{code} See you."),
        ] {
            assert!(!fills(template, &wrong), "{wrong}");
        }
    }
}
