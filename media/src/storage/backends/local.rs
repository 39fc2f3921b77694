//! Local storage: objects are files under `DATA_DIR`, written atomically,
//! served by the API at `/media/` to URLs signed with the media key.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::media_key::{self, MediaKey};
use crate::storage::error::StorageError;
use crate::storage::keys::split_prefix;

/// Files under a directory.
pub(crate) struct LocalBackend {
    pub(crate) dir: PathBuf,
    /// Signs and verifies `/media/` URLs; `None` when opened with
    /// [`Storage::connect`](crate::storage::Storage::connect) (no URLs, e.g.
    /// for `ondeck purge`).
    pub(crate) media_key: Option<MediaKey>,
}

impl LocalBackend {
    /// Creates the directory if it is missing.
    pub(crate) async fn open(dir: PathBuf) -> anyhow::Result<LocalBackend> {
        let created = dir.clone();
        blocking(move || std::fs::create_dir_all(&created))
            .await
            .with_context(|| format!("DATA_DIR: cannot create {}", dir.display()))?;
        Ok(LocalBackend {
            dir,
            media_key: None,
        })
    }

    /// The same directory, signing its URLs with `key`.
    pub(crate) fn with_media_key(&self, key: MediaKey) -> LocalBackend {
        LocalBackend {
            dir: self.dir.clone(),
            media_key: Some(key),
        }
    }

    /// Writes `bytes` under `key` (a checked key), atomically.
    pub(crate) async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        let path = self.dir.join(key);
        let target = path.clone();
        blocking(move || write_atomically(&target, &bytes))
            .await
            .map_err(io_error("writing", &path))
    }

    /// The file under `key` (a checked key) and its content type, from the
    /// key's extension; `None` when there is no such file.
    pub(crate) async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, StorageError> {
        let path = self.dir.join(key);
        let source = path.clone();
        let read = blocking(move || match std::fs::read(&source) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound
                        | std::io::ErrorKind::IsADirectory
                        | std::io::ErrorKind::NotADirectory
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        })
        .await
        .map_err(io_error("reading", &path))?;
        Ok(read.map(|bytes| (bytes, content_type_of(key).to_owned())))
    }

    /// `{public_base_url}/media/{key}?expires=...&sig=...`; an error without
    /// a media key.
    pub(crate) fn url(&self, key: &str, public_base_url: &str) -> Result<String, StorageError> {
        match &self.media_key {
            Some(media_key) => Ok(format!(
                "{}/media/{key}?{}",
                public_base_url.trim_end_matches('/'),
                media_key.query(key, media_key::now())
            )),
            None => Err(StorageError::Unsigned {
                key: key.to_owned(),
            }),
        }
    }

    /// The expiry of a good `/media/` signature of `key`; `None` for a bad,
    /// expired or missing one, and without a media key.
    pub(crate) fn verify_media(&self, key: &str, expires: &str, sig: &str) -> Option<i64> {
        let media_key = self.media_key.as_ref()?;
        media_key.verify(key, expires, sig, media_key::now())
    }

    /// Deletes the files under each prefix, reading each folder once however
    /// many prefixes name it; one outcome per prefix, in order.
    pub(crate) async fn delete_prefixes(
        &self,
        prefixes: &[String],
    ) -> Vec<Result<usize, StorageError>> {
        let mut outcomes: Vec<Result<usize, StorageError>> =
            prefixes.iter().map(|_| Ok(0)).collect();
        // folder -> start of a name -> the prefix's index
        let mut folders: BTreeMap<&str, HashMap<String, usize>> = Default::default();
        for (i, prefix) in prefixes.iter().enumerate() {
            match split_prefix(prefix) {
                Ok((folder, start)) => {
                    folders
                        .entry(folder)
                        .or_default()
                        .insert(start.to_owned(), i);
                }
                Err(e) => outcomes[i] = Err(e),
            }
        }
        for (folder, starts) in folders {
            let path = self.dir.join(folder);
            let listed = path.clone();
            let deleted = blocking(move || delete_matching(&listed, &starts)).await;
            match deleted {
                Ok(results) => {
                    for (i, result) in results {
                        outcomes[i] = result.map_err(|(file, error)| StorageError::Io {
                            op: "deleting",
                            path: file,
                            error,
                        });
                    }
                }
                Err(e) => {
                    // The folder itself could not be read: every prefix in
                    // it failed the same way.
                    for (i, prefix) in prefixes.iter().enumerate() {
                        if split_prefix(prefix).is_ok_and(|(f, _)| f == folder) {
                            outcomes[i] = Err(StorageError::Io {
                                op: "listing",
                                path: path.clone(),
                                error: std::io::Error::new(e.kind(), e.to_string()),
                            });
                        }
                    }
                }
            }
        }
        outcomes
    }

    /// Readiness: the directory exists and is writable.
    pub(crate) async fn check(&self) -> Result<(), StorageError> {
        let probe_dir = self.dir.clone();
        blocking(move || {
            std::fs::create_dir_all(&probe_dir)?;
            let probe = temp_path(&probe_dir, "check");
            let written = std::fs::File::create_new(&probe).and_then(|mut f| f.write_all(b"ok"));
            let _ = std::fs::remove_file(&probe);
            written
        })
        .await
        .map_err(io_error("checking that it can write to", &self.dir))
    }
}

