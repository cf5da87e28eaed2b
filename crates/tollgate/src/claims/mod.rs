//! The claims of a verified token ([`Claims`]) and the policy they must meet ([`Policy`]).

mod policy;

pub use policy::{Policy, TypPolicy, DEFAULT_LEEWAY};

use serde_json::{Map, Value};

/// The claims set of a token, with typed accessors for the registered claims.
///
/// ```
/// use tollgate::Claims;
/// let claims = Claims::from(serde_json::json!({"aud": ["a", "b"], "scope": "read write"}).as_object().unwrap().clone());
/// assert_eq!(claims.audiences(), vec!["a", "b"]);
/// assert!(claims.has_scope("write"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
#[serde(transparent)]
pub struct Claims(pub Map<String, Value>);

impl From<Map<String, Value>> for Claims {
    fn from(map: Map<String, Value>) -> Claims {
        Claims(map)
    }
}

impl Claims {
    /// A claim by name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }
    /// A string claim by name.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
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
        match self.0.get("aud") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }
    /// `exp` in Unix seconds, if it is a number.
    pub fn expires_at(&self) -> Option<i64> {
        self.0.get("exp").and_then(numeric_date)
    }
    /// The granted scopes: the space-delimited `scope` string (RFC 8693/9068), the `scp`
    /// claim (string or array, Entra/Okta), or a `scope` array.
    pub fn scopes(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for name in ["scope", "scp"] {
            match self.0.get(name) {
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
        take_strings(&mut out, self.0.get("roles"));
        take_strings(
            &mut out,
            self.0.get("realm_access").and_then(|r| r.get("roles")),
        );
        take_strings(&mut out, self.0.get("cognito:groups"));
        take_strings(&mut out, self.0.get("groups"));
        out
    }
    /// Deserializes the claims into a typed struct.
    pub fn deserialize<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(Value::Object(self.0.clone()))
    }
    /// The claims as a JSON map.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

fn take_strings<'a>(out: &mut Vec<&'a str>, v: Option<&'a Value>) {
    match v {
        Some(Value::String(s)) => out.extend(s.split_whitespace()),
        Some(Value::Array(a)) => out.extend(a.iter().filter_map(Value::as_str)),
        _ => {}
    }
}

/// Reads a NumericDate (RFC 7519 section 2): a JSON number of seconds, fractions truncated.
pub(crate) fn numeric_date(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .map(|f| f.clamp(i64::MIN as f64, i64::MAX as f64) as i64)
        }),
        _ => None,
    }
}
