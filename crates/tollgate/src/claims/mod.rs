//! The claims of a verified token ([`Claims`]) and the policy they must meet ([`Policy`]).

pub(crate) mod issuer;
pub(crate) mod payload;
mod policy;

pub use issuer::{
    is_template, is_tenant_id, issuer_accepts, substitute_tenant, template_tenant,
    TENANT_PLACEHOLDER,
};
pub use policy::{Policy, TypPolicy, DEFAULT_LEEWAY};

use std::fmt;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::json;
use payload::{Found, Lookup, Payload};

/// The claims set of a token, with typed accessors for the registered claims.
///
/// A validated token's claims are kept as the payload's JSON text (already checked strictly:
/// UTF-8, strict JSON, no duplicate member names) with the position of each top-level
/// member, as the validation's one scan found them: reading `iss`, `sub`, `exp` or `cnf`
/// builds nothing. The map of JSON values is built the first time an accessor needs a
/// whole value, once.
///
/// ```
/// use tollgate::Claims;
/// let claims = Claims::from(serde_json::json!({"aud": ["a", "b"], "scope": "read write"}).as_object().unwrap().clone());
/// assert_eq!(claims.audiences(), vec!["a", "b"]);
/// assert!(claims.has_scope("write"));
/// assert_eq!(claims.into_map().len(), 2);
/// ```
#[derive(Clone, Default)]
pub struct Claims {
    /// The payload JSON this was read from, indexed; empty when built from a map.
    payload: Payload,
    /// The claims as a map, built from the payload on first use (or given).
    map: OnceLock<Map<String, Value>>,
}

impl From<Map<String, Value>> for Claims {
    fn from(map: Map<String, Value>) -> Claims {
        Claims {
            payload: Payload::default(),
            map: OnceLock::from(map),
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
    /// Claims from a payload the scanner indexed and whose claims were checked, with the
    /// map built on first use.
    pub(crate) fn from_payload(payload: Payload) -> Claims {
        Claims {
            payload,
            map: OnceLock::new(),
        }
    }

    /// The payload JSON these claims were read from, already checked strictly (UTF-8, strict
    /// JSON, no duplicate member names), or `None` when they were built from a map. For a
    /// caller that reads a few members in one pass without building the map.
    pub fn payload_json(&self) -> Option<&[u8]> {
        let bytes = self.payload.bytes();
        (!bytes.is_empty()).then_some(bytes)
    }

    /// A claim by name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.as_map().get(name)
    }
    /// A string claim by name, read where it is in the payload JSON (no map is built).
    pub fn get_str(&self, name: &str) -> Option<&str> {
        match self.lookup(name) {
            Lookup::Found(Found::Str(s)) => Some(s),
            Lookup::Found(_) | Lookup::Absent => None,
            Lookup::Unindexed => self.get(name).and_then(Value::as_str),
        }
    }
    /// A claim that is an array of strings, by name (`None` when absent, not an array, or
    /// an array with an item that is not a string). No map is built.
    ///
    /// ```
    /// let claims = tollgate::Claims::from(serde_json::json!({"roles": ["a", "b"], "n": [1]}).as_object().unwrap().clone());
    /// assert_eq!(claims.get_str_array("roles"), Some(vec!["a", "b"]));
    /// assert_eq!(claims.get_str_array("n"), None);
    /// ```
    pub fn get_str_array(&self, name: &str) -> Option<Vec<&str>> {
        match self.lookup(name) {
            Lookup::Found(Found::Array(text)) => {
                let mut out = Vec::new();
                json::array_strings(text, |s| out.push(s)).then_some(out)
            }
            Lookup::Found(_) | Lookup::Absent => None,
            Lookup::Unindexed => match self.get(name)? {
                Value::Array(items) => items.iter().map(Value::as_str).collect(),
                _ => None,
            },
        }
    }
    /// True when the claims have a member `name` (of any value). No map is built: checking
    /// that a token has no `cnf` costs nothing but the lookup.
    ///
    /// ```
    /// let claims = tollgate::Claims::from(serde_json::json!({"sub": "a"}).as_object().unwrap().clone());
    /// assert!(claims.contains("sub") && !claims.contains("cnf"));
    /// ```
    pub fn contains(&self, name: &str) -> bool {
        match self.lookup(name) {
            Lookup::Found(_) => true,
            Lookup::Absent => false,
            Lookup::Unindexed => self.as_map().contains_key(name),
        }
    }
    /// A NumericDate claim (`exp`, `iat`, `nbf`, ...) in Unix seconds, if it is a number;
    /// an integer is read without building the map.
    fn time(&self, name: &str) -> Option<i64> {
        match self.lookup(name) {
            Lookup::Found(Found::Int(n)) => Some(n),
            Lookup::Found(Found::BigInt) | Lookup::Unindexed => {
                self.get(name).and_then(numeric_date)
            }
            Lookup::Found(_) | Lookup::Absent => None,
        }
    }
    fn lookup(&self, name: &str) -> Lookup<'_> {
        self.payload.lookup(name)
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
        self.time("exp")
    }
    /// `iat` in Unix seconds, if it is a number.
    pub fn issued_at(&self) -> Option<i64> {
        self.time("iat")
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
        self.map.get_or_init(|| materialize(self.payload.bytes()))
    }
    /// The claims as an owned JSON map.
    pub fn into_map(self) -> Map<String, Value> {
        let Claims { payload, map } = self;
        map.into_inner()
            .unwrap_or_else(|| materialize(payload.bytes()))
    }
}

