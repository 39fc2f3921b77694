//! An S3-compatible server for one test: `s3s-fs`, which checks request
//! signatures as S3 does, on a free loopback port with one bucket.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::process::{find_program, free_port, wait_for_port};
use crate::temp::{TempDir, tail};

pub const S3_ACCESS_KEY: &str = "ondeck-e2e";
pub const S3_BUCKET: &str = "ondeck-e2e";

const S3S_FS_HINT: &str = "the tests need the s3s-fs binary (a local S3-compatible server): \
     `cargo install s3s-fs@0.14.1 --features binary --locked` (about 3 minutes), or run \
     deploy/test, which installs it (ondeck_s3s_fs in deploy/lib/services.sh), or set \
     ONDECK_S3S_FS to its path";

/// A running s3s-fs with one bucket; killed on drop.
pub struct S3 {
    pub port: u16,
    pub access_key: String,
    pub secret: String,
    pub bucket: String,
    child: Child,
    dir: TempDir,
}

impl S3 {
    /// With the access key [`S3_ACCESS_KEY`], a random secret and the
    /// bucket [`S3_BUCKET`].
    pub fn start() -> S3 {
        let secret = format!("secret{:016x}", rand::random::<u64>());
        S3::start_with(S3_ACCESS_KEY, &secret, S3_BUCKET)
    }

    /// With these credentials and this bucket.
    pub fn start_with(access_key: &str, secret: &str, bucket: &str) -> S3 {
        let home_bins = [
            std::env::var_os("CARGO_HOME").map(|h| PathBuf::from(h).join("bin")),
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin")),
        ];
        let extra: Vec<PathBuf> = home_bins.into_iter().flatten().collect();
        let binary = find_program("s3s-fs", "ONDECK_S3S_FS", &extra, S3S_FS_HINT);
        let dir = TempDir::new("s3");
        // s3s-fs keeps each bucket in a directory of that name.
        std::fs::create_dir_all(dir.path().join("data").join(bucket))
            .expect("the bucket directory");
        let log_path = dir.path().join("s3s-fs.log");
        for _ in 0..5 {
            let port = free_port();
            let log = std::fs::File::create(&log_path).expect("the s3s-fs log");
            let mut child = Command::new(&binary)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", access_key, "--secret-key", secret])
                .arg(dir.path().join("data"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("clone the log handle"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
            // Exited at once: most likely someone took the port in between.
            if wait_for_port(port, Duration::from_secs(20), || {
                matches!(child.try_wait(), Ok(None))
            }) {
                return S3 {
                    port,
                    access_key: access_key.to_owned(),
                    secret: secret.to_owned(),
                    bucket: bucket.to_owned(),
                    child,
                    dir,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "s3s-fs did not start in five tries; its log:\n{}",
            tail(&log_path, 50)
        );
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Where s3s-fs keeps the object `key` of the bucket.
    pub fn object_path(&self, key: &str) -> PathBuf {
        self.dir.path().join("data").join(&self.bucket).join(key)
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
