//! Object storage: S3 against a real S3-compatible server on loopback
//! (s3s-fs, which checks request signatures), and local storage in a
//! temporary directory.
//!
//! The S3 tests need the `s3s-fs` binary: `$ONDECK_S3S_FS`, else `s3s-fs` on
//! PATH, else `~/.cargo/bin/s3s-fs`. Without it they fail and say how to
//! install it (`deploy/test` installs it through `ondeck_s3s_fs`).
//!
//! Credentials: the workspace forbids `unsafe`, and setting environment
//! variables is `unsafe` in edition 2024, so most tests pass static
//! credentials through `Storage::connect_with_credentials`. The AWS
//! credential chain of `Storage::connect` is tested in a child process (this
//! test binary again) that gets `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`
//! in its environment.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ondeck_env::ConfigError;
use ondeck_media::media_key::MediaKey;
use ondeck_media::storage::{S3Credentials, Storage, StorageError, StorageSettings};
use ondeck_testkit::{S3, TempDir};

const ACCESS_KEY: &str = "ondeck";
const SECRET_KEY: &str = "ondeck-secret";
const BUCKET: &str = "ondeck-test";

// --- helpers -------------------------------------------------------------------

/// A running s3s-fs with the bucket `BUCKET`, killed on drop.
struct S3Server(S3);

impl S3Server {
    fn start() -> S3Server {
        S3Server(S3::start_with(ACCESS_KEY, SECRET_KEY, BUCKET))
    }

    fn endpoint(&self) -> String {
        self.0.endpoint()
    }

    fn settings(&self, bucket: &str, public_base_url: Option<&str>) -> StorageSettings {
        StorageSettings::S3 {
            bucket: bucket.to_owned(),
            region: "us-east-1".to_owned(),
            endpoint: Some(self.endpoint()),
            public_base_url: public_base_url.map(str::to_owned),
        }
    }

    async fn storage_with(
        &self,
        bucket: &str,
        secret: &str,
        public_base_url: Option<&str>,
    ) -> Storage {
        Storage::connect_with_credentials(
            &self.settings(bucket, public_base_url),
            Some(S3Credentials {
                access_key_id: ACCESS_KEY.to_owned(),
                secret_access_key: secret.to_owned().into(),
            }),
        )
        .await
        .expect("connect to s3s-fs")
    }

    async fn storage(&self) -> Storage {
        self.storage_with(BUCKET, SECRET_KEY, None).await
    }
}

fn settings_from(vars: &[(&str, &str)]) -> Result<StorageSettings, ConfigError> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    StorageSettings::from_env(&|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
}

fn jpeg_bytes(seed: u8) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0];
    bytes.extend((0..5000u32).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    bytes
}

const BAD_KEYS: &[&str] = &[
    "",
    "../escape.jpg",
    "souvenirs/../../escape.jpg",
    "a/..",
    "..",
    "a..b.jpg",
    "/etc/passwd",
    "/abs.jpg",
    "a//b.jpg",
    "a/b/",
    ".hidden",
    "souvenirs/.x.jpg",
    "a b.jpg",
    "a\\b.jpg",
    "caf\u{e9}.jpg",
    "a?b=c",
    "a%2e%2e/b",
];

fn assert_invalid_key<T: std::fmt::Debug>(key: &str, result: Result<T, StorageError>) {
    match result {
        Err(StorageError::InvalidKey { .. }) => {}
        other => panic!("key {key:?} should be refused, got {other:?}"),
    }
}

// --- settings ------------------------------------------------------------------

#[test]
fn settings_default_to_local_storage_in_data() {
    assert_eq!(
        settings_from(&[]).expect("defaults"),
        StorageSettings::Local {
            dir: PathBuf::from("data")
        }
    );
    assert_eq!(
        settings_from(&[("STORAGE", " Local "), ("DATA_DIR", "/srv/ondeck")]).expect("local"),
        StorageSettings::Local {
            dir: PathBuf::from("/srv/ondeck")
        }
    );
    // Empty counts as unset.
    assert_eq!(
        settings_from(&[("STORAGE", ""), ("DATA_DIR", " ")]).expect("empty values"),
        StorageSettings::Local {
            dir: PathBuf::from("data")
        }
    );
}

