//! Interoperability (issue 8): Tollgate against other JOSE libraries and a real OpenID
//! provider, in both directions, with no internet.
//!
//! The peers live in `interop/` (node `jose`, `oidc-provider`, PyJWT, jwcrypto; pinned
//! versions) and are installed on first use by `interop/setup.sh`. If they cannot be
//! installed, the run fails when `CI=true` and is skipped with a message otherwise. Every
//! peer runs on 127.0.0.1, bounded in time, and is stopped at the end.

mod interop_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use interop_support::http::StaticJson;
use interop_support::peers::{peers, Library, Peers, Verifier};
use interop_support::process::{self, Output, Server};
use interop_support::tamper;
use serde_json::{json, Value};
use tollgate::{b64, jws, Algorithm, SigningKey};

/// Every algorithm Tollgate shares with the three libraries (all 13 it supports).
const SHARED_ALGS: [&str; 13] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
    "HS256", "HS384", "HS512",
];
/// Issuer and audience the peer signers put in their tokens.
const PEER_ISS: &str = "https://peer.example";
const PEER_AUD: &str = "tollgate-interop";
/// How long one `tollgate` command may take.
const TOLLGATE_LIMIT: Duration = Duration::from_secs(60);

fn tollgate<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    process::run(
        Command::new(env!("CARGO_BIN_EXE_tollgate")).args(args),
        TOLLGATE_LIMIT,
    )
    .unwrap_or_else(|e| panic!("tollgate: {e}"))
}

/// The three signers' outputs, made once (concurrently) and shared by the tests.
struct Signed {
    docs: Vec<(Library, Value)>,
}

fn signed(peers: &'static Peers) -> &'static Signed {
    static SIGNED: OnceLock<Signed> = OnceLock::new();
    SIGNED.get_or_init(|| {
        // Only read back here: a static is never dropped, so it must not own the directory.
        let dir = tempfile::tempdir().expect("temp dir");
        let docs = std::thread::scope(|s| {
            let handles: Vec<_> = Library::ALL
                .iter()
                .map(|&lib| {
                    let out = dir.path().join(format!("{lib:?}.json"));
                    s.spawn(move || (lib, peers.sign(lib, &out)))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("signer thread"))
                .collect()
        });
        Signed { docs }
    })
}

/// One `tollgate verify` run and what it must answer.
struct Check {
    label: String,
    args: Vec<String>,
    token: String,
    /// `None`: valid. `Some(code)`: invalid with exactly this code.
    expect: Option<&'static str>,
}

/// Runs the checks on a few threads; returns one line per failed check.
fn run_checks(checks: &[Check]) -> Vec<String> {
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 4);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(check) = checks.get(i) else { break };
                if let Err(e) = run_check(check) {
                    failures
                        .lock()
                        .unwrap()
                        .push(format!("{}: {e}", check.label));
                }
            });
        }
    });
    failures.into_inner().unwrap()
}

fn run_check(check: &Check) -> Result<(), String> {
    let mut args = check.args.clone();
    args.push(check.token.clone());
    let out = tollgate(&args);
    let sig = tamper::signature(&check.token);
    if sig.len() > 16 && (out.stdout.contains(sig) || out.stderr.contains(sig)) {
        return Err("the output contains the token's signature".into());
    }
    let json = out.json();
    match check.expect {
        None if out.code == 0 && json["valid"] == true && json["claims"]["sub"] == "alice" => {
            Ok(())
        }
        Some(code) if out.code == 1 && json["code"] == code => Ok(()),
        None => Err(format!("expected valid; got {}", out.describe())),
        Some(code) => Err(format!("expected {code} (exit 1); got {}", out.describe())),
    }
}

fn write_json(path: &Path, value: &Value) -> PathBuf {
    std::fs::write(path, value.to_string()).expect("write temp file");
    path.to_path_buf()
}

