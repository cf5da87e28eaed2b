//! The replay cache: a proof's `jti` may be used once per key within the proof window
//! (RFC 9449 section 11.1). [`ReplayCache`] is the seam: [`MemoryReplayCache`] for one
//! process (the default), or a shared store (the gateway's Redis cache) when several
//! replicas serve one API.
//!
//! A cache holds every proof it accepted until that proof could no longer be accepted
//! anyway, so it is bounded by how many proofs clients send within the window. Two bounds
//! keep one client from taking it all:
//!
//! - per key: at most [`DEFAULT_MAX_PER_KEY`] live proofs per DPoP key (its RFC 7638
//!   thumbprint). A client over it is refused ([`ReplayRefusal::OverQuota`], answered 429
//!   `dpop_key_over_quota` with `Retry-After`) while every other client is served;
//! - in all (the in-memory cache): at most [`DEFAULT_MAX_ENTRIES`] live proofs. Full of live
//!   proofs, it refuses new ones as "cannot verify now" rather than forgetting a live one
//!   (which would let it be replayed).
//!
//! Both count live proofs only: a proof leaves when it expires, whatever the order proofs
//! came in.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crate::b64;
use crate::crypto::sha256;

/// What a [`ReplayCache`] answers: `Ok(true)` first use (now recorded), `Ok(false)` already
/// seen (a replay), `Err` when it does not record the proof: the key is over its quota, or
/// the cache cannot tell ("cannot verify now": the request is refused, never allowed).
pub type ReplayFuture<'a> = Pin<Box<dyn Future<Output = Result<bool, ReplayRefusal>> + Send + 'a>>;

/// Why a [`ReplayCache`] did not record a new proof.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplayRefusal {
    /// The proof's key already has `limit` live proofs: refused until the soonest of them
    /// expires, `retry_after` seconds from now (at least 1). Only this key is refused.
    OverQuota {
        /// The most live proofs one key may have.
        limit: usize,
        /// Seconds until the key has room again.
        retry_after: u64,
    },
    /// The cache cannot tell whether the proof is new (a shared store that does not
    /// answer, or the in-memory cache full of live proofs). Never an allow.
    Unavailable(String),
}

/// A proof as the replay cache sees it: the key that signed it and its `jti`. The quota is
/// counted per `jkt`; the proof is recorded under [`replay_key`]`(jkt, jti)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProofId<'a> {
    /// The RFC 7638 thumbprint of the proof's key (43 base64url characters).
    pub jkt: &'a str,
    /// The proof's `jti` (1 to [`MAX_JTI_CHARS`](super::MAX_JTI_CHARS) characters).
    pub jti: &'a str,
}

impl ProofId<'_> {
    /// The cache key of this proof ([`replay_key`]).
    pub fn replay_key(&self) -> String {
        replay_key(self.jkt, self.jti)
    }
}

/// Remembers the proofs seen, each until it could no longer be accepted anyway.
pub trait ReplayCache: Send + Sync + 'static {
    /// Records `proof` until `expires_at` (Unix seconds) if it is new and its key is within
    /// its quota. `now` is the validator's clock. Must be atomic: of two concurrent calls
    /// with one proof, one only gets `Ok(true)`, and concurrent calls with one key never
    /// record more proofs than its quota.
    fn insert_new<'a>(&'a self, proof: ProofId<'a>, now: i64, expires_at: i64) -> ReplayFuture<'a>;
}

/// The cache key of a proof: base64url(SHA-256(len ":" thumbprint "." jti)), 43 characters whatever
/// the size of the client's `jti`. Scoped by key, so one client's `jti` never collides with
/// another's.
///
/// ```
/// assert_eq!(tollgate::dpop::replay_key("jkt", "j1").len(), 43);
/// ```
pub fn replay_key(jkt: &str, jti: &str) -> String {
    b64::encode(digest(jkt, jti))
}

