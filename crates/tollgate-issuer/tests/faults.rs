//! Every injected fault behaves as named, and clearing it restores normal answers.

mod common;

use std::time::Duration;

use common::{bounded, client, client_token, get, post_json, validator_for};
use serde_json::json;
use tollgate::{JwkSet, LocalValidator, Policy};
use tollgate_issuer::{DevIssuer, Fault, IssuerOptions};

#[tokio::test]
async fn status_500_fails_jwks_and_discovery_but_not_tokens() {
    bounded(async {
        let issuer = DevIssuer::start(IssuerOptions::default()).await.unwrap();
        issuer.set_fault(Fault::Status500);
        assert_eq!(get(&issuer.jwks_url()).await.status, 500);
        assert_eq!(get(&issuer.discovery_url()).await.status, 500);
        client_token(&issuer).await;
        assert_eq!(issuer.jwks_requests(), 1);
        issuer.set_fault(Fault::None);
        assert_eq!(get(&issuer.jwks_url()).await.status, 200);
        assert_eq!(get(&issuer.discovery_url()).await.status, 200);
        issuer.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn hang_never_answers_until_cleared() {
    bounded(async {
        let issuer = DevIssuer::start(IssuerOptions::default()).await.unwrap();
        issuer.set_fault(Fault::Hang);
        let short = client(Duration::from_millis(300));
        for url in [issuer.jwks_url(), issuer.discovery_url()] {
            let err = short.get(&url).send().await.unwrap_err();
            assert!(err.is_timeout(), "{err}");
        }
        // A request hanging now is answered normally once the fault is cleared.
        let url = issuer.jwks_url();
        let pending = tokio::spawn(async move {
            client(Duration::from_secs(10))
                .get(&url)
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!pending.is_finished());
        issuer.set_fault(Fault::None);
        assert_eq!(pending.await.unwrap().unwrap(), 200);
        issuer.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn shutdown_ends_a_hanging_request() {
    bounded(async {
        let issuer = DevIssuer::start(IssuerOptions::default()).await.unwrap();
        issuer.set_fault(Fault::Hang);
        let url = issuer.jwks_url();
        let pending = tokio::spawn(async move {
            client(Duration::from_secs(30))
                .get(&url)
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
        while issuer.jwks_requests() == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let started = std::time::Instant::now();
        issuer.shutdown().await;
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(pending.await.unwrap().unwrap(), 503);
    })
    .await;
}

#[tokio::test]
async fn garbage_is_not_a_key_set() {
    bounded(async {
        let issuer = DevIssuer::start(IssuerOptions::default()).await.unwrap();
        issuer.set_fault(Fault::Garbage);
        let r = get(&issuer.jwks_url()).await;
        assert_eq!(r.status, 200);
        assert!(serde_json::from_str::<serde_json::Value>(&r.body).is_err());
        assert!(JwkSet::from_json(r.body.as_bytes()).is_err());
        // Discovery is unaffected.
        assert_eq!(get(&issuer.discovery_url()).await.status, 200);
        issuer.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn drop_keys_and_empty_keys() {
    bounded(async {
        let issuer = DevIssuer::start(IssuerOptions::default()).await.unwrap();
        let token = issuer.token();
        issuer.set_fault(Fault::DropKeys);
        let body = get(&issuer.jwks_url()).await.json();
        assert_eq!(body, json!({"keys": []}));
        // With a key in its grace period, only that one is left: the current kid is missing.
        let old = issuer.current_kid();
        let new = issuer.rotate();
        let body = get(&issuer.jwks_url()).await.json();
        assert_eq!(body["keys"].as_array().unwrap().len(), 1);
        assert_eq!(body["keys"][0]["kid"], json!(old));
        let v = LocalValidator::new(
            JwkSet::from_value(&body).unwrap(),
            Policy::new().issuer(issuer.url()),
        );
        assert!(v.validate(&token).is_ok());
        let err = v.validate(&issuer.token()).unwrap_err();
        assert_eq!(err.code(), "kid_not_found");
        assert!(err.to_string().contains(&new) || format!("{err:?}").contains(&new));

        issuer.set_fault(Fault::EmptyKeys);
        let r = get(&issuer.jwks_url()).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json(), json!({"keys": []}));
        issuer.set_fault(Fault::None);
        let v = validator_for(&issuer).await;
        assert!(v.validate(&issuer.token()).is_ok());
        issuer.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn faults_are_set_and_reported_over_admin() {
    bounded(async {
        let issuer = DevIssuer::start(IssuerOptions::default()).await.unwrap();
        let base = format!("http://{}", issuer.addr());
        for fault in Fault::ALL {
            let r = post_json(
                &format!("{base}/admin/fault"),
                &json!({"fault": fault.as_str()}).to_string(),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!(issuer.fault(), fault);
            // /admin/state answers whatever the fault.
            let state = get(&format!("{base}/admin/state")).await.json();
            assert_eq!(state["fault"], json!(fault.as_str()));
            assert_eq!(state["current_kid"], json!(issuer.current_kid()));
        }
        let r = post_json(&format!("{base}/admin/fault"), r#"{"fault": "flaky"}"#).await;
        assert_eq!(r.status, 400);
        assert!(r.body.contains("drop_keys"), "{}", r.body);
        let r = post_json(&format!("{base}/admin/fault"), r#"{}"#).await;
        assert_eq!(r.status, 400);
        issuer.shutdown().await;
    })
    .await;
}
