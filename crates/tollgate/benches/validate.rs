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
//!   checks: allowed algorithm, `iss`, `aud`, `exp` (required), `nbf`; the claims decoded
//!   into a small typed struct of the registered claims (`RegisteredClaims`), its cheapest
//!   usual use, since Tollgate's claims map is built only when asked for. Its `DecodingKey`
//!   is built once, from the JWK components, outside the loop.
//! - `jsonwebtoken_map` and `tollgate_map`: both sides returning the whole claims map
//!   (`jsonwebtoken::decode::<Map>`, and `validate` followed by `claims.as_map()`), for the
//!   comparison when the caller wants every claim.
//!
//! The group `keyset` validates an ES256 token with its key found by `kid` in a set of 1 and
//! of 1000 keys.
//!
//! After criterion, a paired pass measures each ratio with the two sides interleaved (see
//! `paired`). Run: `cargo bench -p tollgate --bench validate`, then `python3 bench/ratios.py`
//! for the tables (see BENCHMARKS.md).

use std::hint::black_box;
use std::time::Duration;

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{self, ParsedPublicKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use criterion::{criterion_group, Criterion};
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

/// What a `jsonwebtoken` user typically decodes: the registered claims, typed.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct RegisteredClaims {
    iss: String,
    sub: String,
    aud: Vec<String>,
    exp: i64,
    iat: i64,
    nbf: i64,
}

fn jwt_typed(c: &Case) -> bool {
    jsonwebtoken::decode::<RegisteredClaims>(black_box(&c.token), &c.jwt_key, &c.jwt_validation)
        .is_ok()
}

fn jwt_map(c: &Case) -> bool {
    jsonwebtoken::decode::<Map<String, Value>>(black_box(&c.token), &c.jwt_key, &c.jwt_validation)
        .is_ok()
}

/// One side of a paired ratio.
type Side = fn(&Case) -> bool;

fn tollgate_lazy(c: &Case) -> bool {
    c.tollgate.validate(black_box(&c.token)).is_ok()
}

/// Validation, then the whole claims map built (what a caller reading every claim pays).
fn tollgate_map(c: &Case) -> bool {
    c.tollgate
        .validate(black_box(&c.token))
        .is_ok_and(|v| !black_box(v.claims.as_map()).is_empty())
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
    Hmac(Box<hmac::Key>),
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
                RawKey::Hmac(Box::new(hmac::Key::new(hmac::HMAC_SHA256, &secret))),
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
    assert_eq!(
        data.claims,
        *ok.claims.as_map(),
        "both return the same claims"
    );
    assert!(jwt_typed(c) && jwt_map(c) && tollgate_lazy(c) && tollgate_map(c));
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
        group.bench_function("tollgate", |b| b.iter(|| tollgate_lazy(&case)));
        group.bench_function("jsonwebtoken", |b| b.iter(|| jwt_typed(&case)));
        group.bench_function("tollgate_map", |b| b.iter(|| tollgate_map(&case)));
        group.bench_function("jsonwebtoken_map", |b| b.iter(|| jwt_map(&case)));
        group.finish();
    }
}

/// An ES256 token and two validators: its key alone, and its key among 1000 (by `kid`).
fn keyset_case(now: i64) -> (String, LocalValidator, LocalValidator) {
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
    (token, one, thousand)
}

fn keyset(c: &mut Criterion) {
    let (token, one, thousand) = keyset_case(unix_now());
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
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = algorithms, keyset
}

/// Criterion measures one function after the other, so a change in the machine's load
/// between them (other builds on a shared machine) skews their ratio. This pass times the
/// two sides of each ratio in alternating batches of 0.15-0.3 ms (A B B A ...) and
/// reports the median of the per-round ratios: load that changes over a millisecond or more
/// cancels out.
mod paired {
    use std::hint::black_box;
    use std::time::{Duration, Instant};

    /// Median and interquartile range of the per-round ratios `a / b`.
    pub struct Ratio {
        pub median: f64,
        pub q1: f64,
        pub q3: f64,
        pub rounds: usize,
    }

    fn batch(f: &mut dyn FnMut() -> bool, n: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..n {
            black_box(f());
        }
        start.elapsed()
    }