#[test]
fn settings_for_s3() {
    assert_eq!(
        settings_from(&[("STORAGE", "s3"), ("S3_BUCKET", "ondeck-media")]).expect("s3"),
        StorageSettings::S3 {
            bucket: "ondeck-media".to_owned(),
            region: "us-east-1".to_owned(),
            endpoint: None,
            public_base_url: None,
        }
    );
    assert_eq!(
        settings_from(&[
            ("STORAGE", "S3"),
            ("S3_BUCKET", "media"),
            ("S3_REGION", "eu-west-3"),
            ("S3_ENDPOINT", "http://127.0.0.1:9000/"),
            ("S3_PUBLIC_BASE_URL", "https://cdn.example.com/media/"),
        ])
        .expect("s3 with everything"),
        StorageSettings::S3 {
            bucket: "media".to_owned(),
            region: "eu-west-3".to_owned(),
            endpoint: Some("http://127.0.0.1:9000".to_owned()),
            public_base_url: Some("https://cdn.example.com/media".to_owned()),
        }
    );
}

#[test]
fn bad_settings_name_their_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("STORAGE", "ftp")], "STORAGE"),
        (&[("STORAGE", "s3")], "S3_BUCKET"),
        (&[("STORAGE", "s3"), ("S3_BUCKET", "a/b")], "S3_BUCKET"),
        (
            &[
                ("STORAGE", "s3"),
                ("S3_BUCKET", "media"),
                ("S3_REGION", "eu west"),
            ],
            "S3_REGION",
        ),
        (
            &[
                ("STORAGE", "s3"),
                ("S3_BUCKET", "media"),
                ("S3_ENDPOINT", "127.0.0.1:9000"),
            ],
            "S3_ENDPOINT",
        ),
        (
            &[
                ("STORAGE", "s3"),
                ("S3_BUCKET", "media"),
                ("S3_PUBLIC_BASE_URL", "cdn.example.com"),
            ],
            "S3_PUBLIC_BASE_URL",
        ),
    ];
    for (vars, var) in cases {
        let error = settings_from(vars).expect_err("a bad setting");
        assert_eq!(error.var, *var, "{vars:?}");
        assert!(
            error.to_string().starts_with(&format!("{var}: ")),
            "{error} should start with {var}: "
        );
    }
}

// --- S3 ------------------------------------------------------------------------

#[tokio::test]
async fn s3_put_then_get_returns_the_bytes_and_content_type() {
    let server = S3Server::start();
    let storage = server.storage().await;
    assert_eq!(storage.backend(), "s3");
    storage.check().await.expect("the bucket is ready");

    let bytes = jpeg_bytes(1);
    storage
        .put("souvenirs/game-1.jpg", bytes.clone(), "image/jpeg")
        .await
        .expect("put");
    let (got, content_type) = storage
        .get("souvenirs/game-1.jpg")
        .await
        .expect("get")
        .expect("the object exists");
    assert_eq!(got, bytes);
    assert_eq!(content_type, "image/jpeg");

    // An empty object and a deeper key work too.
    storage
        .put("photos/2026/11/empty.png", Vec::new(), "image/png")
        .await
        .expect("put an empty object");
    let (got, content_type) = storage
        .get("photos/2026/11/empty.png")
        .await
        .expect("get")
        .expect("the empty object exists");
    assert!(got.is_empty());
    assert_eq!(content_type, "image/png");
}

#[tokio::test]
async fn s3_put_overwrites() {
    let server = S3Server::start();
    let storage = server.storage().await;
    storage
        .put("souvenirs/game-2.jpg", jpeg_bytes(1), "image/jpeg")
        .await
        .expect("first put");
    let second = b"\x89PNG\r\n\x1a\nsecond version".to_vec();
    storage
        .put("souvenirs/game-2.jpg", second.clone(), "image/png")
        .await
        .expect("second put");
    let (got, content_type) = storage
        .get("souvenirs/game-2.jpg")
        .await
        .expect("get")
        .expect("the object exists");
    assert_eq!(got, second);
    assert_eq!(content_type, "image/png");
}

