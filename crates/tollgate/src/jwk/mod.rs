//! JSON Web Keys (RFC 7517): one key parsed once into ready-to-verify form ([`Jwk`]), and a
//! key set indexed by `kid` that keeps the usable keys and reports the others ([`JwkSet`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::alg::{Algorithm, Curve, KeyFamily};
use crate::b64;
use crate::crypto::{self, PreparedKey};
use crate::json;

mod roca;

/// The smallest RSA modulus accepted, in bits (NIST SP 800-131A; RFC 7518 section 3.3).
pub const MIN_RSA_BITS: usize = 2048;

/// A public key (or shared secret) from a JWK, parsed once.
pub struct Jwk {
    kid: Option<String>,
    kty: String,
    alg: Option<Algorithm>,
    key_use: Option<String>,
    family: KeyFamily,
    size_bits: usize,
    thumbprint: String,
    prepared: Vec<(Algorithm, PreparedKey)>,
    public: Map<String, Value>,
    issuer: Option<String>,
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("kty", &self.kty)
            .field("alg", &self.alg)
            .field("size_bits", &self.size_bits)
            .finish_non_exhaustive()
    }
}

/// Why a JWK cannot be used to verify signatures. `Display` is one sentence naming the
/// member and the rule; the variant says which kind of problem it is.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwkError {
    /// The JWK is not a JSON object.
    NotAnObject,
    /// A member is missing, of the wrong type, or not base64url.
    Member {
        /// The member's name.
        name: String,
        /// What is wrong with it (`is missing`, `must be a string, found a number`...).
        reason: String,
    },
    /// The key is marked for another use (`use` other than `sig`, `key_ops` without
    /// `verify`).
    NotForSignatures {
        /// Which marking, and what it says.
        reason: String,
    },
    /// An `alg`, `kty` or curve Tollgate does not support (Ed448, secp256k1...).
    Unsupported {
        /// What is not supported, and what is.
        reason: String,
    },
    /// Key material too weak to trust: RSA under 2048 bits, a bad public exponent, the ROCA
    /// fingerprint, an HMAC secret shorter than its hash.
    Weak {
        /// What is weak, and the rule.
        reason: String,
    },
    /// The `alg` does not fit the key's type.
    AlgorithmMismatch {
        /// The `alg` and the key type.
        reason: String,
    },
    /// The crypto library refused the key material (a point not on its curve, a malformed
    /// modulus).
    Rejected {
        /// The library's reason.
        reason: String,
    },
}

impl fmt::Display for JwkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwkError::NotAnObject => f.write_str("a JWK must be a JSON object"),
            JwkError::Member { name, reason } => write!(f, "member {name:?} {reason}"),
            JwkError::NotForSignatures { reason }
            | JwkError::Unsupported { reason }
            | JwkError::Weak { reason }
            | JwkError::AlgorithmMismatch { reason }
            | JwkError::Rejected { reason } => f.write_str(reason),
        }
    }
}

impl std::error::Error for JwkError {}

impl JwkError {
    fn member(name: &str, reason: impl Into<String>) -> JwkError {
        JwkError::Member {
            name: name.to_string(),
            reason: reason.into(),
        }
    }
    fn unsupported(reason: impl Into<String>) -> JwkError {
        JwkError::Unsupported {
            reason: reason.into(),
        }
    }
    fn weak(reason: impl Into<String>) -> JwkError {
        JwkError::Weak {
            reason: reason.into(),
        }
    }
    fn rejected(reason: String) -> JwkError {
        JwkError::Rejected { reason }
    }
}

fn member<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, JwkError> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(JwkError::member(
            name,
            format!("must be a string, found {}", json::kind(other)),
        )),
    }
}

fn required(obj: &Map<String, Value>, name: &str) -> Result<String, JwkError> {
    member(obj, name)?
        .map(str::to_string)
        .ok_or_else(|| JwkError::member(name, "is missing"))
}

