//! Bad input never panics the doctor: arbitrary pasted text, and JWT-shaped tokens with
//! arbitrary header and claim values (huge, negative, wrong types), through normalisation,
//! diagnosis and both renderings.

use proptest::prelude::*;
use serde_json::{json, Value};
use tollgate::doctor::{self, input, Context, Settings};
use tollgate::{b64, Policy};

fn settings() -> Settings {
    Settings::new(
        Policy::new()
            .issuer("https://idp.example.com")
            .audience("orders"),
        1_763_900_000,
    )
    .secret(b"secret\n".to_vec())
}

fn exercise(raw: &str) {
    if let Ok(n) = input::normalize(raw) {
        let report = doctor::diagnose(&Context::new(&n.token, settings()));
        let _ = doctor::render(&report, true);
        let _ = serde_json::to_string(&report).unwrap();
        assert_eq!(report.checks.len(), 9);
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-zA-Z0-9:/._ -]{0,40}".prop_map(Value::from),
        Just(Value::Null),
        Just(json!(["a", 1, null])),
        Just(json!({"nested": true})),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text(raw in ".{0,300}") {
        exercise(&raw);
    }

    #[test]
    fn jwt_shaped(
        alg in prop_oneof![Just("RS256"), Just("HS256"), Just("none"), Just("ES256"), Just("RSA-OAEP"), Just("")],
        exp in json_value(), iat in json_value(), nbf in json_value(),
        iss in json_value(), aud in json_value(), typ in json_value(),
        kid in json_value(), sig in "[A-Za-z0-9_-]{0,90}", segments in 2usize..7,
    ) {
        let header = json!({"alg": alg, "kid": kid, "typ": typ, "enc": "A256GCM", "nonce": "n"});
        let claims = json!({"exp": exp, "iat": iat, "nbf": nbf, "iss": iss, "aud": aud, "typ": typ, "token_use": "id", "tfp": "B2C_1_x"});
        let mut parts = vec![b64::encode(header.to_string()), b64::encode(claims.to_string()), sig];
        while parts.len() < segments {
            parts.push("AAAA".into());
        }
        parts.truncate(segments);
        exercise(&parts.join("."));
        exercise(&format!("Bearer {}", parts.join(".")));
    }
}

#[test]
fn extreme_time_claims_do_not_panic() {
    let h = b64::encode(br#"{"alg":"ES256","kid":"k"}"#);
    for claims in [
        r#"{"iss":"https://idp.example.com","exp":-9223372036854775808}"#,
        r#"{"iss":"https://idp.example.com","exp":1e300,"iat":-1e300}"#,
        r#"{"iss":"https://idp.example.com","exp":9223372036854775807,"nbf":-9223372036854775808}"#,
    ] {
        let token = format!("{h}.{}.c2lnbmF0dXJlc2lnbmF0dXJl", b64::encode(claims));
        let report = doctor::diagnose(&Context::new(
            &token,
            Settings::new(Policy::new(), 1_763_900_000),
        ));
        assert!(!report.valid);
        assert_eq!(report.code, Some("invalid_claim"), "{claims}");
        let _ = doctor::render(&report, false);
    }
}
