//! The last refused requests, for the doctor page on the admin listener (`/doctor`).
//!
//! A bounded ring of [`Config::recent_refusals`](crate::Config::recent_refusals) entries
//! (default 50; 0 keeps nothing and costs nothing). Each entry holds the time, the route,
//! the code, the doctor's top cause, the (unverified) subject and, for a rejected token, its
//! header and claims as JSON and the library's error, so the page can open it in the
//! doctor view. Never the signature, never the whole token.
//!
//! **Personal data.** Claims name people (subject, name, email, tenant). The ring lives in
//! memory only, is bounded, is served on the admin listener only (loopback by default, and
//! behind the same guard as the dev issuer's admin endpoints), and is lost at restart. Set
//! `recent_refusals = 0` where that is not acceptable.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;
use serde_json::{Map, Value};
use tollgate::ValidationError;

/// The most bytes of header and claims JSON kept per entry, both together: claims that do
/// not fit beside the header are dropped (the entry says so), a header that alone does not
/// fit too, so the ring's kept token parts stay bounded by N x 16 KiB.
pub const MAX_KEPT_BYTES: usize = 16 * 1024;

/// The token parts a refusal keeps.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Kept {
    /// The header, if it could be read.
    pub header: Option<Map<String, Value>>,
    /// The claims, if they could be read and were small enough.
    pub claims: Option<Map<String, Value>>,
    /// True when the claims were too large to keep.
    pub claims_dropped: bool,
}

impl Kept {
    /// The header and claims of `token`, read leniently (nothing verified), without the
    /// signature.
    pub fn of(token: &str) -> Kept {
        let insp = tollgate::doctor::token::inspect(tollgate::jws::strip_bearer(token));
        let size = |m: &Option<Map<String, Value>>| {
            m.as_ref()
                .map_or(0, |m| serde_json::to_vec(m).map_or(usize::MAX, |v| v.len()))
        };
        let mut kept = Kept {
            header: insp.header,
            claims: insp.claims,
            claims_dropped: false,
        };
        if size(&kept.header) > MAX_KEPT_BYTES {
            kept.header = None;
        }
        if size(&kept.claims) > MAX_KEPT_BYTES.saturating_sub(size(&kept.header)) {
            kept.claims = None;
            kept.claims_dropped = true;
        }
        kept
    }
}

/// One refused request.
#[derive(Clone, Debug, Serialize)]
pub struct RecentRefusal {
    /// Its id (increasing), to open it.
    pub id: u64,
    /// When (Unix seconds).
    pub at: i64,
    /// The route's name (empty: none matched).
    pub route: String,
    /// The method.
    pub method: String,
    /// The path (cut to a bounded length).
    pub path: String,
    /// The stable code.
    pub code: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// The doctor's top cause, when the token was diagnosed.
    pub cause: Option<&'static str>,
    /// The token's `sub` (unverified: the token was refused).
    pub subject: Option<String>,
    /// The token's `iss` (unverified).
    pub issuer: Option<String>,
    /// The refusal's sentence.
    pub description: String,
    /// The header and claims.
    #[serde(skip)]
    pub kept: Kept,
    /// The library's error, for a rejected token.
    #[serde(skip)]
    pub error: Option<ValidationError>,
}

/// The ring.
#[derive(Debug)]
pub struct RecentRefusals {
    capacity: usize,
    next: AtomicU64,
    ring: Mutex<VecDeque<RecentRefusal>>,
}

impl RecentRefusals {
    /// A ring of `capacity` entries (0: off).
    pub fn new(capacity: usize) -> RecentRefusals {
        RecentRefusals {
            capacity,
            next: AtomicU64::new(1),
            ring: Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
        }
    }

    /// True when refusals are kept.
    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// How many entries are kept at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Keeps `entry` (its id is assigned here), dropping the oldest beyond the capacity.
    pub fn push(&self, mut entry: RecentRefusal) {
        if self.capacity == 0 {
            return;
        }
        entry.id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        while ring.len() >= self.capacity {
            ring.pop_front();
        }
        ring.push_back(entry);
    }

    /// The entries, newest first.
    pub fn list(&self) -> Vec<RecentRefusal> {
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        ring.iter().rev().cloned().collect()
    }

    /// The entry `id`, if still kept.
    pub fn get(&self, id: u64) -> Option<RecentRefusal> {
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        ring.iter().find(|e| e.id == id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str) -> RecentRefusal {
        RecentRefusal {
            id: 0,
            at: 1,
            route: "api".into(),
            method: "GET".into(),
            path: path.into(),
            code: "expired",
            status: 401,
            cause: None,
            subject: None,
            issuer: None,
            description: String::new(),
            kept: Kept::default(),
            error: None,
        }
    }

    #[test]
    fn the_ring_is_bounded_and_newest_first() {
        let r = RecentRefusals::new(3);
        for i in 0..10 {
            r.push(entry(&format!("/{i}")));
        }
        let list = r.list();
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].path, "/9");
        assert_eq!(list[2].path, "/7");
        assert!(r.get(list[1].id).is_some());
        assert!(r.get(1).is_none());
        let off = RecentRefusals::new(0);
        off.push(entry("/x"));
        assert!(off.list().is_empty() && !off.enabled());
    }

    #[test]
    fn kept_parts_never_hold_the_signature_and_are_bounded() {
        let e = |v: &Value| tollgate::b64::encode(v.to_string().as_bytes());
        let token = format!(
            "Bearer {}.{}.SIGNATUREBYTES",
            e(&serde_json::json!({"alg": "RS256", "kid": "k"})),
            e(&serde_json::json!({"sub": "alice", "iss": "https://idp"}))
        );
        let k = Kept::of(&token);
        assert_eq!(k.claims.as_ref().unwrap()["sub"], "alice");
        let all = format!("{:?}", k);
        assert!(!all.contains("SIGNATUREBYTES"));
        let big = format!(
            "{}.{}.sig",
            e(&serde_json::json!({"alg": "RS256"})),
            e(&serde_json::json!({"pad": "x".repeat(MAX_KEPT_BYTES + 1)}))
        );
        let k = Kept::of(&big);
        assert!(k.claims.is_none() && k.claims_dropped && k.header.is_some());
        // Header and claims together fit the bound, not each of them.
        let half = format!(
            "{}.{}.sig",
            e(&serde_json::json!({"alg": "RS256", "x": "h".repeat(MAX_KEPT_BYTES / 2)})),
            e(&serde_json::json!({"pad": "c".repeat(MAX_KEPT_BYTES / 2)}))
        );
        let k = Kept::of(&half);
        assert!(k.header.is_some() && k.claims.is_none() && k.claims_dropped);
        let both = |k: &Kept| {
            [&k.header, &k.claims]
                .iter()
                .filter_map(|m| m.as_ref())
                .map(|m| serde_json::to_vec(m).unwrap().len())
                .sum::<usize>()
        };
        assert!(both(&k) <= MAX_KEPT_BYTES);
        let small = Kept::of(&token);
        assert!(small.header.is_some() && small.claims.is_some() && both(&small) <= MAX_KEPT_BYTES);
        // not a token at all
        assert_eq!(Kept::of("opaque"), Kept::default());
    }
}