/// The map of checked payload JSON. `from_payload` only holds payloads the scanner
/// indexed, which the strict parser accepts, so the fallback (an empty map) is never taken; it exists so that nothing here
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

    /// Claims whose members were indexed by a scan of `json`, as a validation leaves them.
    fn indexed(json: &[u8]) -> Claims {
        let payload = Payload::new(json.to_vec());
        assert!(payload.is_indexed());
        Claims::from_payload(payload)
    }

    /// Indexed and map lookups answer alike, for every kind of value, also on a clone and
    /// once the map is built; lookups by index build no map.
    #[test]
    fn lookups_answer_alike_whether_indexed_or_mapped() {
        let json = br#"{"iss":"https://idp","n":7,"cnf":{"jkt":"x"},"aud":["a"],"sub":"s","exp":1700000000,"iat":-5,"big":18446744073709551615,"roles":["r1","r2"],"mixed":["a",1],"t":true,"z":null,"e":[],"s2":""}"#;
        let claims = indexed(json);
        let expected = Claims::from(json::parse_object(json).unwrap());
        let names = [
            "iss", "n", "cnf", "aud", "sub", "exp", "iat", "roles", "mixed", "t", "z", "e", "s2",
            "absent", "", "is",
        ];
        let check = |claims: &Claims| {
            for name in names {
                assert_eq!(claims.get_str(name), expected.get_str(name), "{name}");
                assert_eq!(claims.contains(name), expected.contains(name), "{name}");
                assert_eq!(
                    claims.get_str_array(name),
                    expected.get_str_array(name),
                    "{name}"
                );
                assert_eq!(claims.time(name), expected.time(name), "{name}");
            }
            assert_eq!(claims.expires_at(), Some(1_700_000_000));
            assert_eq!(claims.issued_at(), Some(-5));
        };
        check(&claims);
        assert!(claims.map.get().is_none(), "lookups by index build no map");
        check(&claims.clone());
        // An integer beyond i64 is read as the map reads it (the map is built for it).
        assert!(claims.contains("big") && claims.get_str("big").is_none());
        assert_eq!(claims.time("big"), expected.time("big"));
        assert_eq!(claims.as_map(), expected.as_map());
        check(&claims);
        let empty = indexed(b"{}");
        assert!(!empty.contains("iss") && empty.issuer().is_none());
        assert!(empty.map.get().is_none());
    }
}