/// SHA-256 of the proof's (thumbprint, jti), length-prefixed, so no pair spells another's
/// input.
fn digest(jkt: &str, jti: &str) -> [u8; 32] {
    sha256(format!("{}:{jkt}.{jti}", jkt.len()).as_bytes())
}

/// Default bound of the in-memory cache: 100 000 live proofs (some 15 MB), about 1 400
/// proofs a second over the 70 s a proof is kept with the default window and leeway
/// ([`DpopOptions::replay_until`](super::DpopOptions::replay_until)). When it is full of
/// live entries, new proofs are refused as "cannot verify now" rather than forgetting a
/// live one (which would let it be replayed).
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

/// Default quota of one DPoP key: 1 000 live proofs. A proof is kept 70 s with the default
/// window and leeway, so one key may make about 14 requests a second, sustained, and bursts
/// of up to 1 000: more than an interactive client or a typical service instance makes. It
/// is 1 % of [`DEFAULT_MAX_ENTRIES`], so filling the in-memory cache takes a hundred keys,
/// each with its own token from the issuer, instead of one. Raise it (`[replay]
/// max_per_key`) for a service that sends more with one key; at or above the cache's bound
/// it stops protecting the other clients.
pub const DEFAULT_MAX_PER_KEY: usize = 1_000;

/// A bounded in-process replay cache, with a quota per key. Entries leave when they expire.
///
/// ```
/// use tollgate::dpop::{MemoryReplayCache, ProofId, ReplayCache, ReplayRefusal};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let cache = MemoryReplayCache::new(10).max_per_key(2);
/// let proof = |jti| ProofId { jkt: "key-a", jti };
/// assert_eq!(cache.insert_new(proof("1"), 100, 160).await, Ok(true));
/// assert_eq!(cache.insert_new(proof("1"), 120, 180).await, Ok(false));
/// assert_eq!(cache.insert_new(proof("2"), 120, 180).await, Ok(true));
/// // Key a has two live proofs, its quota; key b is not affected.
/// assert_eq!(
///     cache.insert_new(proof("3"), 130, 190).await,
///     Err(ReplayRefusal::OverQuota { limit: 2, retry_after: 30 })
/// );
/// assert_eq!(cache.insert_new(ProofId { jkt: "key-b", jti: "3" }, 130, 190).await, Ok(true));
/// // Once proof 1 expires, key a has room again, and proof 1 may be used again.
/// assert_eq!(cache.insert_new(proof("1"), 161, 221).await, Ok(true));
/// # });
/// ```
#[derive(Debug)]
pub struct MemoryReplayCache {
    max_entries: usize,
    max_per_key: usize,
    inner: Mutex<Entries>,
}

/// The proofs held: each in `proofs`, in `by_expiry`, and counted in its key's `per_key`.
#[derive(Debug, Default)]
struct Entries {
    /// Proof digest -> when it expires, and its key.
    proofs: HashMap<[u8; 32], Held>,
    /// The same proofs by expiry, so the expired ones leave first whatever their order.
    by_expiry: BTreeSet<(i64, [u8; 32])>,
    /// Key thumbprint -> its live proofs.
    per_key: HashMap<Arc<str>, KeyProofs>,
}

#[derive(Debug)]
struct Held {
    expires_at: i64,
    jkt: Arc<str>,
}

/// One key's proofs: how many, and their expiries (expiry -> count), for `Retry-After`.
#[derive(Debug, Default)]
struct KeyProofs {
    live: usize,
    expiries: BTreeMap<i64, usize>,
}

impl Entries {
    /// Drops every proof expired at `now` (O(log n) each).
    fn purge(&mut self, now: i64) {
        while let Some(&(until, id)) = self.by_expiry.first() {
            if until > now {
                break;
            }
            self.by_expiry.pop_first();
            if let Some(held) = self.proofs.remove(&id) {
                self.forget(&held);
            }
        }
    }

