//! The doctor's cause of a refusal, for the log line, at a bounded cost.
//!
//! `tollgate::doctor::explain` reads the whole token leniently, recognises the provider and
//! runs every cause rule: tens of microseconds and many small allocations. Refused tokens are
//! what an attacker sends, so the gateway does not run it for every refusal:
//!
//! - **Cached per situation.** Two tokens in the same *situation* get the same cause. The
//!   situation is what the cause rules read, minus what differs from one token to the next:
//!   the error code (and its sentence, except for the time codes, whose values change every
//!   second), the header members (`alg`, `kid`, `typ`, `enc`, `nonce`), the claims the rules
//!   look at (`iss`, `aud`, `azp`, `client_id`, `gty`, `scp`, `scope`, `tfp`, `tid`,
//!   `token_use`, `typ`, `ver`, whether `nonce`, `at_hash`, `c_hash` are present, whether
//!   `jti` starts with `ID.`), and for `exp`, `nbf` and `iat` only on which side of now, of
//!   the leeway and of five minutes they are, and their order of magnitude. `jti`, `sub` and
//!   the exact times are not part of it. The situation is hashed (SipHash with a random key),
//!   so a client cannot choose collisions and an 8 KB `kid` costs 8 bytes to remember.
//!   Entries live [`CAUSE_TTL_SECS`]; at most [`MAX_SITUATIONS`] are kept (then the cache
//!   starts again empty).
//! - **A budget for new situations.** At most [`DIAGNOSES_PER_SECOND`] diagnoses run per
//!   second; beyond that (a client inventing a new `kid` or `iss` for every request), the log
//!   line says `cause="not_diagnosed"` until the next second. The code is always logged.
//!
//! So a refusal's log line costs one hash of the token's header and a few claims, plus, at
//! most [`DIAGNOSES_PER_SECOND`] times a second, one doctor run.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Mutex;

use serde_json::Value;
use tollgate::{doctor, Policy, ValidationError};

/// How long a situation's cause is reused: 60 s. Long enough that a flood of one situation
/// runs the doctor once a minute; short enough that a cause depending on the clock (a token
/// that expired moments ago, then long ago) follows it.
pub const CAUSE_TTL_SECS: i64 = 60;

/// The most situations remembered (each 32 bytes or so, plus the map's own).
pub const MAX_SITUATIONS: usize = 4096;

/// The most doctor runs per second, for situations not seen in the last minute.
pub const DIAGNOSES_PER_SECOND: u32 = 100;

/// The cause logged when the budget of diagnoses for this second is spent.
pub const NOT_DIAGNOSED: &str = "not_diagnosed";

/// The cause of the situation `(code, header, claims)`, cached and budgeted.
pub struct CauseCache {
    hasher: RandomState,
    state: Mutex<State>,
}

struct State {
    causes: HashMap<u64, (Option<&'static str>, i64)>,
    second: i64,
    spent: u32,
}

impl std::fmt::Debug for CauseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CauseCache").finish_non_exhaustive()
    }
}

impl Default for CauseCache {
    fn default() -> CauseCache {
        CauseCache::new()
    }
}

impl CauseCache {
    /// An empty cache.
    pub fn new() -> CauseCache {
        CauseCache {
            hasher: RandomState::new(),
            state: Mutex::new(State {
                causes: HashMap::new(),
                second: 0,
                spent: 0,
            }),
        }
    }

