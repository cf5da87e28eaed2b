//! The claims of a verified token ([`Claims`]) and the policy they must meet ([`Policy`]).

pub(crate) mod issuer;
mod policy;

pub use issuer::{
    is_template, is_tenant_id, issuer_accepts, substitute_tenant, template_tenant,
    TENANT_PLACEHOLDER,
};
pub use policy::{Policy, TypPolicy, DEFAULT_LEEWAY};

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::json;

/// The claims set of a token, with typed accessors for the registered claims.
///
/// A validated token's claims are kept as the payload's JSON text (already checked strictly:
/// UTF-8, strict JSON, no duplicate member names) and turned into a map the first time an
/// accessor needs it, once: a request that only needs the validation itself builds nothing.
///
/// ```
/// use tollgate::Claims;
/// let claims = Claims::from(serde_json::json!({"aud": ["a", "b"], "scope": "read write"}).as_object().unwrap().clone());
/// assert_eq!(claims.audiences(), vec!["a", "b"]);
/// assert!(claims.has_scope("write"));
/// assert_eq!(claims.into_map().len(), 2);
/// ```
#[derive(Default)]
pub struct Claims {
    /// The payload JSON this was read from; empty when built from a map.
    json: Box<[u8]>,
    /// The claims as a map, built from `json` on first use (or given).
    map: OnceLock<Map<String, Value>>,
    /// Members looked up by scanning `json` so far (see [`Claims::scan`]).
    scans: AtomicU8,
}

/// Lookups answered by scanning the payload JSON before the map is built instead: a token's
/// first validation and binding check read at most four members (`iss`, `tid`, `iss`,
/// `cnf`); a claims set asked again and again (a cached token, at every request) is worth
/// its map, built once.
const SCANS_BEFORE_MAP: u8 = 4;

impl Clone for Claims {
    fn clone(&self) -> Claims {
        Claims {
            json: self.json.clone(),
            map: self.map.clone(),
            scans: AtomicU8::new(self.scans.load(Ordering::Relaxed)),
        }
    }
}

impl From<Map<String, Value>> for Claims {
    fn from(map: Map<String, Value>) -> Claims {
        Claims {
            json: Box::default(),
            map: OnceLock::from(map),
            scans: AtomicU8::new(0),
        }
    }
}

impl PartialEq for Claims {
    fn eq(&self, other: &Claims) -> bool {
        self.as_map() == other.as_map()
    }
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Claims").field(self.as_map()).finish()
    }
}

impl serde::Serialize for Claims {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.as_map().serialize(s)
    }
}

impl Claims {
    /// Claims from payload JSON that [`json::scan_object`] accepted (so [`json::parse_object`]
    /// reads it), with the map built on first use.
    pub(crate) fn from_checked_json(json: Vec<u8>) -> Claims {
        Claims {
            json: json.into_boxed_slice(),
            map: OnceLock::new(),
            scans: AtomicU8::new(0),
        }
    }

    /// The payload JSON these claims were read from, already checked strictly (UTF-8, strict
    /// JSON, no duplicate member names), or `None` when they were built from a map. For a
    /// caller that reads a few members in one pass without building the map.
    pub fn payload_json(&self) -> Option<&[u8]> {
        (!self.json.is_empty()).then_some(&*self.json)
    }

