//! DPoP (RFC 9449) and certificate-bound tokens (RFC 8705) through the gateway, in both
//! modes: each check valid and failing, `htu` from the request (reverse proxy, with and
//! without `public_url`) and from a trusted proxy's forwarded headers (forward-auth), the
//! client certificate honoured from trusted proxies only, and the Redis replay cache shared
//! by two replicas (a real `redis-server`), failing closed when Redis stops.

mod common;

use std::process::Command;
use std::time::Duration;

use common::proxies::{find_binary, free_port, ChildGuard};
use common::{challenge, client, error_code, json_body, Echo, LocalKeys, ANY_TOKEN, TEST_TIMEOUT};
use serde_json::json;
use tollgate::dpop::{access_token_hash, make_proof};
use tollgate::{clock::unix_now, jwk::thumbprint_of, jws, Algorithm, SigningKey};
use tollgate_gateway::{Gateway, RunningGateway};

/// Client certificates as nginx's `$ssl_client_escaped_cert` writes them.
const CLIENT_ESCAPED: &str = include_str!("../../tollgate/tests/fixtures/mtls/client.escaped");
const OTHER_ESCAPED: &str = include_str!("../../tollgate/tests/fixtures/mtls/other.escaped");

struct Client {
    key: SigningKey,
}

impl Client {
    fn new() -> Client {
        Client {
            key: SigningKey::generate(Algorithm::ES256, "client").unwrap(),
        }
    }
    fn jkt(&self) -> String {
        thumbprint_of(&self.key.public_jwk()).unwrap()
    }
    fn proof(&self, method: &str, url: &str, token: &str) -> String {
        make_proof(&self.key, method, url, Some(token), unix_now()).unwrap()
    }
    /// A proof with these claims replacing the usual ones.
    fn proof_with(
        &self,
        method: &str,
        url: &str,
        token: &str,
        claims: serde_json::Value,
    ) -> String {
        let mut jwk = self.key.public_jwk();
        jwk.as_object_mut().unwrap().remove("kid");
        let mut base = json!({"jti": format!("j{}", rand_id()), "htm": method, "htu": url,
            "iat": unix_now(), "ath": access_token_hash(token)});
        for (k, v) in claims.as_object().unwrap() {
            base[k] = v.clone();
        }
        jws::sign_raw(
            &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}),
            base.to_string().as_bytes(),
            &self.key,
        )
        .unwrap()
    }
}

fn rand_id() -> String {
    let mut b = [0u8; 8];
    tollgate::random_bytes(&mut b);
    tollgate::b64::encode(b)
}

fn cert_thumbprint(escaped: &str) -> String {
    let der =
        tollgate::binding::read_client_cert(escaped, tollgate::binding::CertFormat::EscapedPem)
            .unwrap();
    tollgate::binding::cert_thumbprint(&der)
}

async fn start(keys: &LocalKeys, top: &str, issuer_extra: &str) -> RunningGateway {
    let mut config = keys.config(top, ANY_TOKEN);
    // Per-issuer options go through the TOML like a user's.
    if !issuer_extra.is_empty() {
        let src = format!(
            "listen = \"127.0.0.1:0\"\nadmin_listen = \"\"\n{top}\n[[issuer]]\nissuer = \"{}\"\njwks_file = \"{}\"\naudiences = [\"api://orders\"]\n{issuer_extra}\n{ANY_TOKEN}",
            common::ISS,
            keys.jwks_path()
        );
        config = tollgate_gateway::Config::from_toml_str(&src).unwrap();
    }
    Gateway::new(config).unwrap().serve().await.unwrap()
}

/// Sends GET `url` through the gateway at `url` with `Authorization: <scheme> <token>` and
/// the given DPoP headers; returns (status, code, challenge).
async fn send(
    url: &str,
    scheme: &str,
    token: &str,
    proofs: &[&str],
    extra: &[(&str, &str)],
) -> (u16, String, String) {
    let mut req = client()
        .get(url)
        .header("Authorization", format!("{scheme} {token}"));
    for p in proofs {
        req = req.header("DPoP", *p);
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), error_code(&r), challenge(&r))
}

