//! The issuer's keys: the current signing key, the keys rotated out but still published for
//! their grace period, and the HMAC secret used to mint HS* test tokens.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;
use tollgate::{Algorithm, SigningKey};

use crate::error::IssuerError;

/// Length of the generated HS256 secret: 32 bytes, the size of the SHA-256 output
/// (RFC 7518 section 3.2 requires at least that).
const HMAC_SECRET_LEN: usize = 32;

/// One asymmetric signing key of the issuer.
#[derive(Debug)]
pub(crate) struct IssuerKey {
    pub(crate) kid: String,
    pub(crate) key: SigningKey,
    pub(crate) jwk: Value,
    /// Unix time the key was created.
    pub(crate) created: i64,
}

impl IssuerKey {
    /// Generates a key for `alg`; its kid is derived from its thumbprint.
    pub(crate) fn generate(alg: Algorithm) -> Result<IssuerKey, IssuerError> {
        if alg.is_symmetric() {
            return Err(IssuerError::Config(format!(
                "{alg} is an HMAC algorithm: its key cannot be published in a JWKS; use RS256, PS256, ES256, ES384 or EdDSA"
            )));
        }
        let key = SigningKey::generate(alg, "")?;
        let kid = crate::keyfile::derive_kid(&key)
            .map_err(|e| IssuerError::Key(format!("cannot compute the key thumbprint: {e}")))?;
        Ok(IssuerKey::from_key(key, kid, tollgate::clock::unix_now()))
    }

    /// Wraps a loaded key.
    pub(crate) fn from_key(mut key: SigningKey, kid: String, created: i64) -> IssuerKey {
        key.set_kid(Some(kid.clone()));
        let jwk = key.public_jwk();
        IssuerKey {
            kid,
            key,
            jwk,
            created,
        }
    }

    pub(crate) fn alg(&self) -> Algorithm {
        self.key.alg()
    }
}

/// A key rotated out, published until `retire_at`.
#[derive(Debug)]
pub(crate) struct Retiring {
    pub(crate) key: Arc<IssuerKey>,
    pub(crate) retire_at: Instant,
    /// The same moment in Unix seconds, for the state file and `/admin/state`.
    pub(crate) retire_at_unix: i64,
}

/// The keys of one issuer.
#[derive(Debug)]
pub(crate) struct KeyRing {
    pub(crate) current: Arc<IssuerKey>,
    pub(crate) retiring: Vec<Retiring>,
    pub(crate) hmac_secret: Vec<u8>,
}

impl KeyRing {
    /// A fresh ring: one new key for `alg` and a new HMAC secret.
    pub(crate) fn generate(alg: Algorithm) -> Result<KeyRing, IssuerError> {
        let mut secret = vec![0u8; HMAC_SECRET_LEN];
        tollgate::random_bytes(&mut secret);
        Ok(KeyRing {
            current: Arc::new(IssuerKey::generate(alg)?),
            retiring: Vec::new(),
            hmac_secret: secret,
        })
    }

    /// Makes a new key of the current algorithm current; the old one is published for
    /// `grace` more. Returns the new kid.
    pub(crate) fn rotate(&mut self, grace: Duration) -> Result<String, IssuerError> {
        let next = Arc::new(IssuerKey::generate(self.current.alg())?);
        let old = std::mem::replace(&mut self.current, next);
        let secs = i64::try_from(grace.as_secs()).unwrap_or(i64::MAX / 2);
        self.retiring.push(Retiring {
            key: old,
            retire_at: Instant::now() + grace,
            retire_at_unix: tollgate::clock::unix_now().saturating_add(secs),
        });
        Ok(self.current.kid.clone())
    }

    /// Drops the keys whose grace period is over. True when something was dropped.
    pub(crate) fn prune(&mut self, now: Instant) -> bool {
        let before = self.retiring.len();
        self.retiring.retain(|r| r.retire_at > now);
        self.retiring.len() != before
    }

    /// The published keys: current first, then the retiring ones, newest first.
    pub(crate) fn published(&self) -> Vec<&Arc<IssuerKey>> {
        let mut keys = vec![&self.current];
        keys.extend(self.retiring.iter().rev().map(|r| &r.key));
        keys
    }

    /// A published key by kid.
    pub(crate) fn find(&self, kid: &str) -> Option<&Arc<IssuerKey>> {
        self.published().into_iter().find(|k| k.kid == kid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_then_retires() {
        let mut ring = KeyRing::generate(Algorithm::ES256).unwrap();
        let first = ring.current.kid.clone();
        let second = ring.rotate(Duration::from_secs(10)).unwrap();
        assert_ne!(first, second);
        assert_eq!(ring.published().len(), 2);
        assert!(ring.find(&first).is_some());
        assert!(!ring.prune(Instant::now()));
        assert!(ring.prune(Instant::now() + Duration::from_secs(11)));
        assert_eq!(ring.published().len(), 1);
        assert!(ring.find(&first).is_none());
    }

    #[test]
    fn hmac_is_refused_for_published_keys() {
        let err = KeyRing::generate(Algorithm::HS256).unwrap_err();
        assert!(err.to_string().contains("cannot be published"), "{err}");
    }
}
