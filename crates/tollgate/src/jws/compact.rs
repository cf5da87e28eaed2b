//! Reading compact JWS (RFC 7515 section 7.1): `header.payload.signature`.

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::b64;
use crate::error::{TokenPart, ValidationError};
use crate::json;

/// Default maximum token size: 16 KiB. Real access tokens are 0.8-4 KiB; Entra tokens with
/// many groups reach 8 KiB. Anything larger is almost certainly not a bearer token.
pub const DEFAULT_MAX_TOKEN_SIZE: usize = 16 * 1024;

/// A JWS protected header, with the members Tollgate acts on pulled out.
///
/// `jku`, `x5u`, `jwk` and `x5c` are kept in [`raw`](Header::raw) for display only: they are
/// never used to find a key.
///
/// A decoded header keeps its JSON text (already checked strictly: UTF-8, strict JSON, no
/// duplicate member names at any depth) and builds the member map the first time
/// [`raw`](Header::raw) is called, once.
#[derive(Clone)]
pub struct Header {
    /// `alg`, exactly as found.
    pub alg: String,
    /// `kid`, when present and a string.
    pub kid: Option<String>,
    /// `typ`, when present and a string.
    pub typ: Option<String>,
    /// The header JSON this was read from; empty when built from a map.
    json: Box<[u8]>,
    /// Every member, as found: built from `json` on first use (or given).
    raw: OnceLock<Map<String, Value>>,
}

impl Header {
    /// A header from its extracted members and its member map (`alg`, `kid` and `typ` are
    /// taken as given, not read from `raw`).
    pub fn new(
        alg: impl Into<String>,
        kid: Option<String>,
        typ: Option<String>,
        raw: Map<String, Value>,
    ) -> Header {
        Header {
            alg: alg.into(),
            kid,
            typ,
            json: Box::default(),
            raw: OnceLock::from(raw),
        }
    }

    /// Every member, as found (built on first use).
    pub fn raw(&self) -> &Map<String, Value> {
        self.raw.get_or_init(|| {
            // Only JSON that `json::scan_object` accepted is held, which the parser reads;
            // the empty map is never taken, it keeps this free of panics.
            if self.json.is_empty() {
                Map::new()
            } else {
                json::parse_object(&self.json).unwrap_or_default()
            }
        })
    }

    /// Every member, as an owned map.
    pub fn into_raw(self) -> Map<String, Value> {
        let Header { json, raw, .. } = self;
        raw.into_inner().unwrap_or_else(|| {
            if json.is_empty() {
                Map::new()
            } else {
                json::parse_object(&json).unwrap_or_default()
            }
        })
    }
}

impl PartialEq for Header {
    fn eq(&self, other: &Header) -> bool {
        self.alg == other.alg
            && self.kid == other.kid
            && self.typ == other.typ
            && self.raw() == other.raw()
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("typ", &self.typ)
            .field("raw", self.raw())
            .finish()
    }
}

/// A compact JWS split and decoded, signature not yet checked.
#[derive(Debug)]
pub struct Decoded<'a> {
    /// The protected header.
    pub header: Header,
    /// `base64url(header) "." base64url(payload)`: the bytes the signature covers.
    pub signing_input: &'a [u8],
    /// The payload segment, still base64url.
    pub payload_b64: &'a str,
    /// The signature bytes (never print them).
    pub signature: Vec<u8>,
}

impl Decoded<'_> {
    /// Decodes and parses the payload as a JSON object (the JWT claims set).
    pub fn claims(&self) -> Result<Map<String, Value>, ValidationError> {
        if self.payload_b64.is_empty() {
            return Err(malformed(TokenPart::Payload, EMPTY_PAYLOAD));
        }
        let mut buf = [0u8; 1024];
        let bytes = decode_segment(self.payload_b64, &mut buf).map_err(|reason| {
            ValidationError::Malformed {
                part: TokenPart::Payload,
                reason,
            }
        })?;
        json::parse_object(&bytes).map_err(|reason| ValidationError::Malformed {
            part: TokenPart::Payload,
            reason: reason.to_string(),
        })
    }
}

impl Decoded<'_> {
    /// The payload bytes, decoded (the JSON text of the claims, not yet parsed); the same
    /// errors as [`claims`](Decoded::claims) for an empty or non-base64url payload.
    pub(crate) fn payload_json(&self) -> Result<Vec<u8>, ValidationError> {
        if self.payload_b64.is_empty() {
            return Err(malformed(TokenPart::Payload, EMPTY_PAYLOAD));
        }
        b64::decode(self.payload_b64)
            .map_err(|reason| malformed(TokenPart::Payload, reason.to_string()))
    }
}

