//! What a token must satisfy beyond its signature: issuer, audience, lifetime, type,
//! required claims, and the algorithm allow-list.

use serde_json::{Map, Value};

use super::issuer::{is_template, is_tenant_id, substitute_tenant, template_tenant};
use super::payload::{Found, Payload};
use super::MAX_PLAUSIBLE_SECONDS;
use super::{numeric_date, Claims};
use crate::alg::Algorithm;
use crate::error::{TokenPart, ValidationError};
use crate::json;
use crate::jws::{Header, DEFAULT_MAX_TOKEN_SIZE};

/// Default clock leeway: 60 s. Covers ordinary NTP drift between the IdP and the API
/// without stretching a 5-minute token noticeably (the same default as jose and ASP.NET's
/// 5 min is widely considered too lax).
pub const DEFAULT_LEEWAY: u64 = 60;

/// What the header `typ` must be.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TypPolicy {
    /// Any `typ`, or none.
    #[default]
    Any,
    /// One of these (compared case-insensitively, `application/` prefix optional, RFC 7515
    /// section 4.1.9), e.g. `["at+jwt"]` for RFC 9068 access tokens.
    OneOf(Vec<String>),
    /// Anything but these, e.g. `["id+jwt", "Refresh", "ID"]`.
    NoneOf(Vec<String>),
}

fn normalize_typ(t: &str) -> String {
    let t = t.trim().to_ascii_lowercase();
    t.strip_prefix("application/")
        .map(str::to_string)
        .unwrap_or(t)
}

/// Validation policy for one issuer.
///
/// ```
/// use tollgate::{Algorithm, Policy};
/// let policy = Policy::new()
///     .issuer("https://login.example.com/")
///     .audience("api://orders")
///     .leeway(30);
/// assert_eq!(policy.algorithms, Algorithm::ASYMMETRIC.to_vec());
/// assert!(policy.require_exp);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Policy {
    /// Accepted issuers (`iss` must equal one exactly). Empty: `iss` is not checked.
    ///
    /// An issuer containing `{tenantid}` is a template (see [`crate::claims::template_tenant`]):
    /// it accepts a token whose `iss` is the template with the token's `tid` (a lower-case
    /// GUID) in place of the placeholder, when that tenant is in [`Policy::tenants`] (or
    /// `tenants` is empty). The first issuer is the one the keys are published for: a key's
    /// `issuer` member must name it or the token's `iss` (see [`crate::validate`]).
    pub issuers: Vec<String>,
    /// Accepted tenant ids for templated issuers (lower-case GUIDs). Empty: every tenant
    /// is accepted (authorization by tenant is then the API's job: `tid` is in the claims).
    pub tenants: Vec<String>,
    /// Accepted audiences (any `aud` value equal to one passes). Empty: `aud` is not checked.
    pub audiences: Vec<String>,
    /// Allowed algorithms. Default: every asymmetric one; HS* only when added explicitly.
    pub algorithms: Vec<Algorithm>,
    /// Clock leeway in seconds for `exp`, `nbf` and `iat`. Default [`DEFAULT_LEEWAY`].
    pub leeway: u64,
    /// Require `exp` (default true: an access token that never expires is refused).
    pub require_exp: bool,
    /// Maximum age since `iat`, in seconds (requires `iat`). Default: none.
    pub max_age: Option<u64>,
    /// The header `typ` policy. Default: any.
    pub typ: TypPolicy,
    /// Claims that must be present.
    pub required_claims: Vec<String>,
    /// Maximum token size in bytes. Default [`DEFAULT_MAX_TOKEN_SIZE`] (16 KiB).
    pub max_token_size: usize,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            issuers: Vec::new(),
            tenants: Vec::new(),
            audiences: Vec::new(),
            algorithms: Algorithm::ASYMMETRIC.to_vec(),
            leeway: DEFAULT_LEEWAY,
            require_exp: true,
            max_age: None,
            typ: TypPolicy::Any,
            required_claims: Vec::new(),
            max_token_size: DEFAULT_MAX_TOKEN_SIZE,
        }
    }
}

