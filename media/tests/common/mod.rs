//! What the storage tests of both backends share: settings read from a
//! list of variables, object bytes, the keys every backend refuses, and the
//! contract of `delete_prefix`.

use ondeck_env::ConfigError;
use ondeck_media::storage::{Storage, StorageError, StorageSettings};

pub fn settings_from(vars: &[(&str, &str)]) -> Result<StorageSettings, ConfigError> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    StorageSettings::from_env(&|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
}

pub fn jpeg_bytes(seed: u8) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0];
    bytes.extend((0..5000u32).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    bytes
}

pub const BAD_KEYS: &[&str] = &[
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

pub fn assert_invalid_key<T: std::fmt::Debug>(key: &str, result: Result<T, StorageError>) {
    match result {
        Err(StorageError::InvalidKey { .. }) => {}
        other => panic!("key {key:?} should be refused, got {other:?}"),
    }
}

/// `delete_prefix` (what `ondeck purge` uses) on either backend: deletes
/// exactly the objects whose key starts with the prefix, counts them, and
/// deleting again (or under a prefix with nothing) deletes nothing.
pub async fn delete_prefix_deletes_exactly_the_prefix(storage: &Storage) {
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
