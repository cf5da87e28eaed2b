//! Property tests: no input makes the parsers panic, and every refusal carries one of the
//! 21 stable error codes.
//!
//! Inputs: arbitrary strings; three-segment tokens whose segments are base64url of JSON-ish
//! headers and payloads (valid, almost valid, or random bytes), sometimes with a stray
//! character; JSON-ish JWK sets. Each property runs 1000 cases, so the whole file takes
//! about a second.

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use tollgate::{jws, validate, Algorithm, JwkSet, Policy, SigningKey};

/// The stable codes, pinned here on purpose rather than read from `ValidationError::CODES`:
/// a change to the vocabulary must break this test.
const CODES: [&str; 42] = [
    "malformed_token",
    "token_too_large",
    "encrypted_token",
    "unsecured_token",
    "alg_not_allowed",
    "alg_key_mismatch",
    "kid_missing",
    "kid_not_found",
    "key_unusable",
    "signature_invalid",
    "crit_unsupported",
    "expired",
    "not_yet_valid",
    "issued_in_future",
    "too_old",
    "issuer_mismatch",
    "tenant_missing",
    "tenant_not_allowed",
    "key_issuer_mismatch",
    "audience_mismatch",
    "missing_claim",
    "invalid_claim",
    "type_mismatch",
    "keys_unavailable",
    "dpop_proof_missing",
    "dpop_proof_invalid",
    "dpop_htm_mismatch",
    "dpop_htu_mismatch",
    "dpop_iat_outside_window",
    "dpop_replayed",
    "dpop_key_over_quota",
    "dpop_ath_mismatch",
    "dpop_key_mismatch",
    "dpop_bound_token_as_bearer",
    "dpop_required",
    "dpop_not_accepted",
    "client_cert_missing",
    "client_cert_mismatch",
    "replay_cache_unavailable",
    "token_inactive",
    "introspection_unavailable",
    "introspection_malformed",
];

/// A fixed clock value: 2023-11-14.
const NOW: i64 = 1_700_000_000;

fn assert_code(e: &tollgate::ValidationError) {
    assert!(CODES.contains(&e.code()), "unknown code {:?}", e.code());
    // Every error renders for people, and as JSON details, without panicking.
    assert!(!e.to_string().is_empty());
    let _ = e.details();
}

/// A key set with an EC key (kid "ec"), an Ed25519 key (kid "ed") and an HMAC secret, so
/// tokens reach key selection and signature checks.
fn keys() -> &'static JwkSet {
    static KEYS: OnceLock<JwkSet> = OnceLock::new();
    KEYS.get_or_init(make_keys)
}

fn make_keys() -> JwkSet {
    let ec = SigningKey::generate(Algorithm::ES256, "ec").unwrap();
    let ed = SigningKey::generate(Algorithm::EdDSA, "ed").unwrap();
    let mut set = JwkSet::from_value(&json!({"keys": [ec.public_jwk(), ed.public_jwk()]})).unwrap();
    set.push(tollgate::Jwk::from_secret(&[7u8; 32], &[Algorithm::HS256]).unwrap());
    set
}

fn policy() -> Policy {
    Policy::new()
        .algorithms(Algorithm::ALL)
        .issuer("https://idp.example")
        .audience("api")
}

/// Runs every parser on one input; none may panic, every error must have a stable code.
fn exercise(input: &str, keys: &JwkSet, policy: &Policy) {
    match jws::decode(input, jws::DEFAULT_MAX_TOKEN_SIZE) {
        Ok(decoded) => {
            if let Err(e) = decoded.claims() {
                assert_code(&e);
            }
        }
        Err(e) => assert_code(&e),
    }
    if let Err(e) = validate::validate(input, keys, policy, NOW) {
        assert_code(&e);
    }
    if let Err(e) = validate::verify_jws(input, keys, &Algorithm::ALL) {
        assert_code(&e);
    }
    let _ = JwkSet::from_json(input.as_bytes());
    let _ = tollgate::json::parse_object(input.as_bytes());
}

/// A JSON value of small depth, from the shapes that matter to JOSE parsers.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-zA-Z0-9_.:/ -]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("none"),
            Just("HS256"),
            Just("RS256"),
            Just("ES256"),
            Just("EdDSA"),
            Just("PS512"),
            Just("A256KW"),
            Just("ec"),
            Just("ed"),
            Just("at+jwt"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((member_name(), inner), 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Member names JOSE parsers act on, and a few others.
fn member_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "alg", "kid", "typ", "crit", "b64", "enc", "jwk", "jku", "x5u", "iss", "aud", "exp",
            "nbf", "iat", "sub", "scope", "kty", "crv", "x", "y", "n", "e", "k", "use", "key_ops",
            "keys",
        ])
        .prop_map(str::to_string),
        "[a-z]{1,4}",
    ]
}

/// A JSON object serialized as text, usually with `alg` set.
fn json_object_text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((member_name(), json_value()), 0..5),
        prop::option::of(json_value()),
    )
        .prop_map(|(members, alg)| {
            let mut map: Map<String, Value> = members.into_iter().collect();
            if let Some(alg) = alg {
                map.insert("alg".into(), alg);
            }
            Value::Object(map).to_string()
        })
}