impl Policy {
    /// The default policy.
    pub fn new() -> Policy {
        Policy::default()
    }
    /// Adds accepted issuers.
    pub fn issuers<I: Into<String>>(mut self, issuers: impl IntoIterator<Item = I>) -> Policy {
        self.issuers.extend(issuers.into_iter().map(Into::into));
        self
    }
    /// Sets the maximum token size in bytes (default [`DEFAULT_MAX_TOKEN_SIZE`]).
    pub fn max_token_size(mut self, bytes: usize) -> Policy {
        self.max_token_size = bytes;
        self
    }
    /// Adds an accepted issuer.
    pub fn issuer(mut self, iss: impl Into<String>) -> Policy {
        self.issuers.push(iss.into());
        self
    }
    /// Adds an accepted tenant id for templated issuers (stored in lower case; only a
    /// GUID can ever match, see [`crate::claims::is_tenant_id`]).
    pub fn tenant(mut self, tenant: impl Into<String>) -> Policy {
        self.tenants.push(tenant.into().to_ascii_lowercase());
        self
    }
    /// Adds accepted tenant ids (see [`Policy::tenant`]).
    pub fn tenants<I: Into<String>>(self, tenants: impl IntoIterator<Item = I>) -> Policy {
        tenants.into_iter().fold(self, Policy::tenant)
    }
    /// Adds an accepted audience.
    pub fn audience(mut self, aud: impl Into<String>) -> Policy {
        self.audiences.push(aud.into());
        self
    }
    /// Replaces the allowed algorithms.
    pub fn algorithms(mut self, algs: impl IntoIterator<Item = Algorithm>) -> Policy {
        self.algorithms = algs.into_iter().collect();
        self
    }
    /// Sets the leeway in seconds.
    pub fn leeway(mut self, seconds: u64) -> Policy {
        self.leeway = seconds;
        self
    }
    /// Sets the `typ` policy.
    pub fn typ(mut self, typ: TypPolicy) -> Policy {
        self.typ = typ;
        self
    }
    /// Adds a required claim.
    pub fn require_claim(mut self, name: impl Into<String>) -> Policy {
        self.required_claims.push(name.into());
        self
    }
    /// Sets a maximum age since `iat`.
    pub fn max_age(mut self, seconds: u64) -> Policy {
        self.max_age = Some(seconds);
        self
    }
    /// Whether `exp` is required.
    pub fn require_exp(mut self, required: bool) -> Policy {
        self.require_exp = required;
        self
    }

    /// Checks the header `alg` against the allow-list.
    pub fn check_alg(&self, alg: &str) -> Result<Algorithm, ValidationError> {
        match alg.parse::<Algorithm>() {
            Ok(a) if self.algorithms.contains(&a) => Ok(a),
            _ => Err(ValidationError::AlgNotAllowed {
                alg: alg.to_string(),
                allowed: self.algorithms.clone(),
            }),
        }
    }

    /// Checks the header `typ`.
    pub fn check_typ(&self, header: &Header) -> Result<(), ValidationError> {
        let found = header.typ.as_deref();
        let ok = match &self.typ {
            TypPolicy::Any => true,
            TypPolicy::OneOf(list) => found.is_some_and(|t| {
                let t = normalize_typ(t);
                list.iter().any(|x| normalize_typ(x) == t)
            }),
            TypPolicy::NoneOf(list) => found.is_none_or(|t| {
                let t = normalize_typ(t);
                !list.iter().any(|x| normalize_typ(x) == t)
            }),
        };
        if ok {
            return Ok(());
        }
        let expected = match &self.typ {
            TypPolicy::OneOf(list) => format!("one of {}", list.join(", ")),
            TypPolicy::NoneOf(list) => format!("anything but {}", list.join(", ")),
            TypPolicy::Any => "any".into(),
        };
        if header.raw().get("typ").is_some_and(|t| !t.is_string()) {
            return Err(ValidationError::InvalidClaim {
                claim: "typ".into(),
                expected: "a string".into(),
                found: json::preview(&header.raw()["typ"], 40),
            });
        }
        Err(ValidationError::TypeMismatch {
            expected,
            found: found.map(str::to_string),
        })
    }

