//! Minting wrong tokens on purpose, and key rotation with its grace period.

mod common;

use std::time::Duration;

use common::{bounded, client_token, get, post_json, validator_for};
use serde_json::json;
use tollgate::{b64, Algorithm, JwkSet, LocalValidator, Policy};
use tollgate_issuer::{DevIssuer, IssuerOptions};

#[tokio::test]
async fn minted_tokens_fail_exactly_as_asked() {
    bounded(async {
        let issuer = DevIssuer::start(IssuerOptions::default()).await.unwrap();
        let v = validator_for(&issuer).await;
        assert!(v.validate(&issuer.token()).is_ok());
        let code = |t: String| v.validate(&t).unwrap_err().code();
        assert_eq!(code(issuer.mint(json!({}), json!({"exp": 1}))), "expired");
        assert_eq!(
            code(issuer.mint(json!({"kid": "nope"}), json!({}))),
            "kid_not_found"
        );
        assert_eq!(
            code(issuer.mint(json!({}), json!({"aud": "other"}))),
            "audience_mismatch"
        );
        assert_eq!(
            code(issuer.mint(json!({}), json!({"iss": "https://evil"}))),
            "issuer_mismatch"
        );
        assert_eq!(
            code(issuer.mint(json!({}), json!({"exp": null}))),
            "missing_claim"
        );
        assert_eq!(
            code(issuer.mint(json!({"alg": "none"}), json!({}))),
            "unsecured_token"
        );
        assert_eq!(
            code(issuer.mint(json!({"alg": "ES256"}), json!({}))),
            "alg_key_mismatch"
        );
        // HS256 is signed with the issuer's secret, which a validator can be given.
        let hs = issuer.mint(json!({"alg": "HS256"}), json!({}));
        assert_eq!(code(hs.clone()), "alg_not_allowed");
        let secret = issuer.hs256_secret();
        assert_eq!(secret.len(), 32);
        let with_secret = LocalValidator::new(
            JwkSet::from_value(&json!({"keys": [{"kty": "oct", "k": b64::encode(&secret)}]}))
                .unwrap(),
            v.policy().clone().algorithms([Algorithm::HS256]),
        );
        assert!(with_secret.validate(&hs).is_ok());
        // Extra claims and header members are kept.
        let t = issuer.mint(json!({"x-test": 1}), json!({"roles": ["admin"]}));
        let ok = v.validate(&t).unwrap();
        assert_eq!(ok.claims.roles(), vec!["admin"]);
        assert_eq!(ok.header.raw()["x-test"], json!(1));
        issuer.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn admin_mint_overlays_like_the_library() {
    bounded(async {
        let issuer = DevIssuer::start(IssuerOptions::default()).await.unwrap();
        let base = format!("http://{}", issuer.addr());
        let r = post_json(&format!("{base}/admin/mint"), r#"{"claims": {"exp": 1}}"#).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let token = r.json()["token"].as_str().unwrap().to_string();
        let v = validator_for(&issuer).await;
        assert_eq!(v.validate(&token).unwrap_err().code(), "expired");
        let r = post_json(&format!("{base}/admin/mint"), r#"{"claims": 5}"#).await;
        assert_eq!(r.status, 400);
        let r = post_json(&format!("{base}/admin/mint"), "not json").await;
        assert_eq!(r.status, 400);
        assert!(r.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("not JSON"));
        issuer.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn rotation_keeps_the_old_key_for_the_grace_period_only() {
    let issuer = DevIssuer::start(IssuerOptions {
        alg: Algorithm::ES256,
        rotation_grace: Duration::from_secs(600),
        ..IssuerOptions::default()
    })
    .await
    .unwrap();
    let old = issuer.current_kid();
    let old_token = issuer.token();
    let new = issuer.rotate();
    assert_ne!(old, new);
    assert_eq!(issuer.current_kid(), new);
    let kids = |jwks: serde_json::Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(kids(issuer.jwks()), vec![new.clone(), old.clone()]);
    // A token signed before the rotation still validates; a retiring kid can be minted with.
    let keys = JwkSet::from_value(&issuer.jwks()).unwrap();
    let v = LocalValidator::new(keys, Policy::new().issuer(issuer.url()));
    assert!(v.validate(&old_token).is_ok());
    assert!(v
        .validate(&issuer.mint(json!({"kid": old}), json!({})))
        .is_ok());
    assert_eq!(issuer.state()["keys"][1]["status"], json!("retiring"));
    tokio::time::advance(Duration::from_secs(599)).await;
    assert_eq!(kids(issuer.jwks()).len(), 2);
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(kids(issuer.jwks()), vec![new.clone()]);
    let keys = JwkSet::from_value(&issuer.jwks()).unwrap();
    let v = LocalValidator::new(keys, Policy::new().issuer(issuer.url()));
    assert_eq!(v.validate(&old_token).unwrap_err().code(), "kid_not_found");
    issuer.shutdown().await;
}

#[tokio::test]
async fn rotation_over_http_then_retirement() {
    bounded(async {
        let grace = Duration::from_millis(800);
        let issuer = DevIssuer::start(IssuerOptions {
            alg: Algorithm::EdDSA,
            rotation_grace: grace,
            ..IssuerOptions::default()
        })
        .await
        .unwrap();
        let before = client_token(&issuer).await;
        let old = issuer.current_kid();
        let r = post_json(&format!("http://{}/admin/rotate", issuer.addr()), "").await;
        assert_eq!(r.status, 200, "{}", r.body);
        let new = r.json()["kid"].as_str().unwrap().to_string();
        assert_eq!(r.json()["previous"], json!(old));
        let after = client_token(&issuer).await;
        let jwks = get(&issuer.jwks_url()).await.json();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
        let v = validator_for(&issuer).await;
        assert!(v.validate(&before).is_ok());
        assert_eq!(
            v.validate(&after).unwrap().header.kid.as_deref(),
            Some(new.as_str())
        );
        // After the grace period only the new key is published.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let jwks = get(&issuer.jwks_url()).await.json();
            if jwks["keys"].as_array().unwrap().len() == 1 {
                assert_eq!(jwks["keys"][0]["kid"], json!(new));
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the old key never retired"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let v = validator_for(&issuer).await;
        assert_eq!(v.validate(&before).unwrap_err().code(), "kid_not_found");
        assert!(v.validate(&after).is_ok());
        issuer.shutdown().await;
    })
    .await;
}