fn required_b64(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>, JwkError> {
    let s = member(obj, name)?.ok_or_else(|| JwkError::member(name, "is missing"))?;
    b64::decode(s).map_err(|e| JwkError::member(name, e.to_string()))
}

const PUBLIC_MEMBERS: [&str; 12] = [
    "kty", "kid", "alg", "use", "key_ops", "crv", "n", "e", "x", "y", "x5c", "x5t",
];

impl Jwk {
    /// Parses one JWK. Fails with the reason when the key cannot be used to verify
    /// signatures: unknown `kty` or `crv` (Ed448, secp256k1), RSA under 2048 bits,
    /// `use` other than `sig`, `key_ops` without `verify`, an `alg` that does not fit,
    /// bad base64url, a point not on its curve.
    ///
    /// ```
    /// use serde_json::json;
    /// use tollgate::jwk::Jwk;
    /// let err = Jwk::from_value(&json!({"kty": "OKP", "crv": "Ed448", "x": "AA"})).unwrap_err();
    /// assert!(err.to_string().contains("Ed448"));
    /// ```
    pub fn from_value(value: &Value) -> Result<Jwk, JwkError> {
        let obj = value.as_object().ok_or(JwkError::NotAnObject)?;
        let kid = member(obj, "kid")?.map(str::to_string);
        let kty = &*required(obj, "kty")?;
        let key_use = member(obj, "use")?.map(str::to_string);
        // Entra ID's keys name the issuer they sign for (`{tenantid}` template or one tenant).
        let issuer = member(obj, "issuer")?.map(str::to_string);
        if let Some(u) = &key_use {
            if u != "sig" {
                return Err(JwkError::NotForSignatures {
                    reason: format!(
                        "\"use\": {u:?} marks it as an encryption key, not a signing key"
                    ),
                });
            }
        }
        if let Some(ops) = obj.get("key_ops") {
            let ops = ops
                .as_array()
                .ok_or_else(|| JwkError::member("key_ops", "must be an array"))?;
            if !ops.iter().any(|o| o == "verify") {
                return Err(JwkError::NotForSignatures {
                    reason: "\"key_ops\" does not include \"verify\"".into(),
                });
            }
        }
        let alg = match member(obj, "alg")? {
            None => None,
            Some(a) => Some(a.parse::<Algorithm>().map_err(|_| {
                JwkError::unsupported(format!(
                    "\"alg\": {a:?} is not a signature algorithm Tollgate supports"
                ))
            })?),
        };
        let (family, size_bits, prepared) = match kty {
            "RSA" => {
                let n = required_b64(obj, "n")?;
                let e = required_b64(obj, "e")?;
                let bits = crypto::bit_len(&n);
                if bits < MIN_RSA_BITS {
                    return Err(JwkError::weak(format!(
                        "RSA key of {bits} bits; at least {MIN_RSA_BITS} are required"
                    )));
                }
                let exponent = crypto::strip_leading_zeros(&e);
                if exponent.last().is_none_or(|b| b & 1 == 0) || exponent == [1] {
                    return Err(JwkError::weak(format!(
                        "the RSA public exponent (\"e\": {:?}) must be odd and at least 3 \
                         (RFC 8017 section 3.1); with e = 1 any padded hash passes as a signature",
                        member(obj, "e")?.unwrap_or_default()
                    )));
                }
                if roca::has_fingerprint(&n) {
                    return Err(JwkError::weak(
                        "the RSA modulus has the ROCA fingerprint (CVE-2017-15361): it was \
                         made by a flawed Infineon key generator and can be factored; replace the key",
                    ));
                }
                let mut prepared = Vec::new();
                for a in candidate_algs(KeyFamily::Rsa, alg)? {
                    prepared.push((
                        a,
                        crypto::rsa_verifier(&n, &e, a).map_err(JwkError::rejected)?,
                    ));
                }
                (KeyFamily::Rsa, bits, prepared)
            }
            "EC" => {
                let crv = &*required(obj, "crv")?;
                let curve = Curve::from_name(crv).ok_or_else(|| {
                    JwkError::unsupported(format!(
                        "curve {crv:?} is not supported (P-256, P-384, P-521 are)"
                    ))
                })?;
                let x = required_b64(obj, "x")?;
                let y = required_b64(obj, "y")?;
                let family = KeyFamily::Ec(curve);
                let mut prepared = Vec::new();
                for a in candidate_algs(family, alg)? {
                    prepared.push((
                        a,
                        crypto::ec_verifier(curve, &x, &y).map_err(JwkError::rejected)?,
                    ));
                }
                (family, curve.coordinate_len() * 8, prepared)
            }
            "OKP" => {
                let crv = required(obj, "crv")?;
                if crv != "Ed25519" {
                    return Err(JwkError::unsupported(format!(
                        "OKP curve {crv:?} is not supported (only Ed25519 is)"
                    )));
                }
                let x = required_b64(obj, "x")?;
                let mut prepared = Vec::new();
                for a in candidate_algs(KeyFamily::Ed25519, alg)? {
                    prepared.push((a, crypto::ed25519_verifier(&x).map_err(JwkError::rejected)?));
                }
                (KeyFamily::Ed25519, 256, prepared)
            }
            "oct" => {
                let k = required_b64(obj, "k")?;
                let mut prepared = Vec::new();
                for a in candidate_algs(KeyFamily::Hmac, alg)? {
                    if k.len() >= hmac_min_len(a) {
                        prepared
                            .push((a, crypto::hmac_verifier(&k, a).map_err(JwkError::rejected)?));
                    } else if alg.is_some() {
                        return Err(JwkError::weak(format!(
                            "{a} needs a secret of at least {} bytes, this one has {} (RFC 7518 section 3.2)",
                            hmac_min_len(a),
                            k.len()
                        )));
                    }
                }
                if prepared.is_empty() {
                    return Err(JwkError::weak(format!(
                        "the secret has {} bytes; HS256 needs at least 32 (RFC 7518 section 3.2)",
                        k.len()
                    )));
                }
                (KeyFamily::Hmac, k.len() * 8, prepared)
            }
            other => {
                return Err(JwkError::unsupported(format!(
                    "kty {other:?} is not supported"
                )))
            }
        };
        let thumbprint = thumbprint(obj, kty)?;
        let public = obj
            .iter()
            .filter(|(k, _)| PUBLIC_MEMBERS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Jwk {
            kid,
            kty: kty.to_string(),
            alg,
            key_use,
            family,
            size_bits,
            thumbprint,
            prepared,
            public,
            issuer,
        })
    }

    /// A JWK holding an HMAC secret, for HS* tokens (no kid: it matches any kid).
    pub fn from_secret(secret: &[u8], algs: &[Algorithm]) -> Result<Jwk, JwkError> {
        let mut prepared = Vec::new();
        for &a in algs.iter().filter(|a| a.is_symmetric()) {
            prepared.push((
                a,
                crypto::hmac_verifier(secret, a).map_err(JwkError::rejected)?,
            ));
        }
        if prepared.is_empty() {
            prepared.push((
                Algorithm::HS256,
                crypto::hmac_verifier(secret, Algorithm::HS256).map_err(JwkError::rejected)?,
            ));
        }
        Ok(Jwk {
            kid: None,
            kty: "oct".into(),
            alg: None,
            key_use: None,
            family: KeyFamily::Hmac,
            size_bits: secret.len() * 8,
            thumbprint: String::new(),
            prepared,
            public: Map::new(),
            issuer: None,
        })
    }

    /// The key id (`kid`), if the key has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
    /// The key type (`RSA`, `EC`, `OKP`, `oct`).
    pub fn kty(&self) -> &str {
        &self.kty
    }
    /// The key's own `alg`, if it names one.
    pub fn alg(&self) -> Option<Algorithm> {
        self.alg
    }
    /// The key's `use`, if present (always `sig` for a usable key).
    pub fn key_use(&self) -> Option<&str> {
        self.key_use.as_deref()
    }
    /// The key family (RSA, EC, OKP, HMAC), which decides the algorithms it can verify.
    pub fn family(&self) -> KeyFamily {
        self.family
    }
    /// RSA modulus bits, curve bits, or secret bits.
    pub fn size_bits(&self) -> usize {
        self.size_bits
    }
    /// The RFC 7638 SHA-256 thumbprint, base64url.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }
    /// The issuer this key signs for (its non-standard `issuer` member, published by Entra
    /// ID: a `{tenantid}` template or one tenant's issuer), if any. When present, the
    /// validator binds it to the token's `iss` (error `key_issuer_mismatch`).
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The public members as published (`x5c` included), never private ones.
    pub fn public_members(&self) -> &Map<String, Value> {
        &self.public
    }
    /// The algorithms this key can verify.
    pub fn algorithms(&self) -> impl Iterator<Item = Algorithm> + '_ {
        self.prepared.iter().map(|(a, _)| *a)
    }
    /// True when this key can verify `alg`.
    pub fn fits(&self, alg: Algorithm) -> bool {
        self.prepared.iter().any(|(a, _)| *a == alg)
    }
    /// A short description, e.g. `RSA 2048 (alg RS256)` or `EC P-256`.
    pub fn describe(&self) -> String {
        let mut s = match self.family {
            KeyFamily::Rsa => format!("RSA {}", self.size_bits),
            KeyFamily::Ec(c) => format!("EC {}", c.as_str()),
            KeyFamily::Ed25519 => "OKP Ed25519".to_string(),
            KeyFamily::Hmac => format!("oct {} bits", self.size_bits),
        };
        if let Some(a) = self.alg {
            s.push_str(&format!(" (alg {a})"));
        }
        s
    }

    pub(crate) fn verifier(&self, alg: Algorithm) -> Option<&PreparedKey> {
        self.prepared
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, v)| v)
    }

    /// Verifies a JWS signature over `signing_input` with this key for `alg`. Returns false
    /// when the key does not fit `alg` or the signature is wrong.
    pub fn verify(&self, alg: Algorithm, signing_input: &[u8], signature: &[u8]) -> bool {
        self.verifier(alg)
            .is_some_and(|v| v.verify(signing_input, signature))
    }
}