/// Why an empty payload is not a JWT. (A JWS may have one, RFC 7515 section 7.1; its
/// signature then covers `header.` alone.)
pub(crate) const EMPTY_PAYLOAD: &str = "is empty: a JWT always carries its claims \
     (detached content, RFC 7515 appendix F, is not supported)";

fn malformed(part: TokenPart, reason: impl Into<String>) -> ValidationError {
    ValidationError::Malformed {
        part,
        reason: reason.into(),
    }
}

/// Removes a leading `Bearer ` (any case) and surrounding whitespace.
pub fn strip_bearer(input: &str) -> &str {
    let t = input.trim();
    // Compared as bytes: slicing the str at 7 would panic inside a multi-byte character.
    if t.len() > 7 && t.as_bytes()[..7].eq_ignore_ascii_case(b"bearer ") {
        t[7..].trim_start()
    } else {
        t
    }
}

fn parse_header(segment: &str) -> Result<Map<String, Value>, ValidationError> {
    if segment.is_empty() {
        return Err(malformed(TokenPart::Header, "is empty"));
    }
    let mut buf = [0u8; 256];
    let bytes = decode_segment(segment, &mut buf).map_err(|r| malformed(TokenPart::Header, r))?;
    json::parse_object(&bytes).map_err(|r| malformed(TokenPart::Header, r.to_string()))
}

/// The header of the common case, read without building its member map: strict base64url
/// (fast decoder), JSON the allocation-free scanner accepts (so the strict parser reads it:
/// no duplicate member at any depth), `alg` a string, `kid` absent or a string, no `crit`
/// and no `b64`. `None` for anything else, which [`decode`] then handles as before (parses
/// the map and words every error); so this path accepts only headers that path accepts, with
/// the same `alg`, `kid` and `typ`.
#[inline]
fn quick_header(segment: &str) -> Option<Header> {
    let mut buf = [0u8; 256];
    let n = b64::decode_fast(segment.as_bytes(), &mut buf)?;
    let bytes = &buf[..n];
    let (mut alg, mut kid, mut typ) = (None, None, None);
    let mut other = false;
    let ok = json::scan_object(bytes, |name, value| match (name, value) {
        ("alg", json::Scanned::Str(a)) => alg = Some(a),
        ("kid", json::Scanned::Str(k)) => kid = Some(k),
        ("typ", json::Scanned::Str(t)) => typ = Some(t),
        // A non-string `typ` reads as no `typ` (as in `decode`).
        ("typ", _) => {}
        ("alg" | "kid" | "crit" | "b64", _) => other = true,
        _ => {}
    });
    if !ok || other {
        return None;
    }
    Some(Header {
        alg: alg?.to_owned(),
        kid: kid.map(str::to_owned),
        typ: typ.map(str::to_owned),
        json: bytes.into(),
        raw: OnceLock::new(),
    })
}

/// Decodes a base64url segment into `buf` when it fits (no allocation: headers and most
/// payloads), otherwise into a new vector; errors worded by [`b64::decode`].
fn decode_segment<'b>(segment: &str, buf: &'b mut [u8]) -> Result<Cow<'b, [u8]>, String> {
    b64::decode_in(segment, buf).map_err(|e| e.to_string())
}

/// Decodes the signature segment (never printed).
fn decode_signature(segment: &str) -> Result<Vec<u8>, String> {
    b64::decode(segment).map_err(|e| e.to_string())
}

/// The positions of the two dots of a three-segment token; `None` when there are not
/// exactly two.
#[inline]
fn two_dots(token: &str) -> Option<(usize, usize)> {
    let d0 = token.find('.')?;
    let d1 = d0 + 1 + token[d0 + 1..].find('.')?;
    match token[d1 + 1..].find('.') {
        None => Some((d0, d1)),
        Some(_) => None,
    }
}