    fn batch_size(f: &mut dyn FnMut() -> bool) -> u64 {
        let mut n = 1;
        while batch(f, n) < Duration::from_micros(150) && n < 1 << 20 {
            n *= 2;
        }
        n.max(2)
    }

    pub fn ratio(
        a: &mut dyn FnMut() -> bool,
        b: &mut dyn FnMut() -> bool,
        budget: Duration,
    ) -> Ratio {
        let (na, nb) = (batch_size(a), batch_size(b));
        let mut ratios = Vec::new();
        let start = Instant::now();
        while start.elapsed() < budget || ratios.len() < 20 {
            let (ta, tb) = if ratios.len() % 2 == 0 {
                let ta = batch(a, na);
                (ta, batch(b, nb))
            } else {
                let tb = batch(b, nb);
                (batch(a, na), tb)
            };
            let per_a = ta.as_secs_f64() / na as f64;
            let per_b = tb.as_secs_f64() / nb as f64;
            ratios.push(per_a / per_b);
        }
        ratios.sort_by(f64::total_cmp);
        let at = |q: f64| ratios[((ratios.len() - 1) as f64 * q).round() as usize];
        Ratio {
            median: at(0.5),
            q1: at(0.25),
            q3: at(0.75),
            rounds: ratios.len(),
        }
    }
}

/// The ratios the targets are stated in, measured pairwise (see [`paired`]); printed and
/// written to `<criterion dir>/paired.json` for `bench/ratios.py`.
fn paired_ratios(filter: Option<&str>) {
    let now = unix_now();
    let wanted = |name: &str| filter.is_none_or(|f| name.contains(f));
    let budget = Duration::from_millis(2000);
    let mut results = Vec::new();
    let mut report = |name: String, r: paired::Ratio| {
        println!(
            "paired {name:<28} {:.3}x  (IQR {:.3}-{:.3}, {} rounds)",
            r.median, r.q1, r.q3, r.rounds
        );
        results.push(json!({
            "name": name, "median": r.median, "q1": r.q1, "q3": r.q3, "rounds": r.rounds
        }));
    };
    for alg in [
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
        Algorithm::HS256,
    ] {
        let names = [
            format!("{alg}/tollgate/raw"),
            format!("{alg}/tollgate/jsonwebtoken"),
            format!("{alg}/tollgate_map/jsonwebtoken_map"),
        ];
        if !names.iter().any(|n| wanted(n)) {
            continue;
        }
        let c = case(alg, now);
        check_all_agree(&c);
        let pairs: [(&String, Side, Side); 3] = [
            (&names[0], tollgate_lazy, |c| {
                raw_verify(black_box(&c.raw), black_box(&c.token))
            }),
            (&names[1], tollgate_lazy, jwt_typed),
            (&names[2], tollgate_map, jwt_map),
        ];
        for (name, a, b) in pairs {
            if wanted(name) {
                let r = paired::ratio(&mut || a(&c), &mut || b(&c), budget);
                report(name.clone(), r);
            }
        }
    }
    if wanted("keyset/1000/1") {
        let (token, one, thousand) = keyset_case(now);
        report(
            "keyset/1000/1".into(),
            paired::ratio(
                &mut || thousand.validate(black_box(&token)).is_ok(),
                &mut || one.validate(black_box(&token)).is_ok(),
                budget,
            ),
        );
    }
    if results.is_empty() {
        return;
    }
    let dir = std::env::var_os("CRITERION_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR").map(|t| std::path::Path::new(&t).join("criterion"))
        })
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/criterion")
        });
    if std::fs::create_dir_all(&dir).is_ok() {
        let body = serde_json::to_string_pretty(&Value::Array(results)).unwrap_or_default();
        if let Err(e) = std::fs::write(dir.join("paired.json"), body) {
            eprintln!("could not write paired.json: {e}");
        }
    }
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // The paired pass runs with `cargo bench`, not when cargo runs benches as tests
    // (`--test`), lists them, or profiles; a filter (`-- HS256`) selects pairs by name too.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let skip = ["--list", "--test", "--profile-time"];
    if args.iter().any(|a| a == "--bench") && !args.iter().any(|a| skip.contains(&a.as_str())) {
        let filter = args.iter().find(|a| !a.starts_with('-')).cloned();
        paired_ratios(filter.as_deref());
    }
}
