//! `tollgate serve` with opaque tokens: `[issuer.introspection]` against the dev issuer's
//! real `/introspect` and `/revoke`. Active, inactive, revoked (refused once the answer is
//! older than `max_ttl`, not before), expired, wrong audience; a token cached on a route
//! needing scope A still gets 403 on a route needing scope B; endpoint down or slow is 503
//! (bounded wait), never an allow; concurrent requests for one token cause one call;
//! metrics and `/keys` show introspection without the secret.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{client, error_code, metrics_text, TEST_TIMEOUT};
use serde_json::json;
use tollgate::FixedClock;
use tollgate_gateway::{validator_for, Config, Gateway, RunningGateway};
use tollgate_issuer::{DevIssuer, Fault, IssuerOptions};

const SECRET: &str = "dev-secret";

struct Setup {
    idp: DevIssuer,
    gw: RunningGateway,
    clock: Arc<FixedClock>,
    _dir: tempfile::TempDir,
}

fn toml(idp: &DevIssuer, secret_file: &str, extra: &str) -> String {
    format!(
        r#"
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"

[[issuer]]
issuer = "{iss}"
jwks_uri = "{jwks}"
audiences = ["api://default"]

[issuer.introspection]
endpoint = "{endpoint}"
client_id = "dev"
client_secret_file = "{secret_file}"
{extra}

[[route]]
path = "/read/"
scopes = ["read"]

[[route]]
path = "/write/"
scopes = ["write"]

[[route]]
path = "/"

[headers]
X-Auth-Subject = "sub"
X-Auth-Scope = "scope"
X-Auth-Client = "client_id"
"#,
        iss = idp.url(),
        jwks = idp.jwks_url(),
        endpoint = idp.introspection_endpoint(),
    )
}

