//! The dev issuer behind Tollgate's remote `Validator`: discovery, the JWKS, a rotation
//! picked up by its first token, and an outage reported as `keys_unavailable`.

mod common;

use std::time::Duration;

use common::{bounded, client_token};
use serde_json::json;
use tollgate::{CacheOptions, IssuerConfig, Policy, Validator};
use tollgate_issuer::{DevIssuer, Fault, IssuerOptions};

fn validator_for(issuer: &DevIssuer) -> Validator {
    Validator::new(vec![IssuerConfig::discovery(issuer.url())
        .policy(Policy::new().audience(issuer.audience()))
        .cache(
            CacheOptions::default()
                .cooldown(Duration::ZERO)
                .max_wait(Duration::from_secs(2)),
        )])
    .unwrap()
}

#[tokio::test]
async fn discovery_then_jwks_then_rotation() {
    bounded(async {
        let issuer = DevIssuer::start(IssuerOptions::default()).await.unwrap();
        let v = validator_for(&issuer);
        let token = client_token(&issuer).await;
        assert_eq!(
            v.validate(&token).await.unwrap().claims.subject(),
            Some("dev")
        );
        assert_eq!(issuer.jwks_requests(), 1);
        assert_eq!(issuer.discovery_requests(), 1);
        // A token from a new key: the unknown kid makes the validator refetch once.
        issuer.rotate();
        let rotated = issuer.token();
        assert!(v.validate(&rotated).await.is_ok());
        assert_eq!(issuer.jwks_requests(), 2);
        assert!(
            v.validate(&token).await.is_ok(),
            "the old key is still in its grace period"
        );
        let err = v
            .validate(&issuer.mint(json!({}), json!({"exp": 1})))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "expired");
        issuer.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_cold_validator_reports_an_outage_as_keys_unavailable() {
    bounded(async {
        let issuer = DevIssuer::start(IssuerOptions::default()).await.unwrap();
        issuer.set_fault(Fault::Status500);
        let v = validator_for(&issuer);
        let err = v.validate(&issuer.token()).await.unwrap_err();
        assert_eq!(err.code(), "keys_unavailable");
        assert!(err.is_unavailable());
        issuer.shutdown().await;
    })
    .await;
}
