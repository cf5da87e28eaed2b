//! `tollgate issuer` as a process: the banner, a token from the printed `curl`, the token
//! verified by `tollgate verify`, SIGTERM, bad arguments.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");
const START_LIMIT: Duration = Duration::from_secs(30);

/// A running `tollgate issuer`, killed on drop if the test did not stop it.
struct Running {
    child: Child,
    banner: Vec<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let mut child = Command::new(BIN)
            .arg("issuer")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut banner = Vec::new();
        let mut running = Running {
            child,
            banner: Vec::new(),
        };
        loop {
            match rx.recv_timeout(START_LIMIT) {
                Ok(line) => {
                    let done = line.starts_with("Press Ctrl-C");
                    banner.push(line);
                    if done {
                        break;
                    }
                }
                Err(_) => panic!("the issuer printed no complete banner: {banner:?}"),
            }
        }
        running.banner = banner;
        running
    }

    fn field(&self, label: &str) -> String {
        self.banner
            .iter()
            .find_map(|l| {
                l.trim_start()
                    .strip_prefix(label)
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_else(|| panic!("no {label:?} in {:#?}", self.banner))
    }

    fn curl_line(&self) -> String {
        self.banner
            .iter()
            .find(|l| l.trim_start().starts_with("curl "))
            .unwrap()
            .trim()
            .to_string()
    }

    /// Sends SIGTERM and waits (bounded) for a clean exit.
    fn terminate(mut self) -> i32 {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the issuer ignored SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(30), f)
                .await
                .expect("HTTP call took too long")
        })
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .unwrap()
}

/// Does what the printed `curl -s -u ID:SECRET -d grant_type=client_credentials URL` does.
fn run_curl_line(line: &str) -> (u16, Value) {
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&words[..2], ["curl", "-s"], "{line}");
    let creds = words[words.iter().position(|w| *w == "-u").unwrap() + 1];
    let data = words[words.iter().position(|w| *w == "-d").unwrap() + 1];
    let url = words.last().unwrap().to_string();
    let (id, secret) = creds.split_once(':').unwrap();
    let (id, secret, data) = (id.to_string(), secret.to_string(), data.to_string());
    block_on(async move {
        let r = client()
            .post(&url)
            .basic_auth(id, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(data)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (
            status,
            serde_json::from_str(&r.text().await.unwrap()).unwrap(),
        )
    })
}

fn fetch(url: &str) -> String {
    let url = url.to_string();
    block_on(async move {
        client()
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    })
}

