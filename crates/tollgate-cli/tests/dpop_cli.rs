//! `tollgate dpop` and `tollgate mint --bind-key/--bind-cert`: a key made once, proofs the
//! library accepts for the request they name, tokens bound to that key or certificate.

use std::process::Command;

use serde_json::Value;
use tollgate::dpop::{check_proof, DpopOptions};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");
const CLIENT_PEM: &str = include_str!("../../tollgate/tests/fixtures/mtls/client.pem");

fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new(BIN).args(args).output().unwrap();
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap().trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn claims(token: &str) -> Value {
    Value::Object(
        tollgate::jws::decode(token, 16384)
            .unwrap()
            .claims()
            .unwrap(),
    )
}

#[test]
fn proofs_and_bound_tokens_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("client.pem");
    let key = key.to_str().unwrap();
    // Without --new a missing key is an error; with it the key is created once.
    assert!(run(&["dpop", "--key", key, "--url", "https://api.example/x"]).is_err());
    let url = "https://api.example/orders/1?x=2";
    let proof = run(&[
        "dpop", "--key", key, "--new", "--method", "POST", "--url", url, "--token", "tok",
    ])
    .unwrap();
    let jkt = run(&["dpop", "--key", key, "--thumbprint", "--url", url]).unwrap();
    let now = tollgate::clock::unix_now();
    let checked = check_proof(
        &proof,
        "POST",
        "https://api.example/orders/1",
        Some("tok"),
        &DpopOptions::default(),
        now,
    )
    .unwrap();
    assert_eq!(checked.jkt, jkt);
    let e = check_proof(
        &proof,
        "POST",
        url,
        Some("other"),
        &DpopOptions::default(),
        now,
    )
    .unwrap_err();
    assert_eq!(e.code(), "dpop_ath_mismatch");
    // The key file is kept: a second proof is made with the same key.
    let again = run(&["dpop", "--key", key, "--new", "--url", url]).unwrap();
    assert_eq!(
        check_proof(&again, "GET", url, None, &DpopOptions::default(), now)
            .unwrap()
            .jkt,
        jkt
    );
    assert!(run(&["dpop", "--key", key, "--url", "/relative"])
        .unwrap_err()
        .contains("--url"));

    // A token bound to the key and to a certificate.
    let cert = dir.path().join("client-cert.pem");
    std::fs::write(&cert, CLIENT_PEM).unwrap();
    let token = run(&[
        "mint",
        "--key",
        key,
        "--bind-key",
        key,
        "--bind-cert",
        cert.to_str().unwrap(),
    ])
    .unwrap();
    let c = claims(&token);
    assert_eq!(c["cnf"]["jkt"], jkt.as_str());
    assert_eq!(
        c["cnf"]["x5t#S256"],
        "Xb67WRTEESxzqzm2tA8ap1q2vwfagIerNDK48_Uzajs"
    );
    let e = run(&["mint", "--key", key, "--bind-cert", key]).unwrap_err();
    assert!(e.contains("--bind-cert"), "{e}");
}

/// `tollgate doctor` with a token, its proof and the request names the failing check.
#[test]
fn the_doctor_names_the_failing_dpop_check() {
    let dir = tempfile::tempdir().unwrap();
    let issuer_key = tollgate::SigningKey::generate(tollgate::Algorithm::ES256, "i1").unwrap();
    let issuer_pem = dir.path().join("issuer.pem");
    std::fs::write(&issuer_pem, issuer_key.to_pem().unwrap()).unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(
        &jwks,
        serde_json::json!({"keys": [issuer_key.public_jwk()]}).to_string(),
    )
    .unwrap();
    let client = dir.path().join("client.pem");
    let client = client.to_str().unwrap();
    let public = "https://api.example.com/orders/7";
    run(&[
        "dpop",
        "--key",
        client,
        "--new",
        "--thumbprint",
        "--url",
        public,
    ])
    .unwrap();
    let token = run(&[
        "mint",
        "--key",
        issuer_pem.to_str().unwrap(),
        "--kid",
        "i1",
        "--bind-key",
        client,
    ])
    .unwrap();
    let proof = run(&["dpop", "--key", client, "--url", public, "--token", &token]).unwrap();
    let doctor = |extra: &[&str]| {
        let mut args = vec![
            "doctor",
            &token,
            "--offline",
            "--jwks",
            jwks.to_str().unwrap(),
            "--issuer",
            "http://127.0.0.1:8080",
            "--audience",
            "api://default",
        ];
        args.extend_from_slice(extra);
        let out = Command::new(BIN).args(&args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = doctor(&["--dpop", &proof, "--url", public]);
    assert_eq!(code, 0, "{out}");
    for (extra, cause) in [
        (vec![], "dpop_proof_missing"),
        (vec!["--bearer"], "dpop_bound_token_as_bearer"),
        (
            vec!["--dpop", &proof, "--url", "http://10.0.0.5:8080/orders/7"],
            "dpop_url_rewritten_by_proxy",
        ),
        (
            vec!["--dpop", &proof, "--url", public, "--method", "POST"],
            "dpop_proof_for_other_method",
        ),
        (
            vec!["--dpop", &proof, "--url", public, "--dpop-seen", &proof],
            "dpop_proof_replayed",
        ),
    ] {
        let (code, out) = doctor(&extra);
        assert_eq!(code, 1, "{cause}: {out}");
        assert!(out.contains(cause), "{cause}: {out}");
    }
    let (_, out) = doctor(&["--dpop", &proof, "--url", "http://10.0.0.5:8080/orders/7"]);
    assert!(
        out.contains("public_url = \"https://api.example.com\""),
        "{out}"
    );
}