/// The error for a token that does not have three segments: JWE (five segments) is named as
/// such, with its `alg`/`enc` when readable.
#[cold]
fn not_three_segments(token: &str) -> ValidationError {
    if let Some(e) = not_a_jws(token) {
        return e;
    }
    let count = token.bytes().filter(|b| *b == b'.').count();
    if count == 4 {
        // Five segments: JWE (RFC 7516). Read alg/enc if possible to say what it is.
        let first = token.find('.').unwrap_or(token.len());
        let (alg, enc) = match parse_header(&token[..first]) {
            Ok(h) => (
                h.get("alg").and_then(Value::as_str).map(str::to_string),
                h.get("enc").and_then(Value::as_str).map(str::to_string),
            ),
            Err(_) => (None, None),
        };
        return ValidationError::Encrypted { alg, enc };
    }
    let reason = if token.is_empty() {
        "is empty".to_string()
    } else if count == 0 {
        "has no '.': it is not a JWT (an opaque token or a session id?)".to_string()
    } else {
        format!(
            "has {} segments; a signed JWT has 3 (header.payload.signature)",
            count + 1
        )
    };
    malformed(TokenPart::Token, reason)
}

/// Splits and decodes a compact JWS and checks its header, without verifying anything.
///
/// Rejects: tokens over `max_size` (`token_too_large`), JWE (`encrypted_token`), anything
/// other than three segments, non-base64url, non-object JSON and duplicate members
/// (`malformed_token`), `alg: none` in any spelling (`unsecured_token`), `crit` and
/// `b64: false` (`crit_unsupported`).
///
/// ```
/// use tollgate::jws::compact::decode;
/// let err = decode("a.b", 16 * 1024).unwrap_err();
/// assert_eq!(err.code(), "malformed_token");
/// ```
pub fn decode(token: &str, max_size: usize) -> Result<Decoded<'_>, ValidationError> {
    if token.len() > max_size {
        return Err(ValidationError::TokenTooLarge {
            limit: max_size,
            found: token.len(),
        });
    }
    // The two dots of a JWS, found with the vectorised `str::find`; any other count goes to
    // `not_three_segments`, which counts them all to say what the token is.
    let (d0, d1) = match two_dots(token) {
        Some(dots) => dots,
        None => return Err(not_three_segments(token)),
    };
    let (h, p, s) = (&token[..d0], &token[d0 + 1..d1], &token[d1 + 1..]);
    if let Some(header) = quick_header(h) {
        if header.alg.trim().eq_ignore_ascii_case("none") {
            return Err(ValidationError::Unsecured { alg: header.alg });
        }
        if s.is_empty() {
            return Err(malformed(TokenPart::Signature, "is empty"));
        }
        let signature = decode_signature(s).map_err(|r| malformed(TokenPart::Signature, r))?;
        return Ok(Decoded {
            header,
            signing_input: &token.as_bytes()[..d1],
            payload_b64: p,
            signature,
        });
    }
    let raw = parse_header(h).map_err(|e| not_a_jws(token).unwrap_or(e))?;
    // One pass over the members finds the ones acted on (cheaper than five lookups).
    let (mut alg, mut kid, mut typ, mut crit, mut b64) = (None, None, None, None, None);
    for (name, value) in &raw {
        match name.as_bytes() {
            b"alg" => alg = Some(value),
            b"kid" => kid = Some(value),
            b"typ" => typ = Some(value),
            b"crit" => crit = Some(value),
            b"b64" => b64 = Some(value),
            _ => {}
        }
    }
    let alg = match alg {
        Some(Value::String(a)) => a.clone(),
        Some(other) => {
            return Err(malformed(
                TokenPart::Header,
                format!(
                    "member \"alg\" must be a string, found {}",
                    json::kind(other)
                ),
            ))
        }
        None => return Err(malformed(TokenPart::Header, "has no \"alg\" member")),
    };
    if alg.trim().eq_ignore_ascii_case("none") {
        return Err(ValidationError::Unsecured { alg });
    }
    check_crit(crit, b64)?;
    // An empty payload is a valid JWS; `claims()` refuses it as a JWT.
    if s.is_empty() {
        return Err(malformed(TokenPart::Signature, "is empty"));
    }
    let signature = decode_signature(s).map_err(|r| malformed(TokenPart::Signature, r))?;
    let kid = match kid {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(other) => {
            return Err(malformed(
                TokenPart::Header,
                format!(
                    "member \"kid\" must be a string, found {}",
                    json::kind(other)
                ),
            ))
        }
    };
    let typ = typ.and_then(Value::as_str).map(str::to_string);
    Ok(Decoded {
        header: Header::new(alg, kid, typ, raw),
        signing_input: &token.as_bytes()[..d1],
        payload_b64: p,
        signature,
    })
}

