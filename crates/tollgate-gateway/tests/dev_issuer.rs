//! The gateway end to end against the dev issuer (discovery, JWKS over HTTP): the issue's
//! minimal configuration as written, every status and header, spoofed identity headers,
//! route rules, "cannot verify now", key rotation and JWKS failures while requests flow,
//! the verified-token cache expiring at `exp`, and graceful shutdown.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{challenge, client, error_code, json_body, Echo, ISS, TEST_TIMEOUT};
use serde_json::{json, Value};
use tollgate::FixedClock;
use tollgate_gateway::config::KeySource;
use tollgate_gateway::{validator_for, Config, Gateway, RunningGateway};
use tollgate_issuer::{DevIssuer, Fault, IssuerOptions, DISCOVERY_PATH};

/// The minimal configuration of issue 6, exactly as written there.
const MINIMAL: &str = r#"
listen = "127.0.0.1:8080"          # the gateway
admin_listen = "127.0.0.1:9090"    # /healthz, /readyz, /metrics, key cache view
upstream = "http://127.0.0.1:3000" # omit it: forward-auth only, at POST/GET /verify

[[issuer]]
issuer = "https://login.example.com/tenant/v2.0"  # discovery at {issuer}/.well-known/...
audiences = ["api://orders"]

[[route]]
path = "/public/"
anonymous = true

[[route]]
path = "/orders/"
methods = ["POST", "PUT", "PATCH", "DELETE"]
scopes = ["orders.write"]

[[route]]
path = "/"            # any valid token

[headers]
X-Auth-Subject = "sub"
X-Auth-Scope = "scope"
"#;

/// A dev issuer whose `iss` is the minimal configuration's issuer.
async fn issuer(opts: IssuerOptions) -> DevIssuer {
    DevIssuer::start(IssuerOptions {
        issuer: Some(ISS.into()),
        audience: "api://orders".into(),
        scopes: vec!["orders.read".into(), "orders.write".into()],
        ..opts
    })
    .await
    .unwrap()
}

/// The minimal configuration, parsed unchanged, then pointed at this machine: ephemeral
/// ports, the echo upstream (or none: forward-auth), and discovery at the dev issuer's
/// address (the issuer URL itself is not ours to serve).
fn minimal_config(issuer: &DevIssuer, upstream: Option<&Echo>) -> Config {
    let mut config = Config::from_toml_str(MINIMAL).unwrap();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = Some("127.0.0.1:0".parse().unwrap());
    config.upstream = upstream.map(|e| e.url().parse().unwrap());
    assert!(matches!(config.issuers[0].source, KeySource::Discovery));
    config.issuers[0].source = KeySource::DiscoveryUrl(format!(
        "http://{}/tenant/v2.0{DISCOVERY_PATH}",
        issuer.addr()
    ));
    config
}