#[tokio::test]
async fn s3_get_of_a_missing_key_is_none() {
    let server = S3Server::start();
    let storage = server.storage().await;
    assert!(
        storage
            .get("souvenirs/nobody.jpg")
            .await
            .expect("get")
            .is_none()
    );
}

#[tokio::test]
async fn s3_url_with_a_public_base_is_base_plus_key() {
    let server = S3Server::start();
    let storage = server
        .storage_with(BUCKET, SECRET_KEY, Some("https://cdn.example.com/media"))
        .await;
    assert_eq!(
        storage
            .url("souvenirs/game-3.jpg", "http://ignored.example")
            .await
            .expect("url"),
        "https://cdn.example.com/media/souvenirs/game-3.jpg"
    );
    assert_eq!(
        storage.public_url("souvenirs/game-3.jpg").as_deref(),
        Some("https://cdn.example.com/media/souvenirs/game-3.jpg")
    );
}

#[tokio::test]
async fn s3_presigned_url_downloads_the_object() {
    let server = S3Server::start();
    let storage = server.storage().await;
    let bytes = jpeg_bytes(7);
    storage
        .put("souvenirs/game-4.jpg", bytes.clone(), "image/jpeg")
        .await
        .expect("put");
    storage
        .put("souvenirs/game-5.jpg", jpeg_bytes(8), "image/jpeg")
        .await
        .expect("put another");
    assert_eq!(
        storage.public_url("souvenirs/game-4.jpg"),
        None,
        "without S3_PUBLIC_BASE_URL there is no lasting URL"
    );

    let url = storage
        .url("souvenirs/game-4.jpg", "http://ignored.example")
        .await
        .expect("presign");
    assert!(
        url.starts_with(&format!(
            "{}/{BUCKET}/souvenirs/game-4.jpg?",
            server.endpoint()
        )),
        "path-style presigned URL, got {url}"
    );
    assert!(url.contains("X-Amz-Signature="), "{url}");
    assert!(
        url.contains("X-Amz-Expires=3600"),
        "valid for an hour: {url}"
    );
    assert!(!url.contains(SECRET_KEY));

    // A plain GET (no credentials) downloads it: the signature is right.
    let response = reqwest::get(&url).await.expect("GET the presigned URL");
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.expect("read the body");
    assert_eq!(body.as_ref(), bytes.as_slice());

    // And the server does check it: the same signature for another key fails.
    let forged = url.replace("game-4.jpg", "game-5.jpg");
    let response = reqwest::get(&forged).await.expect("GET the forged URL");
    assert_eq!(
        response.status(),
        403,
        "a forged presigned URL must be refused"
    );
}

#[tokio::test]
async fn s3_wrong_secret_fails_check_without_revealing_it() {
    let server = S3Server::start();
    let wrong_secret = "wrong-secret-do-not-print-1234";
    let storage = server.storage_with(BUCKET, wrong_secret, None).await;
    let error = storage
        .check()
        .await
        .expect_err("a wrong secret key must fail");
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(
            !text.contains(wrong_secret),
            "the error reveals the secret: {text}"
        );
        assert!(
            !text.contains(SECRET_KEY),
            "the error reveals a secret: {text}"
        );
    }
    assert!(
        error.to_string().contains("HeadBucket") && error.to_string().contains(BUCKET),
        "the error names the operation and bucket: {error}"
    );
    let error = storage
        .put("souvenirs/x.jpg", jpeg_bytes(1), "image/jpeg")
        .await
        .expect_err("put with a wrong secret fails");
    assert!(!format!("{error} {error:?}").contains(wrong_secret));
}

#[tokio::test]
async fn s3_missing_bucket_fails_check() {
    let server = S3Server::start();
    let storage = server
        .storage_with("no-such-bucket", SECRET_KEY, None)
        .await;
    let error = storage
        .check()
        .await
        .expect_err("a missing bucket is not ready");
    assert!(error.to_string().contains("no-such-bucket"), "{error}");
}

