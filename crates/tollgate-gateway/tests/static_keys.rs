//! The gateway end to end with a fixed key set (`jwks_file`): forward-auth statuses and
//! headers, reverse proxy, spoofed identity headers, route rules, and the verified-token
//! cache expiring at `exp` (clock injected).

mod common;

use std::sync::Arc;

use common::{
    challenge, client, error_code, json_body, Echo, LocalKeys, ANY_TOKEN, ISS, RULES, TEST_TIMEOUT,
};
use serde_json::{json, Value};
use tollgate::{jws, Algorithm, FixedClock, SigningKey};
use tollgate_gateway::{validator_for, Config, Gateway, RunningGateway};

struct Fixture(LocalKeys);

impl Fixture {
    fn new() -> Fixture {
        Fixture(LocalKeys::new())
    }

    /// A config like the minimal one, with an /admin/ route, on ephemeral ports,
    /// keys from the file.
    fn config(&self, upstream: Option<&str>) -> Config {
        let upstream = upstream
            .map(|u| format!("upstream = \"{u}\"\n"))
            .unwrap_or_default();
        self.0.config(&upstream, &format!("{RULES}{ANY_TOKEN}"))
    }

    fn token(&self, claims: Value) -> String {
        self.0.token(claims)
    }
}

async fn start(config: Config) -> RunningGateway {
    Gateway::new(config).unwrap().serve().await.unwrap()
}