/// What a token that does not have three segments is instead, when that can be told: the
/// JSON serialization of a JWS or JWE (RFC 7515 section 7.2, RFC 7516 section 7.2), or a JWE
/// with a part missing, recognised by the `enc` member of its header (RFC 7516 section 9).
#[cold]
fn not_a_jws(token: &str) -> Option<ValidationError> {
    let enc_header = |segment: &str| {
        let h = parse_header(segment).ok()?;
        let enc = h.get("enc").and_then(Value::as_str)?.to_string();
        let alg = h.get("alg").and_then(Value::as_str).map(str::to_string);
        Some(ValidationError::Encrypted {
            alg,
            enc: Some(enc),
        })
    };
    if token.starts_with('{') {
        let obj = json::parse_object(token.as_bytes()).ok()?;
        if obj.contains_key("ciphertext") {
            let protected = obj.get("protected").and_then(Value::as_str).unwrap_or("");
            return Some(enc_header(protected).unwrap_or(ValidationError::Encrypted {
                alg: None,
                enc: None,
            }));
        }
        return Some(malformed(
            TokenPart::Token,
            "is a JSON object, not a compact token: the JSON serialization (RFC 7515 section \
             7.2) is not used for bearer tokens; send the compact form header.payload.signature",
        ));
    }
    enc_header(token.split('.').next().unwrap_or(""))
}

