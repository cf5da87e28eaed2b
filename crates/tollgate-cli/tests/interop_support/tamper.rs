//! Tampered variants of a compact JWS made by a peer: each keeps everything else byte for
//! byte, so the only thing wrong is the one change.

use serde_json::{Map, Value};
use tollgate::b64;

fn split(token: &str) -> (&str, &str, &str) {
    let mut it = token.splitn(3, '.');
    let h = it.next().unwrap_or_default();
    let p = it.next().unwrap_or_default();
    let s = it.next().unwrap_or_default();
    (h, p, s)
}

fn object(part: &str) -> Map<String, Value> {
    let bytes = b64::decode(part).expect("peer token part is base64url");
    serde_json::from_slice(&bytes).expect("peer token part is a JSON object")
}

fn encode(obj: &Map<String, Value>) -> String {
    b64::encode(serde_json::to_vec(obj).expect("JSON"))
}

/// The signature segment (to check it is never printed).
pub fn signature(token: &str) -> &str {
    split(token).2
}

/// The protected header.
pub fn header(token: &str) -> Map<String, Value> {
    object(split(token).0)
}

/// The payload with `sub` changed; header and signature untouched.
pub fn payload_altered(token: &str) -> String {
    let (h, p, s) = split(token);
    let mut claims = object(p);
    claims.insert("sub".into(), Value::String("mallory".into()));
    format!("{h}.{}.{s}", encode(&claims))
}

/// One bit of the signature flipped (the length stays right for every algorithm).
pub fn signature_altered(token: &str) -> String {
    let (h, p, s) = split(token);
    let mut sig = b64::decode(s).expect("signature is base64url");
    let mid = sig.len() / 2;
    sig[mid] ^= 0x01;
    format!("{h}.{p}.{}", b64::encode(sig))
}

/// The header rewritten by `edit`; payload and signature untouched.
pub fn header_altered(token: &str, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
    let (h, p, s) = split(token);
    let mut header = object(h);
    edit(&mut header);
    format!("{}.{p}.{s}", encode(&header))
}

/// `alg` set to `none` and the signature removed (the classic downgrade).
pub fn unsecured(token: &str) -> String {
    let (h, p, _) = split(token);
    let mut header = object(h);
    header.insert("alg".into(), Value::String("none".into()));
    format!("{}.{p}.", encode(&header))
}

/// Another algorithm of the same family, for the alg-swap variant (EdDSA has none, so ES256).
pub fn swap_partner(alg: &str) -> &'static str {
    match alg {
        "RS256" => "RS384",
        "RS384" => "RS512",
        "RS512" => "RS256",
        "PS256" => "PS384",
        "PS384" => "PS512",
        "PS512" => "PS256",
        "ES256" => "ES384",
        "ES384" => "ES512",
        "ES512" => "ES256",
        "EdDSA" => "ES256",
        "HS256" => "HS384",
        "HS384" => "HS512",
        "HS512" => "HS256",
        other => panic!("no swap partner for {other}"),
    }
}
