//! The one seam to `aws-lc-rs`: every signature check, MAC, digest and signing operation in
//! Tollgate goes through this module. Nothing here is hand-written cryptography; it only
//! chooses the right `aws-lc-rs` primitive for a JOSE algorithm and converts key encodings.

use std::fmt;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ParsedPublicKey, RsaKeyPair,
    RsaPublicKeyComponents,
};
use aws_lc_rs::{digest, hmac, rsa};
use serde_json::{json, Value};

use crate::alg::{Algorithm, Curve, KeyFamily};
use crate::b64;

/// A key ready to verify one algorithm: parsed once, used for every token.
pub(crate) enum PreparedKey {
    Public(ParsedPublicKey),
    Hmac(Box<hmac::Key>),
}

impl PreparedKey {
    /// True when `signature` is valid for `message`.
    #[inline]
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            PreparedKey::Public(key) => key.verify_sig(message, signature).is_ok(),
            PreparedKey::Hmac(key) => hmac::verify(key, message, signature).is_ok(),
        }
    }
}

impl fmt::Debug for PreparedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PreparedKey::Public(_) => f.write_str("PreparedKey::Public"),
            PreparedKey::Hmac(_) => f.write_str("PreparedKey::Hmac(<secret>)"),
        }
    }
}

fn verification_alg(alg: Algorithm) -> Option<&'static dyn signature::VerificationAlgorithm> {
    if let Some(rsa) = rsa_params(alg) {
        return Some(rsa);
    }
    Some(match alg {
        Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
        Algorithm::ES512 => &signature::ECDSA_P521_SHA512_FIXED,
        Algorithm::EdDSA => &signature::ED25519,
        _ => return None,
    })
}

