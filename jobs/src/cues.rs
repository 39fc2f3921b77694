//! Venue cues (`CUES_FILE`): named lists of actions — a DMX scene sent to a
//! USB–DMX interface (Enttec DMX USB Pro framing) and signed webhooks —
//! fired on request or on game events. The file is parsed here; the worker
//! runs the actions (see `worker.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hmac::{Hmac, Mac};
use ondeck_domain::GameState;
use ondeck_domain::lifecycle::GameCues;
use serde::Deserialize;
use sha2::Sha256;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use toml::Spanned;

/// DMX channels in a universe.
pub const CHANNELS: usize = 512;
/// How often the last universe is sent again, so that an interface that was
/// power-cycled comes back in the right scene.
pub const RESEND_EVERY: Duration = Duration::from_secs(1);

/// The cue file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CueFile {
    /// Signs webhooks; `CUES_WEBHOOK_SECRET` is used when absent.
    #[serde(default)]
    pub webhook_secret: Option<String>,
    #[serde(default)]
    pub cues: BTreeMap<String, Cue>,
    #[serde(default)]
    pub on: On,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cue {
    /// Each with where it stands in the file, so that a check can name its
    /// line.
    pub actions: Vec<Spanned<Action>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawAction")]
pub enum Action {
    /// Set channels of the universe (the others keep their values).
    Dmx { channels: Vec<Channel> },
    /// POST `{"cue", "game", "at"}` to `url`, signed.
    Webhook { url: String, secret: Option<String> },
}

/// An action as written: a plain table, so that errors inside it keep
/// their position (an internally tagged enum would lose it).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    #[serde(rename = "type")]
    kind: String,
    channels: Option<Vec<Channel>>,
    url: Option<String>,
    secret: Option<String>,
}

impl TryFrom<RawAction> for Action {
    type Error = String;

    fn try_from(raw: RawAction) -> Result<Action, String> {
        match (raw.kind.as_str(), raw.channels, raw.url) {
            ("dmx", Some(channels), None) if raw.secret.is_none() => Ok(Action::Dmx { channels }),
            ("dmx", _, _) => Err("a dmx action takes `channels` only".to_owned()),
            ("webhook", None, Some(url)) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(format!("webhook url {url:?} is not an http(s):// URL"));
                }
                Ok(Action::Webhook {
                    url,
                    secret: raw.secret,
                })
            }
            ("webhook", _, _) => {
                Err("a webhook action takes `url` and an optional `secret`".to_owned())
            }
            (other, _, _) => Err(format!("unknown action type {other:?} (dmx or webhook)")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    /// 1 to 512.
    #[serde(deserialize_with = "channel_number")]
    pub channel: u16,
    pub value: u8,
}

fn channel_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    let n = u16::deserialize(d)?;
    if !(1..=CHANNELS as u16).contains(&n) {
        return Err(serde::de::Error::custom(format!(
            "channel {n} is not between 1 and 512"
        )));
    }
    Ok(n)
}

/// Cues fired by game events.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct On {
    pub queued: Option<Spanned<String>>,
    pub recalled: Option<Spanned<String>>,
    pub confirmed: Option<Spanned<String>>,
    pub playing: Option<Spanned<String>>,
    pub completed: Option<Spanned<String>>,
    pub cancelled: Option<Spanned<String>>,
    /// When a game of a player on this team starts playing.
    #[serde(default)]
    pub team: BTreeMap<String, Spanned<String>>,
}

/// A problem in the cue file, at a line (1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CueError {
    pub line: usize,
    pub message: String,
}