#[tokio::test]
async fn reverse_proxy_checks_each_part_of_the_proof() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let keys = LocalKeys::new();
        let echo = Echo::start().await;
        let gw = start(&keys, &format!("upstream = \"{}\"", echo.url()), "").await;
        let c = Client::new();
        let token = keys.token(json!({"cnf": {"jkt": c.jkt()}}));
        let url = format!("{}/orders/42", gw.url());

        // Valid: the upstream gets the request with the identity headers.
        let proof = c.proof("GET", &url, &token);
        let r = client()
            .get(format!("{url}?page=1"))
            .header("Authorization", format!("DPoP {token}"))
            .header("DPoP", &proof)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let seen = json_body(r).await;
        assert_eq!(seen["headers"]["x-auth-subject"], "alice");
        assert_eq!(seen["path"], "/orders/42?page=1");

        // Replayed: refused with the DPoP challenge.
        let (status, code, w) = send(&url, "DPoP", &token, &[&proof], &[]).await;
        assert_eq!((status, code.as_str()), (401, "dpop_replayed"));
        assert!(w.starts_with("DPoP realm=\"tollgate\", algs=\""), "{w}");
        assert!(w.contains("error=\"invalid_dpop_proof\""), "{w}");

        // Each way of failing, with its code.
        let other = Client::new();
        let cases: Vec<(&str, String, Vec<String>, &str)> = vec![
            (
                "bound token as Bearer",
                "Bearer".into(),
                vec![c.proof("GET", &url, &token)],
                "dpop_bound_token_as_bearer",
            ),
            ("no proof", "DPoP".into(), vec![], "dpop_proof_missing"),
            (
                "two proofs",
                "DPoP".into(),
                vec![c.proof("GET", &url, &token), c.proof("GET", &url, &token)],
                "dpop_proof_invalid",
            ),
            (
                "htm",
                "DPoP".into(),
                vec![c.proof("POST", &url, &token)],
                "dpop_htm_mismatch",
            ),
            (
                "htu host",
                "DPoP".into(),
                vec![c.proof("GET", "http://evil.example/orders/42", &token)],
                "dpop_htu_mismatch",
            ),
            (
                "htu path",
                "DPoP".into(),
                vec![c.proof("GET", &format!("{}/orders/43", gw.url()), &token)],
                "dpop_htu_mismatch",
            ),
            (
                "htu scheme",
                "DPoP".into(),
                vec![c.proof("GET", &url.replace("http://", "https://"), &token)],
                "dpop_htu_mismatch",
            ),
            (
                "ath",
                "DPoP".into(),
                vec![c.proof("GET", &url, "another token")],
                "dpop_ath_mismatch",
            ),
            (
                "iat past",
                "DPoP".into(),
                vec![c.proof_with("GET", &url, &token, json!({"iat": unix_now() - 3600}))],
                "dpop_iat_outside_window",
            ),
            (
                "iat future",
                "DPoP".into(),
                vec![c.proof_with("GET", &url, &token, json!({"iat": unix_now() + 3600}))],
                "dpop_iat_outside_window",
            ),
            (
                "other key",
                "DPoP".into(),
                vec![other.proof("GET", &url, &token)],
                "dpop_key_mismatch",
            ),
            (
                "not a proof",
                "DPoP".into(),
                vec!["x.y.z".into()],
                "dpop_proof_invalid",
            ),
        ];
        for (name, scheme, proofs, expected) in cases {
            let proofs: Vec<&str> = proofs.iter().map(String::as_str).collect();
            let (status, code, w) = send(&url, &scheme, &token, &proofs, &[]).await;
            assert_eq!((status, code.as_str()), (401, expected), "{name}");
            assert!(w.starts_with("DPoP "), "{name}: {w}");
        }
        // A client writes Host: one that is not host[:port] (a proof's path, then '#' or '?')
        // must not move this request's own path out of the URL compared with htu. An unused
        // proof for /orders/42, sent to /admin:
        let authority = gw.url().trim_start_matches("http://").to_string();
        let unused = c.proof("GET", &url, &token);
        for host in [
            format!("{authority}/orders/42#"),
            format!("{authority}/orders/42?"),
        ] {
            let admin = format!("{}/admin", gw.url());
            let (status, code, _) =
                send(&admin, "DPoP", &token, &[&unused], &[("Host", &host)]).await;
            assert_eq!(
                (status, code.as_str()),
                (401, "dpop_htu_mismatch"),
                "{host}"
            );
        }
        // Spelling variants of the same URL pass.
        let host_upper = url.replace("http://", "HTTP://");
        let (status, code, _) = send(
            &url,
            "DPoP",
            &token,
            &[&c.proof("GET", &host_upper, &token)],
            &[],
        )
        .await;
        assert_eq!((status, code.as_str()), (200, ""));

        // An unbound token keeps working as Bearer (dpop = "allowed", the default), and the
        // gateway ignores a DPoP header that comes with it.
        let plain = keys.token(json!({}));
        let (status, _, _) = send(&url, "Bearer", &plain, &["junk"], &[]).await;
        assert_eq!(status, 200);
        gw.shutdown().await;
        echo.stop().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn public_url_and_modes() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let keys = LocalKeys::new();
        let echo = Echo::start().await;
        let top = format!(
            "upstream = \"{}\"\npublic_url = \"https://API.example.com:443/\"",
            echo.url()
        );
        let gw = start(&keys, &top, "dpop = \"required\"").await;
        let c = Client::new();
        let token = keys.token(json!({"cnf": {"jkt": c.jkt()}}));
        let url = format!("{}/orders/42", gw.url());
        // The client signed the public URL, not the gateway's own address.
        let proof = c.proof("GET", "https://api.example.com/orders/42", &token);
        assert_eq!(send(&url, "DPoP", &token, &[&proof], &[]).await.0, 200);
        let proof = c.proof("GET", &url, &token);
        let (status, code, _) = send(&url, "DPoP", &token, &[&proof], &[]).await;
        assert_eq!((status, code.as_str()), (401, "dpop_htu_mismatch"));
        // dpop = "required": a plain bearer token is refused; no token gets a DPoP challenge.
        let plain = keys.token(json!({}));
        let (status, code, w) = send(&url, "Bearer", &plain, &[], &[]).await;
        assert_eq!((status, code.as_str()), (401, "dpop_required"));
        assert!(w.starts_with("DPoP "), "{w}");
        let r = client().get(&url).send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert!(
            challenge(&r).starts_with("DPoP realm=\"tollgate\", algs="),
            "{}",
            challenge(&r)
        );
        gw.shutdown().await;

        // dpop = "off": the DPoP scheme is refused.
        let gw = start(
            &keys,
            &format!("upstream = \"{}\"", echo.url()),
            "dpop = \"off\"",
        )
        .await;
        let url = format!("{}/orders/42", gw.url());
        let proof = c.proof("GET", &url, &token);
        let (status, code, _) = send(&url, "DPoP", &token, &[&proof], &[]).await;
        assert_eq!((status, code.as_str()), (401, "dpop_not_accepted"));
        gw.shutdown().await;
        echo.stop().await;
    })
    .await
    .unwrap();
}

