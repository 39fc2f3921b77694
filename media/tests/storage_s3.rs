//! Object storage on S3, against a real S3-compatible server on loopback
//! (s3s-fs, which checks request signatures), and the settings that choose
//! it.
//!
//! The tests need the `s3s-fs` binary: `$ONDECK_S3S_FS`, else `s3s-fs` on
//! PATH, else `~/.cargo/bin/s3s-fs`. Without it they fail and say how to
//! install it (`deploy/test` installs it through `ondeck_s3s_fs`).
//!
//! Credentials: the workspace forbids `unsafe`, and setting environment
//! variables is `unsafe` in edition 2024, so most tests pass static
//! credentials through `Storage::connect_with_credentials`. The AWS
//! credential chain of `Storage::connect` is tested in a child process (this
//! test binary again) that gets `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`
//! in its environment.

mod common;

use std::process::Command;

use common::{
    BAD_KEYS, assert_invalid_key, delete_prefix_deletes_exactly_the_prefix, jpeg_bytes,
    settings_from,
};
use ondeck_media::storage::{S3Credentials, Storage, StorageSettings};
use ondeck_testkit::S3;

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

/// Puts `bytes` at `key`, then gets them back: the same bytes, with the
/// content type they were put with.
async fn assert_round_trip(storage: &Storage, key: &str, bytes: Vec<u8>, content_type: &str) {
    storage
        .put(key, bytes.clone(), content_type)
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e}"));
    let got = storage
        .get(key)
        .await
        .unwrap_or_else(|e| panic!("get {key}: {e}"));
    assert_eq!(got, Some((bytes, content_type.to_owned())), "{key}");
}

// --- settings ------------------------------------------------------------------

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
    let mut cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("STORAGE", "ftp")], "STORAGE"),
        (vec![("STORAGE", "s3")], "S3_BUCKET"),
        (vec![("STORAGE", "s3"), ("S3_BUCKET", "a/b")], "S3_BUCKET"),
    ];
    // A good bucket, and one bad setting beside it.
    for (var, bad) in [
        ("S3_REGION", "eu west"),
        ("S3_ENDPOINT", "127.0.0.1:9000"),
        ("S3_PUBLIC_BASE_URL", "cdn.example.com"),
    ] {
        cases.push((
            vec![("STORAGE", "s3"), ("S3_BUCKET", "media"), (var, bad)],
            var,
        ));
    }
    for (vars, var) in cases {
        let error = settings_from(&vars).expect_err("a bad setting");
        assert_eq!(error.var, var, "{vars:?}");
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

    let key = "souvenirs/game-1.jpg";
    assert_round_trip(&storage, key, jpeg_bytes(1), "image/jpeg").await;
    // An empty object and a deeper key work too.
    let key = "photos/2026/11/empty.png";
    assert_round_trip(&storage, key, Vec::new(), "image/png").await;
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
    assert_round_trip(&storage, "souvenirs/game-2.jpg", second, "image/png").await;
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
            assert_round_trip(&storage, "chain/ok.jpg", jpeg_bytes(3), "image/jpeg").await;
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

#[tokio::test]
async fn s3_delete_prefix_deletes_exactly_the_prefix() {
    let server = S3Server::start();
    delete_prefix_deletes_exactly_the_prefix(&server.storage().await).await;
}
