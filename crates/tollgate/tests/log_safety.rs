//! Finding 8 of issue 11: a value a client chose (a `kid`, an `iss`, a claim, a header) is
//! shown in logs and `error_description` cut to `text::MAX_SHOWN_CHARS` characters with its
//! size, control characters escaped, so a 12 KB `kid` costs one short line and a `\n` in a
//! claim cannot forge a second log line. The variants keep the whole values for programs.

use serde_json::{json, Value};
use tollgate::challenge::ChallengeOptions;
use tollgate::text::{MAX_REASON_CHARS, MAX_SHOWN_CHARS};
use tollgate::{
    jws, Algorithm, JwkSet, LocalValidator, Policy, SigningKey, TokenPart, TypPolicy,
    ValidationError,
};

/// Longest sentence any error may make from hostile input.
const MAX_SENTENCE: usize = 600;

const ANSI: &str = "\u{1b}[31mred\u{1b}[0m";

fn hostile(len: usize) -> String {
    let mut s = format!("evil\ninjected: line{ANSI}\r\u{7}\u{0}\u{202e}");
    while s.len() < len {
        s.push('k');
    }
    s
}

/// The checks every message shares: short, no raw control character, and each cut value
/// says how long it really was.
fn assert_safe(what: &str, shown: &str) {
    assert!(
        shown.len() < MAX_SENTENCE,
        "{what}: {} chars: {shown}",
        shown.len()
    );
    assert!(
        !shown.chars().any(|c| c.is_control()),
        "{what}: raw control character in {shown:?}"
    );
    assert!(
        !shown.contains('\u{202e}'),
        "{what}: raw bidi override in {shown:?}"
    );
}

fn key() -> SigningKey {
    SigningKey::generate(Algorithm::ES256, "k1").unwrap()
}

fn validator(key: &SigningKey, policy: Policy) -> LocalValidator {
    let keys = JwkSet::from_value(&json!({"keys": [key.public_jwk()]})).unwrap();
    let policy = policy.max_token_size(64 * 1024);
    LocalValidator::new(keys, policy)
}

fn claims() -> Value {
    json!({"iss": "https://idp.example", "aud": "api", "sub": "alice", "exp": 4_000_000_000i64})
}

fn policy() -> Policy {
    Policy::new().issuer("https://idp.example").audience("api")
}

fn rejected(validator: &LocalValidator, token: &str) -> ValidationError {
    validator.validate(token).unwrap_err()
}

