//! The players: each arrives (a Poisson process), is signed up on a tablet
//! (with a photo, sometimes), queued, and then plays, leaves or does not
//! show up when recalled. Each game has exactly one actor that moves it
//! (besides ondeck's auto-recall, which only takes `queued` games to
//! `recalled`), so no transition can lose a race and answer 409.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::model::Rng;
use super::venue::{Seen, Venue};
use crate::http::{active_game_id, id_text};

/// Players arrive as a Poisson process until the end of the run; each is
/// its own task. Returns when every player task has finished.
pub async fn arrivals(venue: Arc<Venue>, seed: u64) {
    let mut rng = Rng::new(seed);
    let mean_gap = 3600.0 / venue.model.signups_per_hour;
    let mut players = tokio::task::JoinSet::new();
    let mut n = 0u64;
    loop {
        let gap = venue.venue(rng.exponential(mean_gap));
        if !venue.sleep(gap).await {
            break;
        }
        n += 1;
        players.spawn(player(
            Arc::clone(&venue),
            seed ^ n.wrapping_mul(0x9e37_79b9),
        ));
        // Finished players are reaped as we go, so the set stays small.
        while players.try_join_next().is_some() {}
    }
    while players.join_next().await.is_some() {}
}

#[derive(Clone, Copy, PartialEq)]
enum Fate {
    Play,
    Leave,
    NoShowCancelled,
    NoShowExpired,
}

const FIRST_NAMES: [&str; 12] = [
    "Ada", "Ben", "Chloe", "Dev", "Emma", "Felix", "Gia", "Hugo", "Ines", "Jon", "Kai", "Lena",
];
const LAST_NAMES: [&str; 8] = [
    "Lovelace", "Ruth", "Mays", "Aaron", "Ortiz", "Suzuki", "Jeter", "Griffey",
];