fn rsa_params(alg: Algorithm) -> Option<&'static signature::RsaParameters> {
    Some(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

fn hmac_alg(alg: Algorithm) -> Option<hmac::Algorithm> {
    match alg {
        Algorithm::HS256 => Some(hmac::HMAC_SHA256),
        Algorithm::HS384 => Some(hmac::HMAC_SHA384),
        Algorithm::HS512 => Some(hmac::HMAC_SHA512),
        _ => None,
    }
}

/// Strips leading zero bytes from a big-endian integer (JWKs sometimes carry one).
pub(crate) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// Number of significant bits in a big-endian integer.
pub(crate) fn bit_len(bytes: &[u8]) -> usize {
    let b = strip_leading_zeros(bytes);
    match b.first() {
        None => 0,
        Some(first) => (b.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
    }
}

/// Parses an RSA public key for one RS*/PS* algorithm.
pub(crate) fn rsa_verifier(n: &[u8], e: &[u8], alg: Algorithm) -> Result<PreparedKey, String> {
    let params = rsa_params(alg).ok_or("not an RSA algorithm")?;
    let components = RsaPublicKeyComponents {
        n: strip_leading_zeros(n),
        e: strip_leading_zeros(e),
    };
    components
        .to_parsed_public_key(params)
        .map(PreparedKey::Public)
        .map_err(|e| format!("RSA key rejected ({e})"))
}

/// Parses an EC public key (`x`, `y` coordinates) for its curve's ES* algorithm.
pub(crate) fn ec_verifier(curve: Curve, x: &[u8], y: &[u8]) -> Result<PreparedKey, String> {
    let len = curve.coordinate_len();
    if x.len() != len || y.len() != len {
        return Err(format!(
            "{} coordinates must be {len} bytes each, found x {} and y {}",
            curve.as_str(),
            x.len(),
            y.len()
        ));
    }
    let mut point = Vec::with_capacity(1 + 2 * len);
    point.push(4);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    let alg = match curve {
        Curve::P256 => Algorithm::ES256,
        Curve::P384 => Algorithm::ES384,
        Curve::P521 => Algorithm::ES512,
    };
    let va = verification_alg(alg).ok_or("no verification algorithm")?;
    ParsedPublicKey::new(va, point)
        .map(PreparedKey::Public)
        .map_err(|e| format!("the point is not on {} ({e})", curve.as_str()))
}

/// Parses an Ed25519 public key.
pub(crate) fn ed25519_verifier(x: &[u8]) -> Result<PreparedKey, String> {
    if x.len() != 32 {
        return Err(format!("Ed25519 keys are 32 bytes, found {}", x.len()));
    }
    ParsedPublicKey::new(&signature::ED25519, x)
        .map(PreparedKey::Public)
        .map_err(|e| format!("Ed25519 key rejected ({e})"))
}

/// Builds an HMAC key for one HS* algorithm.
pub(crate) fn hmac_verifier(secret: &[u8], alg: Algorithm) -> Result<PreparedKey, String> {
    let a = hmac_alg(alg).ok_or("not an HMAC algorithm")?;
    Ok(PreparedKey::Hmac(Box::new(hmac::Key::new(a, secret))))
}

/// SHA-256 of `data` (used for RFC 7638 thumbprints and token fingerprints).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Fills `buf` with random bytes from the system generator.
pub fn random_bytes(buf: &mut [u8]) {
    use aws_lc_rs::rand::SecureRandom;
    // SystemRandom::fill only fails if the OS generator is unavailable.
    if SystemRandom::new().fill(buf).is_err() {
        panic!("the operating system's random number generator failed");
    }
}

enum SigningInner {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair, Curve),
    Ed25519(Ed25519KeyPair),
    Hmac(Box<hmac::Key>, Vec<u8>),
}

/// A private key (or HMAC secret) that signs compact JWS for one algorithm.
///
/// Used by the dev issuer, `tollgate mint` and tests. Never printed: `Debug` shows only
/// the algorithm and kid.
///
/// ```
/// use tollgate::{Algorithm, SigningKey};
/// let key = SigningKey::generate(Algorithm::ES256, "k1").unwrap();
/// let jwk = key.public_jwk();
/// assert_eq!(jwk["kty"], "EC");
/// assert_eq!(jwk["kid"], "k1");
/// ```
pub struct SigningKey {
    alg: Algorithm,
    kid: Option<String>,
    inner: SigningInner,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn ec_signing_alg(curve: Curve) -> &'static signature::EcdsaSigningAlgorithm {
    match curve {
        Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        Curve::P521 => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
    }
}

/// Why a signing key could not be created, loaded, used or exported.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The system could not generate a key (`RSA`, `EC`, `Ed25519`): the random source or
    /// the crypto library failed.
    GenerationFailed {
        /// The key type.
        kind: &'static str,
    },
    /// An HMAC key was asked for a non-HMAC algorithm.
    NotHmac {
        /// The algorithm given.
        alg: Algorithm,
    },
    /// The bytes are not a private key of the expected type (wrong algorithm for the file,
    /// a public key, a damaged file).
    NotAPrivateKey {
        /// The expected key type (`RSA`, `EC P-256`, `Ed25519`).
        kind: String,
        /// The crypto library's reason.
        reason: String,
    },
    /// The text is not a PEM `PRIVATE KEY` block.
    NotPem,
    /// The JWK cannot be a signing key: not an object, a member missing or not base64url,
    /// an unknown `alg`, `kty` or curve, or key material the crypto library refuses.
    InvalidJwk {
        /// What is wrong, naming the member.
        reason: String,
    },
    /// The key cannot sign with the algorithm asked for (another family or curve).
    CannotSign {
        /// The key's algorithm.
        key: Algorithm,
        /// The algorithm asked for.
        alg: Algorithm,
    },
    /// Signing failed in the crypto library (`RSA`, `ECDSA`).
    SigningFailed {
        /// The signature type.
        kind: &'static str,
    },
    /// The key could not be exported as PKCS#8 (`RSA`, `EC`, `Ed25519`).
    ExportFailed {
        /// The key type.
        kind: &'static str,
    },
    /// The header or claims to sign could not be serialised as JSON.
    Serialize {
        /// The serialiser's reason.
        reason: String,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::GenerationFailed { kind } => write!(f, "{kind} key generation failed"),
            KeyError::NotHmac { alg } => write!(f, "{alg} is not an HMAC algorithm"),
            KeyError::NotAPrivateKey { kind, reason } => {
                write!(f, "not an {kind} private key ({reason})")
            }
            KeyError::NotPem => f.write_str("not a PEM private key"),
            KeyError::InvalidJwk { reason } => f.write_str(reason),
            KeyError::CannotSign { key, alg } => write!(f, "this {key} key cannot sign {alg}"),
            KeyError::SigningFailed { kind } => write!(f, "{kind} signing failed"),
            KeyError::ExportFailed { kind } => write!(f, "{kind} export failed"),
            KeyError::Serialize { reason } => f.write_str(reason),
        }
    }
}

impl std::error::Error for KeyError {}

fn jwk_err(reason: impl Into<String>) -> KeyError {
    KeyError::InvalidJwk {
        reason: reason.into(),
    }
}

