//! Running a real proxy (nginx, Caddy) in front of the gateway for the example tests:
//! finding the binary, a free port, a child process killed on drop.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use super::{challenge, client, json_body, Echo, LocalKeys};

/// `examples/<name>/<file>` of the repository.
pub fn example(name: &str, file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The binary `name` from PATH or the sbin directories. When it is missing: outside CI,
/// prints why the test is skipped and returns None; with `required_in_ci` and `CI=true`,
/// panics (CI installs it).
pub fn find_binary(name: &str, required_in_ci: bool) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin"].map(PathBuf::from));
    if let Some(found) = dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()) {
        return Some(found);
    }
    if required_in_ci && std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{name} is not installed, and CI=true: .ci/run installs it (apt-get install -y {name})"
        );
    }
    eprintln!(
        "SKIPPED: {name} is not installed; install it to run this test (apt-get update && apt-get install -y {name})"
    );
    None
}

/// A free loopback port (bound then released; the proxy binds it right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed (and reaped) when dropped; its output goes to a log file shown
/// when the test fails.
pub struct ChildGuard {
    pub child: Child,
    pub log: PathBuf,
}

impl ChildGuard {
    pub fn spawn(mut cmd: Command, log: PathBuf) -> ChildGuard {
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        ChildGuard { child, log }
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `port` accepts connections (at most 15 s), or panics with the output.
    pub async fn wait_for_port(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the proxy exited ({status}):\n{}", self.output());
            }
            if Instant::now() > deadline {
                panic!(
                    "the proxy did not listen on {port} within 15 s:\n{}",
                    self.output()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The example's gateway configuration (`examples/<name>/tollgate.toml`) with local keys,
/// and an echo upstream for the proxy to send allowed requests to.
pub async fn example_setup(name: &str) -> (LocalKeys, Echo, tollgate_gateway::Config) {
    let keys = LocalKeys::new();
    let echo = Echo::start().await;
    let config =
        tollgate_gateway::Config::from_toml_str(&keys.adapt(&example(name, "tollgate.toml")))
            .unwrap();
    (keys, echo, config)
}

/// What every forward-auth example promises, asked through the proxy at `base`: a valid
/// token reaches the upstream with the identity headers (a forged copy replaced), bad or
/// missing tokens get 401 with the challenge, a missing scope 403, an anonymous route passes
/// without forged identity, and a client's own X-Forwarded-Uri changes nothing. Returns
/// (a token with the write scope, a token without it) for the proxy-specific checks.
pub async fn check_forward_auth(
    base: &str,
    keys: &LocalKeys,
    proxy: &ChildGuard,
) -> (String, String) {
    let http = client();
    // A valid token reaches the upstream with the identity headers; a forged one is replaced.
    let good = keys.token(json!({"scope": "orders.read orders.write"}));
    let r = http
        .post(format!("{base}/orders/42?x=1"))
        .header("Authorization", format!("Bearer {good}"))
        .header("X-Auth-Subject", "mallory")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", proxy.output());
    let seen = json_body(r).await;
    assert_eq!(seen["path"], "/orders/42?x=1");
    assert_eq!(seen["headers"]["x-auth-subject"], "alice");
    assert_eq!(seen["headers"]["x-auth-scope"], "orders.read orders.write");

    // A bad token: 401 with the RFC 6750 challenge.
    let expired = keys.token(json!({"exp": 1000}));
    let r = http
        .get(format!("{base}/orders/42"))
        .header("Authorization", format!("Bearer {expired}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let c = challenge(&r);
    assert!(
        c.contains("error=\"invalid_token\"") && c.contains("expired:"),
        "{c}"
    );

    // No token: 401 with a challenge.
    let r = http.get(format!("{base}/orders/42")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).starts_with("Bearer"), "{}", challenge(&r));

    // A valid token without the route's scope: 403, with the challenge copied by the config.
    let read_only = keys.token(json!({}));
    let r = http
        .delete(format!("{base}/orders/42"))
        .header("Authorization", format!("Bearer {read_only}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let c = challenge(&r);
    assert!(
        c.contains("insufficient_scope") && c.contains("scope=\"orders.write\""),
        "{c}"
    );

    // Anonymous route: passes without a token, and a forged identity header is removed.
    let r = http
        .get(format!("{base}/public/logo.png"))
        .header("X-Auth-Subject", "mallory")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = json_body(r).await;
    let forged = &seen["headers"]["x-auth-subject"];
    assert!(forged.is_null() || forged == "", "{seen}");

    // A client's own X-Forwarded-Uri cannot make a private URI look public.
    let r = http
        .delete(format!("{base}/orders/42"))
        .header("X-Forwarded-Uri", "/public/x")
        .header("X-Forwarded-Method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    (good, read_only)
}

/// DPoP through a forward-auth proxy at `base`: the proxy passes the `DPoP` header and the
/// scheme and host the client used, so a proof for `{base}/orders/42` passes; a replay, a
/// proof for another host (also with a client's own `X-Forwarded-Host`) and the bound token
/// sent as Bearer are refused with their codes and a `DPoP` challenge.
pub async fn check_dpop(base: &str, keys: &LocalKeys, proxy: &ChildGuard) {
    let http = client();
    let client_key = tollgate::SigningKey::generate(tollgate::Algorithm::ES256, "").unwrap();
    let jkt = tollgate::jwk::thumbprint_of(&client_key.public_jwk()).unwrap();
    let token = keys.token(json!({"cnf": {"jkt": jkt}, "scope": "orders.read orders.write"}));
    let proof = |method: &str, url: &str| {
        tollgate::dpop::make_proof(
            &client_key,
            method,
            url,
            Some(&token),
            tollgate::clock::unix_now(),
        )
        .unwrap()
    };
    let url = format!("{base}/orders/42");
    let first = proof("POST", &url);
    let r = http
        .post(format!("{url}?x=1"))
        .header("Authorization", format!("DPoP {token}"))
        .header("DPoP", &first)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", proxy.output());
    let seen = json_body(r).await;
    assert_eq!(seen["headers"]["x-auth-subject"], "alice");
    let other_host = proof("GET", "http://evil.example/orders/42");
    for (scheme, proof, forged_host, method, code) in [
        ("DPoP", first.clone(), None, "POST", "dpop_replayed"),
        ("DPoP", other_host.clone(), None, "GET", "dpop_htu_mismatch"),
        (
            "DPoP",
            other_host,
            Some("evil.example"),
            "GET",
            "dpop_htu_mismatch",
        ),
        (
            "DPoP",
            proof("GET", &url),
            None,
            "DELETE",
            "dpop_htm_mismatch",
        ),
        (
            "Bearer",
            proof("GET", &url),
            None,
            "GET",
            "dpop_bound_token_as_bearer",
        ),
    ] {
        let mut req = http
            .request(method.parse().unwrap(), &url)
            .header("Authorization", format!("{scheme} {token}"))
            .header("DPoP", proof);
        if let Some(host) = forged_host {
            req = req
                .header("X-Forwarded-Host", host)
                .header("X-Forwarded-Proto", "http")
                .header("X-Original-Host", host);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401, "{code}: {}", proxy.output());
        let c = challenge(&r);
        assert!(c.starts_with("DPoP realm="), "{code}: {c}");
        assert!(c.contains(&format!("error_description=\"{code}: ")), "{c}");
    }
}