/// One player's visit: signed up on a tablet (with a photo, sometimes),
/// queued, then played, gone, or a no-show.
async fn player(venue: Arc<Venue>, seed: u64) {
    let mut rng = Rng::new(seed);
    let m = &venue.model;
    let n = venue.next_player.fetch_add(1, Ordering::Relaxed);
    let tablet = venue.tokens.tablets[(n as usize) % venue.tokens.tablets.len()].clone();
    let mobile = rng.chance(m.with_mobile);
    let roll = rng.unit();
    let fate = if roll < m.leave {
        Fate::Leave
    } else if mobile && roll < m.leave + m.no_show {
        if rng.chance(0.5) {
            Fate::NoShowCancelled
        } else {
            Fate::NoShowExpired
        }
    } else {
        Fate::Play
    };

    let mut signup = json!({
        "first_name": FIRST_NAMES[rng.below(FIRST_NAMES.len() as u64) as usize],
        "last_name": format!("{} {n}", LAST_NAMES[rng.below(LAST_NAMES.len() as u64) as usize]),
        "handedness": if rng.chance(0.1) { "L" } else { "R" },
        "signed_waiver": true,
    });
    if mobile {
        // Fictional 555-01xx-style numbers; unique for the first 10,000 players.
        signup["mobile_number"] = json!(format!("+1415555{:04}", n % 10_000));
    }
    if !venue.teams.is_empty() && rng.chance(m.with_team) {
        signup["team"] = json!(venue.teams[rng.below(venue.teams.len() as u64) as usize]);
    }
    let Some(created) = venue
        .call(
            "POST /players",
            &tablet,
            Method::POST,
            venue.url(&["players"]),
            Some((Bytes::from(signup.to_string()), "application/json")),
            StatusCode::CREATED,
        )
        .await
    else {
        return;
    };
    let parsed: Option<(String, String)> = serde_json::from_slice::<Value>(&created)
        .ok()
        .and_then(|p| Some((id_text(p.get("id")?)?, active_game_id(&created)?)));
    let Some((player_id, game)) = parsed else {
        venue.record("POST /players (body)", None);
        venue.print_error("POST /players", "201 without id or active_game.id");
        return;
    };
    venue.outcomes.signups.fetch_add(1, Ordering::Relaxed);
    if mobile {
        venue.outcomes.with_mobile.fetch_add(1, Ordering::Relaxed);
    }

    if rng.chance(m.with_photo) && venue.running() {
        let photo = venue
            .call(
                "PUT /players/{id}/photo",
                &tablet,
                Method::PUT,
                venue.url(&["players", &player_id, "photo"]),
                Some((venue.photo.clone(), "image/jpeg")),
                StatusCode::OK,
            )
            .await;
        if photo.is_some() {
            venue.outcomes.photos.fetch_add(1, Ordering::Relaxed);
        }
    }

    // Watched before it is queued, so no look at the queue is missed.
    let (seen_tx, mut seen) = watch::channel(Seen::default());
    venue
        .seen
        .lock()
        .expect("seen lock")
        .insert(game.clone(), seen_tx);
    let _unwatch = Unwatch(&venue, &game);
    if !venue.running() || !venue.transition(&tablet, &game, "queue", json!({})).await {
        return;
    }

    let recalled = |s: &Seen| s.recalled;
    match fate {
        Fate::Leave => {
            let patience = venue.venue(rng.between(5.0, 20.0) * 60.0);
            if venue.sleep(patience).await
                && venue.transition(&tablet, &game, "cancel", json!({})).await
            {
                venue.outcomes.left.fetch_add(1, Ordering::Relaxed);
            }
        }
        Fate::NoShowExpired => {
            if until(&venue, &mut seen, recalled).await {
                venue
                    .outcomes
                    .no_show_expired
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        Fate::NoShowCancelled => {
            if until(&venue, &mut seen, recalled).await
                && venue.sleep(venue.venue(5.0 * 60.0)).await
                && venue.transition(&tablet, &game, "cancel", json!({})).await
            {
                venue
                    .outcomes
                    .no_show_cancelled
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        Fate::Play => {
            // Auto-recall texts players with a number; staff call the
            // others by voice once they are near the front.
            let (called, walk) = if mobile {
                let walk = rng.between(m.walk_min_minutes, m.walk_max_minutes) * 60.0;
                (until(&venue, &mut seen, recalled).await, walk)
            } else {
                let near_front = |s: &Seen| s.position.is_some_and(|p| p <= 2);
                (
                    until(&venue, &mut seen, near_front).await,
                    rng.between(10.0, 30.0),
                )
            };
            if called
                && venue.sleep(venue.venue(walk)).await
                && venue.transition(&tablet, &game, "confirm", json!({})).await
            {
                let minutes = rng.between(m.play_min_minutes, m.play_max_minutes);
                let result = json!({
                    "score": rng.below(5_000),
                    "distance": 100 + rng.below(400),
                    "homeruns": rng.below(11),
                });
                play(&venue, &game, venue.venue(minutes * 60.0), result, mobile).await;
            }
        }
    }
}

/// A confirmed player waits for a free station, whose game client plays
/// and completes the game.
async fn play(venue: &Venue, game: &str, duration: Duration, result: Value, mobile: bool) {
    let station = tokio::select! {
        s = async { venue.station_rx.lock().await.recv().await } => s,
        () = tokio::time::sleep_until(venue.deadline.into()) => None,
    };
    let Some(station) = station else { return };
    let token = &venue.tokens.games[station % venue.tokens.games.len()];
    if venue.running()
        && venue.transition(token, game, "play", json!({})).await
        && venue.sleep(duration).await
        && venue.transition(token, game, "complete", result).await
    {
        venue.outcomes.completed.fetch_add(1, Ordering::Relaxed);
        if mobile {
            venue
                .outcomes
                .completed_with_mobile
                .fetch_add(1, Ordering::Relaxed);
        }
    }
    let _ = venue.station_tx.send(station);
}

/// Waits until a tablet has seen the game as `done` says; false if the run
/// ended first.
async fn until(
    venue: &Venue,
    seen: &mut watch::Receiver<Seen>,
    done: impl Fn(&Seen) -> bool,
) -> bool {
    tokio::select! {
        r = seen.wait_for(|s| done(s)) => r.is_ok() && venue.running(),
        () = tokio::time::sleep_until(venue.deadline.into()) => false,
    }
}

/// Stops dispatching queue sightings to a player that is done.
struct Unwatch<'a>(&'a Venue, &'a str);

impl Drop for Unwatch<'_> {
    fn drop(&mut self) {
        if let Ok(mut seen) = self.0.seen.lock() {
            seen.remove(self.1);
        }
    }
}
