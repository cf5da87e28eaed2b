//! Validation of one token against one key set and one policy: the pipeline every other
//! part of Tollgate (the remote validator, the gateway, the tower layer) runs.
//!
//! bytes -> [`jws::decode`] -> allow-list -> key by `kid` ([`select_key`]) -> alg/key binding
//! -> signature -> claims -> [`Verified`] or a [`ValidationError`].

use std::sync::Arc;

use crate::alg::{Algorithm, KeyFamily};
use crate::claims::payload::Payload;
use crate::claims::{is_template, is_tenant_id, substitute_tenant, Claims, Policy};
use crate::clock::{Clock, SystemClock};
use crate::error::ValidationError;
use crate::jwk::{Jwk, JwkSet};
use crate::jws::{self, Header};

/// A token whose signature and claims passed, or an opaque token its issuer's
/// introspection endpoint said is active and whose claims passed.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The protected header (for an introspected opaque token, which has none: an empty
    /// header whose `alg` is the empty string).
    pub header: Header,
    /// The claims, checked against the policy (for an opaque token: the introspection
    /// answer's members).
    pub claims: Claims,
    /// The algorithm that verified the signature; `None` for an opaque token, which was
    /// checked by introspection instead.
    pub alg: Option<Algorithm>,
    /// What introspection said, when the token was introspected (an opaque token, or a JWT
    /// of an issuer with `introspect_jwts`); see [`crate::introspection`]. A cache of
    /// verified tokens must not keep it past its `valid_until`.
    #[cfg(feature = "remote")]
    pub introspection: Option<crate::introspection::Introspected>,
}

impl Verified {
    /// A token whose signature `alg` verified (not introspected).
    fn signed(header: Header, claims: Claims, alg: Algorithm) -> Verified {
        Verified {
            header,
            claims,
            alg: Some(alg),
            #[cfg(feature = "remote")]
            introspection: None,
        }
    }
}

/// Chooses the key for a token: by `kid` when the token has one, otherwise the single key
/// that fits `alg`. The key must fit `alg` (type, curve, its own `alg` member).
///
/// HMAC secrets configured without a kid (`--secret-file`) match an HS* token whatever its
/// kid. An HMAC token is never checked against a public key: public keys have no HS* verifier.
pub fn select_key<'k>(
    keys: &'k JwkSet,
    alg: Algorithm,
    header: &Header,
) -> Result<&'k Arc<Jwk>, ValidationError> {
    match &header.kid {
        Some(kid) => {
            let mut first = None;
            for key in keys.by_kid(kid) {
                if key.fits(alg) {
                    return Ok(key);
                }
                first.get_or_insert(key);
            }
            if let Some(key) = first {
                return Err(mismatch(alg, key));
            }
            if alg.is_symmetric() {
                if let Some(secret) = single_kidless_fit(keys, alg) {
                    return Ok(secret);
                }
            }
            if let Some(skipped) = keys
                .skipped()
                .iter()
                .find(|s| s.kid.as_deref() == Some(kid))
            {
                return Err(ValidationError::KeyUnusable {
                    kid: Some(kid.clone()),
                    reason: skipped.reason.clone(),
                });
            }
            Err(ValidationError::KidNotFound {
                kid: kid.clone(),
                known_kids: keys.kids(),
                alg: alg.as_str().into(),
            })
        }
        None => {
            let mut found = None;
            let mut count = 0;
            for key in keys.keys().iter().filter(|k| k.fits(alg)) {
                count += 1;
                found.get_or_insert(key);
            }
            match (count, found) {
                (1, Some(key)) => Ok(key),
                (0, _) => Err(no_fit(keys, alg)),
                (n, _) => Err(ValidationError::KidMissing {
                    candidates: n,
                    alg: alg.as_str().into(),
                }),
            }
        }
    }
}

fn single_kidless_fit(keys: &JwkSet, alg: Algorithm) -> Option<&Arc<Jwk>> {
    let mut it = keys
        .keys()
        .iter()
        .filter(|k| k.kid().is_none() && k.fits(alg));
    let first = it.next()?;
    it.next().is_none().then_some(first)
}

fn mismatch(alg: Algorithm, key: &Jwk) -> ValidationError {
    ValidationError::AlgKeyMismatch {
        alg: alg.as_str().into(),
        kid: key.kid().map(str::to_string),
        key: key.describe(),
    }
}