    /// Checks the claims at time `now` (Unix seconds): types of the registered claims,
    /// `iss`, `aud`, `exp`, `nbf`, `iat`, maximum age, required claims.
    pub fn check_claims(
        &self,
        claims: &Map<String, Value>,
        now: i64,
    ) -> Result<(), ValidationError> {
        // One pass over the claims finds the registered ones (cheaper than five lookups).
        let (mut exp, mut nbf, mut iat, mut iss, mut aud) = (None, None, None, None, None);
        let mut tid = None;
        for (name, value) in claims {
            match name.as_str() {
                "tid" => tid = Some(value),
                "exp" => exp = Some(value),
                "nbf" => nbf = Some(value),
                "iat" => iat = Some(value),
                "iss" => iss = Some(value),
                "aud" => aud = Some(value),
                _ => {}
            }
        }
        let exp = time_claim(exp, "exp")?;
        let nbf = time_claim(nbf, "nbf")?;
        let iat = time_claim(iat, "iat")?;
        let iss = match iss {
            None => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(other) => return Err(invalid("iss", "a string", other)),
        };
        // `aud` is a string or an array of strings; checked in place, no list is built
        // unless the audience does not match.
        let aud = match aud {
            None => &[][..],
            Some(v @ Value::String(_)) => std::slice::from_ref(v),
            Some(v @ Value::Array(items)) => {
                if !items.iter().all(Value::is_string) {
                    return Err(invalid("aud", "a string or an array of strings", v));
                }
                &items[..]
            }
            Some(other) => return Err(invalid("aud", "a string or an array of strings", other)),
        };

        self.check_issuer(iss, tid)?;
        if !self.audiences.is_empty()
            && !aud
                .iter()
                .filter_map(Value::as_str)
                .any(|a| self.audiences.iter().any(|e| e == a))
        {
            return Err(ValidationError::AudienceMismatch {
                expected: self.audiences.clone(),
                found: aud
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
            });
        }
        let leeway = self.leeway as i64;
        match exp {
            Some(exp) if now >= exp.saturating_add(leeway) => {
                return Err(ValidationError::Expired {
                    exp,
                    now,
                    leeway: self.leeway,
                })
            }
            None if self.require_exp => {
                return Err(ValidationError::MissingClaim {
                    claim: "exp".into(),
                })
            }
            _ => {}
        }
        if let Some(nbf) = nbf {
            if nbf > now.saturating_add(leeway) {
                return Err(ValidationError::NotYetValid {
                    nbf,
                    now,
                    leeway: self.leeway,
                });
            }
        }
        if let Some(iat) = iat {
            if iat > now.saturating_add(leeway) {
                return Err(ValidationError::IssuedInFuture {
                    iat,
                    now,
                    leeway: self.leeway,
                });
            }
        }
        if let Some(max_age) = self.max_age {
            let iat = iat.ok_or_else(|| ValidationError::MissingClaim {
                claim: "iat".into(),
            })?;
            if now.saturating_sub(iat) > (max_age as i64).saturating_add(leeway) {
                return Err(ValidationError::TooOld { iat, now, max_age });
            }
        }
        for name in &self.required_claims {
            if !claims.contains_key(name) {
                return Err(ValidationError::MissingClaim {
                    claim: name.clone(),
                });
            }
        }
        Ok(())
    }
}

impl Policy {
    /// True when `iss` equals one of the accepted issuers that is not a template (a
    /// template is never matched by its own spelling).
    fn is_literal_issuer(&self, iss: &str) -> bool {
        self.issuers.iter().any(|e| e == iss && !is_template(e))
    }