#[tokio::test]
async fn s3_refuses_bad_keys() {
    let server = S3Server::start();
    let storage = server.storage().await;
    for key in BAD_KEYS {
        assert_invalid_key(key, storage.put(key, vec![1], "image/jpeg").await);
        assert_invalid_key(key, storage.get(key).await);
        assert_invalid_key(key, storage.url(key, "http://api.example").await);
    }
}

/// `Storage::connect` with credentials from the AWS chain (the environment),
/// in a child process because this process cannot set its own environment.
#[tokio::test]
async fn s3_connect_takes_credentials_from_the_environment() {
    let server = S3Server::start();
    let output = child_command("chain")
        .env("ONDECK_STORAGE_CHILD_ENDPOINT", server.endpoint())
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .output()
        .expect("run the child test");
    assert_child_passed(&output);
}

#[tokio::test]
async fn s3_connect_without_credentials_fails_clearly() {
    let output = child_command("no-credentials")
        .output()
        .expect("run the child test");
    assert_child_passed(&output);
}

/// Runs `child_process_helper` in a fresh process with `mode`, with no AWS
/// settings inherited from this environment.
fn child_command(mode: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command
        .args([
            "child_process_helper",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ONDECK_STORAGE_CHILD", mode)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/ondeck/aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/ondeck/aws-credentials",
        );
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ] {
        command.env_remove(var);
    }
    command
}

fn assert_child_passed(output: &std::process::Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "the child test failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
}

#[tokio::test]
#[ignore = "run by the s3_connect_* tests in a child process"]
async fn child_process_helper() {
    let Ok(mode) = std::env::var("ONDECK_STORAGE_CHILD") else {
        println!("not started by a parent test: nothing to do");
        return;
    };
    let endpoint = std::env::var("ONDECK_STORAGE_CHILD_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:9".to_owned());
    let settings = settings_from(&[
        ("STORAGE", "s3"),
        ("S3_BUCKET", BUCKET),
        ("S3_ENDPOINT", &endpoint),
    ])
    .expect("settings");
    match mode.as_str() {
        "chain" => {
            let storage = Storage::connect(&settings).await.expect("connect");
            storage.check().await.expect("check");
            storage
                .put("chain/ok.jpg", jpeg_bytes(3), "image/jpeg")
                .await
                .expect("put");
            let (bytes, _) = storage
                .get("chain/ok.jpg")
                .await
                .expect("get")
                .expect("the object exists");
            assert_eq!(bytes, jpeg_bytes(3));
        }
        "no-credentials" => {
            let error = Storage::connect(&settings)
                .await
                .expect_err("no credentials anywhere");
            let message = format!("{error:#}");
            assert!(
                message.contains("AWS_ACCESS_KEY_ID"),
                "the error says what to set: {message}"
            );
        }
        other => panic!("unknown ONDECK_STORAGE_CHILD {other:?}"),
    }
}

// --- local ---------------------------------------------------------------------

async fn local_storage(dir: &TempDir) -> Storage {
    let settings = settings_from(&[
        ("STORAGE", "local"),
        (
            "DATA_DIR",
            dir.path().join("data").to_str().expect("utf-8 path"),
        ),
    ])
    .expect("settings");
    Storage::connect(&settings)
        .await
        .expect("connect")
        .with_media_key(MediaKey::from_bytes([7; 32]))
}

