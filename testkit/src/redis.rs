//! Redis for one test: the shared server `ONDECK_TEST_REDIS_URL` (or
//! `REDIS_URL`) names, or a `redis-server` of the test's own on a free
//! loopback port, without persistence, that can be stopped and started again
//! on that port.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::process::{find_program, free_port, wait_for_port};
use crate::temp::{TempDir, tail};

/// The shared Redis: `ONDECK_TEST_REDIS_URL`, else `REDIS_URL`, else the
/// default port on loopback.
pub fn redis_url() -> String {
    std::env::var("ONDECK_TEST_REDIS_URL")
        .or_else(|_| std::env::var("REDIS_URL"))
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A private `redis-server` on a fixed loopback port, no persistence.
pub struct Redis {
    pub port: u16,
    child: Option<Child>,
    dir: TempDir,
    binary: PathBuf,
}

impl Redis {
    pub fn start_new() -> Redis {
        let binary = find_program(
            "redis-server",
            "ONDECK_REDIS_SERVER",
            &[PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")],
            "install redis-server (apt-get install redis-server), or set ONDECK_REDIS_SERVER",
        );
        let mut redis = Redis {
            port: 0,
            child: None,
            dir: TempDir::new("redis"),
            binary,
        };
        for _ in 0..5 {
            redis.port = free_port();
            if redis.try_start() {
                return redis;
            }
        }
        panic!(
            "redis-server did not start in five tries; its log:\n{}",
            tail(&redis.dir.path().join("redis.log"), 50)
        );
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn try_start(&mut self) -> bool {
        let log = std::fs::File::create(self.dir.path().join("redis.log")).expect("a log file");
        let child = Command::new(&self.binary)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
        let mut child = child;
        let up = wait_for_port(self.port, Duration::from_secs(10), || {
            matches!(child.try_wait(), Ok(None))
        });
        if up && self.ping() {
            self.child = Some(child);
            true
        } else {
            let _ = child.kill();
            let _ = child.wait();
            false
        }
    }

    fn ping(&self) -> bool {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut answer = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut answer).is_ok()
            && &answer == b"+PONG\r\n"
    }

    /// Stops the server (SIGKILL: what it held is gone, as in an outage).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err(),
            "Redis still answers on port {} after stop()",
            self.port
        );
    }

    /// Starts the server again on the same port.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "Redis is already running");
        assert!(
            self.try_start(),
            "Redis did not start again on port {}; its log:\n{}",
            self.port,
            tail(&self.dir.path().join("redis.log"), 50)
        );
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