fn io_error(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StorageError {
    let path = path.to_owned();
    move |error| StorageError::Io { op, path, error }
}

/// The content type of a local file, from its extension.
fn content_type_of(key: &str) -> &'static str {
    let name = key.rsplit('/').next().unwrap_or(key);
    match name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .as_deref()
    {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

/// Runs blocking file work off the async threads.
async fn blocking<T, F>(f: F) -> std::io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> std::io::Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(std::io::Error::other)?
}

/// A temporary file name next to `path`: hidden (so no valid key names it)
/// and unique.
fn temp_path(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!(".{stem}.{:016x}.tmp", rand::random::<u64>()))
}

/// Writes `bytes` to `path` so that readers see either the old content or
/// the new, never a part: a temporary file in the same directory, synced,
/// then renamed over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = path
        .parent()
        .ok_or_else(|| std::io::Error::other("no parent directory"))?;
    std::fs::create_dir_all(parent)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("object");
    let temp = temp_path(parent, name);
    let written = (|| {
        let mut file = std::fs::File::create_new(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
        return written;
    }
    // Make the rename itself durable; best effort (not every platform can
    // open a directory for syncing).
    if let Ok(dir) = std::fs::File::open(parent) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// What deleting under one prefix came to: how many files, or the file that
/// could not be deleted.
type Deleted = Result<usize, (PathBuf, std::io::Error)>;

/// Deletes the files of `folder` whose name starts with one of `starts`
/// (start -> the caller's index); returns each index's count, or the file
/// that could not be deleted. A missing folder holds nothing.
fn delete_matching(
    folder: &Path,
    starts: &HashMap<String, usize>,
) -> std::io::Result<Vec<(usize, Deleted)>> {
    let mut results: HashMap<usize, Deleted> = starts.values().map(|&i| (i, Ok(0))).collect();
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(results.into_iter().collect());
        }
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        // Every start the name begins with (names are short).
        let matching = name
            .char_indices()
            .map(|(at, c)| &name[..at + c.len_utf8()])
            .filter_map(|head| starts.get(head));
        let matching: Vec<usize> = matching.copied().collect();
        if matching.is_empty() {
            continue;
        }
        let removed = std::fs::remove_file(entry.path());
        for i in matching {
            let slot = results.entry(i).or_insert(Ok(0));
            match &removed {
                Ok(()) => {
                    if let Ok(n) = slot {
                        *n += 1;
                    }
                }
                Err(e) => {
                    *slot = Err((entry.path(), std::io::Error::new(e.kind(), e.to_string())));
                }
            }
        }
    }
    Ok(results.into_iter().collect())
}