    /// Takes `held` out of its key's count (and the key out of the map at zero).
    fn forget(&mut self, held: &Held) {
        let Some(key) = self.per_key.get_mut(&held.jkt) else {
            return;
        };
        key.live = key.live.saturating_sub(1);
        if let Some(n) = key.expiries.get_mut(&held.expires_at) {
            *n -= 1;
            if *n == 0 {
                key.expiries.remove(&held.expires_at);
            }
        }
        if key.live == 0 {
            self.per_key.remove(&held.jkt);
        }
    }

    fn add(&mut self, id: [u8; 32], jkt: &str, expires_at: i64) {
        let jkt = match self.per_key.get_key_value(jkt) {
            Some((shared, _)) => shared.clone(),
            None => Arc::from(jkt),
        };
        let key = self.per_key.entry(jkt.clone()).or_default();
        key.live += 1;
        *key.expiries.entry(expires_at).or_default() += 1;
        self.by_expiry.insert((expires_at, id));
        self.proofs.insert(id, Held { expires_at, jkt });
    }
}

impl Default for MemoryReplayCache {
    fn default() -> MemoryReplayCache {
        MemoryReplayCache::new(DEFAULT_MAX_ENTRIES)
    }
}

impl MemoryReplayCache {
    /// A cache holding at most `max_entries` live proofs, at most [`DEFAULT_MAX_PER_KEY`]
    /// of them per key.
    pub fn new(max_entries: usize) -> MemoryReplayCache {
        MemoryReplayCache {
            max_entries: max_entries.max(1),
            max_per_key: DEFAULT_MAX_PER_KEY,
            inner: Mutex::new(Entries::default()),
        }
    }

    /// Sets the most live proofs one key may have (at least 1). Default
    /// [`DEFAULT_MAX_PER_KEY`].
    pub fn max_per_key(mut self, limit: usize) -> MemoryReplayCache {
        self.max_per_key = limit.max(1);
        self
    }

    /// The proofs held now (live or not yet purged).
    pub fn len(&self) -> usize {
        self.inner.lock().map(|e| e.proofs.len()).unwrap_or(0)
    }

    /// True when no proof is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`ReplayCache::insert_new`] without a future, for synchronous callers (a token
    /// endpoint): `Ok(true)` first use, `Ok(false)` a replay, `Err` when the key is over its
    /// quota or the cache is full of live proofs. A replay is answered as one even when its
    /// key is over quota.
    pub fn insert(
        &self,
        proof: ProofId<'_>,
        now: i64,
        expires_at: i64,
    ) -> Result<bool, ReplayRefusal> {
        let id = digest(proof.jkt, proof.jti);
        let mut e = self
            .inner
            .lock()
            .map_err(|_| ReplayRefusal::Unavailable("the replay cache lock is poisoned".into()))?;
        e.purge(now);
        if e.proofs.contains_key(&id) {
            return Ok(false);
        }
        if let Some(key) = e.per_key.get(proof.jkt) {
            if key.live >= self.max_per_key {
                let soonest = key.expiries.keys().next().copied().unwrap_or(now);
                return Err(ReplayRefusal::OverQuota {
                    limit: self.max_per_key,
                    retry_after: u64::try_from(soonest.saturating_sub(now))
                        .unwrap_or(0)
                        .max(1),
                });
            }
        }
        // Full of live entries: forgetting one would allow its replay, so refuse instead.
        if e.proofs.len() >= self.max_entries {
            return Err(ReplayRefusal::Unavailable(format!(
                "the in-memory replay cache holds {} live proofs, its limit",
                self.max_entries
            )));
        }
        e.add(id, proof.jkt, expires_at);
        Ok(true)
    }
}

impl ReplayCache for MemoryReplayCache {
    fn insert_new<'a>(&'a self, proof: ProofId<'a>, now: i64, expires_at: i64) -> ReplayFuture<'a> {
        Box::pin(std::future::ready(self.insert(proof, now, expires_at)))
    }
}

