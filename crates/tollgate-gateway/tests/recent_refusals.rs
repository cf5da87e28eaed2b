//! The gateway's recent refusals and its doctor page (issue 16): the admin listener keeps
//! the last N refused requests (header and claims, never the signature or the token),
//! lists them at `/doctor/api/refusals` and opens each as the doctor's report; the page's
//! expectations are prefilled from the `[[issuer]]`s; `recent_refusals = 0` keeps nothing;
//! the page answers only requests naming the admin listener, from no other origin.

mod common;

use std::time::Duration;

use common::{client, json_body, TEST_TIMEOUT};
use serde_json::{json, Value};
use tollgate_gateway::config::KeySource;
use tollgate_gateway::{Config, Gateway, RunningGateway};
use tollgate_issuer::{DevIssuer, IssuerOptions};

fn config(issuer: &DevIssuer, recent: Option<usize>) -> Config {
    let recent = recent
        .map(|n| format!("recent_refusals = {n}\n"))
        .unwrap_or_default();
    let text = format!(
        r#"listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
upstream = "http://127.0.0.1:9"  # never reached: every request here is refused
{recent}
[[issuer]]
issuer = "{iss}"
audiences = ["{aud}"]
typ = ["at+jwt"]

[[route]]
name = "everything"
path = "/"
"#,
        iss = issuer.url(),
        aud = issuer.audience()
    );
    let config = Config::from_toml_str(&text).unwrap();
    assert!(matches!(config.issuers[0].source, KeySource::Discovery));
    config
}

async fn start(issuer: &DevIssuer, recent: Option<usize>) -> RunningGateway {
    let gw = Gateway::new(config(issuer, recent))
        .unwrap()
        .serve()
        .await
        .unwrap();
    for _ in 0..500 {
        if gw.gateway().is_ready() {
            return gw;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the gateway did not load the issuer's keys");
}

async fn refused(gw: &RunningGateway, path: &str, token: &str) {
    let r = client()
        .get(format!("{}{path}", gw.url()))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

async fn admin_json(gw: &RunningGateway, path: &str) -> (u16, Value) {
    let r = client()
        .get(format!("{}{path}", gw.admin_url().unwrap()))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, json_body(r).await)
}

#[tokio::test]
async fn refusals_are_listed_and_opened_in_the_doctor_view() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let idp = DevIssuer::start(IssuerOptions::default()).await.unwrap();
        let gw = start(&idp, None).await;
        let expired = idp.mint(json!({}), json!({"sub": "alice", "exp": 1_000}));
        let near_miss = idp.mint(
            json!({}),
            json!({"sub": "bob", "aud": format!("{}/", idp.audience())}),
        );
        refused(&gw, "/orders/1", &expired).await;
        refused(&gw, "/orders/2", &near_miss).await;

        let (status, list) = admin_json(&gw, "/doctor/api/refusals").await;
        assert_eq!(status, 200);
        assert_eq!(list["enabled"], true);
        assert_eq!(list["capacity"], 50);
        let entries = list["refusals"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        // newest first
        assert_eq!(entries[0]["path"], "/orders/2");
        assert_eq!(entries[0]["code"], "audience_mismatch");
        assert_eq!(entries[0]["cause"], "audience_near_miss");
        assert_eq!(entries[0]["subject"], "bob");
        assert_eq!(entries[1]["code"], "expired");
        assert_eq!(entries[1]["subject"], "alice");
        assert_eq!(entries[1]["route"], "everything");
        // Never the signature, never the token.
        let text = list.to_string();
        for t in [&expired, &near_miss] {
            let sig = t.rsplit('.').next().unwrap();
            assert!(!text.contains(sig));
        }

        let id = entries[0]["id"].as_u64().unwrap();
        let (status, opened) = admin_json(&gw, &format!("/doctor/api/refusals/{id}")).await;
        assert_eq!(status, 200);
        assert_eq!(opened["report"]["code"], "audience_mismatch");
        assert_eq!(opened["report"]["causes"][0]["id"], "audience_near_miss");
        assert_eq!(opened["report"]["claims"]["sub"], "bob");
        assert_eq!(
            opened["report"]["expected"]["audiences"],
            json!([idp.audience()])
        );
        let node = opened["snippets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stack"] == "node")
            .unwrap();
        assert!(node["code"]
            .as_str()
            .unwrap()
            .contains(&format!("{}/", idp.audience())));
        assert!(!opened
            .to_string()
            .contains(near_miss.rsplit('.').next().unwrap()));

        for bad in ["999999", "x", "-1", "1%2f2", "18446744073709551616"] {
            let (status, _) = admin_json(&gw, &format!("/doctor/api/refusals/{bad}")).await;
            assert_eq!(status, 404, "{bad}");
        }

        // The page's expectations come from the [[issuer]].
        let (status, exp) = admin_json(&gw, "/doctor/api/expectations").await;
        assert_eq!(status, 200);
        assert_eq!(exp["issuers"][0]["issuers"], json!([idp.url()]));
        assert_eq!(exp["issuers"][0]["audiences"], json!([idp.audience()]));
        assert_eq!(exp["issuers"][0]["typ"], json!(["at+jwt"]));
        assert_eq!(exp["recent_refusals"], 50);

        // The page is the admin listener's, behind the admin guard.
        let admin = gw.admin_url().unwrap();
        let page = client()
            .get(format!("{admin}/doctor"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert_eq!(page.headers()["x-content-type-options"], "nosniff");
        let foreign = client()
            .get(format!("{admin}/doctor/api/refusals"))
            .header("Origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(foreign.status(), 403);
        let rebound = client()
            .get(format!("{admin}/doctor/api/refusals"))
            .header("Host", "evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(rebound.status(), 403);
        // The other admin endpoints are unchanged.
        let health = client()
            .get(format!("{admin}/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
        gw.shutdown().await;
        idp.shutdown().await;
    })
    .await
    .expect("within the test timeout");
}

#[tokio::test]
async fn the_ring_is_bounded_and_can_be_turned_off() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let idp = DevIssuer::start(IssuerOptions::default()).await.unwrap();
        let small = start(&idp, Some(3)).await;
        for i in 0..7 {
            let t = idp.mint(json!({}), json!({"sub": format!("u{i}"), "exp": 1_000 + i}));
            refused(&small, &format!("/p/{i}"), &t).await;
        }
        let (_, list) = admin_json(&small, "/doctor/api/refusals").await;
        let paths: Vec<&str> = list["refusals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["path"].as_str().unwrap())
            .collect();
        assert_eq!(paths, ["/p/6", "/p/5", "/p/4"]);
        small.shutdown().await;

        let off = start(&idp, Some(0)).await;
        refused(&off, "/x", &idp.mint(json!({}), json!({"exp": 1_000}))).await;
        let (_, list) = admin_json(&off, "/doctor/api/refusals").await;
        assert_eq!(list["enabled"], false);
        assert_eq!(list["refusals"], json!([]));
        off.shutdown().await;

        let too_many = Config::from_toml_str(
            "recent_refusals = 1000000\n[[issuer]]\nissuer = \"https://idp.example\"\naudiences = [\"a\"]\n[[route]]\npath = \"/\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(too_many.contains("recent_refusals") && too_many.contains("personal data"), "{too_many}");
        idp.shutdown().await;
    })
    .await
    .expect("within the test timeout");
}