/// `crit` (RFC 7515 4.1.11): Tollgate implements no extension, so any listed name is
/// refused; a malformed `crit` is malformed. `b64: false` (RFC 7797) is refused too: a JWT
/// must not use it (RFC 7797 section 7).
fn check_crit(crit: Option<&Value>, b64: Option<&Value>) -> Result<(), ValidationError> {
    if let Some(crit) = crit {
        let names = match crit {
            Value::Array(items) if !items.is_empty() => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>(),
            _ => None,
        };
        return match names {
            Some(names) => Err(ValidationError::CritUnsupported { names }),
            None => Err(malformed(
                TokenPart::Header,
                "member \"crit\" must be a non-empty array of strings",
            )),
        };
    }
    if let Some(b64) = b64 {
        if b64 != &Value::Bool(true) {
            return Err(ValidationError::CritUnsupported {
                names: vec!["b64".to_string()],
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(json: &str) -> String {
        b64::encode(json)
    }

    #[test]
    fn segments_and_jwe() {
        assert_eq!(decode("", 100).unwrap_err().code(), "malformed_token");
        assert_eq!(decode("abc", 100).unwrap_err().code(), "malformed_token");
        let jwe = format!("{}.a.b.c.d", seg(r#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#));
        match decode(&jwe, 1000).unwrap_err() {
            ValidationError::Encrypted { alg, enc } => {
                assert_eq!(alg.as_deref(), Some("RSA-OAEP"));
                assert_eq!(enc.as_deref(), Some("A256GCM"));
            }
            e => panic!("{e:?}"),
        }
        assert_eq!(
            decode(&"a".repeat(101), 100).unwrap_err().code(),
            "token_too_large"
        );
    }

    /// Wycheproof json_web_crypto/json_web_encryption: a JWE with a part and its separator
    /// removed, and JWE/JWS in the JSON serialization.
    #[test]
    fn jwe_with_a_part_missing_and_json_serializations() {
        let jwe_header = seg(r#"{"alg":"A256KW","enc":"A256GCM"}"#);
        match decode(&format!("{jwe_header}.a.b.c"), 1000).unwrap_err() {
            ValidationError::Encrypted { alg, enc } => {
                assert_eq!(alg.as_deref(), Some("A256KW"));
                assert_eq!(enc.as_deref(), Some("A256GCM"));
            }
            e => panic!("{e:?}"),
        }
        // A JWS header with an extra part stays malformed.
        let jws_header = seg(r#"{"alg":"HS256"}"#);
        let e = decode(&format!("{jws_header}.a.b.c"), 1000).unwrap_err();
        assert_eq!(e.code(), "malformed_token");
        let json_jwe =
            format!(r#"{{"protected":"{jwe_header}","iv":"a.b","ciphertext":"c.d","tag":"e"}}"#);
        assert_eq!(
            decode(&json_jwe, 1000).unwrap_err().code(),
            "encrypted_token"
        );
        // Four dots in a JSON JWS (kids with dots): still not a JWE.
        let json_jws =
            r#"{"payload":"e30","signatures":[{"header":{"kid":"a.b.c.d.e"},"signature":"AA"}]}"#;
        let e = decode(json_jws, 1000).unwrap_err();
        assert_eq!(e.code(), "malformed_token");
        assert!(e.to_string().contains("JSON serialization"), "{e}");
    }

    #[test]
    fn none_in_any_spelling() {
        for alg in ["none", "None", "NONE", "nOnE"] {
            let t = format!("{}.{}.", seg(&format!(r#"{{"alg":"{alg}"}}"#)), seg("{}"));
            assert_eq!(decode(&t, 1000).unwrap_err().code(), "unsecured_token");
        }
    }

    #[test]
    fn crit_and_b64() {
        let t = format!(
            "{}.{}.AA",
            seg(r#"{"alg":"HS256","crit":["exp"],"exp":1}"#),
            seg("{}")
        );
        assert_eq!(decode(&t, 1000).unwrap_err().code(), "crit_unsupported");
        let t = format!("{}.{}.AA", seg(r#"{"alg":"HS256","b64":false}"#), seg("{}"));
        assert_eq!(decode(&t, 1000).unwrap_err().code(), "crit_unsupported");
        let t = format!("{}.{}.AA", seg(r#"{"alg":"HS256","crit":[]}"#), seg("{}"));
        assert_eq!(decode(&t, 1000).unwrap_err().code(), "malformed_token");
    }

    #[test]
    fn an_empty_payload_is_a_jws_but_not_a_jwt() {
        let t = format!("{}..AA", seg(r#"{"alg":"HS256"}"#));
        let decoded = decode(&t, 1000).unwrap();
        assert_eq!(decoded.payload_b64, "");
        assert_eq!(decoded.signing_input, &t.as_bytes()[..t.len() - 3]);
        let e = decoded.claims().unwrap_err();
        assert_eq!(e.code(), "malformed_token");
        assert!(e.to_string().contains("detached content"), "{e}");
    }

    #[test]
    fn duplicate_header_members() {
        let t = format!(
            "{}.{}.AA",
            seg(r#"{"alg":"HS256","alg":"RS256"}"#),
            seg("{}")
        );
        let e = decode(&t, 1000).unwrap_err();
        assert_eq!(e.code(), "malformed_token");
        assert!(e.to_string().contains("duplicate"), "{e}");
    }

    /// The quick header path accepts only what the full path accepts, with the same header.
    #[test]
    fn quick_header_agrees_with_the_map() {
        for json in [
            r#"{"alg":"HS256"}"#,
            r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#,
            r#"{"alg":"RS256","typ":1,"x":{"a":[1,2,{"b":null}]}}"#,
            r#"{"alg":"RS256","typ":"at+jwt","jku":"https://x"}"#,
            r#"{"alg":"HS256","kid":1}"#,
            r#"{"alg":1}"#,
            r#"{"kid":"k"}"#,
            r#"{"alg":"HS256","crit":["x"]}"#,
            r#"{"alg":"HS256","b64":true}"#,
            r#"{"alg":"HS256","x":{"a":1,"a":2}}"#,
            r#"{"alg":"HS256","alg":"HS256"}"#,
            r#"{"alg":"H\u0053256"}"#,
            r#"{"alg":"HS256"} x"#,
            r#"[1]"#,
        ] {
            let segment = seg(json);
            let full = parse_header(&segment);
            match quick_header(&segment) {
                Some(h) => {
                    let map = full.expect(json);
                    assert_eq!(h.raw(), &map, "{json}");
                    assert_eq!(Some(&Value::String(h.alg.clone())), map.get("alg"));
                    assert_eq!(h.kid.as_deref(), map.get("kid").and_then(Value::as_str));
                    assert_eq!(h.typ.as_deref(), map.get("typ").and_then(Value::as_str));
                    assert_eq!(h.clone().into_raw(), map);
                    let t = format!("{segment}.{}.AA", seg("{}"));
                    assert_eq!(decode(&t, 1000).unwrap().header, h);
                }
                None => assert!(
                    full.is_err()
                        || ["kid\":1", "alg\":1", "crit", "b64", "u0053"]
                            .iter()
                            .any(|x| json.contains(x.trim_start_matches('\\')))
                        || !json.contains("alg"),
                    "{json}"
                ),
            }
        }
    }

    #[test]
    fn bearer_prefix() {
        assert_eq!(strip_bearer("  Bearer abc "), "abc");
        assert_eq!(strip_bearer("bearer   abc"), "abc");
        assert_eq!(strip_bearer("abc"), "abc");
        // Found by tests/parser_props.rs: byte 7 inside a multi-byte character.
        assert_eq!(strip_bearer("ééééé"), "ééééé");
        assert_eq!(strip_bearer("Bearer é"), "é");
    }
}