async fn wait_ready(gw: &RunningGateway) {
    for _ in 0..500 {
        if gw.gateway().is_ready() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the gateway did not load the issuer's keys");
}

async fn get(url: String, token: Option<&str>) -> reqwest::Response {
    let mut r = client().get(url);
    if let Some(t) = token {
        r = r.header("Authorization", format!("Bearer {t}"));
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn the_minimal_configuration_works_as_written() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let idp = issuer(IssuerOptions::default()).await;
        let echo = Echo::start().await;
        let gw = Gateway::new(minimal_config(&idp, Some(&echo)))
            .unwrap()
            .serve()
            .await
            .unwrap();
        wait_ready(&gw).await;
        let base = gw.url();
        let http = client();

        // Any valid token on "/": the upstream sees the identity, not the forged copy.
        let r = http
            .get(format!("{base}/orders/42"))
            .header("Authorization", format!("Bearer {}", idp.token()))
            .header("X-Auth-Subject", "admin")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let seen = json_body(r).await;
        assert_eq!(seen["headers"]["x-auth-subject"], "dev-user");
        assert_eq!(seen["headers"]["x-auth-scope"], "orders.read orders.write");

        // Writes need orders.write.
        let read_only = idp.mint(json!({}), json!({"scope": "orders.read"}));
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            let r = http
                .request(method.parse().unwrap(), format!("{base}/orders/42"))
                .header("Authorization", format!("Bearer {read_only}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 403, "{method}");
            let c = challenge(&r);
            assert!(c.contains("error=\"insufficient_scope\"") && c.ends_with("scope=\"orders.write\""), "{c}");
        }
        let r = http
            .post(format!("{base}/orders/"))
            .header("Authorization", format!("Bearer {}", idp.token()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        // Reads of /orders/ fall through to "/": any valid token.
        assert_eq!(get(format!("{base}/orders/42"), Some(&read_only)).await.status(), 200);

        // Anonymous: no token needed; forged identity removed.
        let r = http
            .get(format!("{base}/public/index.html"))
            .header("X-Auth-Subject", "admin")
            .header("X-Auth-Scope", "orders.write")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let seen = json_body(r).await;
        assert!(seen["headers"].get("x-auth-subject").is_none(), "{seen}");
        assert!(seen["headers"].get("x-auth-scope").is_none(), "{seen}");

        // Each refusal with its status, challenge and code.
        let r = get(format!("{base}/orders/42"), None).await;
        assert_eq!((r.status().as_u16(), challenge(&r).as_str()), (401, "Bearer realm=\"tollgate\""));
        let now = tollgate::clock::unix_now();
        for (token, code) in [
            (idp.mint(json!({}), json!({"iat": now - 4000, "exp": now - 600})), "expired"),
            (idp.mint(json!({}), json!({"aud": "api://billing"})), "audience_mismatch"),
            (idp.mint(json!({"kid": "not-published"}), json!({})), "kid_not_found"),
            (idp.mint(json!({}), json!({"iss": "https://evil.example"})), "issuer_mismatch"),
            (idp.mint(json!({"alg": "none"}), json!({})), "unsecured_token"),
            ("abc.def".to_string(), "malformed_token"),
        ] {
            let r = get(format!("{base}/x"), Some(&token)).await;
            assert_eq!(r.status(), 401, "{code}");
            assert_eq!(error_code(&r), code);
            let c = challenge(&r);
            assert!(c.contains(&format!("error=\"invalid_token\", error_description=\"{code}: ")), "{c}");
            let body = json_body(r).await;
            assert_eq!(body["code"], code);
        }

        // The doctor's most likely cause is logged beside the code.
        let mut headers = http::HeaderMap::new();
        let wrong = idp.mint(json!({}), json!({"aud": "api://billing"}));
        headers.insert("authorization", format!("Bearer {wrong}").parse().unwrap());
        let d = gw.gateway().decider().decide(&http::Method::GET, "/x", &headers).await;
        assert_eq!((d.code, d.cause), ("audience_mismatch", Some("audience_other_api")));

        // Admin: health, readiness, metrics, key view.
        let admin = gw.admin_url().unwrap();
        assert_eq!(get(format!("{admin}/healthz"), None).await.status(), 200);
        assert_eq!(get(format!("{admin}/readyz"), None).await.status(), 200);
        let m = get(format!("{admin}/metrics"), None).await.text().await.unwrap();
        assert!(m.contains("tollgate_decisions_total{route=\"/orders/\",outcome=\"deny\",code=\"insufficient_scope\"} 4"), "{m}");
        assert!(m.contains(&format!("tollgate_key_fetches_total{{issuer=\"{ISS}\",result=\"ok\"}}")), "{m}");
        assert!(m.contains(&format!("tollgate_key_set_age_seconds{{issuer=\"{ISS}\"}}")), "{m}");
        assert!(m.contains("tollgate_token_cache_requests_total{result=\"hit\"}"), "{m}");
        let keys = json_body(get(format!("{admin}/keys"), None).await).await;
        assert_eq!(keys[0]["issuer"], ISS);
        assert_eq!(keys[0]["kids"][0], idp.current_kid());
        assert!(keys[0]["fetched_at"].is_i64(), "{keys}");

        gw.shutdown().await;
        echo.stop().await;
        idp.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn forward_auth_mode_of_the_minimal_configuration() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let idp = issuer(IssuerOptions::default()).await;
        let gw = Gateway::new(minimal_config(&idp, None))
            .unwrap()
            .serve()
            .await
            .unwrap();
        wait_ready(&gw).await;
        let verify = |method: &'static str, uri: &'static str, token: Option<String>| {
            let url = format!("{}/verify", gw.url());
            async move {
                let mut r = client()
                    .post(url)
                    .header("X-Forwarded-Method", method)
                    .header("X-Forwarded-Uri", uri);
                if let Some(t) = token {
                    r = r.header("Authorization", format!("Bearer {t}"));
                }
                r.send().await.unwrap()
            }
        };
        let r = verify("GET", "/orders/1", Some(idp.token())).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-auth-subject"], "dev-user");
        let r = verify(
            "DELETE",
            "/orders/1",
            Some(idp.mint(json!({}), json!({"scope": "orders.read"}))),
        )
        .await;
        assert_eq!(r.status(), 403);
        let r = verify(
            "GET",
            "/orders/1",
            Some(idp.mint(json!({}), json!({"exp": 1}))),
        )
        .await;
        assert_eq!(r.status(), 401);
        assert_eq!(verify("GET", "/public/a", None).await.status(), 200);
        assert_eq!(verify("GET", "/orders/1", None).await.status(), 401);
        // GET works too (nginx and Traefik ask with GET)
        let r = client()
            .get(format!("{}/verify", gw.url()))
            .header("X-Original-Method", "GET")
            .header("X-Original-URI", "/public/x")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        gw.shutdown().await;
        idp.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn cannot_verify_now_is_503_with_retry_after_or_as_configured() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let idp = issuer(IssuerOptions::default()).await;
        idp.set_fault(Fault::Status500);
        let mut config = minimal_config(&idp, None);
        config.issuers[0].cache.max_wait = std::time::Duration::from_secs(1);
        let gw = Gateway::new(config.clone()).unwrap().serve().await.unwrap();
        let admin = gw.admin_url().unwrap();
        assert_eq!(get(format!("{admin}/readyz"), None).await.status(), 503);
        let r = client()
            .get(format!("{}/verify", gw.url()))
            .header("X-Forwarded-Method", "GET")
            .header("X-Forwarded-Uri", "/x")
            .header("Authorization", format!("Bearer {}", idp.token()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "5");
        assert_eq!(error_code(&r), "keys_unavailable");
        let body = json_body(r).await;
        assert_eq!(body["error"], "temporarily_unavailable");
        let m = get(format!("{admin}/metrics"), None)
            .await
            .text()
            .await
            .unwrap();
        assert!(
            m.contains("outcome=\"unavailable\",code=\"keys_unavailable\"} 1"),
            "{m}"
        );
        assert!(
            m.contains(&format!("tollgate_issuer_ready{{issuer=\"{ISS}\"}} 0")),
            "{m}"
        );

        // Per proxy: this forward-auth request asks for 401 (what nginx passes on).
        let r = client()
            .get(format!("{}/verify?unavailable_status=401", gw.url()))
            .header("X-Forwarded-Method", "GET")
            .header("X-Forwarded-Uri", "/x")
            .header("Authorization", format!("Bearer {}", idp.token()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert!(r.headers().get("retry-after").is_none());
        gw.shutdown().await;

        // Or for every proxy, in the file: 401 instead of 503.
        config.unavailable_status = 401;
        let gw = Gateway::new(config).unwrap().serve().await.unwrap();
        let r = client()
            .get(format!("{}/verify", gw.url()))
            .header("X-Forwarded-Method", "GET")
            .header("X-Forwarded-Uri", "/x")
            .header("Authorization", format!("Bearer {}", idp.token()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert!(
            challenge(&r).contains("keys_unavailable: "),
            "{}",
            challenge(&r)
        );
        gw.shutdown().await;
        idp.shutdown().await;
    })
    .await
    .unwrap();
}

/// Requests with fresh tokens (so every one is validated, none served from the cache) from
/// several clients at once, until `stop`; returns (ok, failed) with the first failures.
async fn load(
    gw_url: String,
    idp: DevIssuer,
    stop: Arc<tokio::sync::Notify>,
    stopped: Arc<std::sync::atomic::AtomicBool>,
) -> (u64, u64, Vec<String>) {
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (url, idp, ok, failed, failures, stopped) = (
            gw_url.clone(),
            idp.clone(),
            ok.clone(),
            failed.clone(),
            failures.clone(),
            stopped.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let http = client();
            while !stopped.load(Ordering::SeqCst) {
                let r = http
                    .get(format!("{url}/verify"))
                    .header("X-Forwarded-Method", "GET")
                    .header("X-Forwarded-Uri", "/orders/1")
                    .header("Authorization", format!("Bearer {}", idp.token()))
                    .send()
                    .await
                    .unwrap();
                if r.status() == 200 {
                    ok.fetch_add(1, Ordering::SeqCst);
                } else {
                    failed.fetch_add(1, Ordering::SeqCst);
                    let mut f = failures.lock().unwrap();
                    if f.len() < 5 {
                        f.push(format!("{} {}", r.status(), error_code(&r)));
                    }
                }
            }
        }));
    }
    stop.notified().await;
    stopped.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    let f = failures.lock().unwrap().clone();
    (ok.load(Ordering::SeqCst), failed.load(Ordering::SeqCst), f)
}

#[tokio::test]
async fn key_rotation_while_requests_flow_fails_nothing() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let idp = issuer(IssuerOptions::default()).await;
        let mut config = minimal_config(&idp, None);
        config.issuers[0].cache.cooldown = std::time::Duration::from_secs(1);
        let gw = Gateway::new(config).unwrap().serve().await.unwrap();
        wait_ready(&gw).await;
        let stop = Arc::new(tokio::sync::Notify::new());
        let stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flow = tokio::spawn(load(gw.url(), idp.clone(), stop.clone(), stopped));
        let mut kids = vec![idp.current_kid()];
        for _ in 0..3 {
            // well past the 1 s cooldown (the key cache counts whole seconds), even on a loaded machine
            tokio::time::sleep(Duration::from_millis(2500)).await;
            kids.push(idp.rotate());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.notify_one();
        let (ok, failed, failures) = flow.await.unwrap();
        assert_eq!(failed, 0, "failures during rotation: {failures:?}");
        assert!(ok > 20, "only {ok} requests");
        let status = json_body(get(format!("{}/keys", gw.admin_url().unwrap()), None).await).await;
        let held: Vec<String> = serde_json::from_value(status[0]["kids"].clone()).unwrap();
        assert!(held.contains(kids.last().unwrap()), "{held:?} / {kids:?}");
        gw.shutdown().await;
        idp.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_failing_jwks_does_not_fail_requests_on_cached_keys() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        // The JWKS expires every second, so refreshes happen while the issuer fails.
        let idp = issuer(IssuerOptions {
            jwks_max_age: 1,
            ..IssuerOptions::default()
        })
        .await;
        let mut config = minimal_config(&idp, None);
        config.issuers[0].cache.min_ttl = std::time::Duration::from_secs(1);
        config.issuers[0].cache.max_wait = std::time::Duration::from_secs(1);
        let gw = Gateway::new(config).unwrap().serve().await.unwrap();
        wait_ready(&gw).await;
        for fault in [
            Fault::Status500,
            Fault::Garbage,
            Fault::EmptyKeys,
            Fault::Hang,
        ] {
            idp.set_fault(fault);
            let stop = Arc::new(tokio::sync::Notify::new());
            let stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let flow = tokio::spawn(load(gw.url(), idp.clone(), stop.clone(), stopped));
            tokio::time::sleep(Duration::from_millis(1500)).await;
            stop.notify_one();
            let (ok, failed, failures) = flow.await.unwrap();
            assert_eq!(failed, 0, "{fault:?}: {failures:?}");
            assert!(ok > 5, "{fault:?}: only {ok} requests");
        }
        let admin = gw.admin_url().unwrap();
        let keys = json_body(get(format!("{admin}/keys"), None).await).await;
        assert!(keys[0]["last_error"].is_string(), "{keys}");
        assert!(keys[0]["stale_since"].is_i64(), "{keys}");
        assert_eq!(
            get(format!("{admin}/readyz"), None).await.status(),
            200,
            "stale keys are still usable"
        );
        let m = get(format!("{admin}/metrics"), None)
            .await
            .text()
            .await
            .unwrap();
        let failed_line = m
            .lines()
            .find(|l| {
                l.starts_with("tollgate_key_fetches_total") && l.contains("result=\"failed\"")
            })
            .unwrap();
        assert!(!failed_line.ends_with(" 0"), "{failed_line}");
        idp.set_fault(Fault::None);
        gw.shutdown().await;
        idp.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn the_token_cache_expires_entries_at_exp() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let idp = issuer(IssuerOptions::default()).await;
        let mut config = minimal_config(&idp, None);
        config.issuers[0].policy.leeway = 0;
        let now = tollgate::clock::unix_now();
        let clock = Arc::new(FixedClock::new(now));
        let validator = validator_for(&config).unwrap().with_clock(clock.clone());
        let gw = Gateway::with_validator(config, Arc::new(validator), clock.clone())
            .serve()
            .await
            .unwrap();
        wait_ready(&gw).await;
        let token = idp.mint(json!({}), json!({"iat": now, "exp": now + 100}));
        let verify = || async {
            client()
                .get(format!("{}/verify", gw.url()))
                .header("X-Forwarded-Method", "GET")
                .header("X-Forwarded-Uri", "/x")
                .header("Authorization", format!("Bearer {token}"))
                .send()
                .await
                .unwrap()
        };
        let cache = gw.gateway().decider().cache();
        assert_eq!(verify().await.status(), 200);
        assert_eq!((cache.stats(), cache.len()), ((0, 1), 1));
        clock.set(now + 99);
        assert_eq!(verify().await.status(), 200);
        assert_eq!(cache.stats(), (1, 1), "the second request is a cache hit");
        clock.set(now + 100);
        let r = verify().await;
        assert_eq!(
            r.status(),
            401,
            "at exp: a miss, and validation says expired"
        );
        assert_eq!(error_code(&r), "expired");
        assert_eq!((cache.stats(), cache.len()), ((1, 2), 0));
        gw.shutdown().await;
        idp.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        // An upstream that takes 300 ms to answer.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let slow = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let app = axum::Router::new().fallback(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "slow answer"
            });
            let _ = axum::serve(listener, app).await;
        });
        let idp = issuer(IssuerOptions::default()).await;
        let mut config = minimal_config(&idp, None);
        config.upstream = Some(format!("http://{slow}").parse().unwrap());
        let gw = Gateway::new(config).unwrap().serve().await.unwrap();
        let url = format!("{}/public/x", gw.url());
        let in_flight = tokio::spawn(async move { client().get(url).send().await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let gw_url = gw.url();
        gw.shutdown().await;
        let r = in_flight.await.unwrap().unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "slow answer");
        assert!(
            client()
                .get(format!("{gw_url}/public/x"))
                .send()
                .await
                .is_err(),
            "closed after shutdown"
        );
        server.abort();
        idp.shutdown().await;
    })
    .await
    .unwrap();
}

#[test]
fn the_minimal_configuration_needs_no_change_to_parse() {
    let c = Config::from_toml_str(MINIMAL).unwrap();
    assert_eq!(c.issuers[0].issuer, ISS);
    let _: Value = json!(c.summary());
}
