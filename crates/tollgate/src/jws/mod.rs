//! Compact JWS: reading ([`compact`]) and signing ([`sign`]).

pub mod compact;

pub use compact::{decode, strip_bearer, Decoded, Header, DEFAULT_MAX_TOKEN_SIZE};

use serde_json::{Map, Value};

use crate::b64;
use crate::crypto::{KeyError, SigningKey};

/// Signs `claims` as a compact JWS with `key`. The header gets `alg` (the key's) and `kid`
/// (the key's, if any) unless `header` sets them; every other member of `header` is copied.
///
/// ```
/// use serde_json::json;
/// use tollgate::{jws, Algorithm, SigningKey};
/// let key = SigningKey::generate(Algorithm::EdDSA, "k1").unwrap();
/// let token = jws::sign(&json!({"typ": "at+jwt"}), &json!({"sub": "alice"}), &key).unwrap();
/// let decoded = jws::decode(&token, jws::DEFAULT_MAX_TOKEN_SIZE).unwrap();
/// assert_eq!(decoded.header.alg, "EdDSA");
/// assert_eq!(decoded.header.kid.as_deref(), Some("k1"));
/// ```
pub fn sign(header: &Value, claims: &Value, key: &SigningKey) -> Result<String, KeyError> {
    let mut h = Map::new();
    h.insert("alg".into(), Value::String(key.alg().as_str().into()));
    if let Some(kid) = key.kid() {
        h.insert("kid".into(), Value::String(kid.into()));
    }
    if let Some(extra) = header.as_object() {
        for (k, v) in extra {
            if v.is_null() {
                h.remove(k);
            } else {
                h.insert(k.clone(), v.clone());
            }
        }
    }
    let payload = serde_json::to_vec(claims).map_err(|e| KeyError::Serialize {
        reason: e.to_string(),
    })?;
    sign_raw(&Value::Object(h), &payload, key)
}

/// Signs arbitrary payload bytes with exactly the given header (nothing added), so tests and
/// the dev issuer can mint any token, including wrong ones.
pub fn sign_raw(header: &Value, payload: &[u8], key: &SigningKey) -> Result<String, KeyError> {
    let header = serde_json::to_vec(header).map_err(|e| KeyError::Serialize {
        reason: e.to_string(),
    })?;
    let mut token = b64::encode(header);
    token.push('.');
    token.push_str(&b64::encode(payload));
    let signature = key.sign(token.as_bytes())?;
    token.push('.');
    token.push_str(&b64::encode(signature));
    Ok(token)
}