/// The checks for one signed case: the token itself, and each tampered variant.
fn checks_for(lib: Library, case: &Value, dir: &Path) -> Vec<Check> {
    let alg = case["alg"].as_str().expect("case alg");
    let kid = case["kid"].as_str().expect("case kid");
    let token = case["token"].as_str().expect("case token");
    let stem = format!("{lib:?}-{alg}");
    let swap = tamper::swap_partner(alg);
    let base = |keys: (&str, &Path), algs: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "verify",
            "--json",
            "--issuer",
            PEER_ISS,
            "--audience",
            PEER_AUD,
        ]
        .map(String::from)
        .to_vec();
        for a in algs {
            v.extend(["--alg".to_string(), a.to_string()]);
        }
        v.extend([keys.0.to_string(), keys.1.display().to_string()]);
        v
    };
    let mut checks = Vec::new();
    let mut add = |label: &str, args: Vec<String>, token: String, expect| {
        checks.push(Check {
            label: format!("{lib:?} {alg} {label}"),
            args,
            token,
            expect,
        })
    };
    let kid_changed = tamper::header_altered(token, |h| {
        h.insert("kid".into(), json!(format!("{kid}-rotated")));
    });
    let alg_swapped = tamper::header_altered(token, |h| {
        h.insert("alg".into(), json!(swap));
    });

    if alg.starts_with("HS") {
        let secret = b64::decode(case["secret_b64url"].as_str().expect("secret_b64url"))
            .expect("secret is base64url");
        let secret_file = dir.join(format!("{stem}.secret"));
        std::fs::write(&secret_file, &secret).expect("write secret");
        let by_secret = ("--secret-file", secret_file.as_path());
        add(
            "accepted (--secret-file)",
            base(by_secret, &[alg]),
            token.into(),
            None,
        );
        add(
            "payload altered",
            base(by_secret, &[alg]),
            tamper::payload_altered(token),
            Some("signature_invalid"),
        );
        add(
            "signature altered",
            base(by_secret, &[alg]),
            tamper::signature_altered(token),
            Some("signature_invalid"),
        );
        // The secret fits every HS* algorithm, so the MAC is what fails.
        add(
            &format!("alg swapped to {swap}"),
            base(by_secret, &[alg, swap]),
            alg_swapped,
            Some("signature_invalid"),
        );
        // A --secret-file secret has no kid and is tried whatever the kid says; the kid is
        // part of the signed header, so the MAC fails.
        add(
            "kid changed (--secret-file)",
            base(by_secret, &[alg]),
            kid_changed.clone(),
            Some("signature_invalid"),
        );
        // The same secret as a JWK with the peer's kid: the kid is looked up.
        let oct =
            json!({"keys": [{"kty": "oct", "k": b64::encode(&secret), "kid": kid, "alg": alg}]});
        let oct_file = write_json(&dir.join(format!("{stem}.oct.jwks.json")), &oct);
        let by_oct = ("--jwks", oct_file.as_path());
        add(
            "accepted (oct JWK)",
            base(by_oct, &[alg]),
            token.into(),
            None,
        );
        add(
            "kid changed (oct JWK)",
            base(by_oct, &[alg]),
            kid_changed,
            Some("kid_not_found"),
        );
        add(
            "alg none",
            base(by_secret, &[alg]),
            tamper::unsecured(token),
            Some("unsecured_token"),
        );
        return checks;
    }

    let jwks = &case["jwks"];
    let jwk = &jwks["keys"][0];
    assert_eq!(
        jwk["alg"], alg,
        "{lib:?} {alg}: the peer's JWK names its alg"
    );
    let jwks_file = write_json(&dir.join(format!("{stem}.jwks.json")), jwks);
    let mut bare = jwk.clone();
    bare.as_object_mut().expect("JWK object").remove("alg");
    let bare_file = write_json(
        &dir.join(format!("{stem}.noalg.jwks.json")),
        &json!({"keys": [bare]}),
    );
    let by_jwks = ("--jwks", jwks_file.as_path());
    add("accepted", base(by_jwks, &[alg]), token.into(), None);
    add(
        "payload altered",
        base(by_jwks, &[alg]),
        tamper::payload_altered(token),
        Some("signature_invalid"),
    );
    add(
        "signature altered",
        base(by_jwks, &[alg]),
        tamper::signature_altered(token),
        Some("signature_invalid"),
    );
    // The JWK says which alg it is for: any other alg is refused before the signature.
    add(
        &format!("alg swapped to {swap}"),
        base(by_jwks, &[alg, swap]),
        alg_swapped.clone(),
        Some("alg_key_mismatch"),
    );
    // Without the JWK's alg member, an RSA key fits every RS*/PS* alg, so the signature is
    // what fails; an EC key is bound to its curve's alg and Ed25519 to EdDSA.
    let same_family = alg.starts_with("RS") || alg.starts_with("PS");
    add(
        &format!("alg swapped to {swap} (JWK without alg)"),
        base(("--jwks", bare_file.as_path()), &[alg, swap]),
        alg_swapped,
        Some(if same_family {
            "signature_invalid"
        } else {
            "alg_key_mismatch"
        }),
    );
    add(
        "kid changed",
        base(by_jwks, &[alg]),
        kid_changed,
        Some("kid_not_found"),
    );
    add(
        "alg none",
        base(by_jwks, &[alg]),
        tamper::unsecured(token),
        Some("unsecured_token"),
    );
    // Key confusion: HS256 with the public JWK's bytes as the secret must never verify.
    let confused_key =
        SigningKey::hmac(Algorithm::HS256, jwks.to_string().as_bytes(), kid).expect("HMAC key");
    let mut header = tamper::header(token);
    header.insert("alg".into(), json!("HS256"));
    let claims = jws::decode(token, usize::MAX)
        .expect("peer token decodes")
        .claims()
        .expect("peer claims");
    let confused = jws::sign_raw(
        &Value::Object(header),
        &serde_json::to_vec(&claims).expect("JSON"),
        &confused_key,
    )
    .expect("sign");
    add(
        "HS256 signed with the public key",
        base(by_jwks, &[alg, "HS256"]),
        confused,
        Some("alg_key_mismatch"),
    );
    checks
}