impl SigningKey {
    /// Generates a fresh key for `alg` (RSA 2048 bits; HMAC: a random secret of the hash's size).
    pub fn generate(alg: Algorithm, kid: impl Into<String>) -> Result<SigningKey, KeyError> {
        let inner = match alg.family() {
            KeyFamily::Rsa => SigningInner::Rsa(
                RsaKeyPair::generate(rsa::KeySize::Rsa2048)
                    .map_err(|_| KeyError::GenerationFailed { kind: "RSA" })?,
            ),
            KeyFamily::Ec(curve) => SigningInner::Ec(
                EcdsaKeyPair::generate(ec_signing_alg(curve))
                    .map_err(|_| KeyError::GenerationFailed { kind: "EC" })?,
                curve,
            ),
            KeyFamily::Ed25519 => SigningInner::Ed25519(
                Ed25519KeyPair::generate()
                    .map_err(|_| KeyError::GenerationFailed { kind: "Ed25519" })?,
            ),
            KeyFamily::Hmac => {
                let len = match alg {
                    Algorithm::HS256 => 32,
                    Algorithm::HS384 => 48,
                    _ => 64,
                };
                let mut secret = vec![0u8; len];
                random_bytes(&mut secret);
                return SigningKey::hmac(alg, &secret, kid);
            }
        };
        Ok(SigningKey {
            alg,
            kid: Some(kid.into()),
            inner,
        })
    }

    /// An HMAC signing key (HS256/384/512) from the raw secret bytes.
    pub fn hmac(
        alg: Algorithm,
        secret: &[u8],
        kid: impl Into<String>,
    ) -> Result<SigningKey, KeyError> {
        let a = hmac_alg(alg).ok_or(KeyError::NotHmac { alg })?;
        let kid: String = kid.into();
        Ok(SigningKey {
            alg,
            kid: (!kid.is_empty()).then_some(kid),
            inner: SigningInner::Hmac(Box::new(hmac::Key::new(a, secret)), secret.to_vec()),
        })
    }

    /// Loads a private key for `alg` from PKCS#8 DER (also PKCS#1 RSA and SEC1 EC DER).
    pub fn from_der(
        alg: Algorithm,
        der: &[u8],
        kid: Option<String>,
    ) -> Result<SigningKey, KeyError> {
        let inner = match alg.family() {
            KeyFamily::Rsa => SigningInner::Rsa(
                RsaKeyPair::from_pkcs8(der)
                    .or_else(|_| RsaKeyPair::from_der(der))
                    .map_err(|e| KeyError::NotAPrivateKey {
                        kind: "RSA".into(),
                        reason: e.to_string(),
                    })?,
            ),
            KeyFamily::Ec(curve) => SigningInner::Ec(
                EcdsaKeyPair::from_pkcs8(ec_signing_alg(curve), der)
                    .or_else(|_| EcdsaKeyPair::from_private_key_der(ec_signing_alg(curve), der))
                    .map_err(|e| KeyError::NotAPrivateKey {
                        kind: format!("EC {}", curve.as_str()),
                        reason: e.to_string(),
                    })?,
                curve,
            ),
            KeyFamily::Ed25519 => {
                SigningInner::Ed25519(Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(
                    |e| KeyError::NotAPrivateKey {
                        kind: "Ed25519".into(),
                        reason: e.to_string(),
                    },
                )?)
            }
            KeyFamily::Hmac => {
                return SigningKey::hmac(alg, der, kid.unwrap_or_default());
            }
        };
        Ok(SigningKey { alg, kid, inner })
    }

    /// Loads a private key from PEM (`PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`).
    pub fn from_pem(
        alg: Algorithm,
        pem: &str,
        kid: Option<String>,
    ) -> Result<SigningKey, KeyError> {
        let der = pem_decode(pem).ok_or(KeyError::NotPem)?;
        SigningKey::from_der(alg, &der, kid)
    }

