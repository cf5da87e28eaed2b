//! Building access tokens: the RFC 9068 defaults, overlays that change or remove members,
//! and signing "as declared" so wrong tokens (expired, wrong alg, unknown kid) can be minted
//! on purpose. Shared by the issuer, [`DevIssuer::mint`](crate::DevIssuer::mint) and
//! `tollgate mint`.

use serde_json::{Map, Value};
use tollgate::{b64, jws, Algorithm, KeyFamily, SigningKey};

/// The `typ` header of an RFC 9068 JWT access token.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Applies `changes` (a JSON object) to `target`: each member replaces the one of the same
/// name, and a JSON `null` removes it. Anything other than an object changes nothing.
///
/// ```
/// use serde_json::json;
/// let mut claims = json!({"sub": "a", "exp": 10}).as_object().unwrap().clone();
/// tollgate_issuer::token::overlay(&mut claims, &json!({"exp": null, "aud": "api"}));
/// assert_eq!(serde_json::Value::Object(claims), json!({"sub": "a", "aud": "api"}));
/// ```
pub fn overlay(target: &mut Map<String, Value>, changes: &Value) {
    if let Some(changes) = changes.as_object() {
        for (name, value) in changes {
            if value.is_null() {
                target.remove(name);
            } else {
                target.insert(name.clone(), value.clone());
            }
        }
    }
}

/// A fresh `jti`: 128 random bits, base64url.
pub fn new_jti() -> String {
    let mut bytes = [0u8; 16];
    tollgate::random_bytes(&mut bytes);
    b64::encode(bytes)
}

/// Signs `claims` under exactly `header` (nothing added), choosing the signature from the
/// header's `alg`:
/// - `none` (any case): no signature (`header.payload.`), an unsecured JWT;
/// - an `alg` of `key`'s family: `key` signs with that algorithm (an RSA key signs RS256 or
///   PS256 alike);
/// - an HS* `alg` with `hmac_secret` given: that secret signs;
/// - anything else (another family, an unknown name, no `alg`): `key` signs with its own
///   algorithm, so the header and the signature disagree, as in an algorithm-confusion test.
///
/// ```
/// use serde_json::json;
/// use tollgate::{jws, Algorithm, SigningKey};
/// let key = SigningKey::generate(Algorithm::RS256, "k1").unwrap();
/// let t = tollgate_issuer::token::sign_as_declared(&json!({"alg": "PS256", "kid": "k1"}), &json!({}), &key, None).unwrap();
/// assert_eq!(jws::decode(&t, 16384).unwrap().header.alg, "PS256");
/// ```
pub fn sign_as_declared(
    header: &Value,
    claims: &Value,
    key: &SigningKey,
    hmac_secret: Option<&[u8]>,
) -> Result<String, tollgate::KeyError> {
    let payload = serde_json::to_vec(claims).map_err(|e| tollgate::KeyError::Serialize {
        reason: e.to_string(),
    })?;
    let declared = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if declared.trim().eq_ignore_ascii_case("none") {
        let header = serde_json::to_vec(header).map_err(|e| tollgate::KeyError::Serialize {
            reason: e.to_string(),
        })?;
        return Ok(format!("{}.{}.", b64::encode(header), b64::encode(payload)));
    }
    let signer = match declared.parse::<Algorithm>() {
        Ok(alg) if alg == key.alg() => None,
        Ok(alg) if alg.family() == KeyFamily::Hmac => match hmac_secret {
            Some(secret) => Some(SigningKey::hmac(alg, secret, "")?),
            None if key.alg().is_symmetric() => Some(key_for(key, alg)?),
            None => None,
        },
        Ok(alg) if alg.family() == key.alg().family() => Some(key_for(key, alg)?),
        _ => None,
    };
    jws::sign_raw(header, &payload, signer.as_ref().unwrap_or(key))
}

/// A copy of `key` that signs with `alg` (same key family).
fn key_for(key: &SigningKey, alg: Algorithm) -> Result<SigningKey, tollgate::KeyError> {
    let der = key.to_pkcs8_der()?;
    if alg.is_symmetric() {
        return SigningKey::hmac(alg, &der, key.kid().unwrap_or_default());
    }
    SigningKey::from_der(alg, &der, key.kid().map(str::to_string))
}

/// Parses a lifetime: `30s`, `15m`, `1h`, `2d`, a plain number of seconds, or any of them
/// negative (`-5m`: already expired). Returns seconds.
///
/// ```
/// use tollgate_issuer::token::parse_lifetime;
/// assert_eq!(parse_lifetime("1h"), Ok(3600));
/// assert_eq!(parse_lifetime("-5m"), Ok(-300));
/// assert_eq!(parse_lifetime("90"), Ok(90));
/// assert!(parse_lifetime("1y").is_err());
/// ```
pub fn parse_lifetime(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let (negative, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let split = body
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(body.len());
    let (digits, unit) = body.split_at(split);
    let multiplier: i64 = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "cannot read the duration {text:?}: use a number with s, m, h or d (30s, 15m, 1h, 2d; -5m for the past)"
            ))
        }
    };
    let n: i64 = digits.parse().map_err(|_| {
        format!("cannot read the duration {text:?}: expected digits before the unit (e.g. 15m)")
    })?;
    let secs = n
        .checked_mul(multiplier)
        .ok_or_else(|| format!("the duration {text:?} is too large"))?;
    Ok(if negative { -secs } else { secs })
}

