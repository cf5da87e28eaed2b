//! Validation cost: Tollgate against the cryptographic floor and against `jsonwebtoken`.
//!
//! For each of RS256, ES256, EdDSA and HS256 the same access token is checked three ways in
//! one run:
//!
//! - `raw`: the floor. The base64url decode of the signature segment plus one `aws-lc-rs`
//!   verification of the signing input with a key parsed once, outside the loop
//!   (`ParsedPublicKey::verify_sig`, `hmac::verify`). Decoding the signature is part of the
//!   floor because no validator can check a signature it has not decoded; it costs tens of
//!   nanoseconds against microseconds of public-key arithmetic.
//! - `tollgate`: everything a server does per request: `LocalValidator::validate` with a
//!   policy checking `iss`, `aud`, `exp` (and `nbf`, `iat`, the algorithm allow-list), the
//!   key found by `kid` in a one-key set, the claims returned as a map.
//! - `jsonwebtoken`: `jsonwebtoken::decode` (crate 11, `aws_lc_rs` backend) with the same
//!   checks: allowed algorithm, `iss`, `aud`, `exp` (required), `nbf`; the claims returned as
//!   a `serde_json::Map`, the same output Tollgate gives. Its `DecodingKey` is built once,
//!   from the JWK components, outside the loop.
//!
//! The group `keyset` validates an ES256 token with its key found by `kid` in a set of 1 and
//! of 1000 keys.
//!
//! Run: `cargo bench -p tollgate --bench validate`, then `python3 bench/ratios.py` for the
//! ratios (see BENCHMARKS.md).

use std::hint::black_box;
use std::time::Duration;

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{self, ParsedPublicKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Map, Value};
use tollgate::{
    clock::unix_now, jws, Algorithm, FixedClock, JwkSet, LocalValidator, Policy, SigningKey,
};

const ISSUER: &str = "https://login.example.com/tenant-7f3a/v2.0";
const AUDIENCE: &str = "api://orders";

/// A realistic RFC 9068 access token's claims: ten members, a roles array.
fn claims(now: i64) -> Value {
    json!({
        "iss": ISSUER,
        "sub": "8d0c2f1e-5b7a-4e59-9a3c-2f6d1b7e4a90",
        "aud": [AUDIENCE, "api://billing"],
        "exp": now + 3600,
        "iat": now - 10,
        "nbf": now - 10,
        "jti": "b1f0c7a2-39de-4c1b-8e5f-6a2d9c3e7f14",
        "client_id": "orders-web-frontend",
        "scope": "orders:read orders:write profile email",
        "roles": ["orders.reader", "orders.writer", "support.agent"]
    })
}

/// Everything one algorithm's group needs: the token and the three verifiers.
struct Case {
    token: String,
    raw: RawKey,
    tollgate: LocalValidator,
    jwt_key: jsonwebtoken::DecodingKey,
    jwt_validation: jsonwebtoken::Validation,
}

enum RawKey {
    Public(ParsedPublicKey),
    Hmac(hmac::Key),
}

fn b64(s: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(s.as_str().expect("a string member"))
        .expect("base64url")
}

fn case(alg: Algorithm, now: i64) -> Case {
    let key = SigningKey::generate(alg, "bench-key-1").expect("key generation");
    let jwk = key.public_jwk();
    let token = jws::sign(&json!({"typ": "at+jwt"}), &claims(now), &key).expect("signing");

    let (raw, jwt_key, jwt_alg) = match alg {
        Algorithm::RS256 => (
            RawKey::Public(
                signature::RsaPublicKeyComponents {
                    n: b64(&jwk["n"]),
                    e: b64(&jwk["e"]),
                }
                .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
                .expect("RSA key"),
            ),
            jsonwebtoken::DecodingKey::from_rsa_components(
                jwk["n"].as_str().unwrap(),
                jwk["e"].as_str().unwrap(),
            )
            .expect("jsonwebtoken RSA key"),
            jsonwebtoken::Algorithm::RS256,
        ),
        Algorithm::ES256 => {
            let mut point = vec![4u8];
            point.extend(b64(&jwk["x"]));
            point.extend(b64(&jwk["y"]));
            (
                RawKey::Public(
                    ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                        .expect("EC key"),
                ),
                jsonwebtoken::DecodingKey::from_ec_components(
                    jwk["x"].as_str().unwrap(),
                    jwk["y"].as_str().unwrap(),
                )
                .expect("jsonwebtoken EC key"),
                jsonwebtoken::Algorithm::ES256,
            )
        }
        Algorithm::EdDSA => (
            RawKey::Public(
                ParsedPublicKey::new(&signature::ED25519, b64(&jwk["x"])).expect("Ed25519 key"),
            ),
            jsonwebtoken::DecodingKey::from_ed_components(jwk["x"].as_str().unwrap())
                .expect("jsonwebtoken Ed25519 key"),
            jsonwebtoken::Algorithm::EdDSA,
        ),
        Algorithm::HS256 => {
            let secret = b64(&jwk["k"]);
            (
                RawKey::Hmac(hmac::Key::new(hmac::HMAC_SHA256, &secret)),
                jsonwebtoken::DecodingKey::from_secret(&secret),
                jsonwebtoken::Algorithm::HS256,
            )
        }
        other => panic!("no bench case for {other}"),
    };

    let keys = JwkSet::from_value(&json!({"keys": [jwk]})).expect("key set");
    let tollgate = LocalValidator::new(
        keys,
        Policy::new()
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .algorithms([alg]),
    )
    .with_clock(FixedClock::new(now));

    let mut jwt_validation = jsonwebtoken::Validation::new(jwt_alg);
    jwt_validation.set_issuer(&[ISSUER]);
    jwt_validation.set_audience(&[AUDIENCE]);
    jwt_validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    jwt_validation.validate_nbf = true;

    Case {
        token,
        raw,
        tollgate,
        jwt_key,
        jwt_validation,
    }
}

