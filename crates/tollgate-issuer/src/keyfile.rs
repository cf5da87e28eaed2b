//! Reading a private key given on the command line (`tollgate mint --key FILE`): a PEM
//! PKCS#8 / PKCS#1 / SEC1 key or a private JWK, and the kid rule shared with the issuer.

use serde_json::Value;
use tollgate::{Algorithm, SigningKey};

/// Length of a derived kid: 16 base64url characters (96 bits) of the key's RFC 7638
/// thumbprint, unique in practice and short enough to read in logs.
pub const DERIVED_KID_LEN: usize = 16;

/// The algorithms tried, in order, for a PEM key given without `--alg`: the usual
/// algorithm of each key type (RSA: RS256; EC: by curve; Ed25519).
const PEM_GUESSES: [Algorithm; 5] = [
    Algorithm::RS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::ES512,
    Algorithm::EdDSA,
];

/// The kid the issuer gives a key: the first [`DERIVED_KID_LEN`] characters of its RFC 7638
/// thumbprint. So `tollgate mint --key` on a key file of the issuer finds the same kid.
///
/// ```
/// use tollgate::{Algorithm, SigningKey};
/// let key = SigningKey::generate(Algorithm::ES256, "").unwrap();
/// assert_eq!(tollgate_issuer::keyfile::derive_kid(&key).unwrap().len(), 16);
/// ```
pub fn derive_kid(key: &SigningKey) -> Result<String, String> {
    let mut jwk = key.public_jwk();
    if let Some(obj) = jwk.as_object_mut() {
        obj.remove("kid");
    }
    let thumbprint = tollgate::jwk::thumbprint_of(&jwk).map_err(|e| e.to_string())?;
    Ok(thumbprint.chars().take(DERIVED_KID_LEN).collect())
}

/// Loads a private key from a file's bytes. `alg` chooses the algorithm (required only to
/// pick PS* over RS* for RSA PEM keys); without a kid in the JWK or in `kid`, the kid is
/// derived with [`derive_kid`] (HMAC keys get none).
///
/// ```
/// use tollgate::{Algorithm, SigningKey};
/// use tollgate_issuer::keyfile::load_private_key;
/// let pem = SigningKey::generate(Algorithm::ES384, "").unwrap().to_pem().unwrap();
/// let key = load_private_key(pem.as_bytes(), None, None).unwrap();
/// assert_eq!(key.alg(), Algorithm::ES384);
/// let err = load_private_key(b"hello", None, None).unwrap_err();
/// assert!(err.contains("PEM"));
/// ```
pub fn load_private_key(
    bytes: &[u8],
    alg: Option<Algorithm>,
    kid: Option<String>,
) -> Result<SigningKey, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| "the key file is not text: expected a PEM private key or a private JWK (DER is not read; convert it with `openssl pkey -inform DER -in KEY -out key.pem`)".to_string())?;
    let trimmed = text.trim_start();
    let mut key = if trimmed.starts_with('{') {
        from_jwk_text(trimmed, alg)?
    } else if trimmed.contains("-----BEGIN") {
        from_pem_text(trimmed, alg)?
    } else {
        return Err(
            "the key file is neither a PEM private key (-----BEGIN PRIVATE KEY-----) nor a private JWK (a JSON object with \"d\")"
                .into(),
        );
    };
    let kid = match (kid, key.kid()) {
        (Some(k), _) => Some(k),
        (None, Some(k)) => Some(k.to_string()),
        (None, None) if key.alg().is_symmetric() => None,
        (None, None) => Some(derive_kid(&key)?),
    };
    key.set_kid(kid);
    Ok(key)
}

fn from_jwk_text(text: &str, alg: Option<Algorithm>) -> Result<SigningKey, String> {
    let jwk: Value = serde_json::from_str(text)
        .map_err(|e| format!("the key file looks like JSON but is not valid JSON: {e}"))?;
    if jwk.get("keys").is_some() {
        return Err(
            "the key file is a JWK Set; give one private JWK (a single key with \"d\")".into(),
        );
    }
    let kty = jwk.get("kty").and_then(Value::as_str).unwrap_or("");
    if kty != "oct" && jwk.get("d").is_none() {
        return Err(
            "the JWK has no \"d\" member: it is a public key; minting needs the private key".into(),
        );
    }
    let key = SigningKey::from_jwk(&jwk, alg).map_err(|e| format!("the JWK cannot sign: {e}"))?;
    match alg {
        Some(a) if a != key.alg() && a.family() == key.alg().family() => {
            key.with_alg(a).map_err(|e| e.to_string())
        }
        _ => Ok(key),
    }
}

fn from_pem_text(text: &str, alg: Option<Algorithm>) -> Result<SigningKey, String> {
    if text.contains("PUBLIC KEY-----") || text.contains("CERTIFICATE-----") {
        return Err("the PEM file holds a public key or certificate; minting needs the private key (-----BEGIN PRIVATE KEY-----)".into());
    }
    if text.contains("ENCRYPTED PRIVATE KEY-----") {
        return Err(
            "the PEM key is encrypted; decrypt it first (openssl pkey -in KEY -out plain.pem)"
                .into(),
        );
    }
    match alg {
        Some(a) if a.is_symmetric() => Err(format!(
            "{a} needs a shared secret, not a PEM key; give a JWK {{\"kty\": \"oct\", \"k\": ...}} or use --state DIR"
        )),
        Some(a) => SigningKey::from_pem(a, text, None)
            .map_err(|e| format!("the PEM key cannot sign {a}: {e}")),
        None => PEM_GUESSES
            .iter()
            .find_map(|a| SigningKey::from_pem(*a, text, None).ok())
            .ok_or_else(|| {
                "the PEM key is not an RSA, EC (P-256, P-384, P-521) or Ed25519 private key".into()
            }),
    }
}