async fn verify(
    gw: &RunningGateway,
    method: &str,
    uri: &str,
    token: Option<&str>,
) -> reqwest::Response {
    let mut req = client()
        .get(format!("{}/verify", gw.url()))
        .header("X-Forwarded-Method", method)
        .header("X-Forwarded-Uri", uri);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn forward_auth_answers_each_status_with_its_headers() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let f = Fixture::new();
        let gw = start(f.config(None)).await;
        let good = f.token(json!({"scope": "orders.read orders.write"}));

        // 200 with identity headers
        let r = verify(&gw, "GET", "/orders/42", Some(&good)).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-auth-subject"], "alice");
        assert_eq!(r.headers()["x-auth-scope"], "orders.read orders.write");

        // anonymous route: 200 without a token, no identity headers
        let r = verify(&gw, "GET", "/public/index.html?x=1", None).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["x-auth-subject"],
            "",
            "present and empty: copied over a forged one"
        );

        // missing token: 401 with a bare Bearer challenge (RFC 6750 section 3.1)
        let r = verify(&gw, "GET", "/orders/42", None).await;
        assert_eq!(r.status(), 401);
        assert_eq!(challenge(&r), "Bearer realm=\"tollgate\"");
        assert_eq!(error_code(&r), "missing_token");

        // expired: 401 invalid_token with the code in error_description
        let expired = f.token(json!({"exp": 1_000}));
        let r = verify(&gw, "GET", "/orders/42", Some(&expired)).await;
        assert_eq!(r.status(), 401);
        let c = challenge(&r);
        assert!(
            c.starts_with(
                "Bearer realm=\"tollgate\", error=\"invalid_token\", error_description=\"expired: "
            ),
            "{c}"
        );
        assert_eq!(error_code(&r), "expired");
        let body: Value = json_body(r).await;
        assert_eq!(body["code"], "expired");
        assert!(body["fix"].is_string());

        // wrong audience
        let r = verify(
            &gw,
            "GET",
            "/",
            Some(&f.token(json!({"aud": "api://other"}))),
        )
        .await;
        assert_eq!(r.status(), 401);
        assert_eq!(error_code(&r), "audience_mismatch");
        assert!(
            !challenge(&r).contains("\"api://other\""),
            "quotes inside the challenge are replaced"
        );

        // unknown kid
        let other = SigningKey::generate(Algorithm::ES256, "nope").unwrap();
        let t = jws::sign(
            &json!({"kid": "nope"}),
            &json!({"iss": ISS, "aud": "api://orders", "exp": 4_000_000_000u64}),
            &other,
        )
        .unwrap();
        let r = verify(&gw, "GET", "/", Some(&t)).await;
        assert_eq!(r.status(), 401);
        assert_eq!(error_code(&r), "kid_not_found");

        // garbage
        let r = verify(&gw, "GET", "/", Some("not-a-token")).await;
        assert_eq!(r.status(), 401);
        assert_eq!(error_code(&r), "malformed_token");

        // valid but not allowed: 403 insufficient_scope naming the scope
        let read_only = f.token(json!({}));
        let r = verify(&gw, "POST", "/orders/", Some(&read_only)).await;
        assert_eq!(r.status(), 403);
        let c = challenge(&r);
        assert!(c.contains("error=\"insufficient_scope\""), "{c}");
        assert!(c.contains("scope=\"orders.write\""), "{c}");
        assert_eq!(error_code(&r), "insufficient_scope");
        // same token, a method the scoped route does not cover: falls through to "/"
        let r = verify(&gw, "GET", "/orders/", Some(&read_only)).await;
        assert_eq!(r.status(), 200);
        // "/orders" without the slash is covered by "/orders/"
        let r = verify(&gw, "DELETE", "/orders", Some(&read_only)).await;
        assert_eq!(r.status(), 403);

        // roles
        let r = verify(&gw, "GET", "/admin/x", Some(&read_only)).await;
        assert_eq!(r.status(), 403);
        assert_eq!(error_code(&r), "insufficient_role");
        let admin = f.token(json!({"roles": ["admin"]}));
        assert_eq!(
            verify(&gw, "GET", "/admin/x", Some(&admin)).await.status(),
            200
        );

        // ambiguous paths are refused before any rule
        let r = verify(&gw, "GET", "/public/../orders/1", Some(&read_only)).await;
        assert_eq!(r.status(), 400);
        let r = verify(&gw, "GET", "/public/%2e%2e/admin/x", None).await;
        assert_eq!(r.status(), 400);

        // nginx's header names work too
        let r = client()
            .get(format!("{}/verify", gw.url()))
            .header("X-Original-Method", "POST")
            .header("X-Original-URI", "/orders/1")
            .header("Authorization", format!("Bearer {read_only}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);

        // a client-added X-Forwarded-Uri that disagrees with the proxy's X-Original-URI
        let r = client()
            .get(format!("{}/verify", gw.url()))
            .header("X-Original-URI", "/orders/1")
            .header("X-Forwarded-Uri", "/public/")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);

        // no original URI at all
        let r = client()
            .get(format!("{}/verify", gw.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);

        // metrics count decisions by code and route
        let m = common::metrics_text(&gw).await;
        assert!(
            m.contains("tollgate_decisions_total{route=\"/\",outcome=\"deny\",code=\"expired\"} 1"),
            "{m}"
        );
        assert!(m.contains("code=\"insufficient_scope\"} 3"), "{m}");
        assert!(
            m.contains("tollgate_decision_duration_seconds_count"),
            "{m}"
        );
        let ready = client()
            .get(format!("{}/readyz", gw.admin_url().unwrap()))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), 200);
        let keys: Value = json_body(
            client()
                .get(format!("{}/keys", gw.admin_url().unwrap()))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(keys[0]["kids"], json!(["k1"]));
        gw.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn reverse_proxy_forwards_identity_and_strips_spoofed_headers() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let f = Fixture::new();
        let echo = Echo::start().await;
        let gw = start(f.config(Some(&echo.url()))).await;
        let good = f.token(json!({}));

        let r = client()
            .post(format!("{}/things/1?q=2", gw.url()))
            .header("Authorization", format!("Bearer {good}"))
            .header("X-Auth-Subject", "mallory")
            .header("x-auth-scope", "orders.write")
            .header("X_Auth_Subject", "mallory")
            .header("X-Auth_Scope", "orders.write")
            .header("X_AUTH-SUBJECT", "mallory")
            .body("hello")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let seen: Value = json_body(r).await;
        assert_eq!(seen["path"], "/things/1?q=2");
        assert_eq!(seen["method"], "POST");
        assert_eq!(seen["body"], "hello");
        assert_eq!(seen["headers"]["x-auth-subject"], "alice");
        assert_eq!(seen["headers"]["x-auth-scope"], "orders.read");
        assert_eq!(seen["headers"]["x-forwarded-for"], "127.0.0.1");
        for spoofed in ["x_auth_subject", "x-auth_scope", "x_auth-subject"] {
            assert!(seen["headers"].get(spoofed).is_none(), "{spoofed}: {seen}");
        }

        // a large body streams through unchanged
        let big: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        let r = client()
            .put(format!("{}/upload", gw.url()))
            .header("Authorization", format!("Bearer {good}"))
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let seen: Value = json_body(r).await;
        assert_eq!(seen["body_len"], big.len());
        assert_eq!(
            seen["body_sha256"],
            tollgate::b64::encode(tollgate::sha256(&big))
        );

        // anonymous route: spoofed identity headers are removed, none added
        let r = client()
            .get(format!("{}/public/x", gw.url()))
            .header("X-Auth-Subject", "mallory")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let seen: Value = json_body(r).await;
        assert!(seen["headers"].get("x-auth-subject").is_none(), "{seen}");

        // a claim missing from the token: the spoofed header is still removed
        let no_scope = f.token(json!({"scope": null}));
        let r = client()
            .get(format!("{}/x", gw.url()))
            .header("Authorization", format!("Bearer {no_scope}"))
            .header("X-Auth-Scope", "orders.write")
            .send()
            .await
            .unwrap();
        let seen: Value = json_body(r).await;
        assert!(seen["headers"].get("x-auth-scope").is_none(), "{seen}");

        // refused requests never reach the upstream
        let r = client()
            .get(format!("{}/x", gw.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(challenge(&r), "Bearer realm=\"tollgate\"");

        // the upstream down: 502
        echo.stop().await;
        let r = client()
            .get(format!("{}/public/x", gw.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 502);
        gw.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn the_token_cache_serves_until_exp_and_not_after() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let f = Fixture::new();
        let config = f.config(None);
        let clock = Arc::new(FixedClock::new(1_000_000));
        let mut config = config;
        config.issuers[0].policy.leeway = 0;
        let validator = validator_for(&config).unwrap().with_clock(clock.clone());
        let gw = Gateway::with_validator(config, Arc::new(validator), clock.clone());
        let running = gw.serve().await.unwrap();
        let token = f.token(json!({"exp": 1_000_100}));

        assert_eq!(
            verify(&running, "GET", "/", Some(&token)).await.status(),
            200
        );
        let cache = running.gateway().decider().cache();
        assert_eq!(cache.stats(), (0, 1));
        clock.set(1_000_099);
        assert_eq!(
            verify(&running, "GET", "/", Some(&token)).await.status(),
            200
        );
        assert_eq!(cache.stats(), (1, 1), "served from the cache");
        clock.set(1_000_100);
        let r = verify(&running, "GET", "/", Some(&token)).await;
        assert_eq!(
            r.status(),
            401,
            "at exp the entry is gone and validation says expired"
        );
        assert_eq!(error_code(&r), "expired");
        assert_eq!(cache.stats(), (1, 2));
        assert_eq!(cache.len(), 0);
        running.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn the_cache_is_bounded_by_the_config() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let f = Fixture::new();
        let mut config = f.config(None);
        config.token_cache_entries = 32;
        let gw = start(config).await;
        for i in 0..200 {
            let t = f.token(json!({"jti": i}));
            assert_eq!(verify(&gw, "GET", "/", Some(&t)).await.status(), 200);
        }
        let cache = gw.gateway().decider().cache();
        assert!(
            cache.len() <= cache.capacity() && cache.capacity() <= 32,
            "{cache:?}"
        );
        gw.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn cached_tokens_respect_the_issuers_max_age() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let f = Fixture::new();
        let mut config = f.config(None);
        config.issuers[0].policy.leeway = 0;
        config.issuers[0].policy.max_age = Some(100);
        let clock = Arc::new(FixedClock::new(1_000_000));
        let validator = validator_for(&config).unwrap().with_clock(clock.clone());
        let running = Gateway::with_validator(config, Arc::new(validator), clock.clone())
            .serve()
            .await
            .unwrap();
        // issued 50 s ago, expires in 1000 s: too old after 50 more seconds
        let token = f.token(json!({"iat": 999_950, "exp": 1_001_000}));
        assert_eq!(
            verify(&running, "GET", "/", Some(&token)).await.status(),
            200
        );
        clock.set(1_000_049);
        assert_eq!(
            verify(&running, "GET", "/", Some(&token)).await.status(),
            200
        );
        let cache = running.gateway().decider().cache();
        assert_eq!(cache.stats(), (1, 1));
        clock.set(1_000_051);
        let r = verify(&running, "GET", "/", Some(&token)).await;
        assert_eq!(error_code(&r), "too_old");
        running.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_client_too_slow_to_send_its_headers_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tokio::time::timeout(TEST_TIMEOUT, async {
        let f = Fixture::new();
        let mut config = f.config(None);
        config.header_read_timeout = std::time::Duration::from_secs(1);
        let gw = start(config).await;
        let mut slow = tokio::net::TcpStream::connect(gw.addr()).await.unwrap();
        slow.write_all(b"GET /verify HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let mut buf = Vec::new();
        // The server closes the connection (possibly after a 408) instead of waiting forever.
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(15),
            slow.read_to_end(&mut buf),
        )
        .await;
        assert!(read.is_ok(), "still open after 15 s");
        assert!(started.elapsed() >= std::time::Duration::from_millis(900));
        // A normal client is served meanwhile and afterwards.
        let r = verify(&gw, "GET", "/public/x", None).await;
        assert_eq!(r.status(), 200);
        gw.shutdown().await;
    })
    .await
    .unwrap();
}

/// Finding 5 of the review: with the IdP's JWKS failing, clients hear only that the keys are
/// unavailable and when to retry; the fetch URL and the IdP's body reach the logs and the
/// admin `/keys` view only, whatever `expose_details` says.
#[tokio::test]
async fn idp_internals_never_reach_clients() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        use axum::http::StatusCode;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let idp = listener.local_addr().unwrap();
        let app = axum::Router::new().fallback(|| async {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal <b>error</b> secret-internal-hostname db01.corp:5432 stack trace",
            )
        });
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let keys = LocalKeys::new();
        for (upstream, status) in [(false, 503), (false, 401), (true, 503), (true, 401)] {
            let echo = Echo::start().await;
            let src = format!(
                "listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n{}expose_details = true\n[unavailable]\nstatus = {status}\n[[issuer]]\nissuer = \"{ISS}\"\njwks_uri = \"http://{idp}/jwks\"\naudiences = [\"api://orders\"]\n[issuer.cache]\nmax_wait = 1\n[[route]]\npath = \"/\"\n",
                if upstream {
                    format!("upstream = \"{}\"\n", echo.url())
                } else {
                    String::new()
                }
            );
            let gw = start(Config::from_toml_str(&src).unwrap()).await;
            let token = keys.token(json!({}));
            let r = if upstream {
                client().get(format!("{}/orders/1", gw.url()))
            } else {
                client()
                    .get(format!("{}/verify", gw.url()))
                    .header("X-Forwarded-Method", "GET")
                    .header("X-Forwarded-Uri", "/orders/1")
            }
            .header("Authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
            assert_eq!(r.status(), status);
            assert_eq!(error_code(&r), "keys_unavailable");
            let headers = format!("{:?}", r.headers());
            let body = r.text().await.unwrap();
            let seen = format!("{headers}\n{body}");
            for secret in ["secret-internal-hostname", "db01", "<b>", "/jwks", &idp.to_string(), "HTTP status 500"] {
                assert!(!seen.contains(secret), "{secret:?} reached the client: {seen}");
            }
            assert!(seen.contains("retry") || status == 401, "{seen}");
            // Operators still see what failed.
            let view = client()
                .get(format!("{}/keys", gw.admin_url().unwrap()))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(view.contains("/jwks"), "{view}");
            gw.shutdown().await;
            echo.stop().await;
        }
        server.abort();
    })
    .await
    .unwrap();
}
