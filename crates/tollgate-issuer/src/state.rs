//! The state directory (`--state DIR`): the issuer's keys on disk, so a restart keeps them
//! and `tollgate mint --state DIR` signs with the issuer's current key.
//!
//! Layout: one PKCS#8 PEM file per published key (`key-<kid>.pem`), the HMAC secret
//! (`hmac.secret`, base64url) and `keys.json`, which names them:
//! `{"format": 1, "issuer", "audience", "current": kid, "keys": [{kid, alg, file, created,
//! retire_at}], "hmac_file"}`. Private files are written with mode 0600.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tollgate::{b64, Algorithm, SigningKey};

use crate::error::IssuerError;
use crate::keyring::{IssuerKey, KeyRing, Retiring};

/// The index file of a state directory.
pub const STATE_FILE: &str = "keys.json";
const HMAC_FILE: &str = "hmac.secret";
const FORMAT: u32 = 1;

/// What `keys.json` records.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StoredState {
    /// Layout version (1).
    pub format: u32,
    /// The issuer URL the keys were last served under.
    #[serde(default)]
    pub issuer: Option<String>,
    /// The audience the issuer was last started with.
    #[serde(default)]
    pub audience: Option<String>,
    /// The kid of the current signing key.
    pub current: String,
    /// Every published key.
    pub keys: Vec<StoredKey>,
    /// The file holding the HMAC secret.
    pub hmac_file: String,
}

/// One key in `keys.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StoredKey {
    /// Its kid.
    pub kid: String,
    /// Its algorithm.
    pub alg: Algorithm,
    /// Its PEM file, relative to the directory.
    pub file: String,
    /// Unix time it was created.
    pub created: i64,
    /// Unix time it leaves the JWKS (keys rotated out); `null` for the current key.
    #[serde(default)]
    pub retire_at: Option<i64>,
}

impl StoredState {
    /// The entry of the current key.
    pub fn current_key(&self) -> Option<&StoredKey> {
        self.keys.iter().find(|k| k.kid == self.current)
    }
}

