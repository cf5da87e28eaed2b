//! The diagnosis the gateway and the tower layer log: causes from a `ValidationError` the
//! validator already produced, plus the token's header and claims and the settings.

use serde_json::json;
use tollgate::doctor::{self, Settings};
use tollgate::{jws, validate, Algorithm, JwkSet, Policy, SigningKey, TypPolicy};

const NOW: i64 = 1_763_900_000;

fn settings(policy: Policy) -> Settings {
    Settings::new(policy, NOW)
}

/// Validates like an API would, then asks for the causes of the error.
fn causes_of(token: &str, keys: &JwkSet, s: &Settings) -> (String, Vec<&'static str>) {
    let err = validate::validate(token, keys, &s.policy, s.now).unwrap_err();
    let causes = doctor::explain(&err, token, s);
    (
        err.code().to_string(),
        causes.iter().map(|c| c.id).collect(),
    )
}

#[test]
fn causes_from_validation_errors() {
    let k = SigningKey::generate(Algorithm::ES256, "k1").unwrap();
    let keys = JwkSet::from_value(&json!({"keys": [k.public_jwk()]})).unwrap();
    let kc = "https://sso.example.com/realms/shop";
    let s = settings(Policy::new().issuer(kc).audience("orders-api"));

    // Keycloak default audience.
    let t = jws::sign(
        &json!({}),
        &json!({"iss": kc, "aud": "account", "azp": "web", "typ": "Bearer", "exp": NOW + 60}),
        &k,
    )
    .unwrap();
    let (code, ids) = causes_of(&t, &keys, &s);
    assert_eq!(
        (code.as_str(), ids[0]),
        ("audience_mismatch", "keycloak_missing_audience")
    );

    // Expired.
    let t = jws::sign(
        &json!({}),
        &json!({"iss": kc, "aud": "orders-api", "exp": NOW - 3600}),
        &k,
    )
    .unwrap();
    let (code, ids) = causes_of(&t, &keys, &s);
    assert_eq!((code.as_str(), ids[0]), ("expired", "token_expired"));

    // Unknown kid: named from the error (no live keys at hand).
    let other = SigningKey::generate(Algorithm::ES256, "k2").unwrap();
    let t = jws::sign(
        &json!({}),
        &json!({"iss": kc, "aud": "orders-api", "exp": NOW + 60}),
        &other,
    )
    .unwrap();
    let err = validate::validate(&t, &keys, &s.policy, NOW).unwrap_err();
    let causes = doctor::explain(&err, &t, &s);
    assert_eq!(causes[0].id, "kid_unknown_to_issuer");
    assert!(causes[0].evidence.contains("\"k1\""));

    // Signature.
    let same_kid = SigningKey::generate(Algorithm::ES256, "k1").unwrap();
    let t = jws::sign(
        &json!({}),
        &json!({"iss": kc, "aud": "orders-api", "exp": NOW + 60}),
        &same_kid,
    )
    .unwrap();
    let (code, ids) = causes_of(&t, &keys, &s);
    assert_eq!(
        (code.as_str(), ids[0]),
        ("signature_invalid", "signature_mismatch")
    );

    // typ.
    let s2 = settings(
        Policy::new()
            .issuer(kc)
            .typ(TypPolicy::OneOf(vec!["at+jwt".into()])),
    );
    let t = jws::sign(
        &json!({"typ": "JWT"}),
        &json!({"iss": kc, "exp": NOW + 60}),
        &k,
    )
    .unwrap();
    let (code, ids) = causes_of(&t, &keys, &s2);
    assert_eq!(
        (code.as_str(), ids[0]),
        ("type_mismatch", "typ_not_accepted")
    );

    // Opaque and encrypted, from the error alone.
    let (code, ids) = causes_of("2YotnFZFEjr1zCsicMWpAA", &keys, &s);
    assert_eq!((code.as_str(), ids[0]), ("malformed_token", "opaque_token"));
}

#[test]
fn diagnose_error_without_a_token() {
    let s = settings(
        Policy::new()
            .issuer("https://acme.auth0.com/")
            .audience("https://api.acme.com"),
    );
    let header = jws::Header::new(
        "HS256",
        None,
        Some("JWT".into()),
        json!({"alg": "HS256", "typ": "JWT"})
            .as_object()
            .unwrap()
            .clone(),
    );
    let claims = json!({"iss": "https://acme.auth0.com/", "aud": "https://api.acme.com"});
    let err = tollgate::ValidationError::AlgNotAllowed {
        alg: "HS256".into(),
        allowed: s.policy.algorithms.clone(),
    };
    let causes = doctor::diagnose_error(&err, Some(&header), claims.as_object(), &s);
    assert_eq!(causes[0].id, "symmetric_token");
    assert!(causes[0].fix.contains("Auth0 dashboard"));

    // An error no rule explains falls back to the error's own code and fix.
    let err = tollgate::ValidationError::MissingClaim {
        claim: "tenant".into(),
    };
    let causes = doctor::diagnose_error(&err, None, None, &s);
    assert_eq!(causes[0].id, "missing_claim");
    assert!(!causes[0].fix.is_empty());
}

#[test]
fn debug_output_hides_the_token_and_secrets() {
    let s = settings(Policy::new()).secret(b"hunter2-secret".to_vec());
    let ctx = doctor::Context::new("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl", s);
    let dbg = format!("{ctx:?}");
    assert!(
        !dbg.contains("eyJhbGci") && !dbg.contains("c2lnbmF0dXJl"),
        "{dbg}"
    );
    assert!(!dbg.contains("hunter2"), "{dbg}");
}

#[test]
fn a_cause_is_one_log_line() {
    let s = settings(Policy::new().issuer("https://a.example.com/"));
    let err = tollgate::ValidationError::IssuerMismatch {
        expected: vec!["https://a.example.com/".into()],
        found: Some("https://a.example.com".into()),
    };
    let claims = json!({"iss": "https://a.example.com"});
    let causes = doctor::diagnose_error(&err, None, claims.as_object(), &s);
    let line = causes[0].to_string();
    assert!(line.starts_with("issuer_near_miss: "), "{line}");
    assert!(!line.contains('\n'));
}

/// An opaque token refused by introspection: its cause is the introspection's answer, not
/// "this is not a JWT" (the API does read opaque tokens); an opaque token refused without
/// introspection still gets the opaque-token cause.
#[test]
fn an_introspected_refusal_is_explained_by_its_answer() {
    let s = settings(Policy::new().issuer("https://idp.example"));
    let inactive = tollgate::ValidationError::TokenInactive {
        issuer: "https://idp.example".into(),
    };
    let causes = doctor::explain(&inactive, "tgo_abcdefghijklmnop", &s);
    assert_eq!(causes[0].id, "token_inactive", "{causes:?}");
    let malformed = tollgate::ValidationError::Malformed {
        part: tollgate::TokenPart::Token,
        reason: "has no '.'".into(),
    };
    let causes = doctor::explain(&malformed, "tgo_abcdefghijklmnop", &s);
    assert_eq!(causes[0].id, "opaque_token", "{causes:?}");
}
