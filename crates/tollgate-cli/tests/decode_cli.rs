//! `tollgate decode`: readable header and claims, no verification, no network, and graceful
//! answers for JWE and opaque tokens.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};
use tollgate::{b64, jws, Algorithm, SigningKey};

const NOW: i64 = 1_763_900_000;

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .env("NO_COLOR", "1")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

fn token() -> String {
    let key = SigningKey::generate(Algorithm::ES256, "2024-07").unwrap();
    jws::sign(
        &json!({"typ": "at+jwt"}),
        &json!({"iss": "https://idp.example.com", "sub": "alice", "aud": "orders", "iat": NOW - 180, "exp": NOW + 2520}),
        &key,
    )
    .unwrap()
}

#[test]
fn shows_header_and_claims_with_readable_times() {
    let t = token();
    let now = NOW.to_string();
    let out = run(&["decode", "--now", &now], Some(&format!("Bearer {t}\n")));
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("A signed JWT (JWS): 3 segment(s)"),
        "{text}"
    );
    assert!(text.contains("(not verified)"));
    assert!(text.contains("kid  \"2024-07\""), "{text}");
    assert!(
        text.contains("iat  1763899820  (2025-11-23 12:10:20 UTC, 3 min ago)"),
        "{text}"
    );
    assert!(
        text.contains("exp  1763902520  (2025-11-23 12:55:20 UTC, in 42 min)"),
        "{text}"
    );
    assert!(
        !text.contains(t.rsplit('.').next().unwrap()),
        "never the signature"
    );
}

#[test]
fn json_output() {
    let t = token();
    let now = NOW.to_string();
    let out = run(&["decode", &t, "--json", "--now", &now], None);
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["shape"], "jws");
    assert_eq!(v["verified"], false);
    assert_eq!(v["header"]["alg"], "ES256");
    assert_eq!(v["claims"]["sub"], "alice");
    assert_eq!(v["times"]["exp"]["relative"], "in 42 min");
    assert_eq!(v["times"]["iat"]["utc"], "2025-11-23 12:10:20 UTC");
}

#[test]
fn jwe_and_opaque_tokens_are_described() {
    let h = b64::encode(br#"{"alg":"dir","enc":"A256GCM","iss":"https://acme.auth0.com/"}"#);
    let jwe = format!(
        "{h}..{}.{}.{}",
        b64::encode([1u8; 12]),
        b64::encode([2u8; 40]),
        b64::encode([3u8; 16])
    );
    let out = run(&["decode", &jwe, "--json"], None);
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["shape"], "jwe");
    assert_eq!(v["header"]["enc"], "A256GCM");
    assert!(v["claims"].is_null());
    assert!(v["notes"].to_string().contains("encrypted"));

    let out = run(&["decode", "ya29.a0AfB_byDx1y2z3w4v5u6t7s8r9q"], None);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("Not a JWT (an opaque token)"), "{text}");
    assert!(text.contains("Google OAuth"), "{text}");

    let unsigned = format!(
        "{}.{}.",
        b64::encode(br#"{"alg":"none"}"#),
        b64::encode(br#"{"sub":"admin"}"#)
    );
    let out = run(&["decode", &unsigned], None);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("An unsigned JWT (alg none)"), "{text}");
    assert!(text.contains("sub  \"admin\""));
}

#[test]
fn empty_input_is_a_usage_error() {
    let out = run(&["decode"], Some("\n"));
    assert_eq!(out.status.code(), Some(2));
    assert!(!out.stderr.is_empty());
}
