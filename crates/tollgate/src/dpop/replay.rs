//! The replay cache: a proof's `jti` may be used once per key within the proof window
//! (RFC 9449 section 11.1). [`ReplayCache`] is the seam: [`MemoryReplayCache`] for one
//! process (the default), or a shared store (the gateway's Redis cache) when several
//! replicas serve one API.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use crate::b64;
use crate::crypto::sha256;

/// What a [`ReplayCache`] answers: `Ok(true)` first use (now recorded), `Ok(false)` already
/// seen (a replay), `Err(reason)` when it cannot tell ("cannot verify now": the request is
/// refused with 503, never allowed).
pub type ReplayFuture<'a> = Pin<Box<dyn Future<Output = Result<bool, String>> + Send + 'a>>;

/// Remembers the proofs seen, each until it could no longer be accepted anyway.
pub trait ReplayCache: Send + Sync + 'static {
    /// Records `key` until `expires_at` (Unix seconds) if it is new. `now` is the
    /// validator's clock. Must be atomic: of two concurrent calls with one key, one only
    /// gets `Ok(true)`.
    fn insert_new<'a>(&'a self, key: &'a str, now: i64, expires_at: i64) -> ReplayFuture<'a>;
}

/// The cache key of a proof: base64url(SHA-256(len ":" thumbprint "." jti)), 43 characters whatever
/// the size of the client's `jti`. Scoped by key, so one client's `jti` never collides with
/// another's.
///
/// ```
/// assert_eq!(tollgate::dpop::replay_key("jkt", "j1").len(), 43);
/// ```
pub fn replay_key(jkt: &str, jti: &str) -> String {
    // Length-prefixed, so no (thumbprint, jti) pair spells another's input.
    b64::encode(sha256(format!("{}:{jkt}.{jti}", jkt.len()).as_bytes()))
}

/// Default bound of the in-memory cache: 100 000 proofs (about 10 MB), some 1 600 proofs a
/// second over the default 60 s window. When it is full of live entries, new proofs are
/// refused as "cannot verify now" rather than forgetting a live one (which would let it be
/// replayed).
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

/// A bounded in-process replay cache. Entries leave when they expire.
///
/// ```
/// use tollgate::dpop::{MemoryReplayCache, ReplayCache};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let cache = MemoryReplayCache::new(10);
/// assert_eq!(cache.insert_new("k", 100, 160).await, Ok(true));
/// assert_eq!(cache.insert_new("k", 120, 180).await, Ok(false));
/// assert_eq!(cache.insert_new("k", 161, 221).await, Ok(true));
/// # });
/// ```
#[derive(Debug)]
pub struct MemoryReplayCache {
    max_entries: usize,
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    expiry: HashMap<String, i64>,
    /// Keys in insertion order with their expiry, to drop the expired ones.
    order: VecDeque<(i64, String)>,
}

impl Default for MemoryReplayCache {
    fn default() -> MemoryReplayCache {
        MemoryReplayCache::new(DEFAULT_MAX_ENTRIES)
    }
}

impl MemoryReplayCache {
    /// A cache holding at most `max_entries` live proofs.
    pub fn new(max_entries: usize) -> MemoryReplayCache {
        MemoryReplayCache {
            max_entries: max_entries.max(1),
            inner: Mutex::new(Entries::default()),
        }
    }

    /// The proofs held now (live or not yet purged).
    pub fn len(&self) -> usize {
        self.inner.lock().map(|e| e.expiry.len()).unwrap_or(0)
    }

    /// True when no proof is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`ReplayCache::insert_new`] without a future, for synchronous callers (a token
    /// endpoint): `Ok(true)` first use, `Ok(false)` a replay, `Err` when full.
    pub fn insert(&self, key: &str, now: i64, expires_at: i64) -> Result<bool, String> {
        let mut e = self
            .inner
            .lock()
            .map_err(|_| "the replay cache lock is poisoned".to_string())?;
        if let Some(&until) = e.expiry.get(key) {
            if until > now {
                return Ok(false);
            }
        }
        // Drop expired entries from the front (entries are added with similar lifetimes;
        // a later one that expired is dropped when reached or overwritten).
        while let Some((until, _)) = e.order.front() {
            if *until > now {
                break;
            }
            if let Some((until, old)) = e.order.pop_front() {
                if e.expiry.get(&old) == Some(&until) {
                    e.expiry.remove(&old);
                }
            }
        }
        // Full of live entries: forgetting one would allow its replay, so refuse instead.
        if e.expiry.len() >= self.max_entries && !e.expiry.contains_key(key) {
            return Err(format!(
                "the in-memory replay cache holds {} live proofs, its limit",
                self.max_entries
            ));
        }
        e.expiry.insert(key.to_string(), expires_at);
        e.order.push_back((expires_at, key.to_string()));
        Ok(true)
    }
}

impl ReplayCache for MemoryReplayCache {
    fn insert_new<'a>(&'a self, key: &'a str, now: i64, expires_at: i64) -> ReplayFuture<'a> {
        Box::pin(std::future::ready(self.insert(key, now, expires_at)))
    }
}

impl<T: ReplayCache> ReplayCache for std::sync::Arc<T> {
    fn insert_new<'a>(&'a self, key: &'a str, now: i64, expires_at: i64) -> ReplayFuture<'a> {
        T::insert_new(self, key, now, expires_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_expiring() {
        let c = MemoryReplayCache::new(2);
        assert_eq!(c.insert("a", 0, 10), Ok(true));
        assert_eq!(c.insert("b", 0, 10), Ok(true));
        assert_eq!(c.insert("a", 5, 15), Ok(false));
        // Full of live entries: fail closed.
        assert!(c.insert("c", 5, 15).is_err());
        // Once they expire, room again.
        assert_eq!(c.insert("c", 11, 20), Ok(true));
        assert_eq!(c.len(), 1);
        assert_eq!(c.insert("a", 11, 20), Ok(true));
    }

    #[test]
    fn keys_are_scoped_by_thumbprint() {
        assert_ne!(replay_key("k1", "j"), replay_key("k2", "j"));
        assert_ne!(replay_key("k1.j", ""), replay_key("k1", "j."));
        assert_eq!(replay_key("k", &"x".repeat(100_000)).len(), 43);
    }
}
