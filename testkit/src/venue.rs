//! Stand-ins for what venue cues drive: the USB–DMX interface (a
//! pseudo-terminal pair made by socat, whose far end the test reads) and a
//! webhook target (an HTTP server inside the test that records each call).

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};

use crate::process::signal;
use crate::wait::eventually;

/// The length of an Enttec DMX USB Pro "send DMX" frame: a header of five
/// bytes, the 512 channels of a universe and the end byte.
pub const FRAME: usize = 518;

/// The frame that sets `channels` (1-based, with their values) and every
/// other channel to 0.
pub fn frame(channels: &[(usize, u8)]) -> Vec<u8> {
    let mut f = vec![0x7E, 6, 0x01, 0x02, 0];
    let mut universe = [0u8; 512];
    for (c, v) in channels {
        universe[c - 1] = *v;
    }
    f.extend_from_slice(&universe);
    f.push(0xE7);
    f
}

/// The last complete frame in what the interface received.
fn last_frame(buf: &[u8]) -> Option<Vec<u8>> {
    (0..=buf.len().checked_sub(FRAME)?)
        .rev()
        .find(|&i| buf[i] == 0x7E && buf[i + 1] == 6 && buf[i + FRAME - 1] == 0xE7)
        .map(|i| buf[i..i + FRAME].to_vec())
}

/// A pty pair: ondeck writes to `dir/dmx`, the test reads what arrives.
pub struct Interface {
    socat: Child,
    received: Arc<Mutex<Vec<u8>>>,
}

impl Interface {
    /// Plugs the interface in at `dir/dmx`.
    pub fn start(dir: &Path) -> Interface {
        let (device, tap) = (dir.join("dmx"), dir.join("tap"));
        // Links a killed socat left behind.
        let _ = std::fs::remove_file(&device);
        let _ = std::fs::remove_file(&tap);
        let socat = Command::new("socat")
            .arg(format!("pty,raw,echo=0,link={}", device.display()))
            .arg(format!("pty,raw,echo=0,link={}", tap.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("socat (apt-get install socat)");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !(device.exists() && tap.exists()) {
            assert!(Instant::now() < deadline, "socat made no ptys");
            std::thread::sleep(Duration::from_millis(20));
        }
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        let mut reader = std::fs::File::open(&tap).expect("open the tap");
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = reader.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                sink.lock().expect("lock").extend_from_slice(&chunk[..n]);
            }
        });
        Interface { socat, received }
    }

    /// The last complete frame received.
    pub fn last(&self) -> Option<Vec<u8>> {
        last_frame(&self.received.lock().expect("lock"))
    }

    /// Waits up to `limit` until the last complete frame received is
    /// `frame` (`what`, for the failure).
    pub async fn wait_for(&self, frame: &[u8], what: &str, limit: Duration) {
        eventually(what, limit, async || {
            self.last().is_some_and(|last| last == frame).then_some(())
        })
        .await;
    }

    /// Unplugs the interface: socat ends and removes its links.
    pub fn stop(&mut self) {
        signal(self.socat.id(), "TERM");
        let _ = self.socat.wait();
    }
}

impl Drop for Interface {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What a webhook target is told to do, and what it got.
#[derive(Default)]
pub struct Target {
    /// How many calls to answer 500 before answering 200.
    pub fail: usize,
    /// How long to take over each call answered 200.
    pub delay: Duration,
    /// Every call, answered 500 or not.
    pub posts: usize,
    /// The body and `X-Ondeck-Signature` of each call answered 200.
    pub received: Vec<(Vec<u8>, String)>,
}

/// Serves `target` on a free loopback port; returns its URL.
pub async fn webhook_target(target: Arc<Mutex<Target>>) -> String {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let target = target.clone();
            async move {
                let delay = {
                    let mut t = target.lock().expect("lock");
                    t.posts += 1;
                    if t.fail > 0 {
                        t.fail -= 1;
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    t.delay
                };
                tokio::time::sleep(delay).await;
                let signature = headers
                    .get("x-ondeck-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                target
                    .lock()
                    .expect("lock")
                    .received
                    .push((body.to_vec(), signature));
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/hook")
}