    /// The doctor's top cause for `err` on `token` at `now` (`None`: the doctor names
    /// none), computed by `diagnose` once per situation and minute, or [`NOT_DIAGNOSED`]
    /// when the second's budget is spent. `leeway` is the issuer's.
    pub fn cause(
        &self,
        err: &ValidationError,
        token: &str,
        now: i64,
        leeway: u64,
        diagnose: impl FnOnce() -> Option<&'static str>,
    ) -> Option<&'static str> {
        let key = self.situation(err, token, now, leeway);
        {
            let mut s = lock(&self.state);
            if let Some(&(cause, until)) = s.causes.get(&key) {
                if now < until {
                    return cause;
                }
            }
            if s.second != now {
                s.second = now;
                s.spent = 0;
            }
            if s.spent >= DIAGNOSES_PER_SECOND {
                return Some(NOT_DIAGNOSED);
            }
            s.spent += 1;
        }
        // The doctor runs outside the lock.
        let cause = diagnose();
        let mut s = lock(&self.state);
        if s.causes.len() >= MAX_SITUATIONS {
            s.causes.clear();
        }
        s.causes
            .insert(key, (cause, now.saturating_add(CAUSE_TTL_SECS)));
        cause
    }

    /// The hash of the situation (see the module documentation).
    fn situation(&self, err: &ValidationError, token: &str, now: i64, leeway: u64) -> u64 {
        let mut h = self.hasher.build_hasher();
        // The member hashers start from this hasher's keys (a clone of the empty state).
        err.code().hash(&mut h);
        match err {
            // Their sentences carry the times, which the claims' buckets stand for.
            ValidationError::Expired { .. }
            | ValidationError::NotYetValid { .. }
            | ValidationError::IssuedInFuture { .. }
            | ValidationError::TooOld { .. } => {}
            // A DPoP refusal's cause follows from its code alone (the URL one excepted: a
            // proxy's rewrite or another URL); its sentence carries per-proof values (jti,
            // iat, thumbprints) that would make every refusal a new situation.
            ValidationError::DpopReplayed { .. }
            | ValidationError::DpopKeyOverQuota { .. }
            | ValidationError::DpopProofTime { .. }
            | ValidationError::DpopAthMismatch { .. }
            | ValidationError::DpopKeyMismatch { .. }
            | ValidationError::DpopMethodMismatch { .. }
            | ValidationError::DpopProofInvalid { .. }
            | ValidationError::DpopProofMissing { .. }
            | ValidationError::BoundTokenAsBearer { .. } => {}
            // The reason may quote the token (a byte offset, a character).
            ValidationError::Malformed { part, .. } => format!("{part:?}").hash(&mut h),
            other => other.to_string().hash(&mut h),
        }
        let token = tollgate::jws::strip_bearer(token);
        let mut segments = token.split('.');
        let header = segments.next().unwrap_or("");
        let payload = segments.next();
        let count = 2 + segments.count();
        (payload.is_some(), count).hash(&mut h);
        let header_read = decode(header).is_some_and(|b| hash_members(&b, &mut h, None));
        if !header_read {
            (header.len().min(64), header.get(..64)).hash(&mut h);
        }
        let payload_read = payload
            .and_then(decode)
            .is_some_and(|b| hash_members(&b, &mut h, Some((now, leeway))));
        if !payload_read {
            let p = payload.unwrap_or("");
            (p.len().min(64), p.get(..64)).hash(&mut h);
        }
        h.finish()
    }
}

