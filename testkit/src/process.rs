//! Starting programs: the `ondeck` binary in any of its modes, with a free
//! port and a wait until it answers, and the helpers every server of a test
//! needs (finding a program, a free port, a signal).

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::temp::tail;
use crate::wait::eventually;

/// The `ondeck` binary under test. Cargo names it in `CARGO_BIN_EXE_ondeck`
/// when it builds and runs the API's integration tests; elsewhere it is the
/// `ondeck` beside the test executable's `deps/` directory.
pub fn ondeck_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let named = std::env::var_os("CARGO_BIN_EXE_ondeck").map(PathBuf::from);
        let beside = || {
            let exe = std::env::current_exe().ok()?;
            let profile = exe.parent()?.parent()?;
            Some(profile.join(format!("ondeck{}", std::env::consts::EXE_SUFFIX)))
        };
        let path = named
            .or_else(beside)
            .expect("CARGO_BIN_EXE_ondeck or the test executable's directory");
        assert!(
            path.is_file(),
            "the ondeck binary is not at {}: run the tests with `cargo test -p ondeck`",
            path.display()
        );
        path
    })
}

/// What `ondeck run` and `serve` log once their API socket is bound.
const LISTENING: &str = "ondeck API listening";

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("find a free loopback port")
        .port()
}

/// Sends a signal with the `kill` command.
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(status.is_ok(), "the kill command runs: {status:?}");
}

/// Finds a program: `$env_var`, else on PATH, else in `extra` directories.
pub(crate) fn find_program(name: &str, env_var: &str, extra: &[PathBuf], hint: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env_var).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{env_var} is {}, which is not a file; {hint}",
            path.display()
        );
        return path;
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(extra.iter().cloned())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{name} not found: {hint}"))
}

/// Serves `app` on `listener` in a task of the caller's runtime, as the
/// stand-ins for outside services do; their address and that task.
pub(crate) fn serve_in_task(
    listener: tokio::net::TcpListener,
    app: axum::Router,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let addr = listener.local_addr().expect("the listener's address");
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, server)
}

/// Waits until something listens on `port`; `false` after `limit`, or as
/// soon as `alive` says the server is gone.
pub(crate) fn wait_for_port(port: u16, limit: Duration, mut alive: impl FnMut() -> bool) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        if !alive() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Run,
    Serve,
    Work,
}

impl Mode {
    pub fn arg(self) -> &'static str {
        match self {
            Mode::Run => "run",
            Mode::Serve => "serve",
            Mode::Work => "work",
        }
    }

    pub fn serves(self) -> bool {
        self != Mode::Work
    }
}

/// An `ondeck` process; killed on drop, its output printed if the test failed.
pub struct Ondeck {
    pub name: String,
    /// `http://127.0.0.1:PORT` for `run` and `serve`.
    pub base: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Ondeck {
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .expect("the process was not reaped")
            .id()
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Everything it wrote so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "KILL");
            let _ = child.wait();
        }
    }

    /// SIGTERM; waits up to `limit` for the exit status.
    pub async fn terminate(&mut self, limit: Duration) -> std::process::ExitStatus {
        signal(self.pid(), "TERM");
        self.wait_for_exit(limit).await
    }

    /// Waits up to `limit` for the process to exit (after a signal sent
    /// with [`signal`]); kills it and fails the test past that.
    pub async fn wait_for_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("a running process");
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{} did not exit within {limit:?}", self.name);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the log has a line containing `text`.
    pub async fn wait_for_log(&mut self, text: &str, limit: Duration) {
        let name = self.name.clone();
        eventually(&format!("{name} to log {text:?}"), limit, async || {
            assert!(
                self.is_running(),
                "{name} exited; its log:\n{}",
                tail(&self.log, 80)
            );
            self.log().contains(text).then_some(())
        })
        .await;
    }

    /// Starts `ondeck MODE` on `listen` with exactly `env`, its output in
    /// `log`; for `run` and `serve`, waits until `/healthz` answers 200.
    /// `None` when it could not listen (someone took the port in between).
    pub async fn start(
        name: String,
        mode: Mode,
        listen: &str,
        env: &HashMap<String, String>,
        log: PathBuf,
        http: &reqwest::Client,
    ) -> Option<Ondeck> {
        let file = std::fs::File::create(&log).expect("a log file");
        let child = Command::new(ondeck_binary())
            .arg(mode.arg())
            .env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("clone the log handle"))
            .stderr(file)
            .spawn()
            .expect("ondeck starts");
        let mut process = Ondeck {
            name,
            base: format!("http://{listen}"),
            child: Some(child),
            log,
        };
        if !mode.serves() {
            return Some(process);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            // Another test's server may hold the port this one failed to
            // bind, and answer /healthz for it: only this process's own
            // "listening" line says the answer is its own.
            if process.log().contains(LISTENING) {
                let health = http.get(format!("{}/healthz", process.base)).send().await;
                if health.is_ok_and(|r| r.status() == StatusCode::OK) {
                    return Some(process);
                }
            }
            if !process.is_running() {
                if process.log().contains("cannot listen") {
                    return None;
                }
                panic!(
                    "{} exited at start; its log:\n{}",
                    process.name,
                    tail(&process.log, 80)
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} answered no /healthz within 20 s; its log:\n{}",
                process.name,
                tail(&process.log, 80)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Ondeck {
    fn drop(&mut self) {
        self.kill();
        // ONDECK_E2E_LOGS=1 prints every process's log, passing or not.
        if std::thread::panicking() || std::env::var_os("ONDECK_E2E_LOGS").is_some() {
            eprintln!(
                "----- last lines of {} ({}) -----\n{}\n----- end of {} -----",
                self.name,
                self.log.display(),
                tail(&self.log, 150),
                self.name
            );
        }
    }
}

/// Runs `ondeck args` with only `env` in its environment, for at most 30 s,
/// and returns what it did (its status and output), success or not.
pub async fn run_ondeck(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = tokio::process::Command::new(ondeck_binary());
    command
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .unwrap_or_else(|_| panic!("ondeck {args:?} finishes within 30 s"))
        .expect("ondeck runs")
}
