//! Settings from the environment, shared by every ondeck crate that reads
//! its own: the `X_FILE` rule, the parsers the settings have in common, and
//! the one error they all report, a line that names the variable.
//!
//! Every variable `X` may instead be given as `X_FILE`, naming a file that
//! holds it (as Docker secrets are mounted). Values are trimmed, and an empty
//! value counts as unset.

use std::str::FromStr;

/// Where settings come from: the process environment ([`process`]), or a map
/// in tests.
pub type Source<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, as a [`Source`].
pub fn process(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Fixed `(name, value)` pairs, as a [`Source`]: the settings a test gives.
pub fn pairs(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k: &str| map.get(k).cloned()
}

/// A setting that is missing or malformed. Displays as `VAR: problem`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    pub var: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(var: &str, problem: impl Into<String>) -> Self {
        ConfigError {
            var: var.to_owned(),
            problem: problem.into(),
        }
    }
}

/// Reads `name`, or the file `name_FILE` points at; `None` when neither is
/// set. Setting both is an error, and so is a file that cannot be read or
/// holds nothing.
pub fn var(env: Source, name: &str) -> Result<Option<String>, ConfigError> {
    let file_var = format!("{name}_FILE");
    let direct = env(name).filter(|v| !v.trim().is_empty());
    let file = env(&file_var).filter(|v| !v.trim().is_empty());
    match (direct, file) {
        (Some(_), Some(_)) => Err(ConfigError::new(
            name,
            format!("set either {name} or {file_var}, not both"),
        )),
        (Some(v), None) => Ok(Some(v.trim().to_owned())),
        (None, Some(path)) => match std::fs::read_to_string(&path) {
            Ok(v) if !v.trim().is_empty() => Ok(Some(v.trim().to_owned())),
            Ok(_) => Err(ConfigError::new(&file_var, format!("{path} is empty"))),
            Err(e) => Err(ConfigError::new(
                &file_var,
                format!("cannot read {path}: {e}"),
            )),
        },
        (None, None) => Ok(None),
    }
}

/// [`var`], refusing an unset variable.
pub fn required(env: Source, name: &str) -> Result<String, ConfigError> {
    var(env, name)?.ok_or_else(|| ConfigError::new(name, "is required but not set"))
}

/// `name` parsed as a `T`, if set; `expect` says what was wanted, e.g. "an
/// address such as 127.0.0.1:8000".
pub fn optional<T: FromStr>(
    env: Source,
    name: &str,
    expect: &str,
) -> Result<Option<T>, ConfigError> {
    var(env, name)?
        .map(|raw| {
            raw.parse()
                .map_err(|_| ConfigError::new(name, format!("expected {expect}, got {raw:?}")))
        })
        .transpose()
}

/// [`optional`], with `default` when unset.
pub fn parsed<T: FromStr>(
    env: Source,
    name: &str,
    default: T,
    expect: &str,
) -> Result<T, ConfigError> {
    Ok(optional(env, name, expect)?.unwrap_or(default))
}

/// A whole number from `min` to `max`, `default` when unset.
pub fn bounded(
    env: Source,
    name: &str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    let expect = format!("a whole number from {min} to {max}");
    let value: u64 = parsed(env, name, default, &expect)?;
    if value < min || value > max {
        return Err(ConfigError::new(
            name,
            format!("expected {expect}, got {value}"),
        ));
    }
    Ok(value)
}

/// [`bounded`], read as whole seconds.
pub fn seconds(
    env: Source,
    name: &str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<std::time::Duration, ConfigError> {
    bounded(env, name, default, min, max).map(std::time::Duration::from_secs)
}

/// `true`/`1`/`yes`/`on` or `false`/`0`/`no`/`off` in any case; false when
/// unset.
pub fn boolean(env: Source, name: &str) -> Result<bool, ConfigError> {
    match var(env, name)?
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("false" | "0" | "no" | "off") => Ok(false),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some(other) => Err(ConfigError::new(
            name,
            format!("expected true or false, got {other:?}"),
        )),
    }
}