#[test]
fn configuration_is_checked() {
    let keys = LocalKeys::new();
    let base = |top: &str, issuer: &str| {
        format!(
            "{top}\n[[issuer]]\nissuer = \"{}\"\njwks_file = \"{}\"\naudiences = [\"a\"]\n{issuer}\n[[route]]\npath = \"/\"\n",
            common::ISS,
            keys.jwks_path()
        )
    };
    let parse = |s: String| tollgate_gateway::Config::from_toml_str(&s);
    for (top, issuer, expected) in [
        ("", "dpop = \"sometimes\"", "dpop must be"),
        (
            "",
            "dpop_algorithms = [\"HS256\"]",
            "not an asymmetric algorithm",
        ),
        ("public_url = \"https://api.example.com/v1\"", "", "no path"),
        ("public_url = \"ftp://api.example.com\"", "", "public_url"),
        (
            "[client_cert]\nheader = \"X-SSL-Client-Cert\"\nformat = \"pem\"",
            "",
            "escaped_pem",
        ),
        (
            "[replay]\nredis = \"http://127.0.0.1:6379\"",
            "",
            "redis://",
        ),
        (
            "[replay]\nredis = \"rediss://127.0.0.1:6379\"",
            "",
            "TLS (rediss://) is not built in",
        ),
        (
            "[replay]\nmax_per_key = 0",
            "",
            "max_per_key must be at least 1",
        ),
    ] {
        let e = parse(base(top, issuer)).unwrap_err().to_string();
        assert!(e.contains(expected), "{top} {issuer}: {e}");
    }
    let c = parse(base(
        "public_url = \"https://API.example.com:443\"\n[client_cert]\nheader = \"X-Forwarded-Client-Cert\"\nformat = \"xfcc\"\n[replay]\nredis = \"redis://127.0.0.1:6379\"",
        "dpop = \"required\"\ndpop_algorithms = [\"ES256\", \"EdDSA\"]\ndpop_window = 30\ndpop_leeway = 2",
    ))
    .unwrap();
    assert_eq!(c.public_url.as_deref(), Some("https://api.example.com"));
    assert_eq!(c.issuers[0].dpop.mode, tollgate::dpop::DpopMode::Required);
    assert_eq!(c.issuers[0].dpop.window, 30);
    assert_eq!(c.replay.redis.as_deref(), Some("redis://127.0.0.1:6379"));
    assert_eq!(c.replay.max_per_key, tollgate::dpop::DEFAULT_MAX_PER_KEY);
    let c = parse(base("[replay]\nmax_per_key = 7", "")).unwrap();
    assert_eq!(c.replay.max_per_key, 7);
}