#[tokio::test]
async fn local_put_get_and_url() {
    let dir = TempDir::new("local");
    let storage = local_storage(&dir).await;
    assert_eq!(storage.backend(), "local");
    assert_eq!(storage.local_dir(), Some(dir.path().join("data").as_path()));
    storage.check().await.expect("the directory is writable");

    let bytes = jpeg_bytes(2);
    storage
        .put("souvenirs/game-1.jpg", bytes.clone(), "image/jpeg")
        .await
        .expect("put");
    assert_eq!(
        std::fs::read(dir.path().join("data/souvenirs/game-1.jpg")).expect("the file"),
        bytes
    );
    assert_eq!(
        storage.get("souvenirs/game-1.jpg").await.expect("get"),
        Some((bytes, "image/jpeg".to_owned()))
    );

    // Overwrite.
    storage
        .put("souvenirs/game-1.jpg", b"new".to_vec(), "image/jpeg")
        .await
        .expect("overwrite");
    assert_eq!(
        storage.get("souvenirs/game-1.jpg").await.expect("get"),
        Some((b"new".to_vec(), "image/jpeg".to_owned()))
    );

    // Content types from the extension.
    for (key, content_type) in [
        ("photos/a.jpeg", "image/jpeg"),
        ("photos/b.PNG", "image/png"),
        ("photos/c.bin", "application/octet-stream"),
        ("photos/noext", "application/octet-stream"),
    ] {
        storage
            .put(key, vec![1, 2, 3], "whatever/else")
            .await
            .expect("put");
        let (_, got) = storage.get(key).await.expect("get").expect("exists");
        assert_eq!(got, content_type, "{key}");
    }

    // Missing keys, and a key naming a directory, are None.
    assert_eq!(
        storage.get("souvenirs/nobody.jpg").await.expect("get"),
        None
    );
    assert_eq!(storage.get("missing/dir/x.png").await.expect("get"), None);
    assert_eq!(storage.get("souvenirs").await.expect("get"), None);

    // A signed URL under PUBLIC_BASE_URL, which verifies for its key only.
    let url = storage
        .url("souvenirs/game-1.jpg", "https://ondeck.example/")
        .await
        .expect("url");
    let query = url
        .strip_prefix("https://ondeck.example/media/souvenirs/game-1.jpg?expires=")
        .unwrap_or_else(|| panic!("a signed /media/ URL: {url}"));
    let (expires, sig) = query
        .split_once("&sig=")
        .unwrap_or_else(|| panic!("expires and sig: {url}"));
    let expires_at = storage.verify_media("souvenirs/game-1.jpg", expires, sig);
    let now = chrono::Utc::now().timestamp();
    assert!(
        expires_at.is_some_and(|e| (now + 3600..=now + 7200).contains(&e)),
        "valid for one to two hours: {url}"
    );
    assert_eq!(
        storage.verify_media("souvenirs/game-2.jpg", expires, sig),
        None
    );
    assert_eq!(
        storage.public_url("souvenirs/game-1.jpg"),
        None,
        "local URLs expire: no lasting URL"
    );
    // Opened without its key, local storage links to nothing.
    let unsigned = Storage::connect(
        &settings_from(&[
            ("STORAGE", "local"),
            (
                "DATA_DIR",
                dir.path().join("data").to_str().expect("utf-8 path"),
            ),
        ])
        .expect("settings"),
    )
    .await
    .expect("connect");
    assert!(matches!(
        unsigned
            .url("souvenirs/game-1.jpg", "https://ondeck.example")
            .await,
        Err(StorageError::Unsigned { .. })
    ));
    assert_eq!(
        unsigned.verify_media("souvenirs/game-1.jpg", expires, sig),
        None
    );
}

#[tokio::test]
async fn local_refuses_bad_keys() {
    let dir = TempDir::new("local-keys");
    let storage = local_storage(&dir).await;
    for key in BAD_KEYS {
        assert_invalid_key(key, storage.put(key, vec![1], "image/jpeg").await);
        assert_invalid_key(key, storage.get(key).await);
        assert_invalid_key(key, storage.url(key, "http://api.example").await);
        assert_eq!(storage.public_url(key), None, "{key:?}");
    }
    // Nothing was written outside (or inside) the directory.
    assert!(!dir.path().join("escape.jpg").exists());
    assert!(
        std::fs::read_dir(dir.path().join("data"))
            .expect("list")
            .next()
            .is_none()
    );
}

#[tokio::test]
async fn local_connect_fails_when_data_dir_is_a_file() {
    let dir = TempDir::new("local-file");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").expect("write");
    let settings = StorageSettings::Local { dir: file };
    let error = Storage::connect(&settings)
        .await
        .expect_err("DATA_DIR is a file");
    assert!(format!("{error:#}").contains("DATA_DIR"), "{error:#}");
}