fn hmac_min_len(alg: Algorithm) -> usize {
    match alg {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => 32,
    }
}

/// The algorithms a key of `family` may verify: its own `alg` if it names one (which must
/// fit), otherwise every algorithm of the family.
fn candidate_algs(family: KeyFamily, alg: Option<Algorithm>) -> Result<Vec<Algorithm>, JwkError> {
    match alg {
        Some(a) if a.family() == family => Ok(vec![a]),
        Some(a) => Err(JwkError::AlgorithmMismatch {
            reason: format!("\"alg\": {a} does not fit a {family:?} key"),
        }),
        None => Ok(Algorithm::ALL
            .iter()
            .copied()
            .filter(|a| a.family() == family)
            .collect()),
    }
}

/// RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace.
fn thumbprint(obj: &Map<String, Value>, kty: &str) -> Result<String, JwkError> {
    let names: &[&str] = match kty {
        "RSA" => &["e", "kty", "n"],
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        "oct" => &["k", "kty"],
        _ => {
            return Err(JwkError::unsupported(format!(
                "kty {kty:?} has no thumbprint"
            )))
        }
    };
    let mut canonical = String::from("{");
    for (i, name) in names.iter().enumerate() {
        let v = member(obj, name)?.ok_or_else(|| JwkError::member(name, "is missing"))?;
        if i > 0 {
            canonical.push(',');
        }
        canonical.push_str(&serde_json::to_string(name).unwrap_or_default());
        canonical.push(':');
        canonical.push_str(&serde_json::to_string(v).unwrap_or_default());
    }
    canonical.push('}');
    Ok(b64::encode(crypto::sha256(canonical.as_bytes())))
}

