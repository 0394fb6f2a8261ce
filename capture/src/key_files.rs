//! Capture keys as text: environment entries and key files.
//!
//! A key file holds the key on its first non-comment line (`KEY_ID.key`: the base64url
//! private key; `KEY_ID.pub`: `KEY_ID:BASE64URL`, as `liveness keygen` prints it) and,
//! optionally, its schedule as `activated_at = RFC 3339` and `retired_at = RFC 3339` lines.
//! The worker reads `*.key` files, the producer only `*.pub` files, so the two can live in one
//! folder (the local stack) or in separate ones (docker-compose.yml: the producer never
//! mounts a private key).

use crate::keys::{
    KeyError, KeyId, KeySchedule, Keyring, PrivateKey, PublicKey, PublicKeyring,
    DEFAULT_KEY_GRACE_SECS,
};
use chrono::{DateTime, SecondsFormat, Utc};
use std::path::Path;
use std::time::Duration;

/// The key line and the schedule of a key file's text.
fn parse(text: &str, path: &str) -> Result<(String, KeySchedule), KeyError> {
    let bad = |reason: String| KeyError::BadFile {
        path: path.to_string(),
        reason,
    };
    let mut key = None;
    let mut schedule = KeySchedule::default();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let field = line
            .split_once('=')
            .map(|(name, value)| (name.trim(), value.trim()));
        match field {
            Some((name @ ("activated_at" | "retired_at"), value)) => {
                let at = DateTime::parse_from_rfc3339(value)
                    .map_err(|e| bad(format!("{name} {value:?} is not RFC 3339: {e}")))?
                    .timestamp_millis()
                    .max(0) as u64;
                if name == "activated_at" {
                    schedule.activated_at_ms = at;
                } else {
                    schedule.retired_at_ms = Some(at);
                }
            }
            Some((name, _)) if !name.contains(':') && key.is_none() && name.len() < 32 => {
                return Err(bad(format!("unknown setting {name:?}")));
            }
            _ if key.is_none() => key = Some(line.to_string()),
            _ => return Err(bad("more than one key line".into())),
        }
    }
    let key = key.ok_or_else(|| bad("no key in the file".into()))?;
    Ok((key, schedule))
}

fn rfc3339(ms: u64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms as i64)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The text of a key file: a comment, the key line, the schedule.
pub fn render_key_file(comment: &str, key_line: &str, schedule: &KeySchedule) -> String {
    let mut text = format!("# {comment}\n{key_line}\n");
    text.push_str(&format!(
        "activated_at = {}\n",
        rfc3339(schedule.activated_at_ms)
    ));
    if let Some(retired) = schedule.retired_at_ms {
        text.push_str(&format!("retired_at = {}\n", rfc3339(retired)));
    }
    text
}

/// A key file's text with `retired_at` set (replaced if there was one).
pub fn retire_key_file(text: &str, retired_at_ms: u64) -> String {
    let mut out: String = text
        .lines()
        .filter(|l| {
            l.split_once('=')
                .is_none_or(|(name, _)| name.trim() != "retired_at")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    out.push_str(&format!("retired_at = {}\n", rfc3339(retired_at_ms)));
    out
}

/// Private key files must not be readable by anyone but their owner (as ssh insists).
fn check_private_mode(path: &Path) -> Result<(), KeyError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|source| KeyError::Io {
                path: path.display().to_string(),
                source,
            })?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(KeyError::BadFile {
                path: path.display().to_string(),
                reason: format!(
                    "a private key readable by group or others (mode {:o}); chmod 600 it",
                    mode & 0o777
                ),
            });
        }
    }
    Ok(())
}

/// `(key id, path, text)` of every file of `dir` with this extension.
fn files(dir: &Path, extension: &str) -> Result<Vec<(KeyId, String, String)>, KeyError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| KeyError::Io { path, source }
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.extension().is_some_and(|e| e == extension) {
            let id = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            let id = KeyId::parse(id)?;
            if extension == "key" {
                check_private_mode(&path)?;
            }
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            found.push((id, path.display().to_string(), text));
        }
    }
    Ok(found)
}

fn grace_from_env() -> Result<Duration, KeyError> {
    match std::env::var("LIVENESS_CAPTURE_KEY_GRACE_SECS") {
        Err(_) => Ok(Duration::from_secs(DEFAULT_KEY_GRACE_SECS)),
        Ok(v) => v
            .trim()
            .parse()
            .map(Duration::from_secs)
            .map_err(|_| KeyError::BadFile {
                path: "LIVENESS_CAPTURE_KEY_GRACE_SECS".into(),
                reason: format!("{v:?} is not a number of seconds"),
            }),
    }
}

fn entries(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|e| !e.is_empty())
}