/// The floor: decode the signature segment, verify the signing input.
fn raw_verify(raw: &RawKey, token: &str) -> bool {
    let dot = token.rfind('.').expect("compact JWS");
    let signature = URL_SAFE_NO_PAD
        .decode(&token[dot + 1..])
        .expect("base64url signature");
    let message = &token.as_bytes()[..dot];
    match raw {
        RawKey::Public(key) => key.verify_sig(message, &signature).is_ok(),
        RawKey::Hmac(key) => hmac::verify(key, message, &signature).is_ok(),
    }
}

fn check_all_agree(c: &Case) {
    assert!(raw_verify(&c.raw, &c.token), "raw verification failed");
    let ok = c.tollgate.validate(&c.token).expect("tollgate accepts");
    assert_eq!(ok.claims.issuer(), Some(ISSUER));
    let data = jsonwebtoken::decode::<Map<String, Value>>(&c.token, &c.jwt_key, &c.jwt_validation)
        .expect("jsonwebtoken accepts");
    assert_eq!(data.claims, ok.claims.0, "both return the same claims");
}

fn algorithms(c: &mut Criterion) {
    let now = unix_now();
    for alg in [
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
        Algorithm::HS256,
    ] {
        let case = case(alg, now);
        check_all_agree(&case);
        let mut group = c.benchmark_group(alg.as_str());
        group.bench_function("raw", |b| {
            b.iter(|| raw_verify(black_box(&case.raw), black_box(&case.token)))
        });
        group.bench_function("tollgate", |b| {
            b.iter(|| case.tollgate.validate(black_box(&case.token)).is_ok())
        });
        group.bench_function("jsonwebtoken", |b| {
            b.iter(|| {
                jsonwebtoken::decode::<Map<String, Value>>(
                    black_box(&case.token),
                    &case.jwt_key,
                    &case.jwt_validation,
                )
                .is_ok()
            })
        });
        group.finish();
    }
}

fn keyset(c: &mut Criterion) {
    let now = unix_now();
    let target = SigningKey::generate(Algorithm::ES256, "key-0500").expect("key generation");
    let token = jws::sign(&json!({"typ": "at+jwt"}), &claims(now), &target).expect("signing");
    let mut many = Vec::with_capacity(1000);
    for i in 0..1000 {
        if i == 500 {
            many.push(target.public_jwk());
        } else {
            let other = SigningKey::generate(Algorithm::ES256, format!("key-{i:04}"))
                .expect("key generation");
            many.push(other.public_jwk());
        }
    }
    let policy = Policy::new()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .algorithms([Algorithm::ES256]);
    let validator = |keys: Value| {
        let set = JwkSet::from_value(&keys).expect("key set");
        LocalValidator::new(set, policy.clone()).with_clock(FixedClock::new(now))
    };
    let one = validator(json!({"keys": [target.public_jwk()]}));
    let thousand = validator(json!({"keys": many}));
    assert_eq!(thousand.keys().len(), 1000);
    assert!(one.validate(&token).is_ok() && thousand.validate(&token).is_ok());

    let mut group = c.benchmark_group("keyset");
    group.bench_function("1", |b| b.iter(|| one.validate(black_box(&token)).is_ok()));
    group.bench_function("1000", |b| {
        b.iter(|| thousand.validate(black_box(&token)).is_ok())
    });
    group.finish();
}

/// Small enough that the whole run takes about two minutes on a shared 2-core machine.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_secs(3))
        .sample_size(40)
}

criterion_group! {
    name = benches;
    config = config();
    targets = algorithms, keyset
}
criterion_main!(benches);