/// The RFC 7638 thumbprint of a JWK given as JSON.
///
/// ```
/// use serde_json::json;
/// // RFC 8037 appendix A.3
/// let jwk = json!({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
/// assert_eq!(tollgate::jwk::thumbprint_of(&jwk).unwrap(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
/// ```
pub fn thumbprint_of(jwk: &Value) -> Result<String, JwkError> {
    let obj = jwk.as_object().ok_or(JwkError::NotAnObject)?;
    let kty = &*required(obj, "kty")?;
    thumbprint(obj, kty)
}

/// Takes out of a parsed key set (document index, key) the keys that make it ambiguous, with
/// the reason for each; the rest stay, in order. Both rules are best practice for key sets
/// (Wycheproof `MixedKeySet`, `DuplicateKid`); RFC 7517 leaves both cases open.
///
/// - A shared secret (`oct`) next to public keys: a set holding public keys is published, so
///   its secret is known to everyone, and mixing the two invites algorithm confusion.
/// - One `kid` on different keys that verify the same algorithm: which key a token meant is
///   not knowable, so none of them is used (identical copies of one key are harmless and stay).
fn refuse_ambiguous(parsed: &mut Vec<(usize, Jwk)>) -> Vec<(usize, Jwk, String)> {
    let mixed = parsed.iter().any(|(_, k)| k.family == KeyFamily::Hmac)
        && parsed.iter().any(|(_, k)| k.family != KeyFamily::Hmac);
    let mut refused: Vec<(usize, String)> = Vec::new();
    if mixed {
        for (index, _) in parsed.iter().filter(|(_, k)| k.family == KeyFamily::Hmac) {
            refused.push((
                *index,
                "a shared secret (kty \"oct\") in a key set that also holds public keys: such a \
                 set is published, so the secret is not secret; configure HMAC secrets on their own"
                    .into(),
            ));
        }
    }
    let secrets_refused: Vec<usize> = refused.iter().map(|(r, _)| *r).collect();
    for (index, key) in parsed.iter() {
        let Some(kid) = &key.kid else { continue };
        if secrets_refused.contains(index) {
            continue;
        }
        let clash = parsed.iter().find(|(other_index, other)| {
            other_index != index
                && other.kid.as_ref() == Some(kid)
                && other.thumbprint != key.thumbprint
                && !secrets_refused.contains(other_index)
                && key.algorithms().any(|a| other.fits(a))
        });
        if let Some((other_index, other)) = clash {
            let alg = key
                .algorithms()
                .find(|a| other.fits(*a))
                .map_or("", |a| a.as_str());
            refused.push((
                *index,
                format!(
                    "kid {kid:?} names several different keys that verify {alg} (keys #{} and #{}): \
                     which one a token means is ambiguous, so none is used; give each key its own kid",
                    index.min(other_index),
                    index.max(other_index)
                ),
            ));
        }
    }
    let mut out = Vec::new();
    let mut kept = Vec::new();
    for (index, jwk) in parsed.drain(..) {
        match refused.iter().position(|(r, _)| *r == index) {
            Some(pos) => out.push((index, jwk, refused[pos].1.clone())),
            None => kept.push((index, jwk)),
        }
    }
    *parsed = kept;
    out
}