/// Parses `NAME=VALUE` (`--claim`, `--header`). The value is JSON when it parses as JSON
/// (`exp=1`, `admin=true`, `roles=["a"]`, `x=null` to remove), otherwise a string.
///
/// ```
/// use serde_json::json;
/// use tollgate_issuer::token::parse_assignment;
/// assert_eq!(parse_assignment("n=1").unwrap(), ("n".to_string(), json!(1)));
/// assert_eq!(parse_assignment("sub=alice").unwrap(), ("sub".to_string(), json!("alice")));
/// assert!(parse_assignment("nothing").is_err());
/// ```
pub fn parse_assignment(text: &str) -> Result<(String, Value), String> {
    let (name, raw) = text.split_once('=').ok_or_else(|| {
        format!("expected NAME=VALUE, found {text:?} (e.g. --claim scope=\"read write\")")
    })?;
    if name.is_empty() {
        return Err(format!("the name before '=' is empty in {text:?}"));
    }
    let value = serde_json::from_str::<Value>(raw).unwrap_or_else(|_| Value::String(raw.into()));
    Ok((name.to_string(), value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tollgate::{JwkSet, Policy};

    fn verify(token: &str, key: &SigningKey, alg: Algorithm) -> Result<(), String> {
        let keys = JwkSet::from_value(&json!({"keys": [key.public_jwk()]})).unwrap();
        let policy = Policy::new().algorithms([alg]).require_exp(false);
        tollgate::validate::validate(token, &keys, &policy, 0)
            .map(|_| ())
            .map_err(|e| e.code().to_string())
    }

    #[test]
    fn same_family_switches_algorithm() {
        let key = SigningKey::generate(Algorithm::RS256, "k").unwrap();
        let t =
            sign_as_declared(&json!({"alg": "PS256", "kid": "k"}), &json!({}), &key, None).unwrap();
        // The published key says RS256, so a PS256 token is refused by key binding, but
        // the signature itself is a PS256 one: check with an alg-less copy of the key.
        let mut jwk = key.public_jwk();
        jwk.as_object_mut().unwrap().remove("alg");
        let keys = JwkSet::from_value(&json!({"keys": [jwk]})).unwrap();
        let policy = Policy::new().require_exp(false);
        assert!(tollgate::validate::validate(&t, &keys, &policy, 0).is_ok());
    }

    #[test]
    fn other_family_signs_with_the_key_anyway() {
        let key = SigningKey::generate(Algorithm::ES256, "k").unwrap();
        let t =
            sign_as_declared(&json!({"alg": "RS256", "kid": "k"}), &json!({}), &key, None).unwrap();
        assert_eq!(
            verify(&t, &key, Algorithm::RS256).unwrap_err(),
            "alg_key_mismatch"
        );
    }

    #[test]
    fn none_is_unsigned() {
        let key = SigningKey::generate(Algorithm::ES256, "k").unwrap();
        let t = sign_as_declared(&json!({"alg": "none"}), &json!({"a": 1}), &key, None).unwrap();
        assert!(t.ends_with('.'));
        assert_eq!(
            verify(&t, &key, Algorithm::ES256).unwrap_err(),
            "unsecured_token"
        );
    }

    #[test]
    fn hmac_uses_the_secret() {
        let key = SigningKey::generate(Algorithm::ES256, "k").unwrap();
        let secret = [7u8; 32];
        let t =
            sign_as_declared(&json!({"alg": "HS256"}), &json!({}), &key, Some(&secret)).unwrap();
        let keys = JwkSet::from_value(&json!({"keys": [{"kty": "oct", "k": b64::encode(secret)}]}))
            .unwrap();
        let policy = Policy::new()
            .algorithms([Algorithm::HS256])
            .require_exp(false);
        assert!(tollgate::validate::validate(&t, &keys, &policy, 0).is_ok());
    }

    #[test]
    fn lifetimes() {
        assert_eq!(parse_lifetime("30s"), Ok(30));
        assert_eq!(parse_lifetime("2d"), Ok(172_800));
        assert_eq!(parse_lifetime("+15m"), Ok(900));
        assert!(parse_lifetime("").is_err());
        assert!(parse_lifetime("m").is_err());
        assert!(parse_lifetime("99999999999999999999d").is_err());
    }
}
