//! `tollgate doctor` end to end: input forms, exit codes, JSON shape, the human report
//! (snapshot), and the network rules (loopback servers started here, bounded in time).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tollgate::{jws, Algorithm, SigningKey};

const NOW: i64 = 1_763_900_000;
const TID: &str = "4a8f6c1e-93b2-4d7a-b0e5-2c61f9d8a3b7";
const API_CLIENT: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    c.env("NO_COLOR", "1");
    c
}

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    run_in(None, args, stdin)
}

fn run_in(dir: Option<&Path>, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = bin();
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    // Bounded: the command never waits on anything slow in these tests.
    let start = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().ok();
            panic!("tollgate {args:?} did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn write(dir: &Path, name: &str, content: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p.to_string_lossy().into_owned()
}

fn jwks(keys: &[&SigningKey]) -> String {
    json!({"keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>()}).to_string()
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tollgate/tests/fixtures/doctor")
}

/// The Entra v1-vs-v2 scenario used for the snapshot and the README.
fn entra_v1_token(key: &SigningKey) -> String {
    jws::sign(
        &json!({"typ": "JWT", "x5t": "nOo3ZDrODXEK1jKWhXslHR_KXEg"}),
        &json!({
            "aud": format!("api://{API_CLIENT}"),
            "iss": format!("https://sts.windows.net/{TID}/"),
            "iat": NOW - 1200, "nbf": NOW - 1200, "exp": NOW + 2400,
            "appid": "0a6f2d7e-5b1c-4c3d-9e8f-7a6b5c4d3e2f",
            "scp": "orders.read",
            "tid": TID,
            "unique_name": "alice@contoso.com",
            "ver": "1.0"
        }),
        key,
    )
    .unwrap()
}

#[test]
fn human_report_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate(Algorithm::RS256, "nOo3ZDrODXEK1jKWhXslHR_KXEg").unwrap();
    let token = entra_v1_token(&key);
    write(dir.path(), "keys.json", &jwks(&[&key]));
    let issuer = format!("https://login.microsoftonline.com/{TID}/v2.0");
    let now = NOW.to_string();
    let out = run_in(
        Some(dir.path()),
        &[
            "doctor",
            "-",
            "--issuer",
            &issuer,
            "--audience",
            API_CLIENT,
            "--jwks",
            "keys.json",
            "--offline",
            "--now",
            &now,
        ],
        Some(&format!("Authorization: Bearer {token}\n")),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(!text.contains('\x1b'), "plain output when piped");
    let sig = token.rsplit('.').next().unwrap();
    assert!(!text.contains(sig), "the signature is never printed");
    let expected_path = fixtures().join("report_entra_v1_v2.txt");
    if std::env::var_os("TOLLGATE_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(fixtures()).unwrap();
        std::fs::write(&expected_path, &text).unwrap();
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap();
    assert_eq!(
        text, expected,
        "report changed; run with TOLLGATE_UPDATE_SNAPSHOTS=1 to accept:\n{text}"
    );
}

#[test]
fn json_report_shape() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate(Algorithm::RS256, "k1").unwrap();
    let token = entra_v1_token(&key);
    let keys = write(dir.path(), "keys.json", &jwks(&[&key]));
    let issuer = format!("https://login.microsoftonline.com/{TID}/v2.0");
    let now = NOW.to_string();
    let out = run(
        &[
            "doctor",
            &token,
            "--issuer",
            &issuer,
            "--audience",
            API_CLIENT,
            "--jwks",
            &keys,
            "--offline",
            "--now",
            &now,
            "--json",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["code"], "issuer_mismatch");
    assert_eq!(v["causes"][0]["id"], "azure_v1_v2_mismatch");
    for k in ["id", "summary", "evidence", "fix"] {
        assert!(v["causes"][0][k].is_string(), "cause.{k}");
    }
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 9);
    for c in checks {
        assert!(c["id"].is_string() && c["summary"].is_string());
        assert!(["pass", "fail", "warn", "skip"].contains(&c["status"].as_str().unwrap()));
    }
    assert_eq!(v["provider"]["id"], "entra_v1");
    assert_eq!(v["provider"]["captures"]["tenant"], TID);
    assert_eq!(v["header"]["alg"], "RS256");
    assert_eq!(v["claims"]["ver"], "1.0");
    let text = stdout(&out);
    assert!(!text.contains(token.rsplit('.').next().unwrap()));
}

#[test]
fn valid_token_exits_zero_from_any_input_form() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate(Algorithm::ES256, "k1").unwrap();
    let token = jws::sign(&json!({"typ": "at+jwt"}), &json!({"iss": "https://idp.example.com", "aud": "orders", "exp": NOW + 600, "iat": NOW - 10}), &key).unwrap();
    let keys = write(dir.path(), "keys.json", &jwks(&[&key]));
    let now = NOW.to_string();
    let args = [
        "doctor",
        "--issuer",
        "https://idp.example.com",
        "--audience",
        "orders",
        "--jwks",
        &keys,
        "--offline",
        "--now",
        &now,
    ];
    let forms = [
        token.clone(),
        format!("Bearer {token}"),
        format!("Authorization: Bearer \"{token}\"\r\n"),
        format!(
            "{{\"access_token\": \"{token}\", \"token_type\": \"Bearer\", \"expires_in\": 600}}"
        ),
        format!("https://app.example.com/callback#access_token={token}&token_type=Bearer"),
        format!("{}\n{}\n", &token[..40], &token[40..]),
    ];
    for form in forms {
        let out = run(&args, Some(&form));
        assert_eq!(
            out.status.code(),
            Some(0),
            "input {form:?}\n{}",
            stdout(&out)
        );
        assert!(stdout(&out).starts_with("Token VALID"));
    }
}

#[test]
fn hmac_secret_with_trailing_newline() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "6a0c8b5d2f1e4c7a9b3d5e7f1a2c4e6b8d0f2a4c6e8b0d2f4a6c8e0b2d4f6a8c";
    let key = SigningKey::hmac(Algorithm::HS256, secret.as_bytes(), "").unwrap();
    let token = jws::sign(
        &json!({"typ": "JWT"}),
        &json!({"iss": "https://auth.internal", "aud": "orders", "exp": NOW + 600}),
        &key,
    )
    .unwrap();
    let file = write(dir.path(), "secret", &format!("{secret}\n"));
    let now = NOW.to_string();
    let out = run(
        &[
            "doctor",
            &token,
            "--issuer",
            "https://auth.internal",
            "--audience",
            "orders",
            "--secret-file",
            &file,
            "--offline",
            "--now",
            &now,
            "--json",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["causes"][0]["id"], "hmac_secret_mismatch");
    assert!(v["causes"][0]["fix"]
        .as_str()
        .unwrap()
        .contains("trailing newline"));
    let s = serde_json::to_string(&v).unwrap();
    assert!(!s.contains(secret), "the secret is never printed");
}

#[test]
fn files_for_discovery_and_unusable_keys() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate(Algorithm::RS256, "sig-1").unwrap();
    let mut enc = key.public_jwk();
    enc["use"] = json!("enc");
    let token = jws::sign(
        &json!({}),
        &json!({"iss": "https://idp.example.com", "aud": "orders", "exp": NOW + 600}),
        &key,
    )
    .unwrap();
    let keys = write(dir.path(), "keys.json", &json!({"keys": [enc]}).to_string());
    let disc = write(
        dir.path(),
        "openid-configuration.json",
        &json!({"issuer": "https://idp.example.com", "jwks_uri": "https://idp.example.com/jwks"})
            .to_string(),
    );
    let now = NOW.to_string();
    let out = run(
        &[
            "doctor",
            &token,
            "--discovery",
            &disc,
            "--jwks",
            &keys,
            "--audience",
            "orders",
            "--offline",
            "--now",
            &now,
            "--json",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["code"], "key_unusable");
    assert_eq!(v["causes"][0]["id"], "jwks_no_usable_keys");
    assert!(v["causes"][0]["evidence"]
        .as_str()
        .unwrap()
        .contains("sig-1"));
    assert!(v["notes"]
        .to_string()
        .contains("taken from the discovery document"));
}

#[test]
fn usage_errors_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "bad.json", "{\"not\": \"a jwks\"}");
    let t = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln";
    for args in [
        vec!["doctor", t, "--alg", "RS257", "--offline"],
        vec!["doctor", t, "--jwks", "/nonexistent/keys.json"],
        vec!["doctor", t, "--jwks", &bad],
        vec![
            "doctor",
            t,
            "--jwks",
            "https://idp.example.com/jwks",
            "--offline",
        ],
        vec!["doctor", "  "],
    ] {
        let out = run(&args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
}

#[test]
fn offline_without_keys_cannot_check() {
    let key = SigningKey::generate(Algorithm::ES256, "k1").unwrap();
    let token = jws::sign(
        &json!({}),
        &json!({"iss": "https://idp.example.com", "exp": NOW + 600}),
        &key,
    )
    .unwrap();
    let now = NOW.to_string();
    let out = run(&["doctor", &token, "--offline", "--now", &now], None);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert!(stdout(&out).contains("COULD NOT BE CHECKED"));
    // An expired token is invalid even without keys.
    let token = jws::sign(
        &json!({}),
        &json!({"iss": "https://idp.example.com", "exp": NOW - 600}),
        &key,
    )
    .unwrap();
    let out = run(
        &["doctor", &token, "--offline", "--now", &now, "--json"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["causes"][0]["id"], "token_expired");
}

/// A loopback server that counts requests and answers each with the given routes.
struct Server {
    url: String,
    hits: Arc<AtomicUsize>,
}

fn serve(routes: Vec<(&'static str, String)>) -> Server {
    serve_with(move |_| routes)
}

/// Like [`serve`], with routes that may name the server's own URL.
fn serve_with(routes: impl FnOnce(&str) -> Vec<(&'static str, String)>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let routes = routes(&url);
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            match listener.accept() {
                Ok((stream, _)) => {
                    h.fetch_add(1, Ordering::SeqCst);
                    stream.set_nonblocking(false).ok();
                    stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    reader.read_line(&mut line).ok();
                    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                    loop {
                        let mut l = String::new();
                        if reader.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
                            break;
                        }
                    }
                    let (status, body) = routes
                        .iter()
                        .find(|(p, _)| *p == path)
                        .map(|(_, b)| ("200 OK", b.clone()))
                        .unwrap_or(("404 Not Found", "{\"error\":\"not found\"}".into()));
                    let mut s = stream;
                    let _ = write!(s, "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    Server { url, hits }
}

#[test]
fn a_url_in_the_token_is_never_fetched() {
    let server = serve(vec![("/.well-known/openid-configuration", "{}".into())]);
    let key = SigningKey::generate(Algorithm::ES256, "k1").unwrap();
    let token = jws::sign(
        &json!({"jku": format!("{}/jwks", server.url), "x5u": format!("{}/cert", server.url)}),
        &json!({"iss": server.url, "exp": NOW + 600}),
        &key,
    )
    .unwrap();
    let now = NOW.to_string();
    // No --issuer: the token's iss is http, so it is not used.
    let out = run(&["doctor", &token, "--now", &now, "--json"], None);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert!(stdout(&out).contains("is not HTTPS, so it is not fetched"));
    // With another issuer configured, the token's iss is not fetched either.
    let out = run(
        &[
            "doctor",
            &token,
            "--issuer",
            "https://idp.example.com",
            "--offline",
            "--now",
            &now,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let out = run(&["decode", &token], None);
    assert_eq!(out.status.code(), Some(0));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.hits.load(Ordering::SeqCst), 0);
}

fn closed_port_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    url
}

/// An issuer on loopback: discovery at the usual place (naming `doc_issuer(url)` as its
/// issuer), the JWKS at /jwks.
fn issuer_server(
    doc_issuer: impl Fn(&str) -> String + Send + 'static,
    jwks_body: String,
) -> Server {
    serve_with(move |url| {
        vec![
            (
                "/.well-known/openid-configuration",
                json!({"issuer": doc_issuer(url), "jwks_uri": format!("{url}/jwks")}).to_string(),
            ),
            ("/jwks", jwks_body),
        ]
    })
}

fn doctor_json(args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["doctor"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = run(&all, None);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{args:?}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), v)
}

#[test]
fn loopback_issuer_valid_and_rotated_keys() {
    let dir = tempfile::tempdir().unwrap();
    let old = SigningKey::generate(Algorithm::ES256, "2024-01").unwrap();
    let new = SigningKey::generate(Algorithm::ES256, "2024-07").unwrap();
    let server = issuer_server(|u| u.to_string(), jwks(&[&old, &new]));
    let token = jws::sign(
        &json!({"typ": "at+jwt"}),
        &json!({"iss": server.url, "aud": "orders", "exp": NOW + 600}),
        &new,
    )
    .unwrap();
    let now = NOW.to_string();
    let (code, v) = doctor_json(&[
        &token,
        "--issuer",
        &server.url,
        "--audience",
        "orders",
        "--now",
        &now,
    ]);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(v["valid"], true);
    assert!(server.hits.load(Ordering::SeqCst) >= 2);

    let held = write(dir.path(), "held.json", &jwks(&[&old]));
    let (code, v) = doctor_json(&[
        &token,
        "--issuer",
        &server.url,
        "--audience",
        "orders",
        "--jwks",
        &held,
        "--now",
        &now,
    ]);
    assert_eq!(code, Some(1));
    assert_eq!(v["code"], "kid_not_found");
    assert_eq!(v["causes"][0]["id"], "keys_rotated", "{v:#}");
}

#[test]
fn loopback_fetch_failures() {
    let key = SigningKey::generate(Algorithm::ES256, "k1").unwrap();
    let now = NOW.to_string();

    // Nothing listens: discovery unreachable, cannot check.
    let dead = closed_port_url();
    let token = jws::sign(
        &json!({}),
        &json!({"iss": dead, "aud": "orders", "exp": NOW + 600}),
        &key,
    )
    .unwrap();
    let (code, v) = doctor_json(&[&token, "--issuer", &dead, "--now", &now]);
    assert_eq!(code, Some(3), "{v:#}");
    assert_eq!(v["causes"][0]["id"], "discovery_unreachable");

    // Discovery answers, the JWKS is missing.
    let server = serve_with(|u| {
        vec![(
            "/.well-known/openid-configuration",
            json!({"issuer": u, "jwks_uri": format!("{u}/missing")}).to_string(),
        )]
    });
    let token = jws::sign(
        &json!({}),
        &json!({"iss": server.url, "exp": NOW + 600}),
        &key,
    )
    .unwrap();
    let (code, v) = doctor_json(&[&token, "--issuer", &server.url, "--now", &now]);
    assert_eq!(code, Some(3), "{v:#}");
    assert_eq!(v["causes"][0]["id"], "jwks_unreachable");
    assert!(v["causes"][0]["evidence"].as_str().unwrap().contains("404"));

    // The JWKS holds only an encryption key.
    let mut enc = key.public_jwk();
    enc["use"] = json!("enc");
    let server = issuer_server(|u| u.to_string(), json!({"keys": [enc]}).to_string());
    let token = jws::sign(
        &json!({}),
        &json!({"iss": server.url, "exp": NOW + 600}),
        &key,
    )
    .unwrap();
    let (code, v) = doctor_json(&[&token, "--issuer", &server.url, "--now", &now]);
    assert_eq!(code, Some(3), "{v:#}");
    assert_eq!(v["causes"][0]["id"], "jwks_no_usable_keys");
    assert!(v["causes"][0]["evidence"]
        .as_str()
        .unwrap()
        .contains("encryption"));

    // The discovery document names the issuer with a trailing slash.
    let server = issuer_server(|u| format!("{u}/"), jwks(&[&key]));
    let token = jws::sign(
        &json!({}),
        &json!({"iss": format!("{}/", server.url), "exp": NOW + 600}),
        &key,
    )
    .unwrap();
    let (code, v) = doctor_json(&[&token, "--issuer", &server.url, "--now", &now]);
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(v["causes"][0]["id"], "discovery_issuer_mismatch");
    assert!(v["causes"][0]["fix"]
        .as_str()
        .unwrap()
        .contains(&format!("\"{}/\"", server.url)));
}

/// `doctor` judges by the same policy flags as `verify` (one shared set): `--require-claim`,
/// `--max-age` and `--allow-no-exp` change its verdict exactly as they change verify's.
#[test]
fn doctor_takes_the_policy_flags_of_verify() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate(Algorithm::ES256, "k1").unwrap();
    let keys = write(
        dir.path(),
        "keys.json",
        &json!({"keys": [key.public_jwk()]}).to_string(),
    );
    let iss = "https://idp.example.com";
    let sign = |claims: Value| jws::sign(&json!({}), &claims, &key).unwrap();
    let now = NOW.to_string();
    let doctor = |token: &str, extra: &[&str]| -> Value {
        let mut args = vec![
            "doctor",
            token,
            "--jwks",
            &keys,
            "--issuer",
            iss,
            "--audience",
            "orders",
            "--offline",
            "--now",
            &now,
            "--json",
        ];
        args.extend_from_slice(extra);
        let out = run(&args, None);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", stdout(&out)))
    };

    let fresh = sign(json!({"iss": iss, "aud": "orders", "iat": NOW - 300, "exp": NOW + 600}));
    assert_eq!(doctor(&fresh, &[])["verdict"], "valid");
    let v = doctor(&fresh, &["--require-claim", "tid"]);
    assert_eq!(v["code"], "missing_claim", "{v}");
    // Issued 300 s ago: older than 60 s plus the 60 s leeway.
    let v = doctor(&fresh, &["--max-age", "60"]);
    assert_eq!(v["code"], "too_old", "{v}");

    let no_exp = sign(json!({"iss": iss, "aud": "orders", "iat": NOW - 10}));
    assert_ne!(doctor(&no_exp, &[])["verdict"], "valid");
    assert_eq!(doctor(&no_exp, &["--allow-no-exp"])["verdict"], "valid");
}

/// `tollgate doctor` with introspection configured, against a dev issuer's `/introspect`:
/// an active opaque token is VALID and the report shows the answer (active, client,
/// scopes, expiry); a revoked one is `token_inactive` with its cause; without
/// introspection, the fix names the configuration to add for the provider (Okta org
/// server: `/oauth2/v1/introspect`).
#[test]
fn opaque_tokens_are_introspected_and_the_answer_reported() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let idp = rt
        .block_on(tollgate_issuer::DevIssuer::start(
            tollgate_issuer::IssuerOptions::default(),
        ))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let secret = write(dir.path(), "secret", "dev-secret\n");
    let url = idp.url();
    let doctor = |token: &str, json: bool| {
        let mut args = vec![
            "doctor",
            "--issuer",
            &url,
            "--audience",
            "api://default",
            "--introspection-client-id",
            "dev",
            "--introspection-secret-file",
            &secret,
        ];
        if json {
            args.push("--json");
        }
        args.push(token);
        run(&args, None)
    };
    let token = idp.opaque_token(json!({"scope": "read write"}));
    let out = doctor(&token, true);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert_eq!(report["valid"], true);
    let i = &report["introspection"];
    assert_eq!(
        (
            i["active"].clone(),
            i["client_id"].clone(),
            i["scope"].clone()
        ),
        (json!(true), json!("dev"), json!("read write"))
    );
    assert!(i["expires_in"].as_i64().unwrap() > 0);
    assert_eq!(i["endpoint"], idp.introspection_endpoint());
    let human = stdout(&doctor(&token, false));
    assert!(
        human.contains("Introspection") && human.contains("active     yes"),
        "{human}"
    );
    assert!(!human.contains("dev-secret"));

    idp.revoke(&token);
    let out = doctor(&token, true);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert_eq!(report["code"], "token_inactive");
    assert_eq!(report["introspection"]["active"], false);
    assert_eq!(report["causes"][0]["id"], "token_inactive");

    // Without introspection: the fix names what to add, for Okta's org server.
    let out = run(
        &[
            "doctor",
            "--offline",
            "--json",
            "--issuer",
            "https://acme.okta.com",
            "--audience",
            "api://default",
            "00Dabcdef0123456789",
        ],
        None,
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let fix = report["causes"][0]["fix"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        fix.contains("https://acme.okta.com/oauth2/v1/introspect"),
        "{report}"
    );
    assert!(fix.contains("[issuer.introspection]"), "{fix}");
    rt.block_on(idp.shutdown());
}