fn no_fit(keys: &JwkSet, alg: Algorithm) -> ValidationError {
    if keys.is_empty() {
        return ValidationError::KeysUnavailable {
            issuer: None,
            reason: if keys.skipped().is_empty() {
                "the key set is empty".into()
            } else {
                format!(
                    "every key in the set was skipped ({})",
                    keys.skipped()
                        .iter()
                        .map(|s| s.reason.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            },
        };
    }
    if alg.family() == KeyFamily::Hmac {
        return ValidationError::AlgKeyMismatch {
            alg: alg.as_str().into(),
            kid: None,
            key: "no shared secret is configured; the keys held are public keys, which are never used as HMAC secrets".into(),
        };
    }
    let kinds: Vec<String> = keys.keys().iter().map(|k| k.describe()).collect();
    ValidationError::AlgKeyMismatch {
        alg: alg.as_str().into(),
        kid: None,
        key: format!("no key fits; the keys held are: {}", kinds.join(", ")),
    }
}

/// Validates `token` (with or without `Bearer `) against `keys` and `policy` at time `now`.
///
/// ```
/// use serde_json::json;
/// use tollgate::{jws, validate, Algorithm, JwkSet, Policy, SigningKey};
/// let key = SigningKey::generate(Algorithm::ES256, "k1").unwrap();
/// let keys = JwkSet::from_value(&json!({"keys": [key.public_jwk()]})).unwrap();
/// let token = jws::sign(&json!({}), &json!({"iss": "https://idp", "exp": 2_000}), &key).unwrap();
/// let policy = Policy::new().issuer("https://idp");
/// let ok = validate::validate(&token, &keys, &policy, 1_000).unwrap();
/// assert_eq!(ok.claims.issuer(), Some("https://idp"));
/// let err = validate::validate(&token, &keys, &policy, 3_000).unwrap_err();
/// assert_eq!(err.code(), "expired");
/// ```
pub fn validate(
    token: &str,
    keys: &JwkSet,
    policy: &Policy,
    now: i64,
) -> Result<Verified, ValidationError> {
    let token = jws::strip_bearer(token);
    // The decoded token is ours: its header moves into the result, no copy.
    verify_decoded_owned(
        jws::decode(token, policy.max_token_size)?,
        keys,
        policy,
        now,
    )
}

/// The part of [`validate`] after decoding: for callers that picked `keys` by the token's
/// issuer first (the multi-issuer validator).
pub fn verify_decoded(
    decoded: &jws::Decoded<'_>,
    keys: &JwkSet,
    policy: &Policy,
    now: i64,
) -> Result<Verified, ValidationError> {
    let (alg, claims) = check(decoded, None, keys, policy, now)?;
    Ok(Verified::signed(decoded.header.clone(), claims, alg))
}

/// [`verify_decoded`] taking the decoded token, whose header then moves into the result
/// (no copy).
pub fn verify_decoded_owned(
    decoded: jws::Decoded<'_>,
    keys: &JwkSet,
    policy: &Policy,
    now: i64,
) -> Result<Verified, ValidationError> {
    verify_decoded_payload(decoded, None, keys, policy, now)
}

/// [`verify_decoded_owned`] with the payload already decoded from `decoded` and scanned
/// (`None`: done here), so that a caller that read it first (the issuer's name) neither
/// decodes nor scans it twice.
pub(crate) fn verify_decoded_payload(
    decoded: jws::Decoded<'_>,
    payload: Option<Payload>,
    keys: &JwkSet,
    policy: &Policy,
    now: i64,
) -> Result<Verified, ValidationError> {
    let (alg, claims) = check(&decoded, payload, keys, policy, now)?;
    Ok(Verified::signed(decoded.header, claims, alg))
}

/// Every check after decoding, in order: allow-list, key, signature, claims, `typ`.
/// `payload`: the payload when the caller already decoded and scanned it.
fn check(
    decoded: &jws::Decoded<'_>,
    payload: Option<Payload>,
    keys: &JwkSet,
    policy: &Policy,
    now: i64,
) -> Result<(Algorithm, Claims), ValidationError> {
    if decoded.payload_b64.is_empty() {
        // A JWS may have an empty payload; a JWT never does (and detached content is not
        // supported), so say so before any key or signature work.
        return Err(ValidationError::Malformed {
            part: crate::error::TokenPart::Payload,
            reason: jws::compact::EMPTY_PAYLOAD.into(),
        });
    }
    let alg = policy.check_alg(&decoded.header.alg)?;
    let key = select_key(keys, alg, &decoded.header)?;
    if !key.verify(alg, decoded.signing_input, &decoded.signature) {
        return Err(ValidationError::SignatureInvalid {
            alg,
            kid: key.kid().map(str::to_string),
        });
    }
    // The claims are checked on the payload JSON, building no map, when they can be;
    // otherwise, and for every refusal, the strict map and `check_claims` decide and word
    // the error (see `Policy::check_payload`).
    let payload = match payload {
        Some(payload) => payload,
        None => Payload::new(decoded.payload_json()?),
    };
    let claims = policy.check_payload(payload, now, || policy.check_typ(&decoded.header))?;
    if let Some(key_issuer) = key.issuer() {
        check_key_issuer(key, key_issuer, &claims, policy)?;
    }
    Ok((alg, claims))
}

/// Key-issuer binding (Entra ID publishes an `issuer` member on each key): the key's issuer,
/// with the token's `tid` in place of `{tenantid}`, must be the token's `iss`, or the issuer
/// the keys are published for (the policy's first issuer, same substitution: a v1 token of
/// a tenant signed by the v2 key set). A key whose issuer names one tenant (the
/// personal-account tenant) never verifies another tenant's token.
fn check_key_issuer(
    key: &Jwk,
    key_issuer: &str,
    claims: &Claims,
    policy: &Policy,
) -> Result<(), ValidationError> {
    let iss = claims.issuer();
    let refuse = || ValidationError::KeyIssuerMismatch {
        kid: key.kid().map(str::to_string),
        key_issuer: key_issuer.to_string(),
        found: iss.map(str::to_string),
    };
    let tid = claims.get_str("tid").filter(|t| is_tenant_id(t));
    let resolve = |s: &str| -> Option<String> {
        if is_template(s) {
            tid.map(|t| substitute_tenant(s, t))
        } else {
            Some(s.to_string())
        }
    };
    let Some(effective) = resolve(key_issuer) else {
        return Err(match (iss, claims.get("tid")) {
            (Some(issuer), None) => ValidationError::TenantMissing {
                issuer: issuer.to_string(),
            },
            _ => refuse(),
        });
    };
    let primary = policy.issuers.first().and_then(|p| resolve(p));
    if iss == Some(effective.as_str()) || primary.as_deref() == Some(effective.as_str()) {
        Ok(())
    } else {
        Err(refuse())
    }
}

/// A validator over a fixed key set (a JWKS file, secrets): synchronous, no network.
///
/// For keys fetched from an issuer, with rotation and outages handled, use the remote
/// `Validator` (feature `remote`).
///
/// ```
/// use serde_json::json;
/// use tollgate::{jws, Algorithm, FixedClock, JwkSet, LocalValidator, Policy, SigningKey};
/// let key = SigningKey::generate(Algorithm::EdDSA, "k1").unwrap();
/// let keys = JwkSet::from_value(&json!({"keys": [key.public_jwk()]})).unwrap();
/// let validator = LocalValidator::new(keys, Policy::new().audience("api"))
///     .with_clock(FixedClock::new(1_000));
/// let token = jws::sign(&json!({}), &json!({"aud": "api", "exp": 1_100}), &key).unwrap();
/// assert!(validator.validate(&token).is_ok());
/// ```
#[derive(Clone)]
pub struct LocalValidator {
    keys: Arc<JwkSet>,
    policy: Policy,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for LocalValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalValidator")
            .field("kids", &self.keys.kids())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl LocalValidator {
    /// A validator for `keys` and `policy`, on the system clock.
    pub fn new(keys: JwkSet, policy: Policy) -> LocalValidator {
        LocalValidator {
            keys: Arc::new(keys),
            policy,
            clock: Arc::new(SystemClock),
        }
    }
    /// Uses another clock.
    pub fn with_clock(mut self, clock: impl Clock) -> LocalValidator {
        self.clock = Arc::new(clock);
        self
    }
    /// The policy tokens are checked against.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
    /// The key set tokens are verified with.
    pub fn keys(&self) -> &JwkSet {
        &self.keys
    }
    /// Validates a token (a leading `Bearer ` is accepted) at the clock's time: the verified
    /// header and claims, or why it was rejected.
    pub fn validate(&self, token: &str) -> Result<Verified, ValidationError> {
        validate(token, &self.keys, &self.policy, self.clock.now())
    }
}

/// Verifies only the JWS layer of a compact token: structure, header rules, algorithm
/// allow-list, key selection and signature. The payload is returned as bytes and is not
/// interpreted (no claims policy): for JWS that are not JWTs, and for test vectors.
///
/// ```
/// use serde_json::json;
/// use tollgate::{jws, validate, Algorithm, JwkSet, SigningKey};
/// let key = SigningKey::generate(Algorithm::EdDSA, "k").unwrap();
/// let keys = JwkSet::from_value(&json!({"keys": [key.public_jwk()]})).unwrap();
/// let token = jws::sign_raw(&json!({"alg": "EdDSA", "kid": "k"}), b"hello", &key).unwrap();
/// let (_, payload) = validate::verify_jws(&token, &keys, &[Algorithm::EdDSA]).unwrap();
/// assert_eq!(payload, b"hello");
/// // A JWS may have an empty payload (a JWT may not).
/// let empty = jws::sign_raw(&json!({"alg": "EdDSA", "kid": "k"}), b"", &key).unwrap();
/// assert!(validate::verify_jws(&empty, &keys, &[Algorithm::EdDSA]).unwrap().1.is_empty());
/// ```
pub fn verify_jws(
    token: &str,
    keys: &JwkSet,
    algorithms: &[Algorithm],
) -> Result<(Header, Vec<u8>), ValidationError> {
    let decoded = jws::decode(token, usize::MAX)?;
    let alg = match decoded.header.alg.parse::<Algorithm>() {
        Ok(a) if algorithms.contains(&a) => a,
        _ => {
            return Err(ValidationError::AlgNotAllowed {
                alg: decoded.header.alg.clone(),
                allowed: algorithms.to_vec(),
            })
        }
    };
    let key = select_key(keys, alg, &decoded.header)?;
    if !key.verify(alg, decoded.signing_input, &decoded.signature) {
        if decoded.payload_b64.is_empty() {
            // An empty payload whose signature fails is most likely detached content.
            return Err(ValidationError::Malformed {
                part: crate::error::TokenPart::Payload,
                reason: jws::compact::EMPTY_PAYLOAD.into(),
            });
        }
        return Err(ValidationError::SignatureInvalid {
            alg,
            kid: key.kid().map(str::to_string),
        });
    }
    let payload =
        crate::b64::decode(decoded.payload_b64).map_err(|reason| ValidationError::Malformed {
            part: crate::error::TokenPart::Payload,
            reason: reason.to_string(),
        })?;
    Ok((decoded.header, payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SigningKey;
    use serde_json::json;

    /// Wycheproof json_web_signature tcId 259 and others: a JWS with an empty payload is
    /// valid; as a JWT it is malformed; detached content is named as such.
    #[test]
    fn empty_payloads() {
        let key = SigningKey::generate(Algorithm::ES256, "k").unwrap();
        let keys = JwkSet::from_value(&json!({"keys": [key.public_jwk()]})).unwrap();
        let empty = jws::sign_raw(&json!({"alg": "ES256", "kid": "k"}), b"", &key).unwrap();
        let (_, payload) = verify_jws(&empty, &keys, &[Algorithm::ES256]).unwrap();
        assert!(payload.is_empty());
        let policy = Policy::new().require_exp(false);
        let e = validate(&empty, &keys, &policy, 0).unwrap_err();
        assert_eq!(e.code(), "malformed_token");
        assert!(e.to_string().contains("detached content"), "{e}");
        let full = jws::sign_raw(&json!({"alg": "ES256", "kid": "k"}), b"{}", &key).unwrap();
        let mut parts = full.split('.');
        let (h, _, s) = (parts.next().unwrap(), parts.next(), parts.next().unwrap());
        let detached = format!("{h}..{s}");
        let e = verify_jws(&detached, &keys, &[Algorithm::ES256]).unwrap_err();
        assert_eq!(e.code(), "malformed_token");
        assert!(e.to_string().contains("detached content"), "{e}");
        let e = validate(&detached, &keys, &policy, 0).unwrap_err();
        assert_eq!(e.code(), "malformed_token");
        assert!(e.to_string().contains("detached content"), "{e}");
    }
}