/// A secret that signs: not empty (nor only white space).
fn has_key(secret: &str) -> bool {
    !secret.trim().is_empty()
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

impl CueFile {
    /// Parses and checks a cue file: the first problem, with its line.
    pub fn parse(text: &str) -> Result<CueFile, CueError> {
        let file: CueFile = toml::from_str(text).map_err(|e| CueError {
            line: e.span().map_or(1, |s| line_of(text, s.start)),
            message: e.message().trim().to_owned(),
        })?;
        let at = |span: std::ops::Range<usize>, message: String| CueError {
            line: line_of(text, span.start),
            message,
        };
        let on = &file.on;
        let states = [
            &on.queued,
            &on.recalled,
            &on.confirmed,
            &on.playing,
            &on.completed,
            &on.cancelled,
        ];
        for cue in states.into_iter().flatten().chain(on.team.values()) {
            if !file.cues.contains_key(cue.get_ref()) {
                return Err(at(
                    cue.span(),
                    format!("no cue is named {:?}", cue.get_ref()),
                ));
            }
        }
        Ok(file)
    }

    /// [`CueFile::parse`], and every webhook must have a secret to sign
    /// with: its own, the file's `webhook_secret`, or — when
    /// `fallback_secret` — `CUES_WEBHOOK_SECRET`. A webhook signed with an
    /// empty key could be forged by anyone.
    pub fn parse_signed(text: &str, fallback_secret: bool) -> Result<CueFile, CueError> {
        let file = CueFile::parse(text)?;
        for (name, cue) in &file.cues {
            for (i, action) in cue.actions.iter().enumerate() {
                if matches!(action.get_ref(), Action::Webhook { .. })
                    && !fallback_secret
                    && file.webhook_key(name, i, None).is_none()
                {
                    return Err(CueError {
                        line: line_of(text, action.span().start),
                        message: format!(
                            "the webhook of cue {name:?} has no secret to sign with: set \
                             `secret` on it, `webhook_secret` in the file, or CUES_WEBHOOK_SECRET"
                        ),
                    });
                }
            }
        }
        Ok(file)
    }

    /// Reads and checks a cue file ([`CueFile::parse_signed`]); the error is
    /// one line, `PATH:LINE: problem`.
    pub fn load(path: &Path, fallback_secret: bool) -> anyhow::Result<CueFile> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        CueFile::parse_signed(&text, fallback_secret)
            .map_err(|e| anyhow::anyhow!("{}:{}: {}", path.display(), e.line, e.message))
    }

    /// The key a webhook action is signed with: its own secret, the file's,
    /// or `fallback` (`CUES_WEBHOOK_SECRET`); `None` if none is set.
    pub fn webhook_key<'a>(
        &'a self,
        cue: &str,
        action: usize,
        fallback: Option<&'a str>,
    ) -> Option<&'a str> {
        let own = self
            .cues
            .get(cue)
            .and_then(|c| c.actions.get(action))
            .and_then(|a| match a.get_ref() {
                Action::Webhook { secret, .. } => secret.as_deref(),
                Action::Dmx { .. } => None,
            });
        [own, self.webhook_secret.as_deref(), fallback]
            .into_iter()
            .flatten()
            .find(|s| has_key(s))
    }

    /// The cues a game entering `state` fires (its team's when it starts
    /// playing).
    pub fn on_state(&self, state: GameState, team: Option<&str>) -> Vec<String> {
        let by_state = match state {
            GameState::Queued => &self.on.queued,
            GameState::Recalled => &self.on.recalled,
            GameState::Confirmed => &self.on.confirmed,
            GameState::Playing => &self.on.playing,
            GameState::Completed => &self.on.completed,
            GameState::Cancelled => &self.on.cancelled,
            _ => &None,
        };
        let mut cues: Vec<String> = by_state.iter().map(|c| c.get_ref().clone()).collect();
        if state == GameState::Playing
            && let Some(cue) = team.and_then(|t| self.on.team.get(t))
        {
            cues.push(cue.get_ref().clone());
        }
        cues
    }
}

/// The domain fires these cues as games change (see `ondeck_domain::lifecycle`).
impl GameCues for CueFile {
    fn on_entering(&self, state: GameState, team: Option<&str>) -> Vec<String> {
        self.on_state(state, team)
    }
}

/// One Enttec DMX USB Pro "send DMX" message: 0x7E, label 6, the data
/// length (start code + 512 channels) little-endian, start code 0, the
/// channels, 0xE7.
pub fn enttec_frame(universe: &[u8; CHANNELS]) -> Vec<u8> {
    let len = (CHANNELS + 1) as u16;
    let mut frame = Vec::with_capacity(CHANNELS + 6);
    frame.extend_from_slice(&[0x7E, 6]);
    frame.extend_from_slice(&len.to_le_bytes());
    frame.push(0);
    frame.extend_from_slice(universe);
    frame.push(0xE7);
    frame
}

/// A webhook URL as it may be shown and stored: without credentials, query
/// or fragment (where tokens usually travel).
pub fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => "(not a URL)".to_owned(),
    }
}

