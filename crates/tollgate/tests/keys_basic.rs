//! The remote validator end to end against an in-process IdP: discovery, static keys,
//! several issuers, status.
#![cfg(feature = "remote")]

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use support::TestIdp;
use tollgate::keys::{FetchError, FetchOptions, Fetcher};
use tollgate::{jws, Algorithm, FixedClock, IssuerConfig, JwkSet, Policy, SigningKey, Validator};

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn discovery_then_validate_and_status() {
    tokio::time::timeout(LIMIT, async {
        let idp = TestIdp::start().await;
        let clock = Arc::new(FixedClock::new(1_700_000_000));
        let v = Validator::new(vec![
            IssuerConfig::discovery(idp.issuer()).policy(Policy::new().audience("api"))
        ])
        .unwrap()
        .with_clock(clock.clone());
        assert!(!v.is_ready());
        let ok = v
            .validate(&format!("Bearer {}", idp.token()))
            .await
            .unwrap();
        assert_eq!(ok.claims.subject(), Some("alice"));
        assert_eq!((idp.discovery_hits(), idp.jwks_hits()), (1, 1));
        // Cached: no more requests.
        for _ in 0..20 {
            v.validate(&idp.token()).await.unwrap();
        }
        assert_eq!((idp.discovery_hits(), idp.jwks_hits()), (1, 1));
        assert!(v.is_ready());
        let status = v.status();
        assert_eq!(status.len(), 1);
        let s = &status[0];
        assert_eq!(s.kids, vec!["k1".to_string()]);
        assert_eq!(s.source, "discovery");
        assert_eq!(s.source_url.as_deref(), Some(idp.jwks_url().as_str()));
        assert_eq!(s.fetched_at, Some(1_700_000_000));
        assert_eq!(s.ttl_secs, Some(3600));
        assert_eq!(s.fetches_ok, 1);
        assert_eq!(s.fetches_failed, 0);
        assert_eq!(s.last_error, None);
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json[0]["kids"][0], "k1");
        // Policy still applies per issuer.
        let wrong_aud = idp.token_with(
            &json!({}),
            &json!({"iss": idp.issuer(), "aud": "other", "exp": 4_102_444_800u64}),
        );
        assert_eq!(
            v.validate(&wrong_aud).await.unwrap_err().code(),
            "audience_mismatch"
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn unconfigured_issuer_is_rejected_and_nothing_is_fetched() {
    tokio::time::timeout(LIMIT, async {
        let idp = TestIdp::start().await;
        let v = Validator::new(vec![IssuerConfig::jwks_uri(idp.issuer(), idp.jwks_url())]).unwrap();
        let other = idp.token_with(
            &json!({}),
            &json!({"iss": "https://evil.example", "exp": 4_102_444_800u64}),
        );
        let err = v.validate(&other).await.unwrap_err();
        assert_eq!(err.code(), "issuer_mismatch");
        assert!(err.to_string().contains(&idp.issuer()), "{err}");
        assert!(err.to_string().contains("https://evil.example"), "{err}");
        let none = idp.token_with(&json!({}), &json!({"exp": 4_102_444_800u64}));
        assert_eq!(
            v.validate(&none).await.unwrap_err().code(),
            "issuer_mismatch"
        );
        assert_eq!(idp.jwks_hits() + idp.discovery_hits(), 0);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn several_issuers_static_and_remote() {
    tokio::time::timeout(LIMIT, async {
        let a = TestIdp::start().await;
        let local = SigningKey::generate(Algorithm::EdDSA, "local").unwrap();
        let set = JwkSet::from_value(&json!({"keys": [local.public_jwk()]})).unwrap();
        let v = Validator::new(vec![
            IssuerConfig::jwks_uri(a.issuer(), a.jwks_url()),
            IssuerConfig::static_keys("urn:local", set),
        ])
        .unwrap();
        assert_eq!(v.issuers(), vec![a.issuer(), "urn:local".to_string()]);
        let t = jws::sign(
            &json!({}),
            &json!({"iss": "urn:local", "exp": 4_102_444_800u64}),
            &local,
        )
        .unwrap();
        v.validate(&t).await.unwrap();
        assert!(!v.is_ready(), "the remote issuer has not been loaded");
        v.refresh_all().await;
        assert!(v.is_ready());
        assert_eq!(a.jwks_hits(), 1);
        v.validate(&a.token()).await.unwrap();
        assert_eq!(a.jwks_hits(), 1);
        // A token of issuer A signed by the local key: the kid is unknown at A.
        let forged = jws::sign(
            &json!({}),
            &json!({"iss": a.issuer(), "exp": 4_102_444_800u64}),
            &local,
        )
        .unwrap();
        assert_eq!(
            v.validate(&forged).await.unwrap_err().code(),
            "kid_not_found"
        );
        let status = v.status();
        assert_eq!(status[1].source, "static");
        assert_eq!(status[1].kids, vec!["local".to_string()]);
        assert!(status[1].ready);
    })
    .await
    .unwrap();
}

#[test]
fn configuration_errors() {
    let e = Validator::new(vec![IssuerConfig::discovery("http://idp.example.com")]).unwrap_err();
    assert!(e.to_string().contains("https"), "{e}");
    let e = Validator::new(vec![
        IssuerConfig::discovery("https://idp.example.com"),
        IssuerConfig::jwks_uri("https://idp.example.com", "https://idp.example.com/jwks"),
    ])
    .unwrap_err();
    assert!(e.to_string().contains("twice"), "{e}");
    assert!(Validator::new(vec![IssuerConfig::jwks_uri(
        "urn:x",
        "http://localhost:1/jwks"
    )])
    .is_ok());
}

#[tokio::test]
async fn fetcher_reports_connection_refused() {
    tokio::time::timeout(LIMIT, async {
        // Bind then drop, so the port is (almost certainly) closed.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}/jwks");
        let err = Fetcher::new(FetchOptions::default())
            .jwks(&url, None)
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::Connect { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("the JWKS") && text.contains(&url), "{text}");
    })
    .await
    .unwrap();
}