/// Forward-auth: a trusted proxy names method, URI, scheme and host.
async fn verify(
    gw: &RunningGateway,
    token: &str,
    proof: &str,
    forwarded: &[(&str, &str)],
) -> (u16, String, String) {
    let mut extra = vec![
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Uri", "/orders/42?x=1"),
    ];
    extra.extend_from_slice(forwarded);
    let proofs: Vec<&str> = if proof.is_empty() {
        vec![]
    } else {
        vec![proof]
    };
    send(
        &format!("{}/verify", gw.url()),
        "DPoP",
        token,
        &proofs,
        &extra,
    )
    .await
}

#[tokio::test]
async fn forward_auth_takes_the_url_from_the_trusted_proxy() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let keys = LocalKeys::new();
        let gw = start(&keys, "", "").await;
        let c = Client::new();
        let token = keys.token(json!({"cnf": {"jkt": c.jkt()}}));
        let public = "https://shop.example/orders/42";
        let fwd = [
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "shop.example"),
        ];
        assert_eq!(
            verify(&gw, &token, &c.proof("GET", public, &token), &fwd)
                .await
                .0,
            200
        );
        // nginx spelling.
        let nginx = [
            ("X-Original-Proto", "https"),
            ("X-Original-Host", "SHOP.example:443"),
        ];
        assert_eq!(
            verify(&gw, &token, &c.proof("GET", public, &token), &nginx)
                .await
                .0,
            200
        );
        // The proof names another host than the proxy says.
        let (status, code, _) = verify(
            &gw,
            &token,
            &c.proof("GET", "https://evil.example/orders/42", &token),
            &fwd,
        )
        .await;
        assert_eq!((status, code.as_str()), (401, "dpop_htu_mismatch"));
        // No scheme/host forwarded and no public_url: the URL cannot be told; refused.
        let (status, code, _) = verify(&gw, &token, &c.proof("GET", public, &token), &[]).await;
        assert_eq!((status, code.as_str()), (401, "dpop_htu_mismatch"));
        // Disagreeing spellings: refused rather than guessed.
        let both = [
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "shop.example"),
            ("X-Original-Host", "evil.example"),
        ];
        let (status, code, _) = verify(&gw, &token, &c.proof("GET", public, &token), &both).await;
        assert_eq!((status, code.as_str()), (401, "dpop_htu_mismatch"));
        // Each check answers with its code in this mode too.
        for (proof, expected) in [
            (c.proof("POST", public, &token), "dpop_htm_mismatch"),
            (c.proof("GET", public, "other"), "dpop_ath_mismatch"),
            (
                c.proof_with("GET", public, &token, json!({"iat": unix_now() - 3600})),
                "dpop_iat_outside_window",
            ),
            (
                Client::new().proof("GET", public, &token),
                "dpop_key_mismatch",
            ),
            (String::new(), "dpop_proof_missing"),
        ] {
            let (status, code, _) = verify(&gw, &token, &proof, &fwd).await;
            assert_eq!((status, code.as_str()), (401, expected));
        }
        let proof = c.proof("GET", public, &token);
        // No forwarded method: the subrequest's GET is not the client's method, so the
        // proof's htm cannot be checked; refused, and the proof is not spent.
        let (status, code, _) = send(
            &format!("{}/verify", gw.url()),
            "DPoP",
            &token,
            &[&proof],
            &[("X-Forwarded-Uri", "/orders/42"), fwd[0], fwd[1]],
        )
        .await;
        assert_eq!((status, code.as_str()), (400, "missing_original_method"));
        assert_eq!(verify(&gw, &token, &proof, &fwd).await.0, 200);
        let (status, code, _) = verify(&gw, &token, &proof, &fwd).await;
        assert_eq!((status, code.as_str()), (401, "dpop_replayed"));
        gw.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn certificate_bound_tokens_in_both_modes() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let keys = LocalKeys::new();
        let token = keys.token(json!({"cnf": {"x5t#S256": cert_thumbprint(CLIENT_ESCAPED)}}));
        let cert_header = "[client_cert]\nheader = \"X-SSL-Client-Cert\"";
        // Forward-auth (nginx $ssl_client_escaped_cert).
        let gw = start(&keys, cert_header, "").await;
        let url = format!("{}/verify", gw.url());
        let fa = |cert: String| {
            vec![
                ("X-Forwarded-Method".to_string(), "GET".to_string()),
                ("X-Forwarded-Uri".to_string(), "/orders/1".to_string()),
                ("X-SSL-Client-Cert".to_string(), cert),
            ]
        };
        for (cert, expected) in [
            (CLIENT_ESCAPED.to_string(), (200, "")),
            (OTHER_ESCAPED.to_string(), (401, "client_cert_mismatch")),
            ("".to_string(), (401, "client_cert_missing")),
            ("garbage".to_string(), (401, "client_cert_missing")),
        ] {
            let headers = fa(cert);
            let h: Vec<(&str, &str)> = headers
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            let (status, code, _) = send(&url, "Bearer", &token, &[], &h).await;
            assert_eq!((status, code.as_str()), expected);
        }
        gw.shutdown().await;

        // Reverse proxy behind Envoy (XFCC), and the same header from an untrusted peer.
        let echo = Echo::start().await;
        let xfcc = format!("Hash=x;Cert=\"{}\";Subject=\"CN=c\"", CLIENT_ESCAPED);
        let cert_table = "[client_cert]\nheader = \"X-Forwarded-Client-Cert\"\nformat = \"xfcc\"";
        let top = format!("upstream = \"{}\"\n{cert_table}", echo.url());
        let gw = start(&keys, &top, "").await;
        let url = format!("{}/orders/1", gw.url());
        let (status, _, _) = send(
            &url,
            "Bearer",
            &token,
            &[],
            &[("X-Forwarded-Client-Cert", &xfcc)],
        )
        .await;
        assert_eq!(status, 200);
        gw.shutdown().await;
        let untrusted = format!(
            "upstream = \"{}\"\ntrusted_proxies = [\"10.0.0.0/8\"]\n{cert_table}",
            echo.url()
        );
        let gw = start(&keys, &untrusted, "").await;
        let url = format!("{}/orders/1", gw.url());
        // An unbound token passes, and the client's certificate header never reaches the API.
        let r = client()
            .get(&url)
            .header("Authorization", format!("Bearer {}", keys.token(json!({}))))
            .header("X-Forwarded-Client-Cert", &xfcc)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(json_body(r).await["headers"]["x-forwarded-client-cert"].is_null());
        let r = client()
            .get(&url)
            .header("Authorization", format!("Bearer {token}"))
            .header("X-Forwarded-Client-Cert", &xfcc)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(error_code(&r), "client_cert_missing");
        let body = json_body(r).await;
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("trusted_proxies"),
            "{body}"
        );
        gw.shutdown().await;
        echo.stop().await;
    })
    .await
    .unwrap();
}

