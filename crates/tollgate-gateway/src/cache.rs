//! The verified-token cache: a client that reuses its token pays the signature check once.
//!
//! Entries are keyed by the SHA-256 of the token (the token itself is never stored), hold
//! the verified identity, and are served only while `now < exp`. The cache is bounded: when
//! a shard is full, expired entries go first, then an arbitrary eighth of the shard. It is
//! sharded so concurrent requests rarely wait on one lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The cache key: SHA-256 of the token.
pub type TokenHash = [u8; 32];

const SHARDS: usize = 16;

struct Entry<V> {
    expires_at: i64,
    value: Arc<V>,
}

/// A bounded map from token hash to a verified value, valid until the token's `exp`.
///
/// ```
/// use tollgate_gateway::cache::TokenCache;
/// let cache = TokenCache::new(100);
/// let key = TokenCache::<()>::key("header.payload.signature");
/// cache.insert(key, 1_000, "alice".to_string(), 900);
/// assert_eq!(cache.get(&key, 999).as_deref().map(String::as_str), Some("alice"));
/// assert!(cache.get(&key, 1_000).is_none()); // expired at exp
/// ```
pub struct TokenCache<V> {
    shards: Vec<Mutex<HashMap<TokenHash, Entry<V>>>>,
    per_shard: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<V> std::fmt::Debug for TokenCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish()
    }
}

impl<V> TokenCache<V> {
    /// A cache holding about `capacity` entries; 0 disables it.
    pub fn new(capacity: usize) -> TokenCache<V> {
        TokenCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The key of a token.
    pub fn key(token: &str) -> TokenHash {
        tollgate::sha256(token.as_bytes())
    }

    /// The maximum number of entries.
    pub fn capacity(&self) -> usize {
        self.per_shard * SHARDS
    }

    /// The current number of entries (expired ones included until evicted).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    /// True when the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hits and misses so far.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    fn shard(&self, key: &TokenHash) -> &Mutex<HashMap<TokenHash, Entry<V>>> {
        &self.shards[key[0] as usize % SHARDS]
    }

    /// The value for `key` when present and `now < exp`; an expired entry is removed.
    pub fn get(&self, key: &TokenHash, now: i64) -> Option<Arc<V>> {
        if self.per_shard == 0 {
            return None;
        }
        let mut shard = lock(self.shard(key));
        let found = match shard.get(key) {
            Some(e) if now < e.expires_at => Some(e.value.clone()),
            Some(_) => {
                shard.remove(key);
                None
            }
            None => None,
        };
        drop(shard);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Stores `value` until `expires_at` (the token's `exp`); ignored when already expired.
    pub fn insert(&self, key: TokenHash, expires_at: i64, value: impl Into<Arc<V>>, now: i64) {
        if self.per_shard == 0 || expires_at <= now {
            return;
        }
        let mut shard = lock(self.shard(&key));
        if shard.len() >= self.per_shard && !shard.contains_key(&key) {
            shard.retain(|_, e| now < e.expires_at);
            if shard.len() >= self.per_shard {
                let drop_n = (self.per_shard / 8).max(1);
                let victims: Vec<TokenHash> = shard.keys().take(drop_n).copied().collect();
                for v in victims {
                    shard.remove(&v);
                }
            }
        }
        shard.insert(
            key,
            Entry {
                expires_at,
                value: value.into(),
            },
        );
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a HashMap half-written in a way that
    // matters here; keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_at_exp() {
        let c: TokenCache<u32> = TokenCache::new(10);
        let k = TokenCache::<u32>::key("t");
        c.insert(k, 100, 7, 50);
        assert_eq!(c.get(&k, 99).as_deref(), Some(&7));
        assert_eq!(c.get(&k, 100), None);
        assert_eq!(c.len(), 0);
        assert_eq!(c.stats(), (1, 1));
        c.insert(k, 100, 7, 100);
        assert_eq!(c.len(), 0, "an expired token is never stored");
    }

    #[test]
    fn the_cache_is_bounded() {
        let c: TokenCache<usize> = TokenCache::new(160);
        for i in 0..10_000 {
            c.insert(TokenCache::<usize>::key(&i.to_string()), 1_000, i, 0);
        }
        assert!(c.len() <= c.capacity(), "{}", c.len());
        let k = TokenCache::<usize>::key("last");
        c.insert(k, 1_000, 1, 0);
        assert!(c.get(&k, 1).is_some());
    }

    #[test]
    fn expired_entries_are_evicted_first() {
        let c: TokenCache<usize> = TokenCache::new(16);
        // one entry per shard at most: fill with short-lived entries, then add live ones
        for i in 0..200 {
            c.insert(TokenCache::<usize>::key(&format!("old{i}")), 10, i, 0);
        }
        for i in 0..200 {
            c.insert(TokenCache::<usize>::key(&format!("new{i}")), 1_000, i, 20);
        }
        assert!(c.len() <= c.capacity());
    }

    #[test]
    fn zero_capacity_disables() {
        let c: TokenCache<u8> = TokenCache::new(0);
        let k = TokenCache::<u8>::key("t");
        c.insert(k, 100, 1, 0);
        assert!(c.get(&k, 1).is_none());
    }
}