/// Part 2: node jose, PyJWT and jwcrypto sign with all 13 shared algorithms; `tollgate
/// verify` accepts each token and rejects each tampered variant with the exact code.
#[test]
fn peer_library_tokens_are_accepted_and_tampered_variants_rejected() {
    let Some(peers) = peers() else { return };
    let signed = signed(peers);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut checks = Vec::new();
    for (lib, doc) in &signed.docs {
        eprintln!("interop: {lib:?} {}", doc["version"]);
        let cases = doc["cases"].as_array().expect("cases");
        let algs: BTreeSet<&str> = cases.iter().filter_map(|c| c["alg"].as_str()).collect();
        assert_eq!(
            algs,
            SHARED_ALGS.into_iter().collect(),
            "{lib:?} signed with every shared algorithm"
        );
        for case in cases {
            checks.extend(checks_for(*lib, case, dir.path()));
        }
    }
    // 3 libraries x (10 asymmetric x 8 + 3 HMAC x 8).
    assert_eq!(checks.len(), 3 * (10 * 8 + 3 * 8));
    let failures = run_checks(&checks);
    assert!(
        failures.is_empty(),
        "{} of {} checks failed:\n{}",
        failures.len(),
        checks.len(),
        failures.join("\n")
    );
}

/// Part 3 (thumbprints): RFC 7638 thumbprints computed by Tollgate equal jose's
/// `calculateJwkThumbprint` (library and `tollgate jwks --json`), for Tollgate's own keys (RSA, EC P-256/384/521, Ed25519) and for
/// the keys the three peer libraries made.
#[test]
fn thumbprints_agree_with_jose() {
    let Some(peers) = peers() else { return };
    let signed = signed(peers);
    let mut keys = Vec::new();
    for alg in [
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::ES512,
        Algorithm::EdDSA,
    ] {
        let key = SigningKey::generate(alg, format!("tollgate-{alg}")).expect("generate");
        keys.push(key.public_jwk());
    }
    for (_, doc) in &signed.docs {
        for case in doc["cases"].as_array().expect("cases") {
            if let Some(jwk) = case["jwks"]["keys"].get(0) {
                keys.push(jwk.clone());
            }
        }
    }
    let kinds: BTreeSet<String> = keys
        .iter()
        .map(|k| format!("{}/{}", k["kty"], k["crv"]))
        .collect();
    assert_eq!(
        kinds.len(),
        5,
        "RSA, P-256, P-384, P-521, Ed25519: {kinds:?}"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_json(
        &dir.path().join("thumbprints.jwks.json"),
        &json!({ "keys": keys }),
    );
    let theirs = peers.thumbprints(&file);
    let listed = tollgate(&[
        "jwks".as_ref(),
        "--json".as_ref(),
        "--jwks".as_ref(),
        file.as_os_str(),
    ]);
    assert_eq!(listed.code, 0, "tollgate jwks: {}", listed.describe());
    let listed = listed.json();
    let cli: std::collections::BTreeMap<&str, &Value> = listed["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| (k["kid"].as_str().unwrap_or_default(), &k["thumbprint"]))
        .collect();
    for key in &keys {
        let kid = key["kid"].as_str().expect("kid");
        let ours = tollgate::jwk::thumbprint_of(key).expect("thumbprint");
        assert_eq!(theirs[kid], ours, "thumbprint_of {kid}");
        let parsed = tollgate::Jwk::from_value(key).expect("JWK");
        assert_eq!(parsed.thumbprint(), ours, "Jwk::thumbprint of {kid}");
        assert_eq!(cli.get(kid), Some(&&theirs[kid]), "tollgate jwks of {kid}");
    }
    assert_eq!(theirs.as_object().map(|o| o.len()), Some(keys.len()));
}

/// The resource (audience) Tollgate protects at the provider, and another one.
const API: &str = "urn:tollgate:api";
const OTHER_API: &str = "urn:other:api";

/// An access token from the provider's token endpoint (client_credentials, resource
/// indicator).
async fn provider_token(http: &reqwest::Client, issuer: &str, resource: &str) -> String {
    token_response(http, issuer, resource, None).await["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

/// The provider's token response (client_credentials, resource indicator), with a DPoP
/// proof when given (the token is then bound to its key).
async fn token_response(
    http: &reqwest::Client,
    issuer: &str,
    resource: &str,
    dpop: Option<&str>,
) -> Value {
    let body = format!(
        "grant_type=client_credentials&scope=read%20write&resource={}",
        resource.replace(':', "%3A")
    );
    let mut request = http
        .post(format!("{issuer}/token"))
        .basic_auth("interop", Some("interop-secret"))
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(proof) = dpop {
        request = request.header("dpop", proof);
    }
    let response = request
        .body(body)
        .send()
        .await
        .expect("token endpoint answers");
    let status = response.status();
    let json: Value = serde_json::from_slice(&response.bytes().await.expect("token response"))
        .expect("token response is JSON");
    assert!(status.is_success(), "token endpoint: {status} {json}");
    json
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// `tollgate verify --issuer ISS` (keys by OIDC discovery) for the provider's API.
fn verify_by_discovery(issuer: &str, token: &str) -> Output {
    tollgate(&[
        "verify",
        "--json",
        "--issuer",
        issuer,
        "--audience",
        API,
        "--require-typ",
        "at+jwt",
        token,
    ])
}

/// Starts `tollgate serve` in forward-auth mode for the provider, and returns it with its
/// address (read from its "gateway listening" log line).
fn start_gateway(dir: &Path, issuer: &str) -> (Server, String) {
    start_gateway_with(
        dir,
        &format!(
            r#"listen = "127.0.0.1:0"
admin_listen = ""

[[issuer]]
issuer = "{issuer}"
audiences = ["{API}"]
typ = ["at+jwt"]

[[route]]
path = "/"
scopes = ["read"]
"#
        ),
    )
}

/// Starts `tollgate serve` with this configuration (see [`start_gateway`]).
fn start_gateway_with(dir: &Path, config_text: &str) -> (Server, String) {
    let config = dir.join("tollgate.toml");
    std::fs::write(&config, config_text).expect("write config");
    let args = [
        "serve".to_string(),
        "--config".into(),
        config.display().to_string(),
        "--log-format".into(),
        "json".into(),
        "--log-level".into(),
        "info".into(),
    ];
    let mut server = Server::start(
        "tollgate serve",
        Path::new(env!("CARGO_BIN_EXE_tollgate")),
        &args,
        None,
        Duration::from_secs(240),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let line = server
        .wait_for("gateway listening", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    let log: Value = serde_json::from_str(&line).expect("JSON log line");
    let addr = log["addr"]
        .as_str()
        .expect("addr in the log line")
        .to_string();
    (server, format!("http://{addr}"))
}

/// Asks the gateway's forward-auth endpoint about `GET /orders` with `token`; the status.
async fn forward_auth(http: &reqwest::Client, gateway: &str, token: Option<&str>) -> u16 {
    let mut request = http
        .get(format!("{gateway}/verify"))
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-uri", "/orders");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request
        .send()
        .await
        .expect("the gateway answers")
        .status()
        .as_u16()
}

/// Starts the provider (`format`: `jwt` or `opaque`) on a free port. The provider must know
/// its URL before it listens, so it gets a port that was free a moment ago; another process
/// may take it first, hence a few tries.
fn start_provider(peers: &Peers, key: &Path, format: &str) -> (u16, Server) {
    let mut attempt = 0;
    loop {
        let port = process::free_port();
        match peers.oidc_provider_with(port, key, format) {
            Ok(p) => return (port, p),
            Err(e) if attempt >= 2 => panic!("{e}"),
            Err(_) => attempt += 1,
        }
    }
}

/// The HTTP client the provider tests use.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("HTTP client")
}

/// Starts the provider again on `port` (the issuer URL must not change); retried briefly in
/// case the old listener's port is not free yet.
fn restart_provider(peers: &Peers, port: u16, key: &Path) -> Server {
    let mut attempt = 0;
    loop {
        match peers.oidc_provider(port, key) {
            Ok(p) => return p,
            Err(e) if attempt >= 4 => panic!("{e}"),
            Err(_) => {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
}

/// Part 1: oidc-provider on loopback issues `at+jwt` access tokens (client_credentials,
/// resource indicators). Tollgate finds its keys through discovery (CLI, `tollgate serve`
/// forward-auth, and the library), accepts
/// its tokens for `urn:tollgate:api`, refuses one minted for `urn:other:api` (and `tollgate
/// doctor` names the cause: a token for another API), agrees with its
/// kid (an RFC 7638 thumbprint), and picks up a key rotation (provider restarted with a new
/// key on the same URL, `tollgate serve` kept running) without a failed request.
#[test]
fn oidc_provider_tokens_validate_through_discovery_and_rotation() {
    let Some(peers) = peers() else { return };
    eprintln!(
        "interop: oidc-provider {}",
        peers.node_version("oidc-provider")
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let key_a = dir.path().join("key-a.json");
    let key_b = dir.path().join("key-b.json");
    let (port, mut provider) = start_provider(peers, &key_a, "jwt");
    let issuer = format!("http://127.0.0.1:{port}");
    let rt = runtime();
    let http = http_client();
    let validator = tollgate::Validator::new(vec![tollgate::IssuerConfig::discovery(&issuer)
        .policy(
            tollgate::Policy::new()
                .audience(API)
                .typ(tollgate::TypPolicy::OneOf(vec!["at+jwt".into()])),
        )])
    .expect("validator");

    let (token, other) = rt.block_on(async {
        (
            provider_token(&http, &issuer, API).await,
            provider_token(&http, &issuer, OTHER_API).await,
        )
    });
    let header = tamper::header(&token);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "RS256");
    let kid_a = header["kid"].as_str().expect("kid").to_string();

    // The provider's kid is the RFC 7638 thumbprint of its key (computed by jose); `tollgate
    // jwks --issuer` finds the key by discovery and computes the same thumbprint.
    let listed = tollgate(&["jwks", "--json", "--issuer", &issuer]);
    assert_eq!(listed.code, 0, "tollgate jwks: {}", listed.describe());
    let keys = listed.json()["keys"].clone();
    assert_eq!(keys[0]["kid"], kid_a.as_str(), "{keys}");
    assert_eq!(keys[0]["thumbprint"], kid_a.as_str(), "{keys}");

    // CLI, by discovery.
    let ok = verify_by_discovery(&issuer, &token);
    assert_eq!(ok.code, 0, "provider token: {}", ok.describe());
    let ok = ok.json();
    assert_eq!(ok["claims"]["client_id"], "interop");
    assert_eq!(ok["claims"]["aud"], API);
    let refused = verify_by_discovery(&issuer, &other);
    assert_eq!(refused.code, 1, "{}", refused.describe());
    assert_eq!(refused.json()["code"], "audience_mismatch");

    // `tollgate doctor` explains the token minted for the other API (and passes the good one).
    let doctor = |token: &str| {
        tollgate(&[
            "doctor",
            token,
            "--issuer",
            &issuer,
            "--audience",
            API,
            "--json",
        ])
    };
    let explained = doctor(&other);
    assert_eq!(explained.code, 1, "doctor: {}", explained.describe());
    let report = explained.json();
    assert_eq!(report["valid"], false);
    assert_eq!(report["code"], "audience_mismatch");
    let top = report["causes"][0]["id"].as_str().unwrap_or_default();
    assert!(
        ["audience_other_api", "audience_near_miss"].contains(&top),
        "doctor's top cause for a token minted for {OTHER_API}: {report}"
    );
    let signature = report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == "signature"))
        .map(|c| c["status"].clone());
    assert_eq!(signature, Some(json!("pass")), "{report}");
    let passed = doctor(&token);
    assert_eq!(
        passed.code,
        0,
        "doctor on a good token: {}",
        passed.describe()
    );
    assert_eq!(passed.json()["valid"], true);

    // Library, by discovery.
    rt.block_on(async {
        let ok = validator
            .validate(&format!("Bearer {token}"))
            .await
            .unwrap_or_else(|e| panic!("provider token refused: {} {e}", e.code()));
        assert_eq!(ok.claims.get("client_id"), Some(&json!("interop")));
        assert!(ok.claims.has_scope("read"));
        let err = validator.validate(&other).await.unwrap_err();
        assert_eq!(err.code(), "audience_mismatch", "{err}");
    });

    // `tollgate serve` (forward-auth), configured with the provider as its issuer.
    let (mut gateway, gateway_url) = start_gateway(dir.path(), &issuer);
    rt.block_on(async {
        assert_eq!(forward_auth(&http, &gateway_url, Some(&token)).await, 200);
        assert_eq!(forward_auth(&http, &gateway_url, Some(&other)).await, 401);
        assert_eq!(forward_auth(&http, &gateway_url, None).await, 401);
    });

    // Rotation: the provider restarts on the same URL with a new signing key while the
    // gateway keeps running. Every request succeeds: the old token while the provider is
    // down (keys cached), then the first token signed by the new key.
    provider.stop();
    drop(provider);
    let mut statuses = Vec::new();
    rt.block_on(async {
        for _ in 0..3 {
            statuses.push(forward_auth(&http, &gateway_url, Some(&token)).await);
        }
    });
    let _provider = restart_provider(peers, port, &key_b);
    let rotated = rt.block_on(provider_token(&http, &issuer, API));
    let kid_b = tamper::header(&rotated)["kid"].clone();
    assert_ne!(
        kid_b,
        kid_a.as_str(),
        "the restarted provider signs with a new key"
    );
    rt.block_on(async {
        statuses.push(forward_auth(&http, &gateway_url, Some(&rotated)).await);
        statuses.push(forward_auth(&http, &gateway_url, Some(&rotated)).await);
    });
    assert_eq!(
        statuses,
        [200; 5],
        "gateway during and after the rotation; log:\n{}",
        gateway.log()
    );
    assert!(gateway.is_running(), "the gateway kept running");

    rt.block_on(async {
        let ok = validator.validate(&rotated).await;
        assert!(
            ok.is_ok(),
            "library: first token after rotation: {:?}",
            ok.err().map(|e| e.to_string())
        );
    });
    let ok = verify_by_discovery(&issuer, &rotated);
    assert_eq!(ok.code, 0, "CLI after rotation: {}", ok.describe());
    gateway.stop();
}

/// One token for the peers' remote-JWKS verifiers.
struct PeerCheck {
    label: String,
    jwks_url: String,
    token: String,
    iss: String,
    aud: String,
    /// Whether the verifiers must accept it.
    accept: bool,
}

/// Runs every check through node jose (`createRemoteJWKSet` + `jwtVerify`) and PyJWT
/// (`PyJWKClient`), a few at a time; returns one line per failure.
fn verify_in_peers(peers: &Peers, checks: &[PeerCheck]) -> Vec<String> {
    let jobs: Vec<(Verifier, &PeerCheck)> = checks
        .iter()
        .flat_map(|c| Verifier::ALL.map(|v| (v, c)))
        .collect();
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((verifier, c)) = jobs.get(i) else {
                    break;
                };
                let result = peers.verify(*verifier, &c.jwks_url, &c.token, &c.iss, &c.aud);
                let problem = match result {
                    Err(e) => Some(e),
                    Ok(out) => {
                        let ok = out.json()["ok"] == true;
                        match (c.accept, ok, out.code) {
                            (true, true, 0) | (false, false, 1) => None,
                            _ => Some(format!(
                                "expected {}; got {}",
                                if c.accept { "accepted" } else { "rejected" },
                                out.describe()
                            )),
                        }
                    }
                };
                if let Some(p) = problem {
                    failures
                        .lock()
                        .unwrap()
                        .push(format!("{verifier:?} on {}: {p}", c.label));
                }
            });
        }
    });
    failures.into_inner().unwrap()
}

/// The asymmetric algorithms (the remote-JWKS verifiers refuse HS*).
const ASYMMETRIC_ALGS: [Algorithm; 10] = Algorithm::ASYMMETRIC;

/// Every asymmetric algorithm `tollgate issuer` accepts for `--alg` (it refuses HS*: an
/// HMAC secret would have to be published in the JWKS).
const ISSUER_ALGS: [Algorithm; 10] = ASYMMETRIC_ALGS;

/// The audience the Tollgate-side tokens carry.
const TOLLGATE_AUD: &str = "interop-api";

/// A running `tollgate issuer` and what its banner says.
struct RunningIssuer {
    alg: Algorithm,
    url: String,
    jwks: String,
    state: PathBuf,
    _server: Server,
}

/// Starts `tollgate issuer --alg ALG` on a free loopback port with a state directory.
fn start_issuer(alg: Algorithm, state: PathBuf) -> Server {
    let args = [
        "issuer".to_string(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--alg".into(),
        alg.to_string(),
        "--audience".into(),
        TOLLGATE_AUD.into(),
        "--state".into(),
        state.display().to_string(),
    ];
    Server::start(
        &format!("tollgate issuer --alg {alg}"),
        Path::new(env!("CARGO_BIN_EXE_tollgate")),
        &args,
        None,
        Duration::from_secs(240),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Reads `label` from the issuer's banner (`  label   value`).
fn banner_value(server: &mut Server, label: &str) -> String {
    let line = server
        .wait_for(&format!("  {label} "), Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    line.split_whitespace()
        .last()
        .unwrap_or_default()
        .to_string()
}

/// Part 3: tokens from `tollgate issuer` (its token endpoint, one issuer per algorithm),
/// from `tollgate mint --state` (the running issuer's key) and from `tollgate mint --key`
/// (a PEM file, JWKS served on loopback) verify in node jose (`createRemoteJWKSet` +
/// `jwtVerify`) and PyJWT (`PyJWKClient`), for every asymmetric algorithm. A wrong audience
/// and an altered signature are refused by both (so acceptance means something).
#[test]
fn tollgate_issuer_and_mint_tokens_verify_in_jose_and_pyjwt() {
    let Some(peers) = peers() else { return };
    let dir = tempfile::tempdir().expect("temp dir");

    // The issuers start concurrently; each banner is read once it is up.
    let mut started: Vec<(Algorithm, PathBuf, Server)> = ISSUER_ALGS
        .iter()
        .map(|&alg| {
            let state = dir.path().join(format!("issuer-{alg}"));
            (alg, state.clone(), start_issuer(alg, state))
        })
        .collect();
    let issuers: Vec<RunningIssuer> = started
        .drain(..)
        .map(|(alg, state, mut server)| RunningIssuer {
            alg,
            url: banner_value(&mut server, "issuer"),
            jwks: banner_value(&mut server, "jwks"),
            state,
            _server: server,
        })
        .collect();

    let rt = runtime();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("HTTP client");
    let mut checks = Vec::new();
    for issuer in &issuers {
        let token = rt.block_on(async {
            let response = http
                .post(format!("{}/token", issuer.url))
                .basic_auth("dev", Some("dev-secret"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials")
                .send()
                .await
                .expect("issuer token endpoint");
            let body: Value =
                serde_json::from_slice(&response.bytes().await.expect("body")).expect("JSON");
            body["access_token"]
                .as_str()
                .expect("access_token")
                .to_string()
        });
        assert_eq!(tamper::header(&token)["alg"], issuer.alg.as_str());
        checks.push(PeerCheck {
            label: format!("tollgate issuer --alg {}", issuer.alg),
            jwks_url: issuer.jwks.clone(),
            token,
            iss: issuer.url.clone(),
            aud: TOLLGATE_AUD.into(),
            accept: true,
        });
        let minted = tollgate(&[
            "mint".as_ref(),
            "--state".as_ref(),
            issuer.state.as_os_str(),
        ]);
        assert_eq!(
            minted.code,
            0,
            "tollgate mint --state: {}",
            minted.describe()
        );
        checks.push(PeerCheck {
            label: format!("tollgate mint --state (issuer {})", issuer.alg),
            jwks_url: issuer.jwks.clone(),
            token: minted.stdout.trim().to_string(),
            iss: issuer.url.clone(),
            aud: TOLLGATE_AUD.into(),
            accept: true,
        });
    }

    // `tollgate mint --key FILE` with PEM keys; their public JWKs served on loopback.
    let mint_iss = "https://mint.tollgate.example";
    let mut keys = Vec::new();
    let mut minted = Vec::new();
    for alg in ASYMMETRIC_ALGS {
        let kid = format!("mint-{alg}");
        let key = SigningKey::generate(alg, kid.clone()).expect("generate");
        keys.push(key.public_jwk());
        let pem = dir.path().join(format!("{kid}.pem"));
        std::fs::write(&pem, key.to_pem().expect("PEM")).expect("write PEM");
        let out = tollgate(&[
            "mint".as_ref(),
            "--key".as_ref(),
            pem.as_os_str(),
            "--alg".as_ref(),
            alg.as_str().as_ref(),
            "--kid".as_ref(),
            kid.as_ref(),
            "--iss".as_ref(),
            mint_iss.as_ref(),
            "--aud".as_ref(),
            TOLLGATE_AUD.as_ref(),
        ]);
        assert_eq!(
            out.code,
            0,
            "tollgate mint --key ({alg}): {}",
            out.describe()
        );
        minted.push((alg, out.stdout.trim().to_string()));
    }
    let served = StaticJson::start(json!({ "keys": keys }).to_string());
    for (alg, token) in &minted {
        checks.push(PeerCheck {
            label: format!("tollgate mint --key --alg {alg}"),
            jwks_url: served.url(),
            token: token.clone(),
            iss: mint_iss.into(),
            aud: TOLLGATE_AUD.into(),
            accept: true,
        });
    }

    // Controls: the verifiers do refuse.
    let first = checks[0].token.clone();
    checks.push(PeerCheck {
        label: "tollgate issuer token, wrong audience".into(),
        jwks_url: issuers[0].jwks.clone(),
        token: first.clone(),
        iss: issuers[0].url.clone(),
        aud: "another-api".into(),
        accept: false,
    });
    checks.push(PeerCheck {
        label: "tollgate issuer token, signature altered".into(),
        jwks_url: issuers[0].jwks.clone(),
        token: tamper::signature_altered(&first),
        iss: issuers[0].url.clone(),
        aud: TOLLGATE_AUD.into(),
        accept: false,
    });
    assert_eq!(checks.len(), 3 * ASYMMETRIC_ALGS.len() + 2);
    let failures = verify_in_peers(peers, &checks);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Part 3 (issue 15): DPoP across implementations. oidc-provider, with its DPoP feature,
/// binds tokens to keys held by panva's `dpop` package (ES256 and PS256); Tollgate accepts
/// those tokens with the package's proofs (library and `tollgate serve` forward-auth), and
/// refuses, each with its code, a proof for another URL (`htu`), a proof for another token
/// (`ath`), a reused proof (`jti`) and the bound token sent as Bearer.
#[test]
fn dpop_proofs_from_panva_dpop_and_tokens_bound_by_oidc_provider() {
    use tollgate::binding::{AuthScheme, RequestContext};
    use tollgate::validator::TokenValidator;

    let Some(peers) = peers() else { return };
    eprintln!(
        "interop: dpop {}, oidc-provider {}",
        peers.node_version("dpop"),
        peers.node_version("oidc-provider")
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let mut attempt = 0;
    let (port, mut provider) = loop {
        let port = process::free_port();
        match peers.oidc_provider(port, &dir.path().join("provider-key.json")) {
            Ok(p) => break (port, p),
            Err(e) if attempt >= 2 => panic!("{e}"),
            Err(_) => attempt += 1,
        }
    };
    let issuer = format!("http://127.0.0.1:{port}");
    let token_url = format!("{issuer}/token");
    let rt = runtime();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("HTTP client");
    let validator =
        tollgate::Validator::new(vec![tollgate::IssuerConfig::discovery(&issuer)
            .policy(tollgate::Policy::new().audience(API))])
        .expect("validator");
    let api = "https://api.example/orders";

    let mut bound = Vec::new();
    for alg in ["ES256", "PS256"] {
        let key = dir.path().join(format!("client-{alg}.json"));
        let (jkt, proofs) = peers.dpop_proofs(&key, alg, &[("POST", &token_url, None)]);
        let response = rt.block_on(token_response(&http, &issuer, API, Some(&proofs[0])));
        let token = response["access_token"]
            .as_str()
            .expect("access_token")
            .to_string();
        assert_eq!(response["token_type"], "DPoP", "{response}");
        let claims = jws::decode(&token, 16384).unwrap().claims().unwrap();
        assert_eq!(
            claims["cnf"]["jkt"],
            json!(jkt),
            "oidc-provider binds to the dpop key"
        );

        // The package keeps the query in htu; Tollgate compares without it.
        let (_, proofs) = peers.dpop_proofs(
            &key,
            alg,
            &[
                ("GET", &format!("{api}?page=2"), Some(&token)),
                ("GET", "https://api.example/other", Some(&token)),
                ("GET", api, Some("another-token")),
                ("GET", api, Some(&token)),
            ],
        );
        let check = |scheme: AuthScheme, proof: &str| {
            let request = RequestContext::new(scheme, &token, "GET", Some(api.to_string()))
                .dpop_proofs(vec![proof]);
            rt.block_on(validator.validate_request(&request))
                .map(|_| ())
                .map_err(|e| e.code())
        };
        assert_eq!(check(AuthScheme::Dpop, &proofs[0]), Ok(()), "{alg}");
        assert_eq!(
            check(AuthScheme::Dpop, &proofs[0]),
            Err("dpop_replayed"),
            "{alg}: reused jti"
        );
        assert_eq!(
            check(AuthScheme::Dpop, &proofs[1]),
            Err("dpop_htu_mismatch"),
            "{alg}"
        );
        assert_eq!(
            check(AuthScheme::Dpop, &proofs[2]),
            Err("dpop_ath_mismatch"),
            "{alg}"
        );
        assert_eq!(
            check(AuthScheme::Bearer, &proofs[3]),
            Err("dpop_bound_token_as_bearer"),
            "{alg}"
        );
        assert_eq!(check(AuthScheme::Dpop, &proofs[3]), Ok(()), "{alg}");
        bound.push((key, token));
    }

    // Through `tollgate serve` in forward-auth mode: the proxy names the public URL.
    let (key, token) = bound.swap_remove(0);
    let (mut gateway, gateway_url) = start_gateway(dir.path(), &issuer);
    let (_, proofs) = peers.dpop_proofs(
        &key,
        "ES256",
        &[
            ("GET", "https://api.example/orders", Some(&token)),
            ("GET", "https://api.example/elsewhere", Some(&token)),
        ],
    );
    let ask = |proof: &str| {
        rt.block_on(async {
            let r = http
                .get(format!("{gateway_url}/verify"))
                .header("x-forwarded-method", "GET")
                .header("x-forwarded-uri", "/orders")
                .header("x-forwarded-proto", "https")
                .header("x-forwarded-host", "api.example")
                .header("authorization", format!("DPoP {token}"))
                .header("dpop", proof)
                .send()
                .await
                .expect("the gateway answers");
            let code = r
                .headers()
                .get("x-tollgate-error")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            (r.status().as_u16(), code)
        })
    };
    assert_eq!(ask(&proofs[0]), (200, String::new()), "{}", gateway.log());
    assert_eq!(ask(&proofs[0]), (401, "dpop_replayed".to_string()));
    assert_eq!(ask(&proofs[1]), (401, "dpop_htu_mismatch".to_string()));
    gateway.stop();
    provider.stop();
}

/// Part 1b: oidc-provider issuing opaque access tokens (client_credentials, resource
/// indicators) with its introspection (RFC 7662) and revocation (RFC 7009) features on.
/// `tollgate serve` finds the introspection endpoint by discovery, accepts the token (scope
/// rules from the answer), refuses a token for another API (audience from the answer) and
/// refuses the token once the provider revoked it; `tollgate verify` agrees.
#[test]
fn oidc_provider_opaque_tokens_by_introspection_and_revocation() {
    let Some(peers) = peers() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let key = dir.path().join("key.json");
    let (port, _provider) = start_provider(peers, &key, "opaque");
    let issuer = format!("http://127.0.0.1:{port}");
    let rt = runtime();
    let http = http_client();
    let (token, other) = rt.block_on(async {
        (
            provider_token(&http, &issuer, API).await,
            provider_token(&http, &issuer, OTHER_API).await,
        )
    });
    assert_eq!(token.split('.').count(), 1, "an opaque token: {token}");

    let secret = dir.path().join("introspection-secret");
    std::fs::write(&secret, "interop-secret\n").expect("write secret");
    // max_ttl = 0: every request asks, so the revocation is seen at once.
    let (mut gateway, gateway_url) = start_gateway_with(
        dir.path(),
        &format!(
            r#"listen = "127.0.0.1:0"
admin_listen = ""

[[issuer]]
issuer = "{issuer}"
audiences = ["{API}"]

[issuer.introspection]
client_id = "interop"
client_secret_file = {secret:?}
max_ttl = 0

[[route]]
path = "/"
scopes = ["read"]
"#
        ),
    );
    let verify = |token: &str| {
        tollgate(&[
            "verify",
            "--json",
            "--issuer",
            &issuer,
            "--audience",
            API,
            "--introspection-client-id",
            "interop",
            "--introspection-secret-file",
            &secret.display().to_string(),
            token,
        ])
    };
    let ok = verify(&token);
    assert_eq!(ok.code, 0, "tollgate verify: {}", ok.describe());
    assert_eq!(ok.json()["claims"]["client_id"], "interop");
    assert_eq!(ok.json()["claims"]["iss"], issuer.as_str());
    rt.block_on(async {
        assert_eq!(forward_auth(&http, &gateway_url, Some(&token)).await, 200);
        assert_eq!(forward_auth(&http, &gateway_url, Some(&other)).await, 401);
        assert_eq!(
            forward_auth(&http, &gateway_url, Some("not-a-token-of-this-provider")).await,
            401
        );
        // Revoked at the provider (RFC 7009, client-authenticated): refused.
        let revoked = http
            .post(format!("{issuer}/token/revocation"))
            .basic_auth("interop", Some("interop-secret"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}"))
            .send()
            .await
            .expect("revocation endpoint answers");
        assert_eq!(revoked.status(), 200);
        assert_eq!(forward_auth(&http, &gateway_url, Some(&token)).await, 401);
    });
    let refused = verify(&token);
    assert_eq!(refused.code, 1, "{}", refused.describe());
    assert_eq!(refused.json()["code"], "token_inactive");
    assert!(
        gateway.log().contains("token_inactive"),
        "the gateway logged the refusal: {}",
        gateway.log()
    );
    gateway.stop();
}