/// A key the set could not use, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SkippedKey {
    /// Position in the `keys` array.
    pub index: usize,
    /// Its `kid`, if readable.
    pub kid: Option<String>,
    /// Its `kty`, if readable.
    pub kty: Option<String>,
    /// Why it was skipped.
    pub reason: String,
}

/// Why a whole JWKS document was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwksError(pub String);

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JwksError {}

/// A JWK Set: the usable keys indexed by `kid`, plus the keys that were skipped and why.
///
/// One unusable key never breaks the set.
///
/// ```
/// use tollgate::{Algorithm, JwkSet, SigningKey};
/// let key = SigningKey::generate(Algorithm::ES256, "k1").unwrap();
/// let jwks = serde_json::json!({"keys": [key.public_jwk(), {"kty": "OKP", "crv": "Ed448", "x": "AA", "kid": "odd"}]});
/// let set = JwkSet::from_value(&jwks).unwrap();
/// assert_eq!(set.len(), 1);
/// assert_eq!(set.skipped()[0].kid.as_deref(), Some("odd"));
/// ```
#[derive(Debug, Default, Clone)]
pub struct JwkSet {
    keys: Vec<Arc<Jwk>>,
    by_kid: HashMap<String, Vec<usize>>,
    skipped: Vec<SkippedKey>,
}

impl JwkSet {
    /// An empty set.
    pub fn new() -> JwkSet {
        JwkSet::default()
    }

    /// Parses a JWKS document (`{"keys": [...]}`) from bytes; a single JWK object is also
    /// accepted as a set of one.
    pub fn from_json(bytes: &[u8]) -> Result<JwkSet, JwksError> {
        let value = json::parse_value(bytes).map_err(|e| JwksError(format!("the JWKS {e}")))?;
        JwkSet::from_value(&value)
    }