async fn setup(extra: &str) -> Setup {
    let idp = DevIssuer::start(IssuerOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("introspection-secret");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let config = Config::from_toml_str(&toml(&idp, file.to_str().unwrap(), extra)).unwrap();
    let clock = Arc::new(FixedClock::new(tollgate::clock::unix_now()));
    let validator = validator_for(&config).unwrap().with_clock(clock.clone());
    let gw = Gateway::with_validator(config, Arc::new(validator), clock.clone())
        .serve()
        .await
        .unwrap();
    Setup {
        idp,
        gw,
        clock,
        _dir: dir,
    }
}

async fn verify(gw: &RunningGateway, path: &str, token: &str) -> reqwest::Response {
    client()
        .get(format!("{}/verify", gw.url()))
        .header("X-Forwarded-Method", "GET")
        .header("X-Forwarded-Uri", path)
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn opaque_tokens_pass_the_same_rules_and_headers_as_jwts() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let s = setup("").await;
        let token = s.idp.opaque_token(json!({"scope": "read", "sub": "alice"}));
        let r = verify(&s.gw, "/read/x", &token).await;
        assert_eq!(r.status(), 200, "{}", error_code(&r));
        assert_eq!(r.headers()["x-auth-subject"], "alice");
        assert_eq!(r.headers()["x-auth-scope"], "read");
        assert_eq!(r.headers()["x-auth-client"], "dev");
        // The same (cached) token on a route needing another scope: 403, decided again.
        let r = verify(&s.gw, "/write/x", &token).await;
        assert_eq!(r.status(), 403);
        assert_eq!(error_code(&r), "insufficient_scope");
        assert_eq!(verify(&s.gw, "/read/y", &token).await.status(), 200);
        assert_eq!(
            s.idp.introspection_requests(),
            1,
            "one call for three requests"
        );
        // A token of this issuer for another API: refused by the same policy as a JWT.
        let other = s.idp.opaque_token(json!({"aud": "api://other"}));
        let r = verify(&s.gw, "/x", &other).await;
        assert_eq!(
            (r.status().as_u16(), error_code(&r)),
            (401, "audience_mismatch".into())
        );
        // Unknown and expired: inactive, 401 invalid_token.
        let r = verify(&s.gw, "/x", "tgo_not-a-token-of-this-issuer").await;
        assert_eq!(
            (r.status().as_u16(), error_code(&r)),
            (401, "token_inactive".into())
        );
        assert!(common::challenge(&r).contains("invalid_token"));
        let expired = s
            .idp
            .opaque_token(json!({"exp": tollgate::clock::unix_now() - 5}));
        let r = verify(&s.gw, "/x", &expired).await;
        assert_eq!(
            (r.status().as_u16(), error_code(&r)),
            (401, "token_inactive".into())
        );
        // JWTs still work as before, with no introspection.
        let before = s.idp.introspection_requests();
        assert_eq!(verify(&s.gw, "/x", &s.idp.token()).await.status(), 200);
        assert_eq!(s.idp.introspection_requests(), before);

        // Metrics by issuer and result; /keys shows the state, never the secret.
        let m = metrics_text(&s.gw).await;
        let iss = s.idp.url();
        for line in [
            format!("tollgate_introspection_calls_total{{issuer=\"{iss}\",result=\"active\"}} 2"),
            format!("tollgate_introspection_calls_total{{issuer=\"{iss}\",result=\"inactive\"}} 2"),
            format!("tollgate_introspection_calls_total{{issuer=\"{iss}\",result=\"failed\"}} 0"),
        ] {
            assert!(m.contains(&line), "{line} not in\n{m}");
        }
        assert!(
            m.contains("tollgate_introspection_call_seconds_total{"),
            "{m}"
        );
        assert!(m.contains("code=\"token_inactive\"} 2"), "{m}");
        let keys = common::admin_text(&s.gw, "/keys").await;
        let v: serde_json::Value = serde_json::from_str(&keys).unwrap();
        assert_eq!(
            v[0]["introspection"]["endpoint"],
            s.idp.introspection_endpoint()
        );
        assert_eq!(v[0]["introspection"]["client_id"], "dev");
        assert_eq!(v[0]["introspection"]["auth"], "client_secret_basic");
        assert!(!keys.contains(SECRET), "{keys}");
        assert!(!keys.contains(&token), "{keys}");
        assert!(!s.gw.gateway().config().summary().contains(SECRET));
        assert!(s.gw.gateway().config().summary().contains("introspection:"));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_revoked_token_is_refused_within_the_cache_time() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let s = setup("max_ttl = 60").await;
        let token = s.idp.opaque_token(json!({}));
        assert_eq!(verify(&s.gw, "/x", &token).await.status(), 200);
        // Revoked through the real RFC 7009 endpoint, client-authenticated.
        let r = client()
            .post(s.idp.revocation_endpoint())
            .basic_auth("dev", Some(SECRET))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("token={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        // Within max_ttl the answer (and the gateway's cache) still hold it...
        s.clock.advance(59);
        assert_eq!(verify(&s.gw, "/x", &token).await.status(), 200);
        assert_eq!(s.idp.introspection_requests(), 1);
        // ...and no longer: asked again, refused.
        s.clock.advance(1);
        let r = verify(&s.gw, "/x", &token).await;
        assert_eq!(
            (r.status().as_u16(), error_code(&r)),
            (401, "token_inactive".into())
        );
        assert_eq!(s.idp.introspection_requests(), 2);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn concurrent_requests_for_one_token_cause_one_introspection() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let s = setup("").await;
        let token = s.idp.opaque_token(json!({}));
        s.idp.set_fault(Fault::Hang);
        // Twenty requests at once, while the answer is held back; then it is released.
        let requests = futures::future::join_all((0..20).map(|_| verify(&s.gw, "/x", &token)));
        let release = async {
            for _ in 0..500 {
                if s.idp.introspection_requests() >= 1 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            s.idp.set_fault(Fault::None);
        };
        let (answers, ()) = tokio::join!(requests, release);
        for r in answers {
            assert_eq!(r.status(), 200);
        }
        assert_eq!(s.idp.introspection_requests(), 1);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_down_or_slow_endpoint_is_503_never_an_allow() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let s = setup("timeout = 1").await;
        let token = s.idp.opaque_token(json!({}));
        // Slow: the request waits at most the timeout, then "cannot verify now".
        s.idp.set_fault(Fault::Hang);
        let r = verify(&s.gw, "/x", &token).await;
        assert_eq!(r.status(), 503);
        assert_eq!(error_code(&r), "introspection_unavailable");
        assert!(r.headers().contains_key("retry-after"));
        // Failing with 500.
        s.idp.set_fault(Fault::Status500);
        let r = verify(&s.gw, "/x", &token).await;
        assert_eq!(
            (r.status().as_u16(), error_code(&r)),
            (503, "introspection_unavailable".into())
        );
        // A malformed answer: 503 too.
        s.idp.set_fault(Fault::Garbage);
        let r = verify(&s.gw, "/x", &token).await;
        assert_eq!(
            (r.status().as_u16(), error_code(&r)),
            (503, "introspection_malformed".into())
        );
        let m = metrics_text(&s.gw).await;
        assert!(
            m.contains("outcome=\"unavailable\",code=\"introspection_unavailable\"} 2"),
            "{m}"
        );
        assert!(m.contains("result=\"malformed\"} 1"), "{m}");
        // Down: the issuer is gone.
        s.idp.set_fault(Fault::None);
        let idp = s.idp.clone();
        idp.shutdown().await;
        let r = verify(&s.gw, "/x", &token).await;
        assert_eq!(
            (r.status().as_u16(), error_code(&r)),
            (503, "introspection_unavailable".into())
        );
    })
    .await
    .unwrap();
}

#[test]
fn configuration_mistakes_are_named() {
    let base = |intro: &str| {
        format!(
            "[[issuer]]\nissuer = \"https://idp.example/\"\naudiences = [\"a\"]\n[issuer.introspection]\n{intro}\n[[route]]\npath = \"/\"\n"
        )
    };
    let err = |intro: &str| Config::from_toml_str(&base(intro)).unwrap_err().to_string();
    let e = err("client_id = \"api\"\nclient_secret = \"hunter2\"");
    assert!(
        e.contains("client_secret_file") && !e.contains("hunter2"),
        "{e}"
    );
    let e = err("client_id = \"api\"");
    assert!(e.contains("exactly one of"), "{e}");
    let e = err("client_id = \"api\"\nclient_secret_env = \"TOLLGATE_SURELY_UNSET_VAR\"");
    assert!(e.contains("TOLLGATE_SURELY_UNSET_VAR"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s");
    std::fs::write(&file, "x").unwrap();
    let with_file = format!(
        "client_id = \"api\"\nclient_secret_file = {:?}",
        file.to_str().unwrap()
    );
    let e = err(&format!(
        "{with_file}\nendpoint = \"http://idp.example/introspect\""
    ));
    assert!(e.contains("https"), "{e}");
    let e = err(&format!("{with_file}\nauth = \"private_key_jwt\""));
    assert!(e.contains("client_secret_post"), "{e}");
    let e = err(&format!("{with_file}\nmax_tl = 5"));
    assert!(e.contains("max_ttl"), "{e}");
    let ok = Config::from_toml_str(&base(&format!(
        "{with_file}\nauth = \"client_secret_post\"\ntoken_prefix = \"tgo_\"\njwt_answers = true"
    )))
    .unwrap();
    let o = ok.issuers[0].introspection.as_ref().unwrap();
    assert_eq!(
        (
            o.client_id.as_str(),
            o.token_prefix.as_deref(),
            o.jwt_answers
        ),
        ("api", Some("tgo_"), true)
    );
}