/// A `redis-server` on a free loopback port, in its own temp dir, saving nothing; stopped
/// by its own PID on drop.
struct Redis {
    guard: ChildGuard,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    async fn start() -> Option<Redis> {
        let bin = find_binary("redis-server", true)?;
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cmd = Command::new(bin);
        cmd.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
        ])
        .arg(dir.path());
        let mut guard = ChildGuard::spawn(cmd, dir.path().join("redis.log"));
        guard.wait_for_port(port).await;
        Some(Redis {
            guard,
            port,
            _dir: dir,
        })
    }
    fn stop(&mut self) {
        let _ = self.guard.child.kill();
        let _ = self.guard.child.wait();
    }
}

#[tokio::test]
async fn replicas_share_the_replay_cache_through_redis() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let Some(mut redis) = Redis::start().await else { return };
        let keys = LocalKeys::new();
        let echo = Echo::start().await;
        let top = format!(
            "upstream = \"{}\"\npublic_url = \"https://api.example.com\"\n[replay]\nredis = \"redis://127.0.0.1:{}\"\ntimeout_ms = 300",
            echo.url(),
            redis.port
        );
        let one = start(&keys, &top, "").await;
        let two = start(&keys, &top, "").await;
        let c = Client::new();
        let token = keys.token(json!({"cnf": {"jkt": c.jkt()}}));
        let proof = c.proof("GET", "https://api.example.com/orders/42", &token);
        let (status, _, _) = send(&format!("{}/orders/42", one.url()), "DPoP", &token, &[&proof], &[]).await;
        assert_eq!(status, 200, "{}", redis.guard.output());
        // The same proof at the other replica: refused.
        let (status, code, _) = send(&format!("{}/orders/42", two.url()), "DPoP", &token, &[&proof], &[]).await;
        assert_eq!((status, code.as_str()), (401, "dpop_replayed"));
        // A fresh proof passes at the second replica.
        let fresh = c.proof("GET", "https://api.example.com/orders/42", &token);
        assert_eq!(send(&format!("{}/orders/42", two.url()), "DPoP", &token, &[&fresh], &[]).await.0, 200);

        // The script is run by its SHA-1; when Redis forgets it (a restart, SCRIPT FLUSH),
        // the next request loads it again: proofs are still recorded and replays refused.
        let admin = redis::Client::open(format!("redis://127.0.0.1:{}", redis.port)).unwrap();
        let mut admin = admin.get_multiplexed_async_connection().await.unwrap();
        let stats: String = redis::cmd("INFO").arg("commandstats").query_async(&mut admin).await.unwrap();
        assert!(stats.contains("cmdstat_evalsha:calls=3"), "{stats}");
        let () = redis::cmd("SCRIPT").arg("FLUSH").query_async(&mut admin).await.unwrap();
        let after_flush = c.proof("GET", "https://api.example.com/orders/42", &token);
        assert_eq!(send(&format!("{}/orders/42", one.url()), "DPoP", &token, &[&after_flush], &[]).await.0, 200);
        let (status, code, _) = send(&format!("{}/orders/42", two.url()), "DPoP", &token, &[&after_flush], &[]).await;
        assert_eq!((status, code.as_str()), (401, "dpop_replayed"));
        let stats: String = redis::cmd("INFO").arg("commandstats").query_async(&mut admin).await.unwrap();
        // The first replica's EVALSHA failed and its EVAL loaded the script again, for
        // both replicas (same SHA-1).
        let line = |name: &str| {
            let prefix = format!("cmdstat_{name}:");
            stats.lines().find(|l| l.starts_with(&prefix)).unwrap_or_default().to_string()
        };
        assert!(line("eval").starts_with("cmdstat_eval:calls=1,"), "{stats}");
        let evalsha = line("evalsha");
        assert!(evalsha.starts_with("cmdstat_evalsha:calls=5,") && evalsha.ends_with("failed_calls=1"), "{stats}");

        // Redis stops: "cannot verify now", never an allow.
        redis.stop();
        let fresh = c.proof("GET", "https://api.example.com/orders/42", &token);
        let r = client()
            .get(format!("{}/orders/42", one.url()))
            .header("Authorization", format!("DPoP {token}"))
            .header("DPoP", &fresh)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 503);
        assert_eq!(error_code(&r), "replay_cache_unavailable");
        assert!(r.headers().get("retry-after").is_some());
        let body = json_body(r).await;
        assert!(body["error_description"].as_str().unwrap().contains("cannot verify now"), "{body}");
        // Bearer tokens do not need the replay cache.
        let plain = keys.token(json!({}));
        let (status, _, _) = send(&format!("{}/orders/42", two.url()), "Bearer", &plain, &[], &[]).await;
        assert_eq!(status, 200);
        one.shutdown().await;
        two.shutdown().await;
        echo.stop().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    })
    .await
    .unwrap();
}