    /// Parses a JWKS document from a JSON value.
    pub fn from_value(value: &Value) -> Result<JwkSet, JwksError> {
        let obj = value.as_object().ok_or_else(|| {
            JwksError(format!(
                "a JWKS must be a JSON object, found {}",
                json::kind(value)
            ))
        })?;
        let mut set = JwkSet::new();
        match obj.get("keys") {
            Some(Value::Array(keys)) => {
                let mut parsed = Vec::new();
                for (index, key) in keys.iter().enumerate() {
                    match Jwk::from_value(key) {
                        Ok(jwk) => parsed.push((index, jwk)),
                        Err(reason) => set.skip(index, key, reason.to_string()),
                    }
                }
                for (index, jwk, reason) in refuse_ambiguous(&mut parsed) {
                    set.skipped.push(SkippedKey {
                        index,
                        kid: jwk.kid,
                        kty: Some(jwk.kty),
                        reason,
                    });
                }
                set.skipped.sort_by_key(|s| s.index);
                for (_, jwk) in parsed {
                    set.push(jwk);
                }
            }
            Some(other) => {
                return Err(JwksError(format!(
                    "member \"keys\" must be an array, found {}",
                    json::kind(other)
                )))
            }
            None if obj.contains_key("kty") => set.push_value(0, value),
            None => {
                return Err(JwksError(
                    "not a JWKS: no \"keys\" member (is this a discovery document? its jwks_uri names the key set)"
                        .into(),
                ))
            }
        }
        Ok(set)
    }

    fn push_value(&mut self, index: usize, key: &Value) {
        match Jwk::from_value(key) {
            Ok(jwk) => self.push(jwk),
            Err(reason) => self.skip(index, key, reason.to_string()),
        }
    }

    fn skip(&mut self, index: usize, key: &Value, reason: String) {
        self.skipped.push(SkippedKey {
            index,
            kid: key.get("kid").and_then(Value::as_str).map(str::to_string),
            kty: key.get("kty").and_then(Value::as_str).map(str::to_string),
            reason,
        });
    }

    /// Adds a key.
    pub fn push(&mut self, jwk: Jwk) {
        let i = self.keys.len();
        if let Some(kid) = &jwk.kid {
            self.by_kid.entry(kid.clone()).or_default().push(i);
        }
        self.keys.push(Arc::new(jwk));
    }

    /// The usable keys, in document order.
    pub fn keys(&self) -> &[Arc<Jwk>] {
        &self.keys
    }

