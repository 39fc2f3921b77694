//! A PostgreSQL server of one test's own, on a free loopback port: a primary
//! made by `initdb`, or a streaming replica of one made by
//! `pg_basebackup -R`. Either can be stopped and started again on its port.
//! PostgreSQL refuses to run as root, so as root every PostgreSQL program
//! runs as the `postgres` user (as `deploy/lib/services.sh` does) in a
//! directory that user owns.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::process::{find_program, free_port};
use crate::temp::{TempDir, tail};

/// One private cluster; stopped (immediately) and removed on drop.
pub struct Cluster {
    pub port: u16,
    bin: PathBuf,
    dir: TempDir,
    /// `dir/data`, made by initdb or pg_basebackup (mode 0700).
    data: PathBuf,
    running: bool,
}

/// Settings of the primary (the replica copies them): WAL for a streaming
/// replica, loopback TCP only, no durability (a test's data is thrown away).
const PRIMARY_CONF: &str = "
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 60
wal_level = replica
max_wal_senders = 4
wal_keep_size = '64MB'
hot_standby = on
fsync = off
synchronous_commit = off
";

impl Cluster {
    /// A new primary, started.
    pub fn primary() -> Cluster {
        let mut cluster = Cluster::empty("pg-primary");
        cluster.run(
            "initdb",
            &[
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        append(&cluster.data.join("postgresql.conf"), PRIMARY_CONF);
        append(
            &cluster.data.join("pg_hba.conf"),
            "\nhost replication postgres 127.0.0.1/32 trust\n",
        );
        cluster.start_on_a_free_port();
        cluster
    }

    /// A streaming replica of `primary` (which must run), started.
    pub fn replica_of(primary: &Cluster) -> Cluster {
        let mut cluster = Cluster::empty("pg-replica");
        let port = primary.port.to_string();
        // -R: a standby.signal and the primary's address, so it streams.
        let args = [
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            "postgres",
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
        ];
        cluster.run("pg_basebackup", &args);
        cluster.start_on_a_free_port();
        cluster
    }

    /// A URL of the database `name` as the superuser.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Stops the server (fast shutdown: sessions are ended) and waits for it.
    pub fn stop(&mut self) {
        assert!(
            self.running,
            "the cluster on port {} is not running",
            self.port
        );
        self.pg_ctl(&["stop", "-m", "fast", "-w", "-t", "60"])
            .unwrap_or_else(|out| panic!("pg_ctl stop failed: {out}"));
        self.running = false;
    }

    /// Starts the server again on its port.
    pub fn start(&mut self) {
        assert!(
            !self.running,
            "the cluster on port {} already runs",
            self.port
        );
        if let Err(out) = self.try_start() {
            panic!(
                "PostgreSQL did not start again on port {}: {out}\n{}",
                self.port,
                tail(&self.log(), 30)
            );
        }
    }

    fn empty(tag: &str) -> Cluster {
        let bin = bin_dir();
        let dir = TempDir::new(tag);
        if is_root() {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown runs");
            assert!(status.success(), "chown postgres {}", dir.path().display());
        }
        Cluster {
            port: 0,
            bin,
            data: dir.path().join("data"),
            dir,
            running: false,
        }
    }

    /// The server's log file.
    pub fn log(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// Runs a PostgreSQL program with `args` and `-D <data>`; it must succeed.
    fn run(&self, program: &str, args: &[&str]) {
        let mut command = self.command(program);
        command.args(args).arg("-D").arg(&self.data);
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("{program} runs: {e}"));
        assert!(
            output.status.success(),
            "{program} failed: {}",
            describe(&output)
        );
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        // The postgres user may not be able to enter the current directory.
        command.current_dir("/").stdin(Stdio::null());
        command
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<(), String> {
        let output = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(args)
            .output()
            .map_err(|e| format!("pg_ctl runs: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(describe(&output))
        }
    }

    fn try_start(&mut self) -> Result<(), String> {
        let port = format!("-p {}", self.port);
        let log = self.log();
        let log = log.to_str().expect("a UTF-8 temporary path");
        self.pg_ctl(&["-l", log, "-o", &port, "-w", "-t", "60", "start"])?;
        self.running = true;
        Ok(())
    }

    fn start_on_a_free_port(&mut self) {
        let mut failures = Vec::new();
        for _ in 0..3 {
            self.port = free_port();
            match self.try_start() {
                Ok(()) => return,
                Err(out) => failures.push(out),
            }
        }
        panic!(
            "PostgreSQL did not start in three tries: {failures:?}\n{}",
            tail(&self.log(), 30)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.running {
            let _ = self.pg_ctl(&["stop", "-m", "immediate", "-w", "-t", "30"]);
        }
        if std::thread::panicking() {
            eprintln!(
                "----- last lines of the PostgreSQL log on port {} -----\n{}",
                self.port,
                tail(&self.log(), 40)
            );
        }
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    file.write_all(text.as_bytes())
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn describe(output: &Output) -> String {
    format!(
        "{}: {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// The directory of `pg_ctl` (`$ONDECK_PG_CTL`, else on PATH, else Debian's
/// newest `/usr/lib/postgresql/*/bin`; links followed), which holds the
/// other programs too.
fn bin_dir() -> PathBuf {
    let mut debian: Vec<(Option<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| {
                    (
                        e.file_name().to_str().and_then(|v| v.parse().ok()),
                        e.path().join("bin"),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    debian.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    let debian: Vec<PathBuf> = debian.into_iter().map(|(_, dir)| dir).collect();
    let hint = "install postgresql (initdb, pg_ctl, pg_basebackup, postgres), or set ONDECK_PG_CTL";
    let pg_ctl = find_program("pg_ctl", "ONDECK_PG_CTL", &debian, hint);
    // A link on PATH (/usr/local/bin/pg_ctl) points into the real directory.
    let pg_ctl = std::fs::canonicalize(&pg_ctl).unwrap_or(pg_ctl);
    pg_ctl.parent().map(Path::to_path_buf).unwrap_or_default()
}
