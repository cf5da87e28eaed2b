//! `tollgate verify` end to end: every stable error code is produced through `--json`, with
//! the right exit code, and nothing prints the signature.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use tollgate::{b64, jws, Algorithm, SigningKey};

const NOW: i64 = 1_700_000_000;
const ISS: &str = "https://login.example.com/tenant/v2.0";
const AUD: &str = "api://orders";

struct Fixture {
    dir: tempfile::TempDir,
    rs: SigningKey,
    rs2: SigningKey,
    es: SigningKey,
    es384: SigningKey,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let rs = SigningKey::generate(Algorithm::RS256, "rs-1").unwrap();
        let rs2 = SigningKey::generate(Algorithm::RS256, "rs-2").unwrap();
        let es = SigningKey::generate(Algorithm::ES256, "es-1").unwrap();
        let es384 = SigningKey::generate(Algorithm::ES384, "es-384").unwrap();
        let mut enc = SigningKey::generate(Algorithm::RS256, "enc-1")
            .unwrap()
            .public_jwk();
        enc["use"] = json!("enc");
        let jwks = json!({"keys": [rs.public_jwk(), rs2.public_jwk(), es.public_jwk(), enc]});
        std::fs::write(dir.path().join("jwks.json"), jwks.to_string()).unwrap();
        let broken = json!({"keys": [{"kty": "OKP", "crv": "Ed448", "x": "AA", "kid": "x"}]});
        std::fs::write(dir.path().join("broken.json"), broken.to_string()).unwrap();
        std::fs::write(
            dir.path().join("secret"),
            b"0123456789abcdef0123456789abcdef",
        )
        .unwrap();
        Fixture {
            dir,
            rs,
            rs2,
            es,
            es384,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn claims(&self) -> Value {
        json!({"iss": ISS, "aud": AUD, "sub": "alice", "iat": NOW - 10, "exp": NOW + 300, "scope": "orders.read"})
    }

    /// Signs the default claims with `patch` applied (null removes).
    fn token(&self, key: &SigningKey, header: Value, patch: Value) -> String {
        let mut claims = self.claims();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        jws::sign(&header, &claims, key).unwrap()
    }
}

struct Outcome {
    status: i32,
    json: Value,
    stdout: String,
    stderr: String,
}

fn verify(args: &[&str], token: &str, jwks: &Path) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    cmd.arg("verify")
        .arg("--json")
        .arg("--jwks")
        .arg(jwks)
        .args([
            "--now",
            &NOW.to_string(),
            "--issuer",
            ISS,
            "--audience",
            AUD,
        ])
        .args(args)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(token.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let json: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {stdout}"));
    Outcome {
        status: out.status.code().unwrap(),
        json,
        stdout,
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn assert_code(fx: &Fixture, args: &[&str], token: &str, code: &str) -> Outcome {
    let out = verify(args, token, &fx.path("jwks.json"));
    assert_eq!(out.json["valid"], false, "{}", out.stdout);
    assert_eq!(out.json["code"], code, "{}", out.stdout);
    assert!(out.json["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(out.json["details"].is_object(), "{}", out.stdout);
    assert_eq!(out.status, 1, "exit code for {code}");
    if let Some(sig) = token.rsplit('.').next().filter(|s| s.len() > 8) {
        assert!(!out.stdout.contains(sig), "the signature was printed");
        assert!(!out.stderr.contains(sig), "the signature was printed");
    }
    out
}

#[test]
fn a_valid_token_prints_its_claims() {
    let fx = Fixture::new();
    let token = fx.token(&fx.rs, json!({"typ": "at+jwt"}), json!({}));
    let out = verify(&[], &format!("Bearer {token}"), &fx.path("jwks.json"));
    assert_eq!(out.status, 0, "{}", out.stdout);
    assert_eq!(out.json["valid"], true);
    assert_eq!(out.json["claims"]["sub"], "alice");
    assert_eq!(out.json["header"]["kid"], "rs-1");
    assert!(out.json.get("code").is_none());

    // Without --json: the claims, pretty-printed.
    let plain = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["verify", &token, "--jwks"])
        .arg(fx.path("jwks.json"))
        .args(["--now", &NOW.to_string()])
        .output()
        .unwrap();
    assert_eq!(plain.status.code(), Some(0));
    let claims: Value = serde_json::from_slice(&plain.stdout).unwrap();
    assert_eq!(claims["iss"], ISS);
}

#[test]
fn structure_codes() {
    let fx = Fixture::new();
    assert_code(&fx, &[], "not-a-token", "malformed_token");
    let out = assert_code(&fx, &[], &"a".repeat(20_000), "token_too_large");
    assert_eq!(out.json["details"]["limit"], 16_384);
    let jwe = format!(
        "{}.a.b.c.d",
        b64::encode(r#"{"alg":"RSA-OAEP-256","enc":"A256GCM"}"#)
    );
    let out = assert_code(&fx, &[], &jwe, "encrypted_token");
    assert_eq!(out.json["details"]["enc"], "A256GCM");
    let none = format!(
        "{}.{}.",
        b64::encode(r#"{"alg":"nOnE"}"#),
        b64::encode(fx.claims().to_string())
    );
    assert_code(&fx, &[], &none, "unsecured_token");
    let crit = fx.token(
        &fx.rs,
        json!({"crit": ["http://example.com/x"], "http://example.com/x": 1}),
        json!({}),
    );
    let out = assert_code(&fx, &[], &crit, "crit_unsupported");
    assert_eq!(out.json["details"]["names"][0], "http://example.com/x");
}

#[test]
fn key_codes() {
    let fx = Fixture::new();
    // HS256 against an API that only allows asymmetric algorithms: the "kid is required" case.
    let hs = SigningKey::hmac(Algorithm::HS256, b"0123456789abcdef0123456789abcdef", "").unwrap();
    let out = assert_code(
        &fx,
        &[],
        &fx.token(&hs, json!({}), json!({})),
        "alg_not_allowed",
    );
    assert_eq!(out.json["details"]["found"], "HS256");

    // An ES384 token naming the ES256 key's kid.
    let mut confused = SigningKey::generate(Algorithm::ES384, "x").unwrap();
    confused.set_kid(Some("es-1".into()));
    let out = assert_code(
        &fx,
        &[],
        &fx.token(&confused, json!({}), json!({})),
        "alg_key_mismatch",
    );
    assert_eq!(out.json["details"]["kid"], "es-1");
    assert!(out.json["details"]["key"]
        .as_str()
        .unwrap()
        .contains("P-256"));

    // No kid, two RSA keys fit.
    let out = assert_code(
        &fx,
        &[],
        &fx.token(&fx.rs, json!({"kid": null}), json!({})),
        "kid_missing",
    );
    assert_eq!(out.json["details"]["candidates"], 2);
    // No kid, exactly one EC key fits: accepted.
    let out = verify(
        &[],
        &fx.token(&fx.es, json!({"kid": null}), json!({})),
        &fx.path("jwks.json"),
    );
    assert_eq!(out.json["valid"], true, "{}", out.stdout);

    let out = assert_code(
        &fx,
        &[],
        &fx.token(&fx.es384, json!({}), json!({})),
        "kid_not_found",
    );
    assert_eq!(out.json["details"]["kid"], "es-384");
    assert_eq!(
        out.json["details"]["known_kids"],
        json!(["rs-1", "rs-2", "es-1"])
    );

    let mut enc_kid = SigningKey::generate(Algorithm::RS256, "x").unwrap();
    enc_kid.set_kid(Some("enc-1".into()));
    let out = assert_code(
        &fx,
        &[],
        &fx.token(&enc_kid, json!({}), json!({})),
        "key_unusable",
    );
    assert!(out.json["details"]["reason"]
        .as_str()
        .unwrap()
        .contains("encryption"));

    // The payload altered after signing.
    let token = fx.token(&fx.rs2, json!({}), json!({}));
    let parts: Vec<&str> = token.split('.').collect();
    let forged = fx.claims().to_string().replace("alice", "admin");
    let tampered = format!("{}.{}.{}", parts[0], b64::encode(forged), parts[2]);
    let out = assert_code(&fx, &[], &tampered, "signature_invalid");
    assert_eq!(out.json["details"]["kid"], "rs-2");
    assert_eq!(out.json["claims"]["sub"], "admin", "claims are still shown");

    // Cold: no usable key at all → cannot check now (exit 3), not kid_not_found.
    let out = verify(
        &[],
        &fx.token(&fx.rs, json!({"kid": null}), json!({})),
        &fx.path("broken.json"),
    );
    assert_eq!(out.json["code"], "keys_unavailable", "{}", out.stdout);
    assert_eq!(out.status, 3);
}

#[test]
fn time_codes() {
    let fx = Fixture::new();
    let out = assert_code(
        &fx,
        &[],
        &fx.token(&fx.rs, json!({}), json!({"exp": NOW - 3600})),
        "expired",
    );
    assert_eq!(out.json["details"]["seconds_past"], 3600);
    assert_eq!(out.json["details"]["leeway"], 60);
    let out = assert_code(
        &fx,
        &["--leeway", "5"],
        &fx.token(&fx.rs, json!({}), json!({"nbf": NOW + 30})),
        "not_yet_valid",
    );
    assert_eq!(out.json["details"]["leeway"], 5);
    assert_code(
        &fx,
        &[],
        &fx.token(&fx.rs, json!({}), json!({"iat": NOW + 3600})),
        "issued_in_future",
    );
    assert_code(
        &fx,
        &["--max-age", "60"],
        &fx.token(&fx.rs, json!({}), json!({"iat": NOW - 3600})),
        "too_old",
    );
    // The leeway makes a token expired 30 s ago still valid.
    let out = verify(
        &[],
        &fx.token(&fx.rs, json!({}), json!({"exp": NOW - 30})),
        &fx.path("jwks.json"),
    );
    assert_eq!(out.json["valid"], true);
}

#[test]
fn claim_codes() {
    let fx = Fixture::new();
    let out = assert_code(
        &fx,
        &[],
        &fx.token(
            &fx.rs,
            json!({}),
            json!({"iss": "https://login.example.com/other/v2.0"}),
        ),
        "issuer_mismatch",
    );
    assert_eq!(out.json["details"]["expected"], json!([ISS]));
    let out = assert_code(
        &fx,
        &[],
        &fx.token(
            &fx.rs,
            json!({}),
            json!({"aud": ["orders", "api://billing"]}),
        ),
        "audience_mismatch",
    );
    assert_eq!(
        out.json["details"]["found"],
        json!(["orders", "api://billing"])
    );
    let out = assert_code(
        &fx,
        &[],
        &fx.token(&fx.rs, json!({}), json!({"exp": null})),
        "missing_claim",
    );
    assert_eq!(out.json["details"]["claim"], "exp");
    assert_code(
        &fx,
        &["--require-claim", "tid"],
        &fx.token(&fx.rs, json!({}), json!({})),
        "missing_claim",
    );
    let out = assert_code(
        &fx,
        &[],
        &fx.token(&fx.rs, json!({}), json!({"exp": "1700000300"})),
        "invalid_claim",
    );
    assert_eq!(out.json["details"]["claim"], "exp");
    let out = assert_code(
        &fx,
        &["--require-typ", "at+jwt"],
        &fx.token(&fx.rs, json!({"typ": "JWT"}), json!({})),
        "type_mismatch",
    );
    assert_eq!(out.json["details"]["found"], "JWT");
    // --allow-no-exp opts out of the exp requirement.
    let out = verify(
        &["--allow-no-exp"],
        &fx.token(&fx.rs, json!({}), json!({"exp": null})),
        &fx.path("jwks.json"),
    );
    assert_eq!(out.json["valid"], true);
}

#[test]
fn hmac_needs_an_explicit_secret() {
    let fx = Fixture::new();
    let hs = SigningKey::hmac(Algorithm::HS256, b"0123456789abcdef0123456789abcdef", "").unwrap();
    let token = fx.token(&hs, json!({}), json!({}));
    let secret = fx.path("secret");
    let out = verify(
        &["--secret-file", secret.to_str().unwrap()],
        &token,
        &fx.path("jwks.json"),
    );
    assert_eq!(out.json["valid"], true, "{}", out.stdout);
    // A secret with a trailing newline is another secret.
    std::fs::write(fx.path("secret-nl"), b"0123456789abcdef0123456789abcdef\n").unwrap();
    let out = verify(
        &["--secret-file", fx.path("secret-nl").to_str().unwrap()],
        &token,
        &fx.path("jwks.json"),
    );
    assert_eq!(out.json["code"], "signature_invalid");
}

/// A `{tenantid}` issuer with `--tenant`, over an Entra-shaped key set (each key with its
/// `issuer`): the tenant codes and the key-issuer binding.
#[test]
fn tenant_codes() {
    const TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";
    const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const OTHER: &str = "11111111-2222-4333-8444-555555555555";
    const PERSONAL: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
    let fx = Fixture::new();
    let entra = |tid: &str| TEMPLATE.replace("{tenantid}", tid);
    let mut org = fx.rs.public_jwk();
    org["issuer"] = json!(TEMPLATE);
    let mut msa = fx.rs2.public_jwk();
    msa["issuer"] = json!(entra(PERSONAL));
    std::fs::write(
        fx.path("entra.json"),
        json!({"keys": [org, msa]}).to_string(),
    )
    .unwrap();
    let run = |key: &SigningKey, claims: Value| {
        verify(
            &["--issuer", TEMPLATE, "--tenant", TID],
            &fx.token(key, json!({}), claims),
            &fx.path("entra.json"),
        )
    };
    let out = run(&fx.rs, json!({"iss": entra(TID), "tid": TID}));
    assert_eq!(out.json["valid"], true, "{}", out.stdout);
    let out = run(&fx.rs, json!({"iss": entra(OTHER), "tid": OTHER}));
    assert_eq!(
        (out.status, out.json["code"].as_str()),
        (1, Some("tenant_not_allowed"))
    );
    assert_eq!(out.json["details"]["allowed"], json!([TID]));
    let out = run(&fx.rs, json!({"iss": entra(TID)}));
    assert_eq!(out.json["code"], "tenant_missing");
    let out = run(&fx.rs2, json!({"iss": entra(TID), "tid": TID}));
    assert_eq!(out.json["code"], "key_issuer_mismatch");
    assert_eq!(out.json["details"]["key_issuer"], entra(PERSONAL));
    // Not a tenant id: a usage error.
    let out = verify(
        &["--issuer", TEMPLATE, "--tenant", "contoso.onmicrosoft.com"],
        &fx.token(&fx.rs, json!({}), json!({})),
        &fx.path("entra.json"),
    );
    assert_eq!(out.status, 2, "{}", out.stderr);
}

#[test]
fn every_code_is_covered_by_this_file() {
    let source = include_str!("verify_cli.rs");
    for code in tollgate::ValidationError::CODES {
        assert!(
            source.contains(&format!("\"{code}\"")),
            "no test of {code} through `tollgate verify --json`"
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["verify", "a.b.c", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["message"].as_str().unwrap().contains("--jwks"));
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["verify", "a.b.c", "--jwks", "/nonexistent/jwks.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/jwks.json"));
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["verify", "a.b.c", "--jwks", "x", "--alg", "RS999"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Sender-constrained tokens through `tollgate verify` with the request's flags (`--dpop`,
/// `--method`, `--url`, `--bearer`, `--dpop-seen`, `--dpop-mode`, `--client-cert`,
/// `--replay-redis`): every DPoP and certificate-binding code.
#[test]
fn dpop_and_certificate_codes() {
    use tollgate::dpop::make_proof;
    let fx = Fixture::new();
    let client = SigningKey::generate(Algorithm::ES256, "").unwrap();
    let jkt = tollgate::jwk::thumbprint_of(&client.public_jwk()).unwrap();
    let bound = fx.token(&fx.rs, json!({}), json!({"cnf": {"jkt": jkt}}));
    let plain = fx.token(&fx.rs, json!({}), json!({}));
    let url = "https://api.example.com/orders/1";
    let proof = |key: &SigningKey, method: &str, u: &str, token: &str, iat: i64| {
        make_proof(key, method, u, Some(token), iat).unwrap()
    };
    let good = proof(&client, "GET", url, &bound, NOW);
    let ok = verify(
        &["--dpop", &good, "--url", url],
        &bound,
        &fx.path("jwks.json"),
    );
    assert_eq!(ok.status, 0, "{}", ok.stdout);
    let other_key = SigningKey::generate(Algorithm::ES256, "").unwrap();
    let cases: Vec<(Vec<String>, &str, &str)> = vec![
        (
            vec!["--url".into(), url.into()],
            &bound,
            "dpop_proof_missing",
        ),
        (
            vec!["--dpop".into(), "x.y.z".into(), "--url".into(), url.into()],
            &bound,
            "dpop_proof_invalid",
        ),
        (
            vec![
                "--dpop".into(),
                proof(&client, "POST", url, &bound, NOW),
                "--url".into(),
                url.into(),
            ],
            &bound,
            "dpop_htm_mismatch",
        ),
        (
            vec![
                "--dpop".into(),
                good.clone(),
                "--url".into(),
                "http://10.0.0.5/orders/1".into(),
            ],
            &bound,
            "dpop_htu_mismatch",
        ),
        (
            vec![
                "--dpop".into(),
                proof(&client, "GET", url, &bound, NOW - 3600),
                "--url".into(),
                url.into(),
            ],
            &bound,
            "dpop_iat_outside_window",
        ),
        (
            vec![
                "--dpop".into(),
                good.clone(),
                "--dpop-seen".into(),
                good.clone(),
                "--url".into(),
                url.into(),
            ],
            &bound,
            "dpop_replayed",
        ),
        (
            vec![
                "--dpop".into(),
                proof(&client, "GET", url, "another", NOW),
                "--url".into(),
                url.into(),
            ],
            &bound,
            "dpop_ath_mismatch",
        ),
        (
            vec![
                "--dpop".into(),
                proof(&other_key, "GET", url, &bound, NOW),
                "--url".into(),
                url.into(),
            ],
            &bound,
            "dpop_key_mismatch",
        ),
        (
            vec!["--bearer".into()],
            &bound,
            "dpop_bound_token_as_bearer",
        ),
        (
            vec!["--bearer".into(), "--dpop-mode".into(), "required".into()],
            &plain,
            "dpop_required",
        ),
        (
            vec![
                "--dpop".into(),
                proof(&client, "GET", url, &plain, NOW),
                "--url".into(),
                url.into(),
                "--dpop-mode".into(),
                "off".into(),
            ],
            &plain,
            "dpop_not_accepted",
        ),
    ];
    for (args, token, code) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_code(&fx, &args, token, code);
    }

    // Certificate-bound tokens (RFC 8705).
    let pem = include_str!("../../tollgate/tests/fixtures/mtls/client.pem");
    let other_pem = include_str!("../../tollgate/tests/fixtures/mtls/other.pem");
    std::fs::write(fx.path("client.pem"), pem).unwrap();
    std::fs::write(fx.path("other.pem"), other_pem).unwrap();
    let x5t = "Xb67WRTEESxzqzm2tA8ap1q2vwfagIerNDK48_Uzajs";
    let cert_bound = fx.token(&fx.rs, json!({}), json!({"cnf": {"x5t#S256": x5t}}));
    let client_pem = fx.path("client.pem").display().to_string();
    let other = fx.path("other.pem").display().to_string();
    let ok = verify(
        &["--bearer", "--client-cert", &client_pem],
        &cert_bound,
        &fx.path("jwks.json"),
    );
    assert_eq!(ok.status, 0, "{}", ok.stdout);
    assert_code(&fx, &["--bearer"], &cert_bound, "client_cert_missing");
    assert_code(
        &fx,
        &["--bearer", "--client-cert", &other],
        &cert_bound,
        "client_cert_mismatch",
    );

    // The replay cache cannot answer (nothing listens on port 1): cannot verify now, exit 3.
    let out = verify(
        &[
            "--dpop",
            &good,
            "--url",
            url,
            "--replay-redis",
            "redis://127.0.0.1:1",
        ],
        &bound,
        &fx.path("jwks.json"),
    );
    assert_eq!(
        out.json["code"], "replay_cache_unavailable",
        "{}",
        out.stdout
    );
    assert_eq!(out.status, 3);
}

/// `tollgate verify` with `--introspection-*` against a dev issuer's real `/introspect`:
/// an opaque token is valid, then `token_inactive` once revoked; a failing endpoint is
/// `introspection_unavailable` and a broken answer `introspection_malformed` (exit 3).
#[test]
fn opaque_tokens_by_introspection() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let idp = rt
        .block_on(tollgate_issuer::DevIssuer::start(
            tollgate_issuer::IssuerOptions::default(),
        ))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "dev-secret\n").unwrap();
    let url = idp.url();
    let verify_with = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["verify", "--json", "--issuer", &url])
            .args(args)
            .output()
            .unwrap()
    };
    let secret_file = secret.display().to_string();
    let run = |token: &str, extra: &[&str]| {
        let mut args = vec![
            "--audience",
            "api://default",
            "--introspection-client-id",
            "dev",
            "--introspection-secret-file",
            &secret_file,
        ];
        args.extend(extra);
        args.push(token);
        let out = verify_with(&args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let json: Value = serde_json::from_str(&stdout).unwrap_or(Value::Null);
        (out.status.code().unwrap_or(-1), json, stdout)
    };
    let token = idp.opaque_token(json!({"sub": "alice"}));
    let (code, out, text) = run(&token, &[]);
    assert_eq!((code, &out["valid"]), (0, &json!(true)), "{text}");
    assert_eq!(out["claims"]["sub"], "alice");
    assert_eq!(out["introspection"]["issuer"], idp.url());
    assert!(!text.contains("dev-secret"));
    idp.revoke(&token);
    let (code, out, text) = run(&token, &[]);
    assert_eq!(
        (code, out["code"].as_str()),
        (1, Some("token_inactive")),
        "{text}"
    );
    let fresh = idp.opaque_token(json!({}));
    idp.set_fault(tollgate_issuer::Fault::Status500);
    let (code, out, text) = run(&fresh, &["--introspection-auth", "client_secret_post"]);
    assert_eq!(
        (code, out["code"].as_str()),
        (3, Some("introspection_unavailable")),
        "{text}"
    );
    idp.set_fault(tollgate_issuer::Fault::Garbage);
    let (code, out, text) = run(&fresh, &[]);
    assert_eq!(
        (code, out["code"].as_str()),
        (3, Some("introspection_malformed")),
        "{text}"
    );
    idp.set_fault(tollgate_issuer::Fault::None);
    // Introspection options without a client id are a usage error.
    let out = verify_with(&["--introspect-jwts", "x"]);
    assert_eq!(out.status.code(), Some(2));
    rt.block_on(idp.shutdown());
}

/// A `redis-server` on a free loopback port, saving nothing, in its own temp dir; stopped
/// by its own PID on drop. `None` (the test is skipped) when it is not installed, except
/// under `CI=true`.
struct Redis {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    fn start() -> Option<Redis> {
        let bin = ["/usr/bin", "/usr/local/bin", "/usr/sbin"]
            .iter()
            .map(|d| Path::new(d).join("redis-server"))
            .find(|p| p.is_file());
        let Some(bin) = bin else {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "redis-server is not installed, and CI=true"
            );
            eprintln!("SKIPPED: redis-server is not installed (apt-get install -y redis-server)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let redis = Redis {
            child,
            port,
            _dir: dir,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Some(redis)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `--replay-redis` applies the gateway's per-key quota (`--replay-max-per-key`): a key
/// with that many live proofs in Redis is `dpop_key_over_quota`, another key is not.
#[test]
fn a_key_over_its_quota_in_the_shared_replay_cache() {
    use tollgate::dpop::make_proof;
    let Some(redis) = Redis::start() else { return };
    let fx = Fixture::new();
    let url = "https://api.example.com/orders/1";
    let redis_url = format!("redis://127.0.0.1:{}", redis.port);
    let client = SigningKey::generate(Algorithm::ES256, "").unwrap();
    let jkt = tollgate::jwk::thumbprint_of(&client.public_jwk()).unwrap();
    let bound = fx.token(&fx.rs, json!({}), json!({"cnf": {"jkt": jkt}}));
    let run = |key: &SigningKey, token: &str| {
        let proof = make_proof(key, "GET", url, Some(token), NOW).unwrap();
        verify(
            &[
                "--dpop",
                &proof,
                "--url",
                url,
                "--replay-redis",
                &redis_url,
                "--replay-max-per-key",
                "2",
            ],
            token,
            &fx.path("jwks.json"),
        )
    };
    for _ in 0..2 {
        let ok = run(&client, &bound);
        assert_eq!(ok.status, 0, "{}", ok.stdout);
    }
    let out = run(&client, &bound);
    assert_eq!(out.status, 1, "{}", out.stdout);
    assert_eq!(out.json["code"], "dpop_key_over_quota", "{}", out.stdout);
    assert_eq!(out.json["details"]["limit"], 2);
    assert_eq!(out.json["details"]["jkt"], jkt.as_str());
    assert!(out.json["details"]["retry_after"]
        .as_u64()
        .is_some_and(|s| (1..=70).contains(&s)));
    // Another key (its own token) is recorded.
    let other = SigningKey::generate(Algorithm::ES256, "").unwrap();
    let other_jkt = tollgate::jwk::thumbprint_of(&other.public_jwk()).unwrap();
    let other_token = fx.token(&fx.rs, json!({}), json!({"cnf": {"jkt": other_jkt}}));
    assert_eq!(run(&other, &other_token).status, 0);
    // `--replay-max-per-key` needs `--replay-redis`, and 0 is refused.
    for bad in [
        &["--replay-max-per-key", "2"][..],
        &["--replay-redis", &redis_url, "--replay-max-per-key", "0"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["verify", "a.b.c", "--jwks"])
            .arg(fx.path("jwks.json"))
            .args(bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}