impl<T: ReplayCache> ReplayCache for Arc<T> {
    fn insert_new<'a>(&'a self, proof: ProofId<'a>, now: i64, expires_at: i64) -> ReplayFuture<'a> {
        T::insert_new(self, proof, now, expires_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id<'a>(jkt: &'a str, jti: &'a str) -> ProofId<'a> {
        ProofId { jkt, jti }
    }

    fn over(limit: usize, retry_after: u64) -> Result<bool, ReplayRefusal> {
        Err(ReplayRefusal::OverQuota { limit, retry_after })
    }

    #[test]
    fn bounded_and_expiring() {
        let c = MemoryReplayCache::new(2);
        assert_eq!(c.insert(id("k", "a"), 0, 10), Ok(true));
        assert_eq!(c.insert(id("k", "b"), 0, 10), Ok(true));
        assert_eq!(c.insert(id("k", "a"), 5, 15), Ok(false));
        // Full of live entries: fail closed.
        assert!(matches!(
            c.insert(id("k", "c"), 5, 15),
            Err(ReplayRefusal::Unavailable(_))
        ));
        // Once they expire, room again.
        assert_eq!(c.insert(id("k", "c"), 11, 20), Ok(true));
        assert_eq!(c.len(), 1);
        assert_eq!(c.insert(id("k", "a"), 11, 20), Ok(true));
    }

    #[test]
    fn keys_are_scoped_by_thumbprint() {
        assert_ne!(replay_key("k1", "j"), replay_key("k2", "j"));
        assert_ne!(replay_key("k1.j", ""), replay_key("k1", "j."));
        assert_eq!(replay_key("k", &"x".repeat(100_000)).len(), 43);
        assert_eq!(id("k", "j").replay_key(), replay_key("k", "j"));
    }

    /// One key over its quota is refused; another key is still accepted, and a replay of a
    /// live proof is still a replay.
    #[test]
    fn the_quota_is_per_key() {
        let c = MemoryReplayCache::new(100).max_per_key(3);
        for jti in ["1", "2", "3"] {
            assert_eq!(c.insert(id("flood", jti), 0, 60), Ok(true));
        }
        for jti in ["4", "5", "6"] {
            assert_eq!(c.insert(id("flood", jti), 10, 70), over(3, 50));
        }
        assert_eq!(c.insert(id("flood", "2"), 10, 70), Ok(false));
        for jti in ["1", "2", "3"] {
            assert_eq!(c.insert(id("other", jti), 10, 70), Ok(true));
        }
        assert_eq!(c.insert(id("other", "4"), 10, 70), over(3, 60));
        // Refused proofs take no room.
        assert_eq!(c.len(), 6);
    }

    /// A key's room comes back as its proofs expire, one at a time, and `Retry-After` names
    /// the soonest.
    #[test]
    fn the_quota_is_freed_when_proofs_expire() {
        let c = MemoryReplayCache::new(100).max_per_key(2);
        assert_eq!(c.insert(id("k", "a"), 0, 30), Ok(true));
        assert_eq!(c.insert(id("k", "b"), 5, 65), Ok(true));
        assert_eq!(c.insert(id("k", "c"), 10, 70), over(2, 20));
        assert_eq!(c.insert(id("k", "c"), 29, 89), over(2, 1));
        // At 30, a expired: one slot.
        assert_eq!(c.insert(id("k", "c"), 30, 90), Ok(true));
        assert_eq!(c.insert(id("k", "d"), 30, 90), over(2, 35));
        // At 65, b expired too; the key's count is back to one (c).
        assert_eq!(c.insert(id("k", "d"), 65, 125), Ok(true));
        assert_eq!(c.len(), 2);
        // Everything expires: the key is forgotten entirely.
        assert_eq!(c.insert(id("z", "z"), 1000, 1060), Ok(true));
        assert_eq!(c.len(), 1);
        assert!(!c.inner.lock().unwrap().per_key.contains_key("k"));
    }

    /// An entry with a short lifetime behind a long-lived one leaves when it expires: the
    /// cache is "full" only when full of live proofs.
    #[test]
    fn entries_expire_out_of_insertion_order() {
        let c = MemoryReplayCache::new(3).max_per_key(10);
        assert_eq!(c.insert(id("k", "long"), 0, 1_000), Ok(true));
        assert_eq!(c.insert(id("k", "short1"), 0, 10), Ok(true));
        assert_eq!(c.insert(id("k", "short2"), 0, 20), Ok(true));
        assert!(matches!(
            c.insert(id("k", "x"), 5, 65),
            Err(ReplayRefusal::Unavailable(_))
        ));
        // At 10, short1 expired although long, added before it, has not.
        assert_eq!(c.insert(id("k", "x"), 10, 70), Ok(true));
        assert_eq!(c.len(), 3);
        assert_eq!(c.insert(id("k", "short1"), 21, 81), Ok(true));
        assert_eq!(c.insert(id("k", "long"), 21, 81), Ok(false));
        assert_eq!(c.len(), 3);
    }

    /// The global bound still holds when every key is within its quota: full of live
    /// proofs, new ones are "cannot verify now", and nothing live is forgotten.
    #[test]
    fn the_global_bound_refuses_when_full_of_live_proofs() {
        let c = MemoryReplayCache::new(4).max_per_key(2);
        for (k, j) in [("a", "1"), ("a", "2"), ("b", "1"), ("b", "2")] {
            assert_eq!(c.insert(id(k, j), 0, 60), Ok(true));
        }
        let e = c.insert(id("c", "1"), 1, 61).unwrap_err();
        assert!(
            matches!(&e, ReplayRefusal::Unavailable(r) if r.contains("4 live proofs")),
            "{e:?}"
        );
        // A key at its quota is told so, not "unavailable".
        assert_eq!(c.insert(id("a", "3"), 1, 61), over(2, 59));
        for (k, j) in [("a", "1"), ("a", "2"), ("b", "1"), ("b", "2")] {
            assert_eq!(c.insert(id(k, j), 1, 61), Ok(false));
        }
        assert_eq!(c.len(), 4);
    }

    /// Two threads insert one proof at once, many times: exactly one gets `Ok(true)`. Two
    /// threads insert two proofs of one key with one slot left: exactly one is recorded.
    #[test]
    fn concurrent_inserts_record_one() {
        let c = MemoryReplayCache::new(10_000).max_per_key(1);
        for round in 0..200 {
            let jkt = format!("k{round}");
            let barrier = std::sync::Barrier::new(2);
            let (first, second) = std::thread::scope(|s| {
                let go = |jti: &'static str| {
                    let (c, barrier, jkt) = (&c, &barrier, &jkt);
                    s.spawn(move || {
                        barrier.wait();
                        c.insert(id(jkt, jti), 0, 60)
                    })
                };
                let a = go("same");
                let b = go(if round % 2 == 0 { "same" } else { "other" });
                (a.join().unwrap(), b.join().unwrap())
            });
            let recorded = [&first, &second]
                .iter()
                .filter(|r| ***r == Ok(true))
                .count();
            assert_eq!(recorded, 1, "round {round}: {first:?} {second:?}");
            let loser = if first == Ok(true) { second } else { first };
            if round % 2 == 0 {
                assert_eq!(loser, Ok(false));
            } else {
                assert_eq!(loser, over(1, 60));
            }
        }
    }

    #[tokio::test]
    async fn the_trait_answers_like_insert() {
        let c: Arc<MemoryReplayCache> = Arc::new(MemoryReplayCache::new(10).max_per_key(1));
        let cache: &dyn ReplayCache = &c;
        assert_eq!(cache.insert_new(id("k", "1"), 0, 60).await, Ok(true));
        assert_eq!(cache.insert_new(id("k", "1"), 0, 60).await, Ok(false));
        assert_eq!(cache.insert_new(id("k", "2"), 0, 60).await, over(1, 60));
    }
}