    /// Checks `iss` (and, for a templated issuer, `tid` and [`Policy::tenants`]).
    fn check_issuer(&self, iss: Option<&str>, tid: Option<&Value>) -> Result<(), ValidationError> {
        if self.issuers.is_empty() {
            return Ok(());
        }
        let mismatch = |expected: Vec<String>| ValidationError::IssuerMismatch {
            expected,
            found: iss.map(str::to_string),
        };
        let Some(iss) = iss else {
            return Err(mismatch(self.issuers.clone()));
        };
        if self.is_literal_issuer(iss) {
            return Ok(());
        }
        let Some((template, tenant)) = self
            .issuers
            .iter()
            .find_map(|t| template_tenant(t, iss).map(|tenant| (t, tenant)))
        else {
            return Err(mismatch(self.issuers.clone()));
        };
        let tid = match tid {
            None => {
                return Err(ValidationError::TenantMissing {
                    issuer: iss.to_string(),
                })
            }
            Some(Value::String(t)) if is_tenant_id(t) => t.as_str(),
            Some(other) => {
                return Err(invalid(
                    "tid",
                    "a tenant id: a GUID in lower case (8-4-4-4-12 digits 0-9a-f)",
                    other,
                ))
            }
        };
        if tid != tenant {
            // `iss` names another tenant than `tid`: the issuer expected is the one of `tid`.
            return Err(mismatch(vec![substitute_tenant(template, tid)]));
        }
        if !self.tenants.is_empty() && !self.tenants.iter().any(|t| t == tid) {
            return Err(ValidationError::TenantNotAllowed {
                tenant: tid.to_string(),
                allowed: self.tenants.clone(),
            });
        }
        Ok(())
    }

    /// The claims of a validated token from its decoded payload: checked without building
    /// a map when [`quick_check`](Policy::quick_check) passes, otherwise parsed strictly and
    /// checked by [`check_claims`](Policy::check_claims). `between` (the header `typ`
    /// check) runs after the parse and before the claims checks, so errors come in the same
    /// order either way: malformed payload, then `between`, then `check_claims`.
    pub(crate) fn check_payload(
        &self,
        payload: Payload,
        now: i64,
        between: impl FnOnce() -> Result<(), ValidationError>,
    ) -> Result<Claims, ValidationError> {
        if self.quick_check(&payload, now) {
            between()?;
            return Ok(Claims::from_payload(payload));
        }
        let payload = payload.into_bytes();
        let map = json::parse_object(&payload).map_err(|reason| ValidationError::Malformed {
            part: TokenPart::Payload,
            reason: reason.to_string(),
        })?;
        between()?;
        self.check_claims(&map, now)?;
        Ok(Claims::from(map))
    }

    /// The claims checks of [`check_claims`](Policy::check_claims) run on the payload's
    /// index (see [`Payload`]), building nothing: `true` only when the scanner accepted the
    /// payload (so the strict parser reads it) and every check clearly passes. `false`
    /// means "not decided here": the caller parses the map and runs `check_claims`, which
    /// gives the verdict and the error. Any value this does not read exactly as
    /// `check_claims` does (a fraction, an escape, a huge number, a wrong type) gives
    /// `false`, so it can never accept what `check_claims` refuses.
    pub(crate) fn quick_check(&self, payload: &Payload, now: i64) -> bool {
        let required = &self.required_claims;
        if required.len() > 64 || !payload.is_indexed() {
            return false;
        }
        let (mut exp, mut nbf, mut iat, mut iss, mut aud) = (None, None, None, None, None);
        let (mut present, mut seen) = (0u64, 0);
        for (name, value) in payload.members() {
            seen += 1;
            // Byte patterns: compared inline, no call to memcmp per member.
            match name.as_bytes() {
                b"exp" => exp = Some(value),
                b"nbf" => nbf = Some(value),
                b"iat" => iat = Some(value),
                b"iss" => iss = Some(value),
                b"aud" => aud = Some(value),
                _ => {}
            }
            for (i, r) in required.iter().enumerate() {
                if r == name {
                    present |= 1 << i;
                }
            }
        }
        // Every member read (a member not read could be an unchecked `exp`).
        if seen != payload.len() {
            return false;
        }
        let all = if required.is_empty() {
            0
        } else {
            u64::MAX >> (64 - required.len())
        };
        if present != all {
            return false;
        }
        let (Some(exp), Some(nbf), Some(iat)) = (quick_time(exp), quick_time(nbf), quick_time(iat))
        else {
            return false;
        };
        let iss = match iss {
            None => None,
            Some(Found::Str(s)) => Some(s),
            Some(_) => return false,
        };
        // Templates need `tid`: decided by `check_claims`.
        if !self.issuers.is_empty() && !iss.is_some_and(|i| self.is_literal_issuer(i)) {
            return false;
        }
        let mut aud_ok = self.audiences.is_empty();
        let mut hit = |a: &str| aud_ok |= self.audiences.iter().any(|e| e == a);
        match aud {
            None => {}
            Some(Found::Str(s)) => hit(s),
            Some(Found::Array(items)) if json::array_strings(items, hit) => {}
            Some(_) => return false,
        }
        if !aud_ok {
            return false;
        }
        let leeway = self.leeway as i64;
        match exp {
            Some(exp) if now >= exp.saturating_add(leeway) => return false,
            None if self.require_exp => return false,
            _ => {}
        }
        if nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
            return false;
        }
        if iat.is_some_and(|iat| iat > now.saturating_add(leeway)) {
            return false;
        }
        if let Some(max_age) = self.max_age {
            match iat {
                Some(iat) if now.saturating_sub(iat) <= (max_age as i64).saturating_add(leeway) => {
                }
                _ => return false,
            }
        }
        true
    }
}