fn verify(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).arg("verify").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn banner_curl_token_and_verify() {
    let issuer = Running::start(&["--client", "svc:pa55", "--jwks-max-age", "7"]);
    let url = issuer.field("issuer");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(
        issuer.field("discovery"),
        format!("{url}/.well-known/openid-configuration")
    );
    assert_eq!(issuer.field("jwks"), format!("{url}/jwks"));
    assert_eq!(issuer.field("token endpoint"), format!("{url}/token"));
    assert!(issuer.field("client").starts_with("svc / pa55"));
    let curl = issuer.curl_line();
    assert_eq!(
        curl,
        format!("curl -s -u svc:pa55 -d grant_type=client_credentials {url}/token")
    );
    let (status, body) = run_curl_line(&curl);
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_string();

    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, fetch(&format!("{url}/jwks"))).unwrap();
    let jwks = jwks.display().to_string();
    let (code, out, err) = verify(&[
        "--jwks",
        &jwks,
        "--issuer",
        &url,
        "--audience",
        "api://default",
        "--require-typ",
        "at+jwt",
        &token,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let claims: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(claims["sub"], "svc");
    assert_eq!(claims["iss"], Value::String(url.clone()));
    // Another audience is refused.
    let (code, _, _) = verify(&[
        "--jwks",
        &jwks,
        "--issuer",
        &url,
        "--audience",
        "api://other",
        &token,
    ]);
    assert_eq!(code, 1);
    assert_eq!(issuer.terminate(), 0);
}

fn post_admin(url: &str, path: &str, body: &str) -> (u16, Value) {
    let (url, body) = (format!("{url}{path}"), body.to_string());
    block_on(async move {
        let r = client()
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (
            status,
            serde_json::from_str(&r.text().await.unwrap()).unwrap(),
        )
    })
}

#[test]
fn verify_by_discovery_and_outage_exit_codes() {
    let issuer = Running::start(&["--audience", "api://orders"]);
    let url = issuer.field("issuer");
    // The printed check command works as printed (TOKEN replaced).
    let check = issuer
        .banner
        .iter()
        .find(|l| l.trim_start().starts_with("tollgate verify"))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(
        check,
        format!("tollgate verify --issuer {url} --audience api://orders TOKEN")
    );
    let (status, body) = run_curl_line(&issuer.curl_line());
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_string();
    let (code, out, err) = verify(&["--issuer", &url, "--audience", "api://orders", &token]);
    assert_eq!(code, 0, "{out}{err}");
    // A token minted through the admin endpoint with an unknown kid: invalid (exit 1).
    let (status, minted) = post_admin(&url, "/admin/mint", r#"{"header": {"kid": "nope"}}"#);
    assert_eq!(status, 200);
    let (code, out, _) = verify(&[
        "--issuer",
        &url,
        "--audience",
        "api://orders",
        "--json",
        minted["token"].as_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["code"],
        "kid_not_found"
    );
    // The issuer's keys fail: the token cannot be checked now (exit 3).
    let (status, _) = post_admin(&url, "/admin/fault", r#"{"fault": "500"}"#);
    assert_eq!(status, 200);
    let (code, out, _) = verify(&[
        "--issuer",
        &url,
        "--audience",
        "api://orders",
        "--json",
        &token,
    ]);
    assert_eq!(code, 3, "{out}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["code"],
        "keys_unavailable"
    );
    assert_eq!(issuer.terminate(), 0);
}

#[test]
fn state_dir_keeps_the_kid_across_restarts_and_feeds_mint() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let state_arg = state.display().to_string();
    let first = Running::start(&["--state", &state_arg, "--alg", "ES256"]);
    let kid = first.field("signing key");
    assert!(kid.starts_with("ES256, kid "), "{kid}");
    assert_eq!(first.terminate(), 0);
    // No --alg: the directory's algorithm is kept.
    let second = Running::start(&["--state", &state_arg]);
    assert_eq!(second.field("signing key"), kid);
    let url = second.field("issuer");
    let out = Command::new(BIN)
        .args(["mint", "--state", &state_arg, "--claim", "role=admin"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, fetch(&format!("{url}/jwks"))).unwrap();
    let (code, out, err) = verify(&[
        "--jwks",
        &jwks.display().to_string(),
        "--issuer",
        &url,
        "--audience",
        "api://default",
        &token,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("\"role\": \"admin\"") || out.contains("\"role\":\"admin\""),
        "{out}"
    );
    assert_eq!(second.terminate(), 0);
}

#[test]
fn bad_arguments_exit_2_with_the_reason() {
    let cases: [(&[&str], &str); 4] = [
        (&["--alg", "HS256"], "never be published"),
        (&["--alg", "RS1"], "unknown algorithm"),
        (&["--client", "nocolon"], "ID:SECRET"),
        (&["--token-ttl", "0s"], "must be positive"),
    ];
    for (args, expected) in cases {
        let out = Command::new(BIN)
            .arg("issuer")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    // A busy port.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let out = Command::new(BIN)
        .args([
            "issuer",
            "--listen",
            &busy.local_addr().unwrap().to_string(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen"));
}

/// `tollgate issuer --opaque-tokens`: the printed `curl` gets an opaque token, which
/// `tollgate verify` accepts through the printed introspection endpoint, and refuses once
/// revoked at `/revoke`.
#[test]
fn opaque_tokens_from_the_command_line() {
    let issuer = Running::start(&["--opaque-tokens", "--client", "svc:pa55"]);
    let url = issuer.field("issuer");
    assert!(issuer
        .field("introspection")
        .starts_with(&format!("{url}/introspect")));
    assert!(issuer.field("access tokens").starts_with("opaque (tgo_"));
    let (status, body) = run_curl_line(&issuer.curl_line());
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_string();
    assert!(token.starts_with("tgo_") && !token.contains('.'), "{token}");
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "pa55").unwrap();
    let secret = secret.display().to_string();
    let check = || {
        verify(&[
            "--json",
            "--issuer",
            &url,
            "--audience",
            "api://default",
            "--introspection-client-id",
            "svc",
            "--introspection-secret-file",
            &secret,
            &token,
        ])
    };
    let (code, out, err) = check();
    assert_eq!(code, 0, "{out}{err}");
    let (revoke_url, form) = (format!("{url}/revoke"), format!("token={token}"));
    let status = block_on(async move {
        client()
            .post(revoke_url)
            .basic_auth("svc", Some("pa55"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(status, 200);
    let (code, out, _) = check();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("\"token_inactive\""), "{out}");
    assert_eq!(issuer.terminate(), 0);
}
