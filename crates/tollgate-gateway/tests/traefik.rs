//! `examples/traefik/`: Traefik is not packaged for Debian, so this test checks the example
//! against the gateway the way Traefik's ForwardAuth middleware uses it: the address and
//! copied headers in `dynamic.yml` agree with `tollgate.toml`, and the requests Traefik
//! sends (GET to the address with the client's headers plus X-Forwarded-Method, -Uri, -Host,
//! -Proto, -For) get the answers the example's comments promise.

mod common;

use common::proxies::example;
use common::{challenge, client, error_code, LocalKeys, TEST_TIMEOUT};
use serde_json::json;
use tollgate_gateway::{Config, Gateway};

/// The `address` and `authResponseHeaders` of the forwardAuth middleware in dynamic.yml.
fn forward_auth_settings(yaml: &str) -> (String, Vec<String>) {
    let mut address = None;
    let mut headers = Vec::new();
    let mut in_headers = false;
    for line in yaml.lines() {
        let t = line.trim();
        if let Some(a) = t.strip_prefix("address:") {
            address = Some(a.trim().trim_matches('"').to_string());
        }
        if t.starts_with("authResponseHeaders:") {
            in_headers = true;
            continue;
        }
        if in_headers {
            match t.strip_prefix("- ") {
                Some(h) => headers.push(h.trim().to_string()),
                None if t.starts_with('#') => {}
                None => in_headers = false,
            }
        }
    }
    (
        address.expect("dynamic.yml has a forwardAuth address"),
        headers,
    )
}

#[tokio::test]
async fn the_traefik_example_matches_the_gateway() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (address, copied) = forward_auth_settings(&example("traefik", "dynamic.yml"));
        let original = Config::from_toml_str(&example("traefik", "tollgate.toml")).unwrap();
        assert_eq!(
            address,
            format!("http://{}{}", original.listen, original.verify_path),
            "dynamic.yml asks the address tollgate.toml listens on"
        );
        let mut configured: Vec<String> = original
            .headers
            .iter()
            .map(|(h, _)| h.as_str().to_string())
            .collect();
        configured.sort();
        let mut copied_lower: Vec<String> = copied.iter().map(|h| h.to_ascii_lowercase()).collect();
        copied_lower.sort();
        assert_eq!(
            copied_lower, configured,
            "authResponseHeaders lists every identity header"
        );

        // The client's copies are removed before tollgate is asked, for every identity header.
        let yaml = example("traefik", "dynamic.yml");
        assert!(yaml.contains("middlewares: [strip-identity, tollgate]"));
        for h in &copied {
            assert!(
                yaml.contains(&format!("          {h}: \"\"")),
                "strip-identity removes {h}"
            );
        }

        let keys = LocalKeys::new();
        let config =
            Config::from_toml_str(&keys.adapt(&example("traefik", "tollgate.toml"))).unwrap();
        let gw = Gateway::new(config).unwrap().serve().await.unwrap();
        let verify = format!("{}/verify", gw.url());
        let traefik = |method: &str, uri: &str| {
            client()
                .get(&verify)
                .header("X-Forwarded-Method", method)
                .header("X-Forwarded-Uri", uri)
                .header("X-Forwarded-Host", "api.example.com")
                .header("X-Forwarded-Proto", "https")
                .header("X-Forwarded-For", "203.0.113.7")
        };

        let r = traefik("GET", "/orders/42")
            .header("Authorization", format!("Bearer {}", keys.token(json!({}))))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        for h in &copied {
            assert!(r.headers().contains_key(h.as_str()), "{h} in the answer");
        }
        assert_eq!(r.headers()["x-auth-subject"], "alice");

        // Anonymous: 200 with every copied header present and empty, so Traefik overwrites a
        // client's own copy.
        let r = traefik("GET", "/public/a").send().await.unwrap();
        assert_eq!(r.status(), 200);
        for h in &copied {
            assert_eq!(r.headers()[h.as_str()], "", "{h}");
        }

        let r = traefik("GET", "/orders/42").send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(challenge(&r), "Bearer realm=\"tollgate\"");
        let r = traefik("DELETE", "/orders/42")
            .header("Authorization", format!("Bearer {}", keys.token(json!({}))))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        assert!(challenge(&r).contains("insufficient_scope"));

        // What strip-identity does not remove (a look-alike spelling) tollgate refuses.
        let r = traefik("GET", "/public/a")
            .header("X_Auth_Subject", "admin")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(error_code(&r), "identity_header_in_request");
        gw.shutdown().await;
    })
    .await
    .unwrap();
}