fn decode(segment: &str) -> Option<Vec<u8>> {
    tollgate::b64::decode(segment).ok()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The header members the cause rules read, in the order they are hashed.
const HEADER_MEMBERS: [&str; 6] = ["alg", "kid", "typ", "enc", "iss", "nonce"];

/// The claims the cause rules read, in the order they are hashed (values hashed whole),
/// then those only present or not, then the times.
const CLAIMS_HASHED: [&str; 12] = [
    "iss",
    "aud",
    "azp",
    "client_id",
    "gty",
    "scp",
    "scope",
    "tfp",
    "tid",
    "token_use",
    "typ",
    "ver",
];
const CLAIMS_PRESENT: [&str; 3] = ["nonce", "at_hash", "c_hash"];
const CLAIMS_TIMES: [&str; 3] = ["exp", "nbf", "iat"];

/// Hashes the members `names` of the JSON object `json` into `h`, in the order of `names`
/// (not of the JSON), without building them: each value is fed to its own hasher as it is
/// read. `jti`'s "starts with ID." and the times are read when asked (`claims`). `false`
/// when `json` is not an object serde_json reads (then the caller hashes its bytes).
fn hash_members<H: Hasher + Clone>(json: &[u8], h: &mut H, claims: Option<(i64, u64)>) -> bool {
    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

    #[derive(Clone, Copy)]
    enum Slot {
        Hashed(usize),
        Present(usize),
        Time(usize),
        Jti,
    }
    struct Key(bool);
    impl<'de> DeserializeSeed<'de> for Key {
        type Value = Option<Slot>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Slot>, D::Error> {
            d.deserialize_str(self)
        }
    }
    impl Visitor<'_> for Key {
        type Value = Option<Slot>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a member name")
        }
        fn visit_str<E>(self, v: &str) -> Result<Option<Slot>, E> {
            let at = |list: &[&str]| list.iter().position(|n| *n == v);
            Ok(if !self.0 {
                at(&HEADER_MEMBERS).map(Slot::Hashed)
            } else if let Some(i) = at(&CLAIMS_HASHED) {
                Some(Slot::Hashed(i))
            } else if let Some(i) = at(&CLAIMS_PRESENT) {
                Some(Slot::Present(i))
            } else if let Some(i) = at(&CLAIMS_TIMES) {
                Some(Slot::Time(i))
            } else {
                (v == "jti").then_some(Slot::Jti)
            })
        }
    }

    /// Feeds a whole JSON value to a hasher, allocating nothing for unescaped text.
    struct Feed<'h, H>(&'h mut H);
    impl<'de, H: Hasher> DeserializeSeed<'de> for Feed<'_, H> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de, H: Hasher> Visitor<'de> for Feed<'_, H> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_bool<E>(self, v: bool) -> Result<(), E> {
            (1u8, v).hash(self.0);
            Ok(())
        }
        fn visit_i64<E>(self, v: i64) -> Result<(), E> {
            (2u8, v).hash(self.0);
            Ok(())
        }
        fn visit_u64<E>(self, v: u64) -> Result<(), E> {
            (3u8, v).hash(self.0);
            Ok(())
        }
        fn visit_f64<E>(self, v: f64) -> Result<(), E> {
            (4u8, v.to_bits()).hash(self.0);
            Ok(())
        }
        fn visit_str<E>(self, v: &str) -> Result<(), E> {
            (5u8, v).hash(self.0);
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            6u8.hash(self.0);
            Ok(())
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            7u8.hash(self.0);
            let mut n = 0usize;
            while seq.next_element_seed(Feed(&mut *self.0))?.is_some() {
                n += 1;
            }
            n.hash(self.0);
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            8u8.hash(self.0);
            while map.next_key_seed(Feed(&mut *self.0))?.is_some() {
                map.next_value_seed(Feed(&mut *self.0))?;
            }
            Ok(())
        }
    }

    /// Reads `jti`'s prefix.
    struct IdPrefix;
    impl<'de> DeserializeSeed<'de> for IdPrefix {
        type Value = bool;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for IdPrefix {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_str<E>(self, v: &str) -> Result<bool, E> {
            Ok(v.starts_with("ID."))
        }
        fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_unit<E>(self) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(false)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(false)
        }
    }

    struct Members<'h, H> {
        base: &'h H,
        claims: Option<(i64, u64)>,
    }
    #[derive(Default)]
    struct Found {
        hashed: [Option<u64>; 12],
        present: [bool; 3],
        times: [Option<Value>; 3],
        id_jti: bool,
    }
    impl<'de, H: Hasher + Clone> Visitor<'de> for Members<'_, H> {
        type Value = Found;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Found, A::Error> {
            let mut found = Found::default();
            while let Some(slot) = map.next_key_seed(Key(self.claims.is_some()))? {
                match slot {
                    Some(Slot::Hashed(i)) => {
                        // A fresh hasher per member, so the order of members does not count.
                        let mut h = self.base.clone();
                        map.next_value_seed(Feed(&mut h))?;
                        found.hashed[i] = Some(h.finish());
                    }
                    Some(Slot::Present(i)) => {
                        map.next_value::<IgnoredAny>()?;
                        found.present[i] = true;
                    }
                    // Numbers build nothing on the heap.
                    Some(Slot::Time(i)) => found.times[i] = Some(map.next_value::<Value>()?),
                    Some(Slot::Jti) => found.id_jti = map.next_value_seed(IdPrefix)?,
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(found)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    let Ok(found) = de.deserialize_map(Members { base: &*h, claims }) else {
        return false;
    };
    found.hashed.hash(h);
    (found.present, found.id_jti).hash(h);
    if let Some((now, leeway)) = claims {
        for t in &found.times {
            time_bucket(t.as_ref(), now, leeway).hash(h);
        }
    }
    true
}

/// Where a time claim stands: its type, on which side of now, of now +- leeway and of now
/// +- 5 minutes it is, and its distance's order of magnitude (a power of two of seconds).
fn time_bucket(v: Option<&Value>, now: i64, leeway: u64) -> (u8, [i8; 5], u32) {
    let Some(v) = v else { return (0, [0; 5], 0) };
    let Some(t) = v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)) else {
        return (1, [0; 5], 0);
    };
    let leeway = i64::try_from(leeway).unwrap_or(i64::MAX);
    let d = t.saturating_sub(now);
    let sides = [
        d.signum() as i8,
        d.saturating_add(leeway).signum() as i8,
        d.saturating_sub(leeway).signum() as i8,
        d.saturating_add(300).signum() as i8,
        d.saturating_sub(300).signum() as i8,
    ];
    (
        2 + u8::from(v.is_f64()),
        sides,
        d.unsigned_abs().max(1).ilog2(),
    )
}