/// GET `url` with `Authorization: DPoP <token>` and one proof; the whole response.
async fn dpop_get(url: &str, token: &str, proof: &str) -> reqwest::Response {
    client()
        .get(url)
        .header("Authorization", format!("DPoP {token}"))
        .header("DPoP", proof)
        .send()
        .await
        .unwrap()
}

/// The answer to a client over its quota: 429 `dpop_key_over_quota`, `Retry-After` within
/// the 70 s a proof is kept, no challenge, a body that names the code and no proof.
async fn assert_over_quota(r: reqwest::Response, proof: &str) {
    assert_eq!(r.status(), 429);
    assert_eq!(error_code(&r), "dpop_key_over_quota");
    assert_eq!(challenge(&r), "");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=70).contains(&retry), "{retry}");
    let body = json_body(r).await;
    assert_eq!(body["error"], "too_many_requests");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.starts_with("dpop_key_over_quota: "), "{body}");
    assert!(!body.to_string().contains(proof));
}

/// One client flooding with fresh proofs fills only its own quota (`[replay] max_per_key`):
/// it gets 429 `dpop_key_over_quota`, while a second client (another key) keeps being
/// served, in both modes. The global bound still answers "cannot verify now" when the cache
/// is full of live proofs from clients within their quota.
#[tokio::test]
async fn a_client_over_its_quota_does_not_lock_out_the_others() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let keys = LocalKeys::new();
        let echo = Echo::start().await;
        let top = format!(
            "upstream = \"{}\"\npublic_url = \"https://api.example.com\"\n[replay]\nmax_entries = 7\nmax_per_key = 3",
            echo.url()
        );
        let gw = start(&keys, &top, "").await;
        let url = format!("{}/orders/42", gw.url());
        let public = "https://api.example.com/orders/42";
        let flood = Client::new();
        let flood_token = keys.token(json!({"cnf": {"jkt": flood.jkt()}}));
        let mut statuses = Vec::new();
        let mut accepted = Vec::new();
        for _ in 0..10 {
            let proof = flood.proof("GET", public, &flood_token);
            let r = dpop_get(&url, &flood_token, &proof).await;
            statuses.push(r.status().as_u16());
            if r.status() == 429 {
                assert_over_quota(r, &proof).await;
            } else {
                accepted.push(proof);
            }
        }
        assert_eq!(statuses, [200, 200, 200, 429, 429, 429, 429, 429, 429, 429]);
        // A proof it already used is still a replay.
        let r = dpop_get(&url, &flood_token, &accepted[0]).await;
        assert_eq!((r.status().as_u16(), error_code(&r).as_str()), (401, "dpop_replayed"));

        // Another client is served, up to its own quota.
        let other = Client::new();
        let other_token = keys.token(json!({"cnf": {"jkt": other.jkt()}}));
        for _ in 0..3 {
            let proof = other.proof("GET", public, &other_token);
            assert_eq!(dpop_get(&url, &other_token, &proof).await.status(), 200);
        }
        // Bearer tokens never touch the replay cache.
        let (status, _, _) = send(&url, "Bearer", &keys.token(json!({})), &[], &[]).await;
        assert_eq!(status, 200);
        // Six live proofs of seven: a third client gets the last one, then the cache is
        // full of live proofs and fails closed for a fourth (never forgets a live proof).
        let third = Client::new();
        let third_token = keys.token(json!({"cnf": {"jkt": third.jkt()}}));
        let proof = third.proof("GET", public, &third_token);
        assert_eq!(dpop_get(&url, &third_token, &proof).await.status(), 200);
        let fourth = Client::new();
        let fourth_token = keys.token(json!({"cnf": {"jkt": fourth.jkt()}}));
        let proof = fourth.proof("GET", public, &fourth_token);
        let r = dpop_get(&url, &fourth_token, &proof).await;
        assert_eq!((r.status().as_u16(), error_code(&r).as_str()), (503, "replay_cache_unavailable"));
        gw.shutdown().await;

        // Forward-auth: the same answer reaches the proxy.
        let gw = start(&keys, "public_url = \"https://api.example.com\"\n[replay]\nmax_per_key = 1", "").await;
        let fwd = [("X-Forwarded-Method", "GET"), ("X-Forwarded-Uri", "/orders/42")];
        let verify_url = format!("{}/verify", gw.url());
        let forward = |token: String, proof: String| {
            let verify_url = verify_url.clone();
            async move {
                let mut req = client()
                    .get(&verify_url)
                    .header("Authorization", format!("DPoP {token}"))
                    .header("DPoP", &proof);
                for (k, v) in fwd {
                    req = req.header(k, v);
                }
                req.send().await.unwrap()
            }
        };
        let first = flood.proof("GET", public, &flood_token);
        assert_eq!(forward(flood_token.clone(), first).await.status(), 200);
        let second = flood.proof("GET", public, &flood_token);
        assert_over_quota(forward(flood_token.clone(), second.clone()).await, &second).await;
        let proof = other.proof("GET", public, &other_token);
        assert_eq!(forward(other_token.clone(), proof).await.status(), 200);
        gw.shutdown().await;
        echo.stop().await;
    })
    .await
    .unwrap();
}