impl Keyring {
    /// `KEY_ID=BASE64URL` entries separated by commas or whitespace (active, never retired).
    pub fn from_entries(text: &str) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for entry in entries(text) {
            let (id, key) = entry
                .split_once('=')
                .ok_or_else(|| KeyError::BadEntry(entry.into()))?;
            keys.push(PrivateKey::from_base64(KeyId::parse(id)?, key)?);
        }
        Ok(Self::new(keys))
    }

    /// Every `KEY_ID.key` file of a folder (mode 600), with its schedule.
    pub fn from_dir(dir: &Path) -> Result<Self, KeyError> {
        let mut ring = Self::default();
        for (id, path, text) in files(dir, "key")? {
            let (key, schedule) = parse(&text, &path)?;
            ring.insert(PrivateKey::from_base64(id, &key)?, schedule);
        }
        Ok(ring)
    }

    /// LIVENESS_CAPTURE_KEYS (entries) and LIVENESS_CAPTURE_KEY_DIR (folder), merged, with
    /// LIVENESS_CAPTURE_KEY_GRACE_SECS (default a day) for retired keys.
    pub fn from_env() -> Result<Self, KeyError> {
        let mut ring = Keyring::default();
        if let Ok(text) = std::env::var("LIVENESS_CAPTURE_KEYS") {
            ring.merge(Self::from_entries(&text)?);
        }
        if let Ok(dir) = std::env::var("LIVENESS_CAPTURE_KEY_DIR") {
            ring.merge(Self::from_dir(Path::new(&dir))?);
        }
        if ring.is_empty() {
            return Err(KeyError::NoKeys(
                "LIVENESS_CAPTURE_KEYS or LIVENESS_CAPTURE_KEY_DIR",
            ));
        }
        Ok(ring.with_grace(grace_from_env()?))
    }
}

impl PublicKeyring {
    /// `KEY_ID:BASE64URL` entries separated by commas or whitespace (active, never retired).
    pub fn from_entries(text: &str) -> Result<Self, KeyError> {
        let mut ring = Self::default();
        for entry in entries(text) {
            ring.insert(PublicKey::parse_tagged(entry)?, KeySchedule::default());
        }
        Ok(ring)
    }

    /// Every `KEY_ID.pub` file of a folder, with its schedule; `*.key` files are not read.
    pub fn from_dir(dir: &Path) -> Result<Self, KeyError> {
        let mut ring = Self::default();
        for (id, path, text) in files(dir, "pub")? {
            let (key, schedule) = parse(&text, &path)?;
            let key = PublicKey::parse_tagged(&key)?;
            if key.key_id != id {
                return Err(KeyError::BadFile {
                    path,
                    reason: format!("names key {} but the file is named {id}", key.key_id),
                });
            }
            ring.insert(key, schedule);
        }
        Ok(ring)
    }

    /// LIVENESS_CAPTURE_PUBLIC_KEYS (entries) and LIVENESS_CAPTURE_PUBLIC_KEY_DIR (folder),
    /// merged, with LIVENESS_CAPTURE_KEY_GRACE_SECS.
    pub fn from_env() -> Result<Self, KeyError> {
        let mut ring = Self::default();
        if let Ok(text) = std::env::var("LIVENESS_CAPTURE_PUBLIC_KEYS") {
            ring.merge(Self::from_entries(&text)?);
        }
        if let Ok(dir) = std::env::var("LIVENESS_CAPTURE_PUBLIC_KEY_DIR") {
            ring.merge(Self::from_dir(Path::new(&dir))?);
        }
        if ring.is_empty() {
            return Err(KeyError::NoKeys(
                "LIVENESS_CAPTURE_PUBLIC_KEYS or LIVENESS_CAPTURE_PUBLIC_KEY_DIR",
            ));
        }
        ring.set_grace_ms(grace_from_env()?.as_millis() as u64);
        Ok(ring)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_round_trip_with_their_schedule() {
        let dir = std::env::temp_dir().join(format!("lv-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = PrivateKey::generate(KeyId::parse("k1").unwrap());
        let schedule = KeySchedule {
            activated_at_ms: 1_764_900_000_000,
            retired_at_ms: None,
        };
        let private = dir.join("k1.key");
        std::fs::write(
            &private,
            render_key_file("private", &key.to_base64(), &schedule),
        )
        .unwrap();
        let public = render_key_file("public", &key.public().to_tagged(), &schedule);
        let retired = retire_key_file(&public, 1_764_990_000_000);
        std::fs::write(dir.join("k1.pub"), &retired).unwrap();

        // World-readable private keys are refused; 600 ones load.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            Keyring::from_dir(&dir),
            Err(KeyError::BadFile { .. })
        ));
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
        let ring = Keyring::from_dir(&dir).unwrap();
        assert!(ring.get("k1").is_some());

        let publics = PublicKeyring::from_dir(&dir).unwrap();
        assert_eq!(publics.offered(1_764_950_000_000).len(), 1);
        assert!(publics.offered(1_764_990_000_000).is_empty(), "{retired}");
        assert!(
            publics.accepts("k1", 1_764_990_000_000),
            "within the grace period"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn entries_and_bad_files_are_parsed_strictly() {
        let key = PrivateKey::generate(KeyId::parse("k1").unwrap());
        let ring = Keyring::from_entries(&format!("k1={}", key.to_base64())).unwrap();
        assert!(ring.get("k1").is_some() && ring.get("k2").is_none());
        assert!(Keyring::from_entries("k1").is_err());
        let publics = PublicKeyring::from_entries(&key.public().to_tagged()).unwrap();
        assert!(publics.accepts("k1", 0));
        assert!(parse("activated_at = yesterday\nabc", "f").is_err());
        assert!(parse("rotate = weekly\nabc", "f").is_err());
        assert!(parse("# nothing", "f").is_err());
        assert!(parse("abc\ndef", "f").is_err());
        // A legacy file: the bare key line only, active since ever.
        assert_eq!(
            parse("abc\n", "f").unwrap(),
            ("abc".into(), KeySchedule::default())
        );
    }
}