/// Why a request failed, with its causes but without its URL (which may
/// carry a token).
pub fn request_error(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// `sha256=<hex>` of HMAC-SHA256 over `body`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    #[allow(clippy::expect_used)]
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The DMX output: the universe this process last set, written to the
/// device on every change and every second; a missing device is reopened
/// each second.
#[derive(Clone)]
pub struct Dmx {
    universe: watch::Sender<Universe>,
    written: watch::Receiver<Written>,
    device: PathBuf,
}

/// The channels and how many changes they have seen.
struct Universe {
    generation: u64,
    channels: [u8; CHANNELS],
}

/// What reached the device: the newest generation written, and the error of
/// the last attempt that failed since.
#[derive(Debug, Clone, Default)]
struct Written {
    generation: u64,
    error: Option<String>,
}

impl Dmx {
    /// Starts writing to `device` until `stop`.
    pub fn start(
        device: PathBuf,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Dmx {
        let (universe, rx) = watch::channel(Universe {
            generation: 0,
            channels: [0u8; CHANNELS],
        });
        let (report, written) = watch::channel(Written::default());
        tokio::spawn(output(device.clone(), rx, report, stop));
        Dmx {
            universe,
            written,
            device,
        }
    }

    /// The serial device this process writes to.
    pub fn device(&self) -> &Path {
        &self.device
    }

    /// Sets `(channel, value)` pairs (channels 1–512); returns the change's
    /// generation, for [`Dmx::written`].
    pub fn set(&self, channels: impl IntoIterator<Item = (u16, u8)>) -> u64 {
        let mut generation = 0;
        self.universe.send_modify(|u| {
            for (channel, value) in channels {
                if let Some(slot) = u.channels.get_mut(usize::from(channel).wrapping_sub(1)) {
                    *slot = value;
                }
            }
            u.generation += 1;
            generation = u.generation;
        });
        generation
    }

    /// Waits until a frame holding change `generation` (or a later one) has
    /// been written to the device; after `within`, the device's last error.
    pub async fn written(&self, generation: u64, within: Duration) -> Result<(), String> {
        let mut rx = self.written.clone();
        let reached = tokio::time::timeout(within, rx.wait_for(|w| w.generation >= generation))
            .await
            .map(|r| r.is_ok());
        match reached {
            Ok(true) => Ok(()),
            Ok(false) => Err("the DMX output has stopped".to_owned()),
            Err(_) => Err(rx.borrow().error.clone().unwrap_or_else(|| {
                format!("no frame reached the device within {} s", within.as_secs())
            })),
        }
    }
}

async fn output(
    device: PathBuf,
    mut rx: watch::Receiver<Universe>,
    report: watch::Sender<Written>,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut file: Option<tokio::fs::File> = None;
    let mut failing = false;
    loop {
        let (generation, frame) = {
            let u = rx.borrow_and_update();
            (u.generation, enttec_frame(&u.channels))
        };
        let mut error = None;
        if file.is_none() {
            match tokio::fs::OpenOptions::new()
                .write(true)
                .open(&device)
                .await
            {
                Ok(f) => file = Some(f),
                Err(e) => error = Some(format!("cannot open {}: {e}", device.display())),
            }
        }
        if let Some(f) = file.as_mut() {
            let written = tokio::time::timeout(Duration::from_secs(2), async {
                f.write_all(&frame).await?;
                f.flush().await
            })
            .await;
            match written {
                Ok(Ok(())) => {
                    if failing {
                        tracing::info!(device = %device.display(), "DMX output resumed");
                    }
                    failing = false;
                    report.send_replace(Written {
                        generation,
                        error: None,
                    });
                    metrics::gauge!("ondeck_dmx_up").set(1.0);
                    metrics::counter!("ondeck_dmx_frames_total").increment(1);
                }
                Ok(Err(e)) => {
                    file = None;
                    error = Some(format!("cannot write to {}: {e}", device.display()));
                }
                Err(_) => {
                    file = None;
                    error = Some(format!("{} took no data for 2 s", device.display()));
                }
            }
        }
        if let Some(error) = error {
            fail(&mut failing, &device, &error);
            report.send_modify(|w| w.error = Some(error));
        }
        tokio::select! {
            () = &mut stop => break,
            changed = rx.changed() => if changed.is_err() { break },
            () = tokio::time::sleep(RESEND_EVERY) => {}
        }
    }
}

fn fail(failing: &mut bool, device: &Path, error: &str) {
    metrics::gauge!("ondeck_dmx_up").set(0.0);
    metrics::counter!("ondeck_dmx_errors_total").increment(1);
    if !*failing {
        tracing::warn!(device = %device.display(), error, "DMX device unavailable; retrying every second");
    }
    *failing = true;
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
webhook_secret = "s3cret"

[[cues.attractor.actions]]
type = "dmx"
channels = [{ channel = 1, value = 8 }, { channel = 512, value = 255 }]

[[cues.in-game.actions]]
type = "dmx"
channels = [{ channel = 1, value = 200 }]

[[cues.in-game.actions]]
type = "webhook"
url = "http://127.0.0.1:9/hook"

[[cues.boston.actions]]
type = "dmx"
channels = [{ channel = 2, value = 1 }]

[on]
playing = "in-game"
completed = "attractor"

[on.team]
"Red Sox" = "boston"
"#;

    #[test]
    fn frame_bytes() {
        let mut universe = [0u8; CHANNELS];
        universe[0] = 8;
        universe[511] = 255;
        let frame = enttec_frame(&universe);
        assert_eq!(frame.len(), 518);
        assert_eq!(&frame[..5], &[0x7E, 6, 0x01, 0x02, 0]);
        assert_eq!(frame[5], 8);
        assert_eq!(frame[516], 255);
        assert_eq!(frame[517], 0xE7);
        assert!(frame[6..516].iter().all(|b| *b == 0));
    }

    #[test]
    fn parses_the_example() {
        let file = CueFile::parse(EXAMPLE).expect("valid");
        assert_eq!(file.cues.len(), 3);
        assert_eq!(file.webhook_secret.as_deref(), Some("s3cret"));
        assert_eq!(
            file.on_state(GameState::Playing, Some("Red Sox")),
            ["in-game", "boston"]
        );
        assert_eq!(file.on_state(GameState::Playing, Some("Mets")), ["in-game"]);
        assert_eq!(
            file.on_state(GameState::Completed, Some("Red Sox")),
            ["attractor"]
        );
        assert!(file.on_state(GameState::Queued, None).is_empty());
    }

    #[test]
    fn errors_carry_their_line() {
        let syntax =
            "[[cues.a.actions]]\ntype = \"dmx\"\nchannels = [{ channel = 1, value = 256 }]\n";
        // Errors inside an action have no span (the tagged enum buffers it).
        assert!(
            CueFile::parse(syntax)
                .expect_err("bad value")
                .message
                .contains("256")
        );
        let unknown =
            "[[cues.a.actions]]\ntype = \"dmx\"\nchannels = []\n\n[on]\nplaying = \"b\"\n";
        let e = CueFile::parse(unknown).expect_err("unknown cue");
        assert_eq!(e.line, 6);
        assert!(e.message.contains("\"b\""), "{e}");
        let range = "[[cues.a.actions]]\ntype = \"dmx\"\nchannels = [\n  { channel = 1, value = 1 },\n  { channel = 513, value = 1 },\n]\n";
        assert_eq!(CueFile::parse(range).expect_err("channel 513").line, 5);
        let kind = "[[cues.a.actions]]\ntype = \"smoke\"\n";
        assert!(
            CueFile::parse(kind)
                .expect_err("unknown type")
                .message
                .contains("smoke")
        );
        let broken = "a = 1\nb = = 2\n";
        assert_eq!(CueFile::parse(broken).expect_err("syntax").line, 2);
    }

    #[test]
    fn a_webhook_needs_a_secret_from_somewhere() {
        let unsigned = "[[cues.a.actions]]\ntype = \"dmx\"\nchannels = []\n\n[[cues.a.actions]]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\n";
        let e = CueFile::parse_signed(unsigned, false).expect_err("no secret");
        // The line of the action's table header.
        assert_eq!(e.line, 5, "{e}");
        assert!(e.message.contains("\"a\" has no secret"), "{e}");
        // An empty secret is none.
        let empty = format!("webhook_secret = \"  \"\n{unsigned}");
        assert_eq!(
            CueFile::parse_signed(&empty, false)
                .expect_err("empty secret")
                .line,
            6
        );
        // The environment's, the file's or the action's own secret will do.
        let file = CueFile::parse_signed(unsigned, true).expect("CUES_WEBHOOK_SECRET");
        assert_eq!(file.webhook_key("a", 1, Some("env")), Some("env"));
        assert_eq!(file.webhook_key("a", 1, None), None);
        let file = CueFile::parse_signed(&format!("webhook_secret = \"f\"\n{unsigned}"), false)
            .expect("the file's secret");
        assert_eq!(file.webhook_key("a", 1, Some("env")), Some("f"));
        let own = unsigned.replace("url =", "secret = \"own\"\nurl =");
        let file = CueFile::parse_signed(&format!("webhook_secret = \"f\"\n{own}"), false)
            .expect("its own secret");
        assert_eq!(file.webhook_key("a", 1, Some("env")), Some("own"));
    }

    #[test]
    fn shown_urls_keep_no_secrets() {
        assert_eq!(
            shown_url("https://user:pw@hooks.example.com:8443/a/b?token=s3cret#x"),
            "https://hooks.example.com:8443/a/b"
        );
        assert_eq!(
            shown_url("http://127.0.0.1:9/hook"),
            "http://127.0.0.1:9/hook"
        );
    }

    #[test]
    fn signature_is_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
