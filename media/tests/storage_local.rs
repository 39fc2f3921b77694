//! Object storage in a local directory, and the settings that choose it
//! (the default).

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{
    BAD_KEYS, assert_invalid_key, delete_prefix_deletes_exactly_the_prefix, jpeg_bytes,
    settings_from,
};
use ondeck_media::media_key::MediaKey;
use ondeck_media::storage::{Storage, StorageError, StorageSettings};
use ondeck_testkit::TempDir;

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

#[tokio::test]
async fn local_delete_prefix_deletes_exactly_the_prefix() {
    let dir = TempDir::new("delete-prefix");
    delete_prefix_deletes_exactly_the_prefix(&local_storage(&dir).await).await;
}