/// The doctor's top cause, from scratch: what [`CauseCache::cause`] runs for a new
/// situation. `policy` is the issuer's (or one naming every configured issuer).
pub fn diagnose(
    err: &ValidationError,
    token: &str,
    policy: &Policy,
    now: i64,
) -> Option<&'static str> {
    let settings = doctor::Settings::new(policy.clone(), now);
    doctor::explain(err, token, &settings).first().map(|c| c.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn token(header: Value, claims: Value) -> String {
        let e = |v: &Value| tollgate::b64::encode(v.to_string().as_bytes());
        format!("{}.{}.c2ln", e(&header), e(&claims))
    }

    fn expired(exp: i64, now: i64) -> ValidationError {
        ValidationError::Expired {
            exp,
            now,
            leeway: 60,
        }
    }

    #[test]
    fn one_situation_is_diagnosed_once_a_minute() {
        let c = CauseCache::new();
        let now = 1_700_000_000;
        let mut runs = 0;
        for i in 0..50 {
            // distinct tokens, same situation: expired an hour ago, give or take a second
            let t = token(
                json!({"alg": "ES256", "kid": "k1"}),
                json!({"iss": "https://idp", "jti": format!("j{i}"), "sub": format!("u{i}"), "exp": now - 3600 - i}),
            );
            let cause = c.cause(&expired(now - 3600 - i, now), &t, now, 60, || {
                runs += 1;
                Some("token_expired")
            });
            assert_eq!(cause, Some("token_expired"));
        }
        assert_eq!(runs, 1);
        // a minute later, the doctor runs again
        let t = token(
            json!({"alg": "ES256", "kid": "k1"}),
            json!({"iss": "https://idp", "exp": now - 3600}),
        );
        c.cause(&expired(now - 3600, now + 60), &t, now + 60, 60, || {
            runs += 1;
            Some("token_expired")
        });
        assert_eq!(runs, 2);
    }

    #[test]
    fn dpop_refusals_are_one_situation_per_code_but_urls_differ() {
        let c = CauseCache::new();
        let now = 1_700_000_000;
        let t = token(json!({"alg": "ES256"}), json!({"iss": "a"}));
        let replay = |jti: &str| ValidationError::DpopReplayed { jti: jti.into() };
        assert_eq!(
            c.situation(&replay("j1"), &t, now, 60),
            c.situation(&replay("j2"), &t, now, 60)
        );
        // A flood over quota is one situation, whatever its Retry-After.
        let over = |retry_after| ValidationError::DpopKeyOverQuota {
            jkt: "k".into(),
            limit: 1000,
            retry_after,
        };
        assert_eq!(
            c.situation(&over(3), &t, now, 60),
            c.situation(&over(59), &t, now, 60)
        );
        let url = |found: &str| ValidationError::DpopUrlMismatch {
            expected: "http://10.0.0.5/x".into(),
            found: found.into(),
        };
        assert_ne!(
            c.situation(&url("https://api.example/x"), &t, now, 60),
            c.situation(&url("http://10.0.0.5/y"), &t, now, 60)
        );
    }

    #[test]
    fn situations_differ_by_what_the_rules_read() {
        let c = CauseCache::new();
        let now = 1_700_000_000;
        let k =
            |h: Value, p: Value, exp: i64| c.situation(&expired(exp, now), &token(h, p), now, 60);
        let h = json!({"alg": "ES256", "kid": "k1"});
        let base = k(
            h.clone(),
            json!({"iss": "a", "exp": now - 3600}),
            now - 3600,
        );
        assert_eq!(
            base,
            k(
                h.clone(),
                json!({"iss": "a", "exp": now - 3000, "jti": "x"}),
                now - 3000
            )
        );
        assert_ne!(
            base,
            k(
                h.clone(),
                json!({"iss": "b", "exp": now - 3600}),
                now - 3600
            )
        );
        assert_ne!(
            base,
            k(
                json!({"alg": "ES256", "kid": "k2"}),
                json!({"iss": "a", "exp": now - 3600}),
                now - 3600
            )
        );
        // just expired (perhaps the clocks) is another situation than an hour ago
        assert_ne!(
            base,
            k(h.clone(), json!({"iss": "a", "exp": now - 100}), now - 100)
        );
        // milliseconds
        assert_ne!(
            base,
            k(
                h.clone(),
                json!({"iss": "a", "exp": (now - 3600) * 1000}),
                now - 3600
            )
        );
        assert_ne!(
            base,
            k(
                h.clone(),
                json!({"iss": "a", "exp": now - 3600, "ver": "1.0"}),
                now - 3600
            )
        );
        assert_ne!(
            base,
            k(
                h,
                json!({"iss": "a", "exp": now - 3600, "nonce": "n"}),
                now - 3600
            )
        );
    }

    #[test]
    fn new_situations_have_a_budget() {
        let c = CauseCache::new();
        let now = 1_700_000_000;
        let err = ValidationError::Malformed {
            part: tollgate::TokenPart::Header,
            reason: "x".into(),
        };
        let mut runs = 0;
        let mut skipped = 0;
        for i in 0..(DIAGNOSES_PER_SECOND + 20) {
            let t = token(json!({"alg": "ES256", "kid": format!("k{i}")}), json!({}));
            match c.cause(&err, &t, now, 60, || {
                runs += 1;
                None
            }) {
                Some(NOT_DIAGNOSED) => skipped += 1,
                other => assert_eq!(other, None),
            }
        }
        assert_eq!((runs, skipped), (DIAGNOSES_PER_SECOND, 20));
        // the next second, new situations are diagnosed again
        let t = token(json!({"alg": "ES256", "kid": "next"}), json!({}));
        assert_eq!(c.cause(&err, &t, now + 1, 60, || Some("x")), Some("x"));
    }

    #[test]
    fn the_cache_is_bounded() {
        let c = CauseCache::new();
        let err = ValidationError::Malformed {
            part: tollgate::TokenPart::Header,
            reason: "x".into(),
        };
        for i in 0..(MAX_SITUATIONS as i64 * 3) {
            let t = token(json!({"kid": "k".repeat(100) + &i.to_string()}), json!({}));
            // a new second every 50 tokens, so the budget never stops it
            c.cause(&err, &t, 1_700_000_000 + i / 50, 60, || None);
        }
        assert!(lock(&c.state).causes.len() <= MAX_SITUATIONS);
    }
}