    /// A claim by name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.as_map().get(name)
    }
    /// A string claim by name. Before the map is built, read from the payload JSON without
    /// building it.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        match self.scan(name) {
            Some(Some(json::Scanned::Str(s))) => Some(s),
            // Absent, or not a string.
            Some(_) => None,
            None => self.get(name).and_then(Value::as_str),
        }
    }
    /// True when the claims have a member `name` (of any value). Before the map is built,
    /// read from the payload JSON without building it: checking that a token has no `cnf`
    /// costs no map.
    ///
    /// ```
    /// let claims = tollgate::Claims::from(serde_json::json!({"sub": "a"}).as_object().unwrap().clone());
    /// assert!(claims.contains("sub") && !claims.contains("cnf"));
    /// ```
    pub fn contains(&self, name: &str) -> bool {
        match self.scan(name) {
            Some(found) => found.is_some(),
            None => self.as_map().contains_key(name),
        }
    }
    /// The top-level member `name` as the allocation-free scanner reads the payload JSON:
    /// `Some(found)` for the first [`SCANS_BEFORE_MAP`] lookups while the map is not built,
    /// `None` when the map is to be asked (given, built, or worth building now). A scanned
    /// string is exactly the map's string: the JSON held was accepted by the scanner,
    /// which takes no escapes.
    fn scan(&self, name: &str) -> Option<Option<json::Scanned<'_>>> {
        if self.json.is_empty() || self.map.get().is_some() {
            return None;
        }
        if self.scans.fetch_add(1, Ordering::Relaxed) >= SCANS_BEFORE_MAP {
            self.scans.store(SCANS_BEFORE_MAP, Ordering::Relaxed);
            return None;
        }
        let mut found = None;
        json::scan_object(&self.json, |n, v| {
            if n == name {
                found = Some(v);
            }
        })
        .then_some(found)
    }
    /// The issuer (`iss`), when it is a string.
    pub fn issuer(&self) -> Option<&str> {
        self.get_str("iss")
    }
    /// The subject (`sub`), when it is a string: the user or client the token is about.
    pub fn subject(&self) -> Option<&str> {
        self.get_str("sub")
    }
    /// `aud` as a list (a single string is a list of one).
    pub fn audiences(&self) -> Vec<&str> {
        match self.get("aud") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }
    /// `exp` in Unix seconds, if it is a number.
    pub fn expires_at(&self) -> Option<i64> {
        self.get("exp").and_then(numeric_date)
    }
    /// The granted scopes: the space-delimited `scope` string (RFC 8693/9068), the `scp`
    /// claim (string or array, Entra/Okta), or a `scope` array.
    pub fn scopes(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for name in ["scope", "scp"] {
            match self.get(name) {
                Some(Value::String(s)) => out.extend(s.split_whitespace()),
                Some(Value::Array(a)) => out.extend(a.iter().filter_map(Value::as_str)),
                _ => {}
            }
        }
        out
    }
    /// True when `scope` is granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().contains(&scope)
    }
    /// The roles: `roles` (Entra, array or string), `realm_access.roles` (Keycloak),
    /// `cognito:groups`, `groups`.
    pub fn roles(&self) -> Vec<&str> {
        let mut out = Vec::new();
        take_strings(&mut out, self.get("roles"));
        take_strings(
            &mut out,
            self.get("realm_access").and_then(|r| r.get("roles")),
        );
        take_strings(&mut out, self.get("cognito:groups"));
        take_strings(&mut out, self.get("groups"));
        out
    }
    /// Deserializes the claims into a typed struct.
    pub fn deserialize<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(Value::Object(self.as_map().clone()))
    }
    /// The claims as a JSON map (built on first use).
    pub fn as_map(&self) -> &Map<String, Value> {
        self.map.get_or_init(|| materialize(&self.json))
    }
    /// The claims as an owned JSON map.
    pub fn into_map(self) -> Map<String, Value> {
        let Claims { json, map, .. } = self;
        map.into_inner().unwrap_or_else(|| materialize(&json))
    }
}

/// The map of checked payload JSON. `from_checked_json` only holds JSON the strict parser
/// accepts, so the fallback (an empty map) is never taken; it exists so that nothing here
/// can panic.
fn materialize(json: &[u8]) -> Map<String, Value> {
    if json.is_empty() {
        return Map::new();
    }
    json::parse_object(json).unwrap_or_default()
}

fn take_strings<'a>(out: &mut Vec<&'a str>, v: Option<&'a Value>) {
    match v {
        Some(Value::String(s)) => out.extend(s.split_whitespace()),
        Some(Value::Array(a)) => out.extend(a.iter().filter_map(Value::as_str)),
        _ => {}
    }
}

/// A NumericDate above this (year 5138) is taken to be in milliseconds, not seconds: by
/// the policy (an invalid claim) and by the doctor (a `time_claims_in_milliseconds` cause).
pub(crate) const MAX_PLAUSIBLE_SECONDS: i64 = 100_000_000_000;

/// Reads a NumericDate (RFC 7519 section 2): a JSON number of seconds, fractions truncated.
///
/// ```
/// use serde_json::json;
/// assert_eq!(tollgate::claims::numeric_date(&json!(1700000000.9)), Some(1_700_000_000));
/// assert_eq!(tollgate::claims::numeric_date(&json!("1700000000")), None);
/// ```
pub fn numeric_date(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .map(|f| f.clamp(i64::MIN as f64, i64::MAX as f64) as i64)
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scanned and map lookups answer alike, before, across and after the switch to the
    /// map; a clone keeps answering alike.
    #[test]
    fn lookups_answer_alike_whether_scanned_or_mapped() {
        let json = br#"{"iss":"https://idp","n":7,"cnf":{"jkt":"x"},"aud":["a"],"sub":"s"}"#;
        let claims = Claims::from_checked_json(json.to_vec());
        let expected = Claims::from(json::parse_object(json).unwrap());
        for round in 0..(2 * SCANS_BEFORE_MAP as usize) {
            for name in ["iss", "n", "cnf", "aud", "sub", "absent"] {
                assert_eq!(
                    claims.get_str(name),
                    expected.get_str(name),
                    "{name}, round {round}"
                );
                assert_eq!(claims.contains(name), expected.contains(name), "{name}");
                assert_eq!(claims.clone().get_str(name), expected.get_str(name));
            }
        }
        assert!(
            claims.map.get().is_some(),
            "asked again and again: the map is built"
        );
        let fresh = Claims::from_checked_json(json.to_vec());
        assert_eq!(fresh.issuer(), Some("https://idp"));
        assert!(fresh.contains("cnf"));
        assert!(fresh.map.get().is_none(), "the first lookups build no map");
    }
}