/// Readers never see a partly written file: while one task rewrites a large
/// object over and over, another reads it and always finds one whole
/// version. Writes leave no temporary files, and a temporary file left by a
/// crash is invisible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_writes_are_atomic() {
    let dir = TempDir::new("local-atomic");
    let storage = local_storage(&dir).await;
    let key = "souvenirs/big.png";
    let size = 4 << 20;
    let versions: Arc<Vec<Vec<u8>>> = Arc::new((0..3u8).map(|v| vec![b'a' + v; size]).collect());
    storage
        .put(key, versions[0].clone(), "image/png")
        .await
        .expect("first put");

    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (storage, versions, done) = (storage.clone(), versions.clone(), done.clone());
        tokio::spawn(async move {
            for round in 0..30 {
                storage
                    .put(key, versions[round % versions.len()].clone(), "image/png")
                    .await
                    .expect("put");
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut reads = 0;
    while !done.load(Ordering::SeqCst) || reads < 10 {
        let (bytes, _) = storage
            .get(key)
            .await
            .expect("get")
            .expect("the object is always there");
        assert!(
            versions.contains(&bytes),
            "read {} bytes that are not one whole version",
            bytes.len()
        );
        reads += 1;
    }
    writer.await.expect("the writer");

    let names: Vec<String> = std::fs::read_dir(dir.path().join("data/souvenirs"))
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["big.png".to_owned()], "no temporary files left");

    // A crash mid-write leaves a hidden temporary file: it is never served.
    std::fs::write(
        dir.path()
            .join("data/souvenirs/.half.png.0123456789abcdef.tmp"),
        b"half",
    )
    .expect("write a leftover");
    assert_eq!(storage.get("souvenirs/half.png").await.expect("get"), None);
    assert_invalid_key(
        ".half.png.0123456789abcdef.tmp",
        storage
            .get("souvenirs/.half.png.0123456789abcdef.tmp")
            .await,
    );
}

/// `delete_prefix` (what `ondeck purge` uses) on either backend: deletes
/// exactly the objects whose key starts with the prefix, counts them, and
/// deleting again (or under a prefix with nothing) deletes nothing.
async fn delete_prefix_deletes_exactly_the_prefix(storage: &Storage) {
    let kept = [
        "photos/120-0000000a.jpg",
        "photos/2-0000000a.jpg",
        "souvenirs/120.jpg",
    ];
    let gone = [
        "photos/12-0000000a.jpg",
        "photos/12-0000000b.png",
        "souvenirs/12.jpg",
    ];
    for key in kept.iter().chain(&gone) {
        storage
            .put(key, jpeg_bytes(3), "image/jpeg")
            .await
            .expect("put");
    }
    let photos = storage.delete_prefix("photos/12-").await.expect("delete");
    assert_eq!(photos, 2, "both uploads of player 12");
    let souvenirs = storage
        .delete_prefix("souvenirs/12.")
        .await
        .expect("delete");
    assert_eq!(souvenirs, 1, "game 12's souvenir");
    for key in gone {
        let got = storage.get(key).await.expect("get");
        assert!(got.is_none(), "{key} deleted");
    }
    for key in kept {
        let got = storage.get(key).await.expect("get");
        assert!(got.is_some(), "{key} kept");
    }
    let again = storage.delete_prefix("photos/12-").await.expect("again");
    assert_eq!(again, 0, "a repeat deletes nothing");
    let none = storage.delete_prefix("nothing/here-").await.expect("empty");
    assert_eq!(none, 0, "a prefix with nothing under it");
    for bad in ["no-folder", "../photos/1-", "photos/../x-"] {
        assert_invalid_key(bad, storage.delete_prefix(bad).await);
    }
}

#[tokio::test]
async fn s3_delete_prefix_deletes_exactly_the_prefix() {
    let server = S3Server::start();
    delete_prefix_deletes_exactly_the_prefix(&server.storage().await).await;
}

#[tokio::test]
async fn local_delete_prefix_deletes_exactly_the_prefix() {
    let dir = TempDir::new("delete-prefix");
    delete_prefix_deletes_exactly_the_prefix(&local_storage(&dir).await).await;
}