fn state_err(path: &Path, reason: impl Into<String>) -> IssuerError {
    IssuerError::State {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Kids become file names: only base64url characters are accepted.
fn safe_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= 128
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Reads `keys.json` from `dir`; `Ok(None)` when the directory has none yet.
pub fn read_state(dir: &Path) -> Result<Option<StoredState>, IssuerError> {
    let path = dir.join(STATE_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(state_err(&path, format!("cannot read it: {e}"))),
    };
    let state: StoredState = serde_json::from_slice(&bytes).map_err(|e| {
        state_err(
            &path,
            format!("is not a Tollgate issuer state file ({e}); remove the directory to start with new keys"),
        )
    })?;
    if state.format != FORMAT {
        return Err(state_err(
            &path,
            format!(
                "has format {}, this version reads format {FORMAT}",
                state.format
            ),
        ));
    }
    for key in &state.keys {
        if !safe_kid(&key.kid) || key.file.contains(['/', '\\']) {
            return Err(state_err(
                &path,
                format!("names an unexpected key file {:?}", key.file),
            ));
        }
    }
    if state.current_key().is_none() {
        return Err(state_err(
            &path,
            format!("the current kid {:?} is not among its keys", state.current),
        ));
    }
    Ok(Some(state))
}

fn load_key(dir: &Path, stored: &StoredKey) -> Result<SigningKey, IssuerError> {
    let path = dir.join(&stored.file);
    let pem = std::fs::read_to_string(&path)
        .map_err(|e| state_err(&path, format!("cannot read the key: {e}")))?;
    SigningKey::from_pem(stored.alg, &pem, Some(stored.kid.clone()))
        .map_err(|e| state_err(&path, format!("is not a {} private key: {e}", stored.alg)))
}

/// Loads the current signing key of a state directory (for `tollgate mint --state`), with
/// the recorded state. The HMAC secret is returned too.
pub fn load_current_key(dir: &Path) -> Result<(SigningKey, Vec<u8>, StoredState), IssuerError> {
    let state = read_state(dir)?.ok_or_else(|| {
        state_err(
            dir,
            format!(
                "has no {STATE_FILE}; start `tollgate issuer --state {}` once to create its keys",
                dir.display()
            ),
        )
    })?;
    let current = state
        .current_key()
        .ok_or_else(|| state_err(dir, "no current key"))?;
    let key = load_key(dir, current)?;
    let secret = load_hmac(dir, &state)?;
    Ok((key, secret, state))
}

fn load_hmac(dir: &Path, state: &StoredState) -> Result<Vec<u8>, IssuerError> {
    let path = dir.join(&state.hmac_file);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| state_err(&path, format!("cannot read the HMAC secret: {e}")))?;
    b64::decode(text.trim()).map_err(|e| state_err(&path, format!("the HMAC secret {e}")))
}

/// Loads the key ring of `dir`, dropping keys whose grace period ended while the issuer
/// was stopped. `Ok(None)` when the directory holds no state yet.
pub(crate) fn load_ring(dir: &Path) -> Result<Option<(KeyRing, StoredState)>, IssuerError> {
    let Some(state) = read_state(dir)? else {
        return Ok(None);
    };
    let now_unix = tollgate::clock::unix_now();
    let now = Instant::now();
    let mut current = None;
    let mut retiring = Vec::new();
    for stored in &state.keys {
        let key = load_key(dir, stored)?;
        let entry = Arc::new(IssuerKey::from_key(key, stored.kid.clone(), stored.created));
        if stored.kid == state.current {
            current = Some(entry);
        } else if let Some(at) = stored.retire_at {
            if at > now_unix {
                retiring.push(Retiring {
                    key: entry,
                    retire_at: now + Duration::from_secs((at - now_unix) as u64),
                    retire_at_unix: at,
                });
            }
        }
    }
    retiring.sort_by_key(|r| r.retire_at_unix);
    let current = current.ok_or_else(|| state_err(dir, "no current key"))?;
    let hmac_secret = load_hmac(dir, &state)?;
    Ok(Some((
        KeyRing {
            current,
            retiring,
            hmac_secret,
        },
        state,
    )))
}

fn write_private(path: &Path, contents: &[u8]) -> Result<(), IssuerError> {
    use std::io::Write;
    let tmp: PathBuf = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = options
        .open(&tmp)
        .and_then(|mut f| f.write_all(contents).and_then(|_| f.sync_all()))
        .and_then(|_| std::fs::rename(&tmp, path));
    result.map_err(|e| state_err(path, format!("cannot write it: {e}")))
}

/// Writes the ring to `dir` (created if needed), removing key files no longer published.
pub(crate) fn save_ring(
    dir: &Path,
    ring: &KeyRing,
    issuer: &str,
    audience: &str,
) -> Result<(), IssuerError> {
    std::fs::create_dir_all(dir).map_err(|e| state_err(dir, format!("cannot create it: {e}")))?;
    let mut keys = Vec::new();
    let mut entries: Vec<(&Arc<IssuerKey>, Option<i64>)> = vec![(&ring.current, None)];
    entries.extend(
        ring.retiring
            .iter()
            .map(|r| (&r.key, Some(r.retire_at_unix))),
    );
    for (key, retire_at) in entries {
        let file = format!("key-{}.pem", key.kid);
        let path = dir.join(&file);
        if !path.exists() {
            write_private(&path, key.key.to_pem()?.as_bytes())?;
        }
        keys.push(StoredKey {
            kid: key.kid.clone(),
            alg: key.alg(),
            file,
            created: key.created,
            retire_at,
        });
    }
    write_private(
        &dir.join(HMAC_FILE),
        b64::encode(&ring.hmac_secret).as_bytes(),
    )?;
    let state = StoredState {
        format: FORMAT,
        issuer: Some(issuer.to_string()),
        audience: Some(audience.to_string()),
        current: ring.current.kid.clone(),
        keys,
        hmac_file: HMAC_FILE.to_string(),
    };
    let json = serde_json::to_vec_pretty(&state)
        .map_err(|e| state_err(dir, format!("cannot encode the state: {e}")))?;
    write_private(&dir.join(STATE_FILE), &json)?;
    // Remove the files of keys that left the JWKS.
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("key-")
                && name.ends_with(".pem")
                && !state.keys.iter().any(|k| k.file == name)
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(())
}