/// The quota holds across replicas sharing Redis: proofs of one key accepted by either
/// replica count towards it, the key over quota is refused by both while another key is
/// served, and Redis holds no more than the quota for the flooding key, each entry
/// expiring with its proof.
#[tokio::test]
async fn the_quota_holds_across_replicas_through_redis() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let Some(redis) = Redis::start().await else { return };
        let keys = LocalKeys::new();
        let echo = Echo::start().await;
        let top = format!(
            "upstream = \"{}\"\npublic_url = \"https://api.example.com\"\n[replay]\nredis = \"redis://127.0.0.1:{}\"\ntimeout_ms = 300\nmax_per_key = 2",
            echo.url(),
            redis.port
        );
        let one = start(&keys, &top, "").await;
        let two = start(&keys, &top, "").await;
        let public = "https://api.example.com/orders/42";
        let at = |gw: &RunningGateway| format!("{}/orders/42", gw.url());
        let flood = Client::new();
        let token = keys.token(json!({"cnf": {"jkt": flood.jkt()}}));
        let first = flood.proof("GET", public, &token);
        let r = dpop_get(&at(&one), &token, &first).await;
        assert_eq!(r.status(), 200, "{}", redis.guard.output());
        assert_eq!(dpop_get(&at(&two), &token, &flood.proof("GET", public, &token)).await.status(), 200);
        for gw in [&one, &two, &one, &two] {
            let proof = flood.proof("GET", public, &token);
            assert_over_quota(dpop_get(&at(gw), &token, &proof).await, &proof).await;
        }
        // A replay is still a replay, at either replica.
        let r = dpop_get(&at(&two), &token, &first).await;
        assert_eq!((r.status().as_u16(), error_code(&r).as_str()), (401, "dpop_replayed"));
        // Another client is served by both.
        let other = Client::new();
        let other_token = keys.token(json!({"cnf": {"jkt": other.jkt()}}));
        for gw in [&one, &two] {
            let proof = other.proof("GET", public, &other_token);
            assert_eq!(dpop_get(&at(gw), &other_token, &proof).await.status(), 200);
        }

        // In Redis: the flooding key's set holds its two live proofs, no more, and expires
        // with them (within the 70 s a proof is kept).
        let client = redis::Client::open(format!("redis://127.0.0.1:{}", redis.port)).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let set = format!("tollgate:dpop:jkt:{}", flood.jkt());
        let live: usize = redis::cmd("ZCARD").arg(&set).query_async(&mut c).await.unwrap();
        assert_eq!(live, 2);
        let ttl: i64 = redis::cmd("PTTL").arg(&set).query_async(&mut c).await.unwrap();
        assert!((1..=70_000).contains(&ttl), "{ttl}");
        let keys_held: Vec<String> = redis::cmd("KEYS").arg("tollgate:dpop:*").query_async(&mut c).await.unwrap();
        // Four proofs (two per client) and two sets.
        assert_eq!(keys_held.len(), 6, "{keys_held:?}");
        one.shutdown().await;
        two.shutdown().await;
        echo.stop().await;
    })
    .await
    .unwrap();
}
