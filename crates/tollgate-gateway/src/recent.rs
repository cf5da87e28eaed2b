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

/// The most bytes of a token's encoded header and claims (`header.payload`, base64url)
/// kept per entry: a larger token keeps nothing of itself (the entry says so), so the
/// ring's memory stays bounded by N x 48 KiB. Decoded, that is at most about 36 KiB of
/// header and claims JSON.
pub const MAX_KEPT_BYTES: usize = 48 * 1024;

/// A JSON object: a token's header or claims.
pub type JsonObject = Map<String, Value>;

/// The token parts a refusal keeps: the encoded header and payload segments, copied as they
/// came (never the signature, never an encrypted token's key, IV, ciphertext or tag), and
/// decoded only when the page asks. Keeping is a bounded copy, not a parse: a flood of
/// refused tokens pays no JSON work for the ring.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kept {
    /// `header.payload` of a JWS, or the protected header of a JWE; `None` for anything
    /// else (an opaque token keeps nothing: it may be the whole secret).
    segments: Option<Box<str>>,
    /// True when the token was too large to keep.
    pub claims_dropped: bool,
}

impl Kept {
    /// What a refusal of `token` keeps: see [`Kept`].
    pub fn of(token: &str) -> Kept {
        let token = tollgate::jws::strip_bearer(token);
        let kept = match token.matches('.').count() {
            // header.payload.signature: everything before the last dot.
            2 => token.rsplit_once('.').map(|(input, _)| input),
            // A JWE: its protected header only.
            4 => token.split('.').next(),
            _ => None,
        };
        match kept {
            Some(k) if k.len() > MAX_KEPT_BYTES => Kept {
                // Too large: the header alone (it decodes as a header-only token), if small.
                segments: k
                    .split('.')
                    .next()
                    .filter(|h| h.len() <= MAX_KEPT_BYTES)
                    .map(Into::into),
                claims_dropped: true,
            },
            Some(k) => Kept {
                segments: Some(k.into()),
                claims_dropped: false,
            },
            None => Kept::default(),
        }
    }

    /// The header and claims, read leniently (nothing verified).
    pub fn decode(&self) -> (Option<JsonObject>, Option<JsonObject>) {
        let Some(segments) = self.segments.as_deref() else {
            return (None, None);
        };
        // Rebuilt into the token's shape with empty secret parts, for the doctor's reader.
        let shaped = if segments.contains('.') {
            format!("{segments}.")
        } else {
            format!("{segments}....")
        };
        let insp = tollgate::doctor::token::inspect(&shaped);
        (insp.header, insp.claims)
    }
}

impl RecentRefusal {
    /// Fills the subject and issuer from the kept claims when the decision had none (a
    /// refused token's are read here, when the page asks, not on the refusal's path).
    fn completed(mut self) -> RecentRefusal {
        if self.subject.is_some() && self.issuer.is_some() {
            return self;
        }
        if let (_, Some(claims)) = self.kept.decode() {
            let claim = |name: &str| {
                claims
                    .get(name)
                    .and_then(Value::as_str)
                    .map(|s| tollgate::text::cut(s).to_string())
            };
            self.subject = self.subject.take().or_else(|| claim("sub"));
            self.issuer = self.issuer.take().or_else(|| claim("iss"));
        }
        self
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
        let entries: Vec<RecentRefusal> = ring.iter().rev().cloned().collect();
        drop(ring);
        entries.into_iter().map(RecentRefusal::completed).collect()
    }

    /// The entry `id`, if still kept.
    pub fn get(&self, id: u64) -> Option<RecentRefusal> {
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        let entry = ring.iter().find(|e| e.id == id).cloned();
        drop(ring);
        entry.map(RecentRefusal::completed)
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
        assert_eq!(k.decode().1.unwrap()["sub"], "alice");
        assert_eq!(k.decode().0.unwrap()["kid"], "k");
        let all = format!("{:?}", k);
        assert!(!all.contains("SIGNATUREBYTES"));
        let big = format!(
            "{}.{}.sig",
            e(&serde_json::json!({"alg": "RS256"})),
            e(&serde_json::json!({"pad": "x".repeat(MAX_KEPT_BYTES + 1)}))
        );
        let k = Kept::of(&big);
        let (header, claims) = k.decode();
        assert!(claims.is_none() && k.claims_dropped && header.is_some());
        // Not a token at all (an opaque token may be the whole secret): nothing kept.
        assert_eq!(Kept::of("opaque"), Kept::default());
        assert_eq!(Kept::of("a.b"), Kept::default());
        // A JWE keeps its protected header only.
        let jwe = format!(
            "{}.ENCRYPTEDKEY.IV.CIPHERTEXT.TAG",
            e(&serde_json::json!({"alg": "RSA-OAEP", "enc": "A256GCM"}))
        );
        let k = Kept::of(&jwe);
        assert!(!format!("{k:?}").contains("CIPHERTEXT"));
        assert_eq!(k.decode().0.unwrap()["enc"], "A256GCM");
        assert!(k.decode().1.is_none());
    }
}
