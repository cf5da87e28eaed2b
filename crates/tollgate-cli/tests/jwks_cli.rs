//! `tollgate jwks` and `tollgate verify --issuer / --jwks URL` against an in-process IdP on
//! loopback (the same test IdP as the library's key tests), running the built binary.

#[path = "../../tollgate/tests/support/mod.rs"]
mod support;

use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{json, Value};
use support::{Mode, TestIdp};

/// A runtime that keeps the IdP serving while the (blocking) binary runs.
fn idp() -> (tokio::runtime::Runtime, TestIdp) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let idp = rt.block_on(TestIdp::start());
    (rt, idp)
}

fn tollgate(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Bounded: the binary's own timeouts are 2 s + 5 s; never wait more than 30 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("tollgate {args:?} did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn jwks_by_discovery_lists_keys_and_cache_headers() {
    let (_rt, idp) = idp();
    idp.set_cache_control(Some("public, max-age=60"));
    idp.set_etag(Some("\"v7\""));
    let issuer = idp.issuer();
    let out = tollgate(&["jwks", "--issuer", &issuer, "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = stdout_json(&out);
    let key = &v["keys"][0];
    assert_eq!(key["kid"], "k1");
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["alg"], "ES256");
    assert_eq!(key["curve"], "P-256");
    let expected = tollgate::jwk::thumbprint_of(&idp.signing_key().public_jwk()).unwrap();
    assert_eq!(key["thumbprint"], expected.as_str());
    assert_eq!(v["source"]["jwks"], idp.jwks_url().as_str());
    assert_eq!(v["source"]["issuer_difference"], Value::Null);
    assert_eq!(v["response"]["cache_control"], "public, max-age=60");
    assert_eq!(v["response"]["etag"], "\"v7\"");
    assert_eq!(v["response"]["max_age"], 60);
    assert_eq!(
        v["response"]["cache_ttl_secs"], 300,
        "clamped to the 5 min minimum"
    );
    let fetched = v["response"]["fetched_at"].as_i64().unwrap();
    assert!((tollgate::clock::unix_now() - fetched).abs() < 60);

    // Text: the same facts for people.
    let out = tollgate(&["jwks", "--issuer", &issuer]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "kid \"k1\"",
        "kty EC",
        "alg ES256",
        "P-256",
        expected.as_str(),
        "public, max-age=60",
        "300 s",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert_eq!(idp.discovery_hits(), 2);
    assert_eq!(idp.jwks_hits(), 2);

    // A discovery document naming another issuer is shown as a warning, with the difference.
    idp.set_discovery_issuer(&format!("{issuer}/"));
    let out = tollgate(&["jwks", "--issuer", &issuer]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("WARNING") && text.contains("trailing slash"),
        "{text}"
    );
}

/// A self-signed certificate (openssl, CN=login.example.com, O=Example Corp, one year).
const CERT: &str = "MIIBqTCCAU+gAwIBAgICMDkwCgYIKoZIzj0EAwIwMzEaMBgGA1UEAwwRbG9naW4uZXhhbXBsZS5jb20xFTATBgNVBAoMDEV4YW1wbGUgQ29ycDAeFw0yNjExMjMxMTA0NDNaFw0yNzExMjMxMTA0NDNaMDMxGjAYBgNVBAMMEWxvZ2luLmV4YW1wbGUuY29tMRUwEwYDVQQKDAxFeGFtcGxlIENvcnAwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASOdoH59ktWAYXvJBhsPjeYrLPl36QPKJ2AdKDUxr3RiaM/d/SAq24WPg+eZu3GrWdtL0zg1+2joaXEHPHYZZNho1MwUTAdBgNVHQ4EFgQUGVmMswQt/fd/8F5nfeX+556BnLIwHwYDVR0jBBgwFoAUGVmMswQt/fd/8F5nfeX+556BnLIwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiAibnkevdsNLPLMiMgRY0gjU4n3D71Q+VdMRUiYm9ufswIhAIBu7C6ihEqOxQkXEjhNsn5BZKdU8Lh1WSX0ZlqAT8dy";

#[test]
fn jwks_url_and_file_show_skipped_keys() {
    let (_rt, idp) = idp();
    let out = tollgate(&["jwks", "--jwks", &idp.jwks_url(), "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v = stdout_json(&out);
    assert_eq!(v["keys"].as_array().unwrap().len(), 1);
    assert_eq!(v["response"]["status"], 200);
    assert_eq!(v["response"]["cache_ttl_secs"], 3600);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    let mut rsa = tollgate::SigningKey::generate(tollgate::Algorithm::RS256, "r1")
        .unwrap()
        .public_jwk();
    rsa["x5c"] = json!([CERT, "MIIBAAECAw=="]);
    rsa["x5t"] = json!("abc");
    let doc = json!({"keys": [rsa, {"kty": "OKP", "crv": "Ed448", "x": "AA", "kid": "odd"}]});
    std::fs::write(&path, doc.to_string()).unwrap();
    let file = path.to_str().unwrap();
    let out = tollgate(&["jwks", "--jwks", file, "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v = stdout_json(&out);
    assert_eq!(v["keys"][0]["size_bits"], 2048);
    let x5c = &v["keys"][0]["x5c"];
    assert_eq!(x5c["certificates"], 2);
    assert_eq!(x5c["x5t"], "abc");
    assert_eq!(x5c["parsed"], true);
    assert_eq!(x5c["subject"], "CN=login.example.com, O=Example Corp");
    assert_eq!(x5c["not_after"], "2027-11-23T11:04:43Z");
    assert_eq!(
        x5c["first_sha256"],
        "k1ZM1VHYsYcvNs4jbaI9fLbswysz8cwoMdwm58j1Ovo"
    );
    assert_eq!(v["skipped"][0]["kid"], "odd");
    assert!(v["skipped"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("Ed448"));
    let out = tollgate(&["jwks", "--jwks", file]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1 skipped key(s)") && text.contains("Ed448"),
        "{text}"
    );
    assert!(text.contains("x5c: 2 certificate(s)"), "{text}");
    assert!(text.contains("subject CN=login.example.com, O=Example Corp; valid 2026-11-23T11:04:43Z .. 2027-11-23T11:04:43Z"), "{text}");
}

#[test]
fn jwks_exit_codes() {
    let (_rt, idp) = idp();
    // 2: usage.
    assert_eq!(tollgate(&["jwks"]).status.code(), Some(2));
    let out = tollgate(&["jwks", "--jwks", "http://idp.example.com/jwks"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("https"));
    assert_eq!(
        tollgate(&["jwks", "--jwks", "/nonexistent/jwks.json"])
            .status
            .code(),
        Some(2)
    );
    // 3: fetch failures, each saying what, where and why.
    idp.set_mode(Mode::Status(503));
    let out = tollgate(&["jwks", "--jwks", &idp.jwks_url()]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the JWKS") && err.contains(&idp.jwks_url()) && err.contains("503"),
        "{err}"
    );
    idp.set_mode(Mode::Empty);
    let out = tollgate(&["jwks", "--issuer", &idp.issuer(), "--json"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stdout_json(&out)["error"]["kind"], "empty_key_set");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = tollgate(&[
        "jwks",
        "--issuer",
        &format!("http://127.0.0.1:{closed}"),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let v = stdout_json(&out);
    assert_eq!(v["error"]["kind"], "connect");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("the discovery document"));
}

#[test]
fn verify_by_discovery_and_jwks_url() {
    let (_rt, idp) = idp();
    let issuer = idp.issuer();
    let token = idp.token();
    let out = tollgate(&[
        "verify",
        &token,
        "--issuer",
        &issuer,
        "--audience",
        "api",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = stdout_json(&out);
    assert_eq!(v["valid"], true);
    assert_eq!(v["claims"]["sub"], "alice");
    assert_eq!((idp.discovery_hits(), idp.jwks_hits()), (1, 1));

    // --jwks URL: nothing is discovered; --issuer only names the accepted issuer.
    let out = tollgate(&[
        "verify",
        &token,
        "--jwks",
        &idp.jwks_url(),
        "--issuer",
        &issuer,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!((idp.discovery_hits(), idp.jwks_hits()), (1, 2));
    let out = tollgate(&[
        "verify",
        &token,
        "--jwks",
        &idp.jwks_url(),
        "--issuer",
        "https://other.example",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout_json(&out)["code"], "issuer_mismatch");

    assert_eq!((idp.discovery_hits(), idp.jwks_hits()), (1, 3));

    // A token from an issuer not given: rejected, nothing fetched (not even its discovery).
    let out = tollgate(&[
        "verify",
        &token,
        "--issuer",
        "https://login.example.com",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout_json(&out)["code"], "issuer_mismatch");
    assert_eq!((idp.discovery_hits(), idp.jwks_hits()), (1, 3));

    // The IdP is down: cannot check now (3), never kid_not_found.
    idp.set_mode(Mode::Status(500));
    let out = tollgate(&["verify", &token, "--issuer", &issuer, "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let v = stdout_json(&out);
    assert_eq!(v["code"], "keys_unavailable");
    assert!(v["message"].as_str().unwrap().contains("500"));
    let out = tollgate(&["verify", &token, "--jwks", &idp.jwks_url(), "--json"]);
    assert_eq!(out.status.code(), Some(3));

    // Discovery naming another issuer: keys_unavailable, with the difference named.
    idp.set_mode(Mode::Normal);
    idp.set_discovery_issuer(&format!("{issuer}/"));
    let out = tollgate(&["verify", &token, "--issuer", &issuer, "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let message = stdout_json(&out)["message"].as_str().unwrap().to_string();
    assert!(message.contains("trailing slash"), "{message}");

    // A plain-http issuer off loopback is a usage error.
    let out = tollgate(&["verify", &token, "--issuer", "http://idp.example.com"]);
    assert_eq!(out.status.code(), Some(2));
}