#[test]
fn a_12_kb_kid_is_one_short_line() {
    let key = key();
    let kid = "k".repeat(12_000);
    let token = jws::sign(&json!({"kid": kid}), &claims(), &key).unwrap();
    let err = rejected(&validator(&key, policy()), &token);
    let ValidationError::KidNotFound { kid: whole, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(whole.len(), 12_000, "the variant keeps the whole kid");
    let shown = err.to_string();
    assert_safe("kid", &shown);
    assert!(shown.contains("(12000 bytes)"), "{shown}");
    assert!(shown.contains(&"k".repeat(MAX_SHOWN_CHARS)));
    assert!(!shown.contains(&"k".repeat(MAX_SHOWN_CHARS + 1)));
    // The client sees the same short sentence, not a sentence cut before its end.
    let c = ChallengeOptions::new().error(&err);
    let d = c.body["error_description"].as_str().unwrap();
    assert!(
        d.contains("(12000 bytes)") && d.contains("the keys held are"),
        "{d}"
    );
}

#[test]
fn a_5_kb_issuer_and_hostile_claims_are_cut_and_escaped() {
    let key = key();
    let v = validator(&key, policy());
    let iss = hostile(5_000);
    let mut c = claims();
    c["iss"] = json!(iss);
    let err = rejected(&v, &jws::sign(&json!({}), &c, &key).unwrap());
    assert!(matches!(&err, ValidationError::IssuerMismatch { found: Some(f), .. } if *f == iss));
    let shown = err.to_string();
    assert_safe("iss", &shown);
    assert!(shown.contains("(5000 bytes)"), "{shown}");
    assert!(
        shown.contains("evil\\ninjected: line\\u{1b}[31m"),
        "{shown}"
    );

    // A claim value with a newline and ANSI escapes, in a NumericDate claim.
    let mut c = claims();
    c["exp"] = json!(format!("{}\n{ANSI}", "1".repeat(3_000)));
    let err = rejected(&v, &jws::sign(&json!({}), &c, &key).unwrap());
    assert_eq!(err.code(), "invalid_claim");
    let shown = err.to_string();
    assert_safe("exp", &shown);
    assert!(shown.contains("bytes)"), "{shown}");

    // Audiences: many, long, hostile.
    let mut c = claims();
    c["aud"] = json!((0..100).map(|_| hostile(300)).collect::<Vec<_>>());
    let err = rejected(&v, &jws::sign(&json!({}), &c, &key).unwrap());
    assert_eq!(err.code(), "audience_mismatch");
    let shown = err.to_string();
    assert_safe("aud", &shown);
    assert!(shown.contains("... and 9"), "{shown}");

    // typ
    let strict = validator(&key, policy().typ(TypPolicy::OneOf(vec!["at+jwt".into()])));
    let err = rejected(
        &strict,
        &jws::sign(&json!({"typ": hostile(4_000)}), &claims(), &key).unwrap(),
    );
    assert_eq!(err.code(), "type_mismatch");
    assert_safe("typ", &err.to_string());
    assert!(err.to_string().contains("(4000 bytes)"));

    // A required claim that is missing: the name comes from the policy, still cut.
    let needs = validator(&key, policy().require_claim(hostile(1_000)));
    let err = rejected(&needs, &jws::sign(&json!({}), &claims(), &key).unwrap());
    assert_eq!(err.code(), "missing_claim");
    assert_safe("claim name", &err.to_string());
}

#[test]
fn hostile_headers_are_cut_and_escaped() {
    let key = key();
    let v = validator(&key, policy());
    let raw = |header: Value| {
        let payload = serde_json::to_vec(&claims()).unwrap();
        jws::sign_raw(&header, &payload, &key).unwrap()
    };
    // alg: not allowed, and "none" padded with spaces.
    for (header, code) in [
        (
            json!({"alg": hostile(6_000), "kid": "k1"}),
            "alg_not_allowed",
        ),
        (
            json!({"alg": format!("none{}", " ".repeat(9_000))}),
            "unsecured_token",
        ),
        (
            json!({"alg": "ES256", "kid": "k1", "crit": (0..50).map(|_| hostile(500)).collect::<Vec<_>>()}),
            "crit_unsupported",
        ),
    ] {
        let err = rejected(&v, &raw(header));
        assert_eq!(err.code(), code, "{err:?}");
        let shown = err.to_string();
        assert_safe(code, &shown);
        assert!(shown.contains("bytes)"), "{code}: {shown}");
    }
    // A duplicate member name of 10 KB (the strict JSON parser names it).
    let long = "d".repeat(10_000);
    let header = format!(r#"{{"alg":"ES256","{long}":1,"{long}":2}}"#);
    let token = format!(
        "{}.{}.AAAA",
        tollgate::b64::encode(header.as_bytes()),
        tollgate::b64::encode(serde_json::to_vec(&claims()).unwrap())
    );
    let err = rejected(&v, &token);
    assert_eq!(err.code(), "malformed_token", "{err:?}");
    let shown = err.to_string();
    assert_safe("duplicate", &shown);
    assert!(shown.contains("duplicate member name"), "{shown}");
    // A JWE with a hostile enc.
    let jwe_header =
        tollgate::b64::encode(json!({"alg": "RSA-OAEP", "enc": hostile(3_000)}).to_string());
    let err = rejected(&v, &format!("{jwe_header}.a.b.c.d"));
    assert_eq!(err.code(), "encrypted_token");
    assert_safe("enc", &err.to_string());
}

/// `Display` of every variant that carries client values, built directly with hostile
/// values of 12 KB: short, escaped, sized; and the variant's fields keep the whole value.
#[test]
fn every_variant_with_client_values_displays_safely() {
    let big = hostile(12_000);
    let many: Vec<String> = (0..100).map(|_| big.clone()).collect();
    let errors = vec![
        ValidationError::Malformed {
            part: TokenPart::Header,
            reason: format!("is not valid JSON ({big})"),
        },
        ValidationError::Encrypted {
            alg: Some(big.clone()),
            enc: Some(big.clone()),
        },
        ValidationError::Unsecured { alg: big.clone() },
        ValidationError::AlgNotAllowed {
            alg: big.clone(),
            allowed: vec![Algorithm::RS256],
        },
        ValidationError::AlgKeyMismatch {
            alg: big.clone(),
            kid: Some(big.clone()),
            key: big.clone(),
        },
        ValidationError::KidMissing {
            candidates: 2,
            alg: big.clone(),
        },
        ValidationError::KidNotFound {
            kid: big.clone(),
            known_kids: many.clone(),
            alg: big.clone(),
        },
        ValidationError::KeyUnusable {
            kid: Some(big.clone()),
            reason: big.clone(),
        },
        ValidationError::SignatureInvalid {
            alg: Algorithm::RS256,
            kid: Some(big.clone()),
        },
        ValidationError::CritUnsupported {
            names: many.clone(),
        },
        ValidationError::IssuerMismatch {
            expected: vec!["https://idp".into()],
            found: Some(big.clone()),
        },
        ValidationError::AudienceMismatch {
            expected: vec!["api".into()],
            found: many.clone(),
        },
        ValidationError::MissingClaim { claim: big.clone() },
        ValidationError::InvalidClaim {
            claim: big.clone(),
            expected: "a string".into(),
            found: big.clone(),
        },
        ValidationError::TypeMismatch {
            expected: "one of at+jwt".into(),
            found: Some(big.clone()),
        },
    ];
    for err in &errors {
        let shown = err.to_string();
        assert_safe(err.code(), &shown);
        assert!(
            shown.contains("(12000 bytes)") || shown.contains("bytes)"),
            "{}: {shown}",
            err.code()
        );
        assert!(shown.contains("evil\\ninjected"), "{}: {shown}", err.code());
        // The client's description is the same sentence, whole.
        let c = ChallengeOptions::new().error(err);
        let d = c.body["error_description"].as_str().unwrap();
        assert_eq!(d, format!("{}: {shown}", err.code()));
        // The structured details keep every byte for programs.
        assert!(err.details().to_string().len() > 12_000, "{}", err.code());
    }
    // Reasons are cut longer than values, so their sentence survives.
    let err = &errors[0];
    assert!(err.to_string().contains(&"k".repeat(MAX_REASON_CHARS - 60)));
}

#[test]
fn short_values_read_as_before() {
    let err = ValidationError::KidNotFound {
        kid: "k9".into(),
        known_kids: vec!["k1".into(), "k2".into()],
        alg: "RS256".into(),
    };
    assert_eq!(
        err.to_string(),
        r#"no key with kid "k9"; the keys held are: "k1", "k2""#
    );
    let err = ValidationError::IssuerMismatch {
        expected: vec!["https://a".into()],
        found: Some("https://b".into()),
    };
    assert_eq!(
        err.to_string(),
        r#"the issuer "https://b" is not accepted; expected "https://a""#
    );
}

/// The doctor's one-line cause (what a tower `on_rejected` hook may log) cuts too; the
/// doctor's own fields keep the values for its report.
#[test]
fn a_doctor_cause_line_is_short() {
    let key = key();
    let kid = hostile(12_000);
    let token = jws::sign(&json!({"kid": kid}), &claims(), &key).unwrap();
    let err = rejected(&validator(&key, policy()), &token);
    let settings = tollgate::doctor::Settings::new(policy(), 1_700_000_000);
    let causes = tollgate::doctor::explain(&err, &token, &settings);
    assert!(!causes.is_empty());
    for cause in causes {
        let line = cause.to_string();
        assert!(!line.chars().any(|c| c.is_control()), "{line:?}");
        assert!(
            line.len() < 4 * tollgate::doctor::MAX_LOG_PART_CHARS,
            "{}: {} chars",
            cause.id,
            line.len()
        );
    }
}