    /// Loads a private JWK (`d` present; `oct` keys use `k`). The algorithm is the JWK's
    /// `alg` when present, otherwise `default_alg`, otherwise the natural one for the key.
    pub fn from_jwk(jwk: &Value, default_alg: Option<Algorithm>) -> Result<SigningKey, KeyError> {
        let obj = jwk
            .as_object()
            .ok_or_else(|| jwk_err("a JWK must be a JSON object"))?;
        let get = |name: &str| -> Result<Vec<u8>, KeyError> {
            let s = obj
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| jwk_err(format!("the JWK has no {name:?} member")))?;
            b64::decode(s).map_err(|e| jwk_err(format!("JWK member {name:?} {e}")))
        };
        let kty = obj.get("kty").and_then(Value::as_str).unwrap_or("");
        let kid = obj.get("kid").and_then(Value::as_str).map(str::to_string);
        let named_alg = match obj.get("alg").and_then(Value::as_str) {
            Some(a) => Some(a.parse::<Algorithm>().map_err(|e| jwk_err(e.to_string()))?),
            None => default_alg,
        };
        match kty {
            "RSA" => {
                let alg = named_alg.unwrap_or(Algorithm::RS256);
                let (n, e, d, p, q, dp, dq, qi) = (
                    get("n")?,
                    get("e")?,
                    get("d")?,
                    get("p")?,
                    get("q")?,
                    get("dp")?,
                    get("dq")?,
                    get("qi")?,
                );
                let components = rsa::KeyPairComponents {
                    public_key: RsaPublicKeyComponents {
                        n: strip_leading_zeros(&n),
                        e: strip_leading_zeros(&e),
                    },
                    d: &d[..],
                    p: &p[..],
                    q: &q[..],
                    dP: &dp[..],
                    dQ: &dq[..],
                    qInv: &qi[..],
                };
                let pair = RsaKeyPair::from_components(&components)
                    .map_err(|e| jwk_err(format!("RSA JWK rejected ({e})")))?;
                Ok(SigningKey {
                    alg,
                    kid,
                    inner: SigningInner::Rsa(pair),
                })
            }
            "EC" => {
                let crv = obj.get("crv").and_then(Value::as_str).unwrap_or("");
                let curve = Curve::from_name(crv)
                    .ok_or_else(|| jwk_err(format!("unsupported curve {crv:?}")))?;
                let alg = match curve {
                    Curve::P256 => Algorithm::ES256,
                    Curve::P384 => Algorithm::ES384,
                    Curve::P521 => Algorithm::ES512,
                };
                let mut point = vec![4u8];
                point.extend(get("x")?);
                point.extend(get("y")?);
                let pair = EcdsaKeyPair::from_private_key_and_public_key(
                    ec_signing_alg(curve),
                    &get("d")?,
                    &point,
                )
                .map_err(|e| jwk_err(format!("EC JWK rejected ({e})")))?;
                Ok(SigningKey {
                    alg,
                    kid,
                    inner: SigningInner::Ec(pair, curve),
                })
            }
            "OKP" => {
                let crv = obj.get("crv").and_then(Value::as_str).unwrap_or("");
                if crv != "Ed25519" {
                    return Err(jwk_err(format!("unsupported OKP curve {crv:?}")));
                }
                let pair = Ed25519KeyPair::from_seed_and_public_key(&get("d")?, &get("x")?)
                    .map_err(|e| jwk_err(format!("Ed25519 JWK rejected ({e})")))?;
                Ok(SigningKey {
                    alg: Algorithm::EdDSA,
                    kid,
                    inner: SigningInner::Ed25519(pair),
                })
            }
            "oct" => {
                let alg = named_alg.unwrap_or(Algorithm::HS256);
                SigningKey::hmac(alg, &get("k")?, kid.unwrap_or_default())
            }
            other => Err(jwk_err(format!("unsupported kty {other:?}"))),
        }
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Sets the key id.
    pub fn set_kid(&mut self, kid: Option<String>) {
        self.kid = kid;
    }

    /// Uses this key for another algorithm of the same family (e.g. an RSA key for PS256).
    pub fn with_alg(mut self, alg: Algorithm) -> Result<SigningKey, KeyError> {
        let fits = match (&self.inner, alg.family()) {
            (SigningInner::Rsa(_), KeyFamily::Rsa) => true,
            (SigningInner::Hmac(..), KeyFamily::Hmac) => {
                if let SigningInner::Hmac(_, secret) = &self.inner {
                    let secret = secret.clone();
                    return SigningKey::hmac(alg, &secret, self.kid.unwrap_or_default());
                }
                false
            }
            (SigningInner::Ec(_, c), KeyFamily::Ec(c2)) => *c == c2,
            (SigningInner::Ed25519(_), KeyFamily::Ed25519) => true,
            _ => false,
        };
        if !fits {
            return Err(KeyError::CannotSign { key: self.alg, alg });
        }
        self.alg = alg;
        Ok(self)
    }

