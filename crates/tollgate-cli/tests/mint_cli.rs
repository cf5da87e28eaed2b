//! `tollgate mint`: tokens from PEM keys, private JWKs and an issuer's state directory, with
//! overlays, lifetimes and clear errors.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use tollgate::{jws, Algorithm, JwkSet, LocalValidator, Policy, SigningKey};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");

/// RFC 8037 appendix A.1: an Ed25519 private JWK.
const ED25519_JWK: &str = r#"{"kty":"OKP","crv":"Ed25519","kid":"rfc8037","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

fn mint(args: &[&str]) -> Result<String, (i32, String)> {
    let out = Command::new(BIN).arg("mint").args(args).output().unwrap();
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap().trim().to_string())
    } else {
        Err((
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }
}

fn parts(token: &str) -> (Value, Value) {
    let d = jws::decode(token, 16 * 1024).unwrap();
    (
        Value::Object(d.header.raw().clone()),
        Value::Object(d.claims().unwrap()),
    )
}

fn write_pem(dir: &Path, alg: Algorithm) -> (String, SigningKey) {
    let key = SigningKey::generate(alg, "").unwrap();
    let path = dir.join(format!("{alg}.pem"));
    std::fs::write(&path, key.to_pem().unwrap()).unwrap();
    (path.display().to_string(), key)
}

fn validator(jwk: Value, iss: &str, aud: &str) -> LocalValidator {
    LocalValidator::new(
        JwkSet::from_value(&json!({"keys": [jwk]})).unwrap(),
        Policy::new().issuer(iss).audience(aud),
    )
}

#[test]
fn pem_key_with_overlays_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (path, key) = write_pem(dir.path(), Algorithm::ES256);
    let token = mint(&[
        "--key",
        &path,
        "--iss",
        "https://idp.test",
        "--aud",
        "api://orders",
        "--sub",
        "alice",
        "--exp",
        "15m",
        "--claim",
        "roles=[\"admin\"]",
        "--claim",
        "tenant=acme",
        "--claim",
        "scope=null",
        "--header",
        "x-env=test",
    ])
    .unwrap();
    let (header, claims) = parts(&token);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["x-env"], "test");
    let kid = tollgate_issuer::keyfile::derive_kid(&key).unwrap();
    assert_eq!(header["kid"], json!(kid));
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["roles"], json!(["admin"]));
    assert_eq!(claims["tenant"], "acme");
    assert!(claims.get("scope").is_none());
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 900);
    let mut jwk = key.public_jwk();
    jwk["kid"] = json!(kid);
    let ok = validator(jwk, "https://idp.test", "api://orders")
        .validate(&token)
        .unwrap();
    assert_eq!(ok.claims.roles(), vec!["admin"]);
}

#[test]
fn negative_exp_is_already_expired() {
    let dir = tempfile::tempdir().unwrap();
    let (path, key) = write_pem(dir.path(), Algorithm::RS256);
    let token = mint(&["--key", &path, "--exp", "-5m", "--kid", "k1"]).unwrap();
    let mut jwk = key.public_jwk();
    jwk["kid"] = json!("k1");
    let err = validator(jwk, "http://127.0.0.1:8080", "api://default")
        .validate(&token)
        .unwrap_err();
    assert_eq!(err.code(), "expired");
}

#[test]
fn rsa_pem_signs_ps256_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (path, key) = write_pem(dir.path(), Algorithm::RS256);
    let token = mint(&["--key", &path, "--alg", "PS256", "--kid", "k"]).unwrap();
    assert_eq!(parts(&token).0["alg"], "PS256");
    let mut jwk = key.public_jwk();
    jwk["kid"] = json!("k");
    jwk.as_object_mut().unwrap().remove("alg");
    let v = LocalValidator::new(
        JwkSet::from_value(&json!({"keys": [jwk]})).unwrap(),
        Policy::new(),
    );
    assert_eq!(v.validate(&token).unwrap().alg, Some(Algorithm::PS256));
}

#[test]
fn private_jwk_keeps_its_kid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ed.jwk");
    std::fs::write(&path, ED25519_JWK).unwrap();
    let token = mint(&["--key", &path.display().to_string(), "--aud", "api://x"]).unwrap();
    let (header, _) = parts(&token);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], "rfc8037");
    let public = json!({"kty":"OKP","crv":"Ed25519","kid":"rfc8037","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
    assert!(validator(public, "http://127.0.0.1:8080", "api://x")
        .validate(&token)
        .is_ok());
}

#[test]
fn state_dir_of_a_library_issuer() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let issuer = tollgate_issuer::DevIssuer::start(tollgate_issuer::IssuerOptions {
            state_dir: Some(dir.path().to_path_buf()),
            audience: "api://orders".into(),
            ..Default::default()
        })
        .await
        .unwrap();
        let state = dir.path().display().to_string();
        let token = mint(&["--state", &state]).unwrap();
        let (header, claims) = parts(&token);
        assert_eq!(header["kid"], json!(issuer.current_kid()));
        assert_eq!(claims["iss"], json!(issuer.url()));
        assert_eq!(claims["aud"], "api://orders");
        let keys = JwkSet::from_value(&issuer.jwks()).unwrap();
        let v = LocalValidator::new(
            keys,
            Policy::new().issuer(issuer.url()).audience("api://orders"),
        );
        assert!(v.validate(&token).is_ok());
        // HS256 from a state directory uses the issuer's HMAC secret.
        let hs = mint(&["--state", &state, "--alg", "HS256"]).unwrap();
        let secret = tollgate::b64::encode(issuer.hs256_secret());
        let v = LocalValidator::new(
            JwkSet::from_value(&json!({"keys": [{"kty": "oct", "k": secret}]})).unwrap(),
            Policy::new().algorithms([Algorithm::HS256]),
        );
        assert!(v.validate(&hs).is_ok());
        issuer.shutdown().await;
    });
}

#[test]
fn errors_exit_2_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (pem, key) = write_pem(dir.path(), Algorithm::ES256);
    let public = dir.path().join("public.jwk");
    std::fs::write(&public, key.public_jwk().to_string()).unwrap();
    let public_pem = dir.path().join("public.pem");
    std::fs::write(
        &public_pem,
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    let junk = dir.path().join("junk");
    std::fs::write(&junk, "hello").unwrap();
    let empty_state = dir.path().join("nothing");
    let p = |p: &Path| p.display().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--key".into(), pem.clone(), "--exp".into(), "1y".into()],
            "--exp",
        ),
        (
            vec![
                "--key".into(),
                pem.clone(),
                "--claim".into(),
                "novalue".into(),
            ],
            "NAME=VALUE",
        ),
        (
            vec!["--key".into(), pem.clone(), "--alg".into(), "XX1".into()],
            "unknown algorithm",
        ),
        (vec!["--key".into(), p(&public)], "public key"),
        (vec!["--key".into(), p(&public_pem)], "public key"),
        (vec!["--key".into(), p(&junk)], "neither a PEM"),
        (
            vec!["--key".into(), p(&dir.path().join("missing.pem"))],
            "cannot read",
        ),
        (
            vec!["--state".into(), p(&empty_state)],
            "tollgate issuer --state",
        ),
    ];
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, err) = mint(&args).unwrap_err();
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("eyJ"), "no token material in errors: {err}");
    }
    // Neither --key nor --state: a usage error from the argument parser.
    let (code, _) = mint(&[]).unwrap_err();
    assert_eq!(code, 2);
}
