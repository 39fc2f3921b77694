//! What a key may be: a relative path such as `souvenirs/{game_id}.jpg` of
//! ASCII letters, digits, `.`, `_`, `-` and `/`, with no `..`, no empty
//! segment and no segment starting with a dot. Both backends refuse other
//! keys, so a key that works locally works on S3 and the other way round.

use super::error::StorageError;

/// Longest key accepted (S3's own limit).
const MAX_KEY_LEN: usize = 1024;

/// Checks a key (see the module docs).
pub(super) fn check_key(key: &str) -> Result<(), StorageError> {
    let invalid = |reason: String| {
        Err(StorageError::InvalidKey {
            key: key.chars().take(200).collect(),
            reason,
        })
    };
    if key.is_empty() {
        return invalid("it is empty".to_owned());
    }
    if key.len() > MAX_KEY_LEN {
        return invalid(format!("it is longer than {MAX_KEY_LEN} bytes"));
    }
    if key.starts_with('/') {
        return invalid("it is an absolute path".to_owned());
    }
    if let Some(c) = key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/')))
    {
        return invalid(format!(
            "{c:?} is not allowed (only A-Z a-z 0-9 . _ - and /)"
        ));
    }
    if key.contains("..") {
        return invalid("it contains \"..\"".to_owned());
    }
    for segment in key.split('/') {
        if segment.is_empty() {
            return invalid("it has an empty path segment".to_owned());
        }
        if segment.starts_with('.') {
            return invalid("a path segment starts with '.'".to_owned());
        }
    }
    Ok(())
}

/// Splits a prefix such as `photos/12-` into its folder, a valid key, and
/// the start of a name.
pub(super) fn split_prefix(prefix: &str) -> Result<(&str, &str), StorageError> {
    let Some((folder, start)) = prefix.rsplit_once('/') else {
        return Err(StorageError::InvalidKey {
            key: prefix.chars().take(200).collect(),
            reason: "a prefix needs a directory part".to_owned(),
        });
    };
    check_key(folder)?;
    if !start.is_empty() {
        check_key(start)?;
    }
    Ok((folder, start))
}