    /// Signs `message`, returning the JWS signature bytes.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        match &self.inner {
            SigningInner::Rsa(pair) => {
                let padding: &'static dyn signature::RsaEncoding = match self.alg {
                    Algorithm::RS256 => &signature::RSA_PKCS1_SHA256,
                    Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
                    Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
                    Algorithm::PS256 => &signature::RSA_PSS_SHA256,
                    Algorithm::PS384 => &signature::RSA_PSS_SHA384,
                    _ => &signature::RSA_PSS_SHA512,
                };
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(padding, &rng, message, &mut sig)
                    .map_err(|_| KeyError::SigningFailed { kind: "RSA" })?;
                Ok(sig)
            }
            SigningInner::Ec(pair, _) => pair
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::SigningFailed { kind: "ECDSA" }),
            SigningInner::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            SigningInner::Hmac(key, _) => Ok(hmac::sign(key, message).as_ref().to_vec()),
        }
    }

    /// The public half as a JWK (`kid`, `alg`, `use: sig`). For HMAC keys this is the
    /// `oct` JWK *including the secret*: publish it only to parties that share it.
    pub fn public_jwk(&self) -> Value {
        let mut jwk = match &self.inner {
            SigningInner::Rsa(pair) => {
                let pk = pair.public_key();
                json!({
                    "kty": "RSA",
                    "n": b64::encode(pk.modulus().big_endian_without_leading_zero()),
                    "e": b64::encode(pk.exponent().big_endian_without_leading_zero()),
                })
            }
            SigningInner::Ec(pair, curve) => {
                let point = pair.public_key().as_ref();
                let len = curve.coordinate_len();
                json!({
                    "kty": "EC",
                    "crv": curve.as_str(),
                    "x": b64::encode(&point[1..1 + len]),
                    "y": b64::encode(&point[1 + len..]),
                })
            }
            SigningInner::Ed25519(pair) => json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": b64::encode(pair.public_key().as_ref()),
            }),
            SigningInner::Hmac(_, secret) => json!({"kty": "oct", "k": b64::encode(secret)}),
        };
        if let Some(kid) = &self.kid {
            jwk["kid"] = json!(kid);
        }
        jwk["alg"] = json!(self.alg.as_str());
        jwk["use"] = json!("sig");
        jwk
    }

    /// The private key as PKCS#8 v1 DER (HMAC: the raw secret), for saving to disk.
    pub fn to_pkcs8_der(&self) -> Result<Vec<u8>, KeyError> {
        use aws_lc_rs::encoding::AsDer;
        match &self.inner {
            SigningInner::Rsa(pair) => pair
                .as_der()
                .map(|d| d.as_ref().to_vec())
                .map_err(|_| KeyError::ExportFailed { kind: "RSA" }),
            SigningInner::Ec(pair, _) => pair
                .to_pkcs8v1()
                .map(|d| d.as_ref().to_vec())
                .map_err(|_| KeyError::ExportFailed { kind: "EC" }),
            SigningInner::Ed25519(pair) => pair
                .to_pkcs8v1()
                .map(|d| d.as_ref().to_vec())
                .map_err(|_| KeyError::ExportFailed { kind: "Ed25519" }),
            SigningInner::Hmac(_, secret) => Ok(secret.clone()),
        }
    }

    /// The private key as a PEM `PRIVATE KEY` block (PKCS#8).
    pub fn to_pem(&self) -> Result<String, KeyError> {
        use base64::Engine;
        let der = self.to_pkcs8_der()?;
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
        for chunk in body.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            out.push('\n');
        }
        out.push_str("-----END PRIVATE KEY-----\n");
        Ok(out)
    }
}

fn pem_decode(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let mut body = String::new();
    let mut inside = false;
    for line in pem.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN ") {
            inside = true;
        } else if line.starts_with("-----END ") {
            break;
        } else if inside {
            body.push_str(line);
        }
    }
    if body.is_empty() {
        return None;
    }
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_every_algorithm() {
        for alg in Algorithm::ALL {
            let key = SigningKey::generate(alg, "k").unwrap();
            let sig = key.sign(b"hello").unwrap();
            let jwk = crate::jwk::Jwk::from_value(&key.public_jwk()).unwrap();
            let v = jwk.verifier(alg).expect("verifier for its own alg");
            assert!(v.verify(b"hello", &sig), "{alg}");
            assert!(!v.verify(b"hellO", &sig), "{alg}");
        }
    }

    #[test]
    fn pem_and_jwk_round_trips() {
        for alg in [Algorithm::RS256, Algorithm::ES384, Algorithm::EdDSA] {
            let key = SigningKey::generate(alg, "k").unwrap();
            let pem = key.to_pem().unwrap();
            let again = SigningKey::from_pem(alg, &pem, Some("k".into())).unwrap();
            assert_eq!(again.public_jwk(), key.public_jwk());
        }
    }

    #[test]
    fn bit_lengths() {
        assert_eq!(bit_len(&[0, 0x80, 0]), 16);
        assert_eq!(bit_len(&[1]), 1);
        assert_eq!(bit_len(&[]), 0);
    }
}