/// A header that gets past decoding: a known `alg`, a known or odd `kid`, sometimes more.
fn header_text() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "ES256", "EdDSA", "HS256", "RS256", "PS384", "ES512", "none", "nOnE", "HS999",
        ]),
        prop::option::of(prop::sample::select(vec!["ec", "ed", "other", ""])),
        prop::collection::vec((member_name(), json_value()), 0..2),
    )
        .prop_map(|(alg, kid, extra)| {
            let mut map: Map<String, Value> = extra.into_iter().collect();
            map.insert("alg".into(), json!(alg));
            if let Some(kid) = kid {
                map.insert("kid".into(), json!(kid));
            }
            Value::Object(map).to_string()
        })
}

/// One segment: base64url of a header or of JSON text, of random bytes, or random characters.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        header_text().prop_map(tollgate::b64::encode),
        json_object_text().prop_map(tollgate::b64::encode),
        prop::collection::vec(any::<u8>(), 0..48).prop_map(tollgate::b64::encode),
        "[A-Za-z0-9_=+/?. -]{0,24}",
    ]
}

/// A token of three segments (sometimes five), sometimes with one stray character inserted.
fn token() -> impl Strategy<Value = String> {
    (
        segment(),
        segment(),
        segment(),
        prop::option::of((segment(), segment())),
        prop::option::of((any::<prop::sample::Index>(), any::<char>())),
        prop::option::of("(?i)bearer {1,3}"),
    )
        .prop_map(|(h, p, s, jwe, stray, bearer)| {
            let mut t = format!("{h}.{p}.{s}");
            if let Some((a, b)) = jwe {
                t = format!("{t}.{a}.{b}");
            }
            if let Some((at, c)) = stray {
                let chars: Vec<char> = t.chars().collect();
                let i = at.index(chars.len() + 1);
                t = chars[..i]
                    .iter()
                    .chain(std::iter::once(&c))
                    .chain(&chars[i..])
                    .collect();
            }
            format!("{}{t}", bearer.unwrap_or_default())
        })
}

/// A JWK set as text, with keys of every kty and random members.
fn jwks_text() -> impl Strategy<Value = String> {
    let key = (
        prop::sample::select(vec!["RSA", "EC", "OKP", "oct", "XYZ"]),
        prop::collection::vec((member_name(), json_value()), 0..6),
        prop::collection::vec(
            (
                prop::sample::select(vec!["n", "e", "x", "y", "k"]),
                prop::collection::vec(any::<u8>(), 0..70),
            ),
            0..4,
        ),
    )
        .prop_map(|(kty, members, b64_members)| {
            let mut map: Map<String, Value> = members.into_iter().collect();
            for (name, bytes) in b64_members {
                map.insert(name.into(), Value::String(tollgate::b64::encode(bytes)));
            }
            map.insert("kty".into(), Value::String(kty.into()));
            Value::Object(map)
        });
    prop::collection::vec(key, 0..4).prop_map(|keys| json!({ "keys": keys }).to_string())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(input in any::<String>()) {
        exercise(&input, keys(), &policy());
    }

    #[test]
    fn arbitrary_three_segment_tokens_never_panic(t in token()) {
        exercise(&t, keys(), &policy());
    }

    #[test]
    fn arbitrary_key_sets_never_panic(text in jwks_text(), t in token()) {
        let _ = tollgate::json::parse_value(text.as_bytes());
        if let Ok(set) = JwkSet::from_json(text.as_bytes()) {
            for skipped in set.skipped() {
                prop_assert!(!skipped.reason.is_empty());
            }
            exercise(&t, &set, &policy());
        }
    }
}

/// A token signed for real and then damaged one byte at a time is refused with a stable code
/// (and never accepted unless the damage left it unchanged).
#[test]
fn every_single_byte_change_of_a_real_token_is_refused() {
    let key = SigningKey::generate(Algorithm::ES256, "ec").unwrap();
    let keys = JwkSet::from_value(&json!({"keys": [key.public_jwk()]})).unwrap();
    let token = jws::sign(
        &json!({}),
        &json!({"iss": "https://idp.example", "aud": "api", "exp": NOW + 60}),
        &key,
    )
    .unwrap();
    let policy = policy();
    assert!(validate::validate(&token, &keys, &policy, NOW).is_ok());
    let bytes = token.as_bytes();
    for i in 0..bytes.len() {
        for replacement in [b'A', b'_', b'.', b'='] {
            if bytes[i] == replacement {
                continue;
            }
            let mut damaged = bytes.to_vec();
            damaged[i] = replacement;
            let damaged = String::from_utf8(damaged).unwrap();
            match validate::validate(&damaged, &keys, &policy, NOW) {
                Ok(_) => panic!("a damaged token was accepted (byte {i})"),
                Err(e) => assert_code(&e),
            }
        }
    }
}

#[test]
fn the_pinned_codes_are_the_library_codes() {
    assert_eq!(CODES, tollgate::ValidationError::CODES);
}