    /// The keys with this `kid`.
    pub fn by_kid<'a>(&'a self, kid: &str) -> impl Iterator<Item = &'a Arc<Jwk>> + 'a {
        self.by_kid
            .get(kid)
            .into_iter()
            .flatten()
            .map(move |&i| &self.keys[i])
    }

    /// True when a usable key has this `kid`.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.by_kid.contains_key(kid)
    }

    /// The kids of the usable keys, in document order.
    pub fn kids(&self) -> Vec<String> {
        self.keys.iter().filter_map(|k| k.kid.clone()).collect()
    }

    /// The keys that were skipped, with the reason.
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no key is usable.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc7638_rsa_thumbprint() {
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            thumbprint_of(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn bad_keys_are_skipped_with_reasons() {
        let good = crate::SigningKey::generate(Algorithm::EdDSA, "good").unwrap();
        let mut enc = good.public_jwk();
        enc["use"] = json!("enc");
        enc["kid"] = json!("enc");
        let set = JwkSet::from_value(&json!({"keys": [
            good.public_jwk(),
            enc,
            {"kty": "RSA", "kid": "short", "n": "AQAB", "e": "AQAB"},
            {"kty": "XYZ", "kid": "odd"},
            {"kty": "EC", "kid": "k1", "crv": "secp256k1", "x": "AA", "y": "AA"},
            {"kty": "OKP", "kid": "bad64", "crv": "Ed25519", "x": "a+b/"},
            "not an object"
        ]}))
        .unwrap();
        assert_eq!(set.kids(), vec!["good".to_string()]);
        let reasons: Vec<_> = set.skipped().iter().map(|s| s.reason.clone()).collect();
        assert_eq!(set.skipped().len(), 6, "{reasons:?}");
        assert!(reasons[0].contains("encryption"));
        assert!(reasons[1].contains("at least 2048"));
        assert!(reasons[2].contains("not supported"));
        assert!(reasons[3].contains("secp256k1"));
        assert!(reasons[4].contains("base64url"));
    }

    /// Wycheproof json_web_key tcId 9: e = 1 makes every padded hash a "signature".
    #[test]
    fn rsa_exponents_must_be_odd_and_at_least_3() {
        let key = crate::SigningKey::generate(Algorithm::RS256, "r").unwrap();
        let mut jwk = key.public_jwk();
        for (e, ok) in [
            ("AQ", false),
            ("Ag", false),
            ("AAE", false),
            ("", false),
            ("Aw", true),
            ("AQAB", true),
        ] {
            jwk["e"] = json!(e);
            let r = Jwk::from_value(&jwk);
            assert_eq!(r.is_ok(), ok, "e = {e:?}: {:?}", r.err());
            if let Err(reason) = r {
                assert!(reason.to_string().contains("exponent"), "{reason}");
            }
        }
    }

    #[test]
    fn a_secret_next_to_public_keys_is_refused() {
        let rsa = crate::SigningKey::generate(Algorithm::RS256, "r").unwrap();
        let hs = crate::SigningKey::generate(Algorithm::HS256, "h").unwrap();
        let set =
            JwkSet::from_value(&json!({"keys": [hs.public_jwk(), rsa.public_jwk()]})).unwrap();
        assert_eq!(set.kids(), vec!["r".to_string()]);
        assert_eq!(set.skipped().len(), 1);
        assert_eq!(set.skipped()[0].index, 0);
        assert_eq!(set.skipped()[0].kid.as_deref(), Some("h"));
        assert!(set.skipped()[0].reason.contains("shared secret"));
        // A set of secrets only (a local file for HS* tokens) is fine.
        let hs2 = crate::SigningKey::generate(Algorithm::HS384, "h2").unwrap();
        let set =
            JwkSet::from_value(&json!({"keys": [hs.public_jwk(), hs2.public_jwk()]})).unwrap();
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn one_kid_on_different_keys_for_one_alg_is_refused() {
        let a = crate::SigningKey::generate(Algorithm::ES256, "same").unwrap();
        let b = crate::SigningKey::generate(Algorithm::ES256, "same").unwrap();
        let r = crate::SigningKey::generate(Algorithm::RS256, "r").unwrap();
        let set =
            JwkSet::from_value(&json!({"keys": [a.public_jwk(), r.public_jwk(), b.public_jwk()]}))
                .unwrap();
        assert_eq!(set.kids(), vec!["r".to_string()]);
        let skipped: Vec<_> = set.skipped().iter().map(|s| s.index).collect();
        assert_eq!(skipped, vec![0, 2]);
        assert!(
            set.skipped()[0].reason.contains("ambiguous"),
            "{:?}",
            set.skipped()
        );
        assert!(set.skipped()[0].reason.contains("ES256"));
        // The same kid on keys for different algorithms, or twice the same key: kept.
        let rs = crate::SigningKey::generate(Algorithm::RS256, "same").unwrap();
        let set =
            JwkSet::from_value(&json!({"keys": [a.public_jwk(), rs.public_jwk(), a.public_jwk()]}))
                .unwrap();
        assert_eq!(set.len(), 3);
        assert!(set.skipped().is_empty());
    }

    #[test]
    fn alg_member_binds_the_key() {
        let key = crate::SigningKey::generate(Algorithm::RS256, "r").unwrap();
        let jwk = Jwk::from_value(&key.public_jwk()).unwrap();
        assert!(jwk.fits(Algorithm::RS256));
        assert!(!jwk.fits(Algorithm::PS256));
        let mut no_alg = key.public_jwk();
        no_alg.as_object_mut().unwrap().remove("alg");
        let jwk = Jwk::from_value(&no_alg).unwrap();
        assert_eq!(jwk.algorithms().count(), 6);
        let mut wrong = key.public_jwk();
        wrong["alg"] = json!("ES256");
        assert!(Jwk::from_value(&wrong).is_err());
    }
}