/// One of `allowed`, in any case; `default` when unset.
pub fn choice(
    env: Source,
    name: &str,
    default: &'static str,
    allowed: &[&'static str],
) -> Result<&'static str, ConfigError> {
    match var(env, name)? {
        None => Ok(default),
        Some(raw) => allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(&raw))
            .copied()
            .ok_or_else(|| {
                ConfigError::new(
                    name,
                    format!("expected one of {}, got {raw:?}", allowed.join(", ")),
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("ondeck-env-{name}-{}", std::process::id()));
        std::fs::write(&path, text).expect("write a temporary file");
        path
    }

    #[test]
    fn values_are_trimmed_and_empty_counts_as_unset() {
        let env = pairs(&[("A", "  x \n"), ("B", "   ")]);
        assert_eq!(var(&env, "A"), Ok(Some("x".to_owned())));
        assert_eq!(var(&env, "B"), Ok(None));
        assert_eq!(var(&env, "C"), Ok(None));
        assert_eq!(required(&env, "B").expect_err("unset").var, "B");
    }

    #[test]
    fn the_file_variant_reads_the_file_and_is_named_when_it_cannot() {
        let full = temp_file("full", "secret\n");
        let empty = temp_file("empty", "\n");
        let full_path = full.to_string_lossy().into_owned();
        let empty_path = empty.to_string_lossy().into_owned();
        let read = var(&pairs(&[("TOKEN_FILE", &full_path)]), "TOKEN");
        let both = var(
            &pairs(&[("TOKEN", "x"), ("TOKEN_FILE", &full_path)]),
            "TOKEN",
        );
        let blank = var(&pairs(&[("TOKEN_FILE", &empty_path)]), "TOKEN");
        let missing = var(&pairs(&[("TOKEN_FILE", "/nonexistent/ondeck")]), "TOKEN");
        std::fs::remove_file(full).ok();
        std::fs::remove_file(empty).ok();
        assert_eq!(read, Ok(Some("secret".to_owned())));
        let both = both.expect_err("both set");
        assert_eq!(
            both.to_string(),
            "TOKEN: set either TOKEN or TOKEN_FILE, not both"
        );
        assert_eq!(blank.expect_err("empty file").var, "TOKEN_FILE");
        let missing = missing.expect_err("no such file");
        assert_eq!(missing.var, "TOKEN_FILE");
        assert!(
            missing
                .problem
                .starts_with("cannot read /nonexistent/ondeck: "),
            "{missing}"
        );
    }

    #[test]
    fn numbers_outside_their_bounds_are_refused_with_the_bounds() {
        let env = pairs(&[("LOW", "0"), ("WORD", "two"), ("OK", "7")]);
        assert_eq!(bounded(&env, "UNSET", 5, 1, 10), Ok(5));
        assert_eq!(bounded(&env, "OK", 5, 1, 10), Ok(7));
        assert_eq!(
            bounded(&env, "LOW", 5, 1, 10)
                .expect_err("too low")
                .to_string(),
            "LOW: expected a whole number from 1 to 10, got 0"
        );
        assert_eq!(
            bounded(&env, "WORD", 5, 1, 10)
                .expect_err("a word")
                .to_string(),
            "WORD: expected a whole number from 1 to 10, got \"two\""
        );
    }

    #[test]
    fn booleans_and_choices_take_any_case() {
        let env = pairs(&[
            ("ON", "Yes"),
            ("OFF", "OFF"),
            ("ODD", "maybe"),
            ("FMT", "JSON"),
        ]);
        assert_eq!(boolean(&env, "ON"), Ok(true));
        assert_eq!(boolean(&env, "OFF"), Ok(false));
        assert_eq!(boolean(&env, "UNSET"), Ok(false));
        assert_eq!(boolean(&env, "ODD").expect_err("maybe").var, "ODD");
        assert_eq!(choice(&env, "FMT", "text", &["text", "json"]), Ok("json"));
        assert_eq!(choice(&env, "UNSET", "text", &["text", "json"]), Ok("text"));
        assert_eq!(
            choice(&env, "ON", "text", &["text", "json"])
                .expect_err("yes")
                .to_string(),
            "ON: expected one of text, json, got \"Yes\""
        );
    }
}