/// A NumericDate as [`time_claim`] reads it, when the scanner's value is an integer it
/// accepts: `Some(None)` absent, `Some(Some(t))` a plausible number of seconds, `None` for
/// anything `time_claim` would refuse or that is not an integer (left to it).
fn quick_time(v: Option<Found<'_>>) -> Option<Option<i64>> {
    match v {
        None => Some(None),
        Some(Found::Int(n)) if n.unsigned_abs() <= MAX_PLAUSIBLE_SECONDS as u64 => Some(Some(n)),
        Some(_) => None,
    }
}

fn invalid(claim: &str, expected: &str, found: &Value) -> ValidationError {
    ValidationError::InvalidClaim {
        claim: claim.to_string(),
        expected: expected.to_string(),
        found: json::preview(found, 60),
    }
}

/// A NumericDate claim: absent is `None`; anything but a number of seconds is invalid (a
/// string is never treated as absent).
fn time_claim(claim: Option<&Value>, name: &str) -> Result<Option<i64>, ValidationError> {
    match claim {
        None => Ok(None),
        Some(v) => match numeric_date(v) {
            Some(t) if t.unsigned_abs() > MAX_PLAUSIBLE_SECONDS as u64 => {
                Err(ValidationError::InvalidClaim {
                    claim: name.to_string(),
                    expected: "a NumericDate in seconds (this value looks like milliseconds)"
                        .into(),
                    found: json::preview(v, 60),
                })
            }
            Some(t) => Ok(Some(t)),
            None => Err(invalid(name, "a NumericDate (a JSON number of seconds)", v)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn lifetime_with_leeway() {
        let p = Policy::new();
        assert!(p
            .check_claims(&claims(json!({"exp": NOW - 59})), NOW)
            .is_ok());
        let e = p
            .check_claims(&claims(json!({"exp": NOW - 60})), NOW)
            .unwrap_err();
        assert_eq!(
            e,
            ValidationError::Expired {
                exp: NOW - 60,
                now: NOW,
                leeway: 60
            }
        );
        let e = p
            .check_claims(&claims(json!({"exp": NOW + 600, "nbf": NOW + 61})), NOW)
            .unwrap_err();
        assert_eq!(e.code(), "not_yet_valid");
        let e = p
            .check_claims(&claims(json!({"exp": NOW + 600, "iat": NOW + 120})), NOW)
            .unwrap_err();
        assert_eq!(e.code(), "issued_in_future");
        let e = p.check_claims(&claims(json!({})), NOW).unwrap_err();
        assert_eq!(
            e,
            ValidationError::MissingClaim {
                claim: "exp".into()
            }
        );
        assert!(p
            .clone()
            .require_exp(false)
            .check_claims(&claims(json!({})), NOW)
            .is_ok());
    }

    #[test]
    fn wrong_types_are_invalid_not_absent() {
        let p = Policy::new();
        let e = p
            .check_claims(&claims(json!({"exp": "123"})), NOW)
            .unwrap_err();
        assert_eq!(e.code(), "invalid_claim");
        let e = p
            .check_claims(&claims(json!({"exp": NOW * 1000})), NOW)
            .unwrap_err();
        assert!(e.to_string().contains("milliseconds"));
        let e = p
            .check_claims(&claims(json!({"exp": NOW + 5, "aud": [1]})), NOW)
            .unwrap_err();
        assert_eq!(e.code(), "invalid_claim");
    }

    #[test]
    fn extreme_dates_are_invalid_not_a_panic() {
        let p = Policy::new();
        for exp in [json!(-1e30), json!(1e30), json!(i64::MIN), json!(u64::MAX)] {
            let e = p
                .check_claims(&claims(json!({ "exp": exp })), NOW)
                .unwrap_err();
            assert_eq!(e.code(), "invalid_claim", "{exp}");
        }
    }

    #[test]
    fn issuer_and_audience() {
        let p = Policy::new().issuer("https://a/").audience("api://x");
        let ok = claims(json!({"exp": NOW + 60, "iss": "https://a/", "aud": ["y", "api://x"]}));
        assert!(p.check_claims(&ok, NOW).is_ok());
        let e = p
            .check_claims(
                &claims(json!({"exp": NOW + 60, "iss": "https://a", "aud": "api://x"})),
                NOW,
            )
            .unwrap_err();
        assert_eq!(e.code(), "issuer_mismatch");
        let e = p
            .check_claims(
                &claims(json!({"exp": NOW + 60, "iss": "https://a/", "aud": "x"})),
                NOW,
            )
            .unwrap_err();
        assert_eq!(
            e,
            ValidationError::AudienceMismatch {
                expected: vec!["api://x".into()],
                found: vec!["x".into()]
            }
        );
    }

    #[test]
    fn max_age_and_required() {
        let p = Policy::new().max_age(300).require_claim("sub");
        let e = p
            .check_claims(&claims(json!({"exp": NOW + 60, "iat": NOW - 400})), NOW)
            .unwrap_err();
        assert_eq!(e.code(), "too_old");
        let e = p
            .check_claims(&claims(json!({"exp": NOW + 60, "iat": NOW})), NOW)
            .unwrap_err();
        assert_eq!(
            e,
            ValidationError::MissingClaim {
                claim: "sub".into()
            }
        );
    }

    #[test]
    fn typ_policy() {
        let h = |typ: Option<&str>| Header::new("RS256", None, typ.map(str::to_string), Map::new());
        let p = Policy::new().typ(TypPolicy::OneOf(vec!["at+jwt".into()]));
        assert!(p.check_typ(&h(Some("application/AT+JWT"))).is_ok());
        assert_eq!(
            p.check_typ(&h(Some("JWT"))).unwrap_err().code(),
            "type_mismatch"
        );
        assert_eq!(p.check_typ(&h(None)).unwrap_err().code(), "type_mismatch");
        let p = Policy::new().typ(TypPolicy::NoneOf(vec!["Refresh".into()]));
        assert!(p.check_typ(&h(None)).is_ok());
        assert!(p.check_typ(&h(Some("refresh"))).is_err());
    }

    /// The strict reference: parse the map, then `check_claims`.
    fn strict(p: &Policy, payload: &[u8], now: i64) -> Result<Map<String, Value>, ValidationError> {
        let map = json::parse_object(payload).map_err(|reason| ValidationError::Malformed {
            part: TokenPart::Payload,
            reason: reason.to_string(),
        })?;
        p.check_claims(&map, now)?;
        Ok(map)
    }

    /// The lazy path and the strict path agree: same acceptance, same error (code and
    /// values), same map once materialized; and `quick_check` never passes what the strict
    /// path refuses.
    fn agree(p: &Policy, payload: &[u8], now: i64) -> Result<(), String> {
        let lazy = p.check_payload(Payload::new(payload.to_vec()), now, || Ok(()));
        let strict = strict(p, payload, now);
        if p.quick_check(&Payload::new(payload.to_vec()), now) && strict.is_err() {
            return Err(format!("quick_check passed, strict says {strict:?}"));
        }
        match (lazy, strict) {
            (Ok(claims), Ok(map)) => {
                // Lookups (by index when the quick check indexed the payload) answer as
                // the map does, before the map is built.
                let names = map.keys().map(String::as_str).chain(["absent", ""]);
                for name in names.collect::<Vec<_>>() {
                    let v = map.get(name);
                    let strings = match v {
                        Some(Value::Array(items)) => items.iter().map(Value::as_str).collect(),
                        _ => None,
                    };
                    if claims.get_str(name) != v.and_then(Value::as_str)
                        || claims.contains(name) != v.is_some()
                        || claims.get_str_array(name) != strings
                        || claims.time(name) != v.and_then(numeric_date)
                    {
                        return Err(format!("lookups of {name:?} differ from the map"));
                    }
                }
                if claims.as_map() != &map || claims.clone().into_map() != map {
                    return Err("different maps".into());
                }
                if serde_json::to_value(&claims).ok() != Some(Value::Object(map)) {
                    return Err("different serialization".into());
                }
                Ok(())
            }
            (Err(a), Err(b)) if a == b => Ok(()),
            (a, b) => Err(format!("lazy {a:?}, strict {b:?}")),
        }
    }

    #[test]
    fn lazy_and_strict_agree_on_edges() {
        let p = Policy::new()
            .issuer("https://a/")
            .audience("api://x")
            .require_claim("sub")
            .max_age(300);
        for payload in [
            r#"{"exp":1700000100,"iat":1700000000,"iss":"https://a/","aud":"api://x","sub":"u"}"#,
            r#"{"exp":1700000100,"iat":1700000000,"iss":"https://a/","aud":["y","api://x"],"sub":"u"}"#,
            r#"{"exp":1700000100.5,"iat":1700000000,"iss":"https://a/","aud":"api://x","sub":"u"}"#,
            r#"{"exp":1700000100,"iat":1700000000,"iss":"https:\/\/a/","aud":"api://x","sub":"u"}"#,
            r#"{"exp":1700000100,"iat":1700000000,"iss":"https://a/","aud":["api://x",1],"sub":"u"}"#,
            r#"{"exp":1700000100,"iat":1700000000,"iss":"https://a/","aud":"api://x"}"#,
            r#"{"exp":1700000100,"iat":1700000000,"iss":"https://a/","aud":"api://x","sub":"u","sub":"v"}"#,
            r#"{"exp":1700000100,"iat":1700000000,"iss":"https://a/","aud":"api://x","sub":{"a":1,"a":2}}"#,
            r#"{"exp":-1700000100,"iat":1700000000,"iss":"https://a/","aud":"api://x","sub":"u"}"#,
            r#"{"exp":1700000000000,"iat":1700000000,"iss":"https://a/","aud":"api://x","sub":"u"}"#,
            r#"{"exp":18446744073709551615,"iat":1700000000,"iss":"https://a/","aud":"api://x","sub":"u"}"#,
            r#"{"exp":-9223372036854775808,"iat":1700000000,"iss":"https://a/","aud":"api://x","sub":"u"}"#,
            r#"{"exp":"1700000100","iat":1700000000,"iss":"https://a/","aud":"api://x","sub":"u"}"#,
            r#"{"exp":1700000100,"iat":1699999000,"iss":"https://a/","aud":"api://x","sub":"u"}"#,
            r#"{"exp":1700000100,"iss":"https://a/","aud":"api://x","sub":"u"}"#,
            r#"{"exp":1700000100,"iat":1700000000,"iss":null,"aud":"api://x","sub":"u"}"#,
            r#"{"exp":1700000100,"iat":1700000000,"iss":"https://a/","aud":[],"sub":"u"}"#,
            r#"{"exp":1700000100,"iat":1700000000,"iss":"https://a/","aud":"api://x","sub":"u"} x"#,
            r#"[]"#,
            "",
            "{\"exp\":1700000100,\"iss\":\"\u{e9}\"}",
        ] {
            agree(&p, payload.as_bytes(), NOW).unwrap_or_else(|e| panic!("{payload}: {e}"));
            agree(&Policy::new(), payload.as_bytes(), NOW)
                .unwrap_or_else(|e| panic!("{payload}: {e}"));
        }
        assert!(agree(&p, b"{\"exp\":1,\"iss\":\"\xff\"}", NOW).is_ok());
        // The usual token is decided without a map.
        assert!(p.quick_check(
            &Payload::new(
                br#"{"exp":1700000100,"iat":1700000000,"iss":"https://a/","aud":["y","api://x"],"sub":"u"}"#
                    .to_vec()
            ),
            NOW
        ));
    }

    fn arb_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-400i64..400).prop_map(|d| Value::from(NOW + d)),
            (-400i64..400).prop_map(|d| Value::from((NOW + d) as f64 + 0.5)),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            Just(Value::from(NOW * 1000)),
            proptest::sample::select(vec![
                "https://a/",
                "https://b/",
                "api://x",
                "api://y",
                "u",
                "a\"b",
                "\u{e9}"
            ])
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-c]{1,2}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn arb_policy() -> impl proptest::strategy::Strategy<Value = Policy> {
        use proptest::prelude::*;
        (
            proptest::sample::subsequence(vec!["https://a/", "https://b/"], 0..=2),
            proptest::sample::subsequence(vec!["api://x", "api://y"], 0..=2),
            proptest::sample::subsequence(vec!["sub", "jti", "a"], 0..=3),
            0u64..120,
            proptest::option::of(0u64..400),
            any::<bool>(),
        )
            .prop_map(|(iss, aud, required, leeway, max_age, require_exp)| {
                let mut p = Policy::new().leeway(leeway).require_exp(require_exp);
                p.issuers = iss.into_iter().map(String::from).collect();
                p.audiences = aud.into_iter().map(String::from).collect();
                p.required_claims = required.into_iter().map(String::from).collect();
                p.max_age = max_age;
                p
            })
    }

    proptest::proptest! {
        /// Random claims sets (registered claims of every type, nested values), printed
        /// compact or pretty, sometimes with a member repeated: lazy and strict agree.
        #[test]
        fn lazy_and_strict_agree_on_random_claims(
            p in arb_policy(),
            members in proptest::collection::vec((
                proptest::sample::select(vec!["exp", "nbf", "iat", "iss", "aud", "sub", "jti", "a", "b"]),
                arb_value(),
            ), 0..9),
            aud_list in proptest::collection::vec(
                proptest::sample::select(vec![json!("api://x"), json!("api://y"), json!(1)]), 0..3),
            pretty in proptest::bool::ANY,
            repeat in proptest::option::of(0usize..9),
        ) {
            let mut map: Map<String, Value> = members.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            if !aud_list.is_empty() {
                map.insert("aud".into(), Value::Array(aud_list));
            }
            let v = Value::Object(map.clone());
            let mut text = if pretty { serde_json::to_string_pretty(&v).unwrap() } else { v.to_string() };
            if let Some(i) = repeat {
                if let Some((k, val)) = map.iter().nth(i) {
                    let extra = format!("{}:{},", Value::from(k.as_str()), val);
                    text.insert_str(1, &extra);
                }
            }
            if let Err(e) = agree(&p, text.as_bytes(), NOW) {
                proptest::prop_assert!(false, "{}: {}", text, e);
            }
        }

        /// Near-JSON token soup built from claim-shaped pieces: lazy and strict agree.
        #[test]
        fn lazy_and_strict_agree_on_soup(
            p in arb_policy(),
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "{", "}", "[", "]", ",", ":", " ", "\"exp\":", "\"iss\":", "\"aud\":", "\"sub\":",
                "\"iat\":", "\"nbf\":", "\"https://a/\"", "\"api://x\"", "\"", "\\", "1700000100",
                "1699999000", "-", ".5", "e3", "true", "null", "18446744073709551616", "\u{e9}",
            ]), 0..24),
        ) {
            let text = parts.concat();
            if let Err(e) = agree(&p, text.as_bytes(), NOW) {
                proptest::prop_assert!(false, "{:?}: {}", text, e);
            }
            let wrapped = format!("{{{text}}}");
            if let Err(e) = agree(&p, wrapped.as_bytes(), NOW) {
                proptest::prop_assert!(false, "{:?}: {}", wrapped, e);
            }
        }
    }
}
