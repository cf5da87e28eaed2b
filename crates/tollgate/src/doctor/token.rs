//! A lenient look at a token, without verifying anything: what shape it has (JWS, JWE,
//! unsigned, opaque), and its header and claims when they can be read. The strict reader is
//! [`crate::jws::decode`]; this one exists so the doctor and `tollgate decode` can show what
//! a rejected token contains. The signature is never kept.

use serde_json::{Map, Value};

use crate::{b64, json};

/// What kind of string a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// A signed JWT: three segments, header with an `alg` other than `none`.
    Jws,
    /// An encrypted JWT (JWE): five segments.
    Jwe,
    /// A JWT with `alg: none` (no signature).
    Unsigned,
    /// Not a JWT at all: no dots, or a known opaque format.
    Opaque,
    /// Looks like a JWT but cannot be read (bad base64, not JSON, wrong segment count).
    Malformed,
}

impl Shape {
    /// A phrase for people.
    pub fn describe(self) -> &'static str {
        match self {
            Shape::Jws => "a signed JWT (JWS)",
            Shape::Jwe => "an encrypted JWT (JWE)",
            Shape::Unsigned => "an unsigned JWT (alg none)",
            Shape::Opaque => "not a JWT (an opaque token)",
            Shape::Malformed => "a damaged JWT",
        }
    }
}

/// What could be read from a token.
#[derive(Clone, Debug, PartialEq)]
pub struct Inspected {
    /// The shape.
    pub shape: Shape,
    /// Number of `.`-separated segments.
    pub segments: usize,
    /// Length in bytes.
    pub len: usize,
    /// The (protected) header, if readable.
    pub header: Option<Map<String, Value>>,
    /// The claims, if readable (never for JWE).
    pub claims: Option<Map<String, Value>>,
    /// Why the token could not be read, if so.
    pub problem: Option<String>,
    /// A known opaque token format it has: (prefix, who issues it, why it is not a JWT).
    pub known_format: Option<(&'static str, &'static str, &'static str)>,
}

impl Inspected {
    /// A header member as a string.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.as_ref()?.get(name)?.as_str()
    }
    /// A claim as a string.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.as_ref()?.get(name)?.as_str()
    }
    /// A claim.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.as_ref()?.get(name)
    }
    /// The audiences (`aud` as a string or the strings of an array).
    pub fn audiences(&self) -> Vec<String> {
        audiences_of(self.claim("aud"))
    }
}

/// The audiences of an `aud` value: the string, or the strings of an array.
pub fn audiences_of(aud: Option<&Value>) -> Vec<String> {
    match aud {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

fn segment_json(segment: &str) -> Result<Map<String, Value>, String> {
    let bytes = b64::decode(segment).map_err(|e| e.to_string())?;
    json::parse_object(&bytes).map_err(|e| e.to_string())
}

/// Looks at a token without verifying it.
///
/// ```
/// use tollgate::doctor::token::{inspect, Shape};
/// assert_eq!(inspect("ya29.a0AfH6SMB").shape, Shape::Opaque);
/// assert_eq!(inspect("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.").shape, Shape::Unsigned);
/// ```
pub fn inspect(token: &str) -> Inspected {
    let segments: Vec<&str> = token.split('.').collect();
    let mut out = Inspected {
        shape: Shape::Malformed,
        segments: segments.len(),
        len: token.len(),
        header: None,
        claims: None,
        problem: None,
        known_format: opaque_format(token),
    };
    let header = segment_json(segments[0]);
    match (segments.len(), header) {
        (5, Ok(h)) => {
            out.shape = Shape::Jwe;
            out.header = Some(h);
        }
        (3, Ok(h)) => {
            let alg = h.get("alg").and_then(Value::as_str).unwrap_or("");
            out.shape = if alg.trim().eq_ignore_ascii_case("none") {
                Shape::Unsigned
            } else if h.get("alg").is_none() {
                out.problem = Some("the header has no \"alg\" member".into());
                Shape::Malformed
            } else {
                Shape::Jws
            };
            out.header = Some(h);
            match segment_json(segments[1]) {
                Ok(c) => out.claims = Some(c),
                Err(e) => {
                    out.problem = Some(format!("the payload {e}"));
                    if out.shape == Shape::Jws {
                        out.shape = Shape::Malformed;
                    }
                }
            }
        }
        (n, Ok(h)) => {
            out.header = Some(h);
            out.problem = Some(format!(
                "it has {n} segments; a signed JWT has 3 (header.payload.signature), an encrypted one 5: the copy is probably truncated or joined"
            ));
        }
        (n, Err(e)) => {
            let looks_jwt = token.starts_with("eyJ");
            if looks_jwt {
                out.problem = Some(format!("the header {e}"));
            } else if n <= 2 || opaque_format(token).is_some() {
                out.shape = Shape::Opaque;
                out.problem = Some(match n {
                    1 => "it has no '.': it is not a JWT".into(),
                    _ => format!("it has {n} segments and its first part is not a JWT header"),
                });
            } else {
                out.problem = Some(format!("the header {e}"));
            }
        }
    }
    out
}

/// The known opaque format this token has, if any: (prefix, who, why).
pub fn opaque_format(token: &str) -> Option<(&'static str, &'static str, &'static str)> {
    super::providers::OPAQUE_FORMATS
        .iter()
        .find(|(prefix, _, _)| token.starts_with(prefix))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let h = b64::encode(br#"{"alg":"RS256"}"#);
        let p = b64::encode(br#"{"sub":"a"}"#);
        assert_eq!(inspect(&format!("{h}.{p}.c2ln")).shape, Shape::Jws);
        let e = b64::encode(br#"{"alg":"dir","enc":"A256GCM"}"#);
        let jwe = inspect(&format!("{e}..aXY.Y3Q.dGFn"));
        assert_eq!(jwe.shape, Shape::Jwe);
        assert_eq!(jwe.claims, None);
        assert_eq!(inspect("2YotnFZFEjr1zCsicMWpAA").shape, Shape::Opaque);
        assert_eq!(inspect(&format!("{h}.{p}")).shape, Shape::Malformed);
        assert_eq!(
            inspect(&format!("{h}.bm90IGpzb24.c2ln")).shape,
            Shape::Malformed
        );
        assert_eq!(inspect("eyJhbG.x.y").shape, Shape::Malformed);
    }
}
