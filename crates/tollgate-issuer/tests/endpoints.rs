//! The issuer's HTTP endpoints: discovery, JWKS, the token endpoint, and tokens that
//! validate with Tollgate's own validator.

mod common;

use common::{bounded, client_token, get, post_form, validator_for};
use serde_json::json;
use tollgate::{jws, Algorithm, TypPolicy};
use tollgate_issuer::{Client, DevIssuer, IssuerOptions};

#[tokio::test]
async fn token_from_the_endpoint_validates_over_the_fetched_jwks() {
    bounded(async {
        let issuer = DevIssuer::start(IssuerOptions::default()).await.unwrap();
        let token = client_token(&issuer).await;
        let validator = validator_for(&issuer).await;
        let verified = validator.validate(&token).unwrap();
        assert_eq!(verified.header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(
            verified.header.kid.as_deref(),
            Some(issuer.current_kid().as_str())
        );
        assert_eq!(verified.alg, Some(Algorithm::RS256));
        let c = &verified.claims;
        assert_eq!(c.issuer(), Some(issuer.url().as_str()));
        assert_eq!(c.subject(), Some("dev"));
        assert_eq!(c.get_str("client_id"), Some("dev"));
        assert_eq!(c.audiences(), vec!["api://default"]);
        assert_eq!(c.scopes(), vec!["read", "write"]);
        assert!(c.get_str("jti").is_some_and(|j| j.len() >= 16));
        let (iat, exp) = (
            c.get("iat").unwrap().as_i64().unwrap(),
            c.expires_at().unwrap(),
        );
        assert_eq!(exp - iat, 3600);
        // RFC 9068 typ can be required.
        let strict = tollgate::LocalValidator::new(
            validator.keys().clone(),
            validator
                .policy()
                .clone()
                .typ(TypPolicy::OneOf(vec!["at+jwt".into()])),
        );
        assert!(strict.validate(&token).is_ok());
        issuer.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn library_tokens_validate_for_every_issuer_algorithm() {
    bounded(async {
        for alg in [
            Algorithm::RS256,
            Algorithm::PS256,
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::EdDSA,
        ] {
            let issuer = DevIssuer::start(IssuerOptions {
                alg,
                ..IssuerOptions::default()
            })
            .await
            .unwrap();
            let validator = validator_for(&issuer).await;
            let verified = validator.validate(&issuer.token()).unwrap();
            assert_eq!(verified.alg, Some(alg));
            assert_eq!(verified.claims.subject(), Some("dev-user"));
            let doc = get(&issuer.discovery_url()).await.json();
            assert_eq!(
                doc["id_token_signing_alg_values_supported"],
                json!([alg.as_str()])
            );
            issuer.shutdown().await;
        }
    })
    .await;
}

#[tokio::test]
async fn discovery_names_every_endpoint() {
    bounded(async {
        let issuer = DevIssuer::start(IssuerOptions::default()).await.unwrap();
        assert_eq!(issuer.url(), format!("http://{}", issuer.addr()));
        let r = get(&issuer.discovery_url()).await;
        assert_eq!(r.status, 200);
        assert!(r
            .header("content-type")
            .unwrap()
            .starts_with("application/json"));
        let doc = r.json();
        assert_eq!(doc["issuer"], json!(issuer.url()));
        assert_eq!(doc["jwks_uri"], json!(issuer.jwks_url()));
        assert_eq!(doc["token_endpoint"], json!(issuer.token_endpoint()));
        assert_eq!(
            doc["token_endpoint_auth_methods_supported"],
            json!(["client_secret_basic", "client_secret_post"])
        );
        assert_eq!(doc["grant_types_supported"], json!(["client_credentials"]));
        assert_eq!(doc["scopes_supported"], json!(["read", "write"]));
        assert!(doc["response_types_supported"].is_array());
        assert!(doc["subject_types_supported"].is_array());
        // RFC 8414 metadata is the same document.
        let meta = get(&format!(
            "http://{}/.well-known/oauth-authorization-server",
            issuer.addr()
        ))
        .await
        .json();
        assert_eq!(meta, doc);
        issuer.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn an_issuer_url_with_a_path_serves_discovery_under_it() {
    bounded(async {
        // Bind first to learn a free port, then name an issuer with a path on it.
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = probe.local_addr().unwrap();
        drop(probe);
        let url = format!("http://{addr}/realms/dev");
        let issuer = DevIssuer::start(IssuerOptions {
            listen: addr,
            issuer: Some(url.clone()),
            ..IssuerOptions::default()
        })
        .await
        .unwrap();
        assert_eq!(
            issuer.discovery_url(),
            format!("{url}/.well-known/openid-configuration")
        );
        let doc = get(&issuer.discovery_url()).await.json();
        assert_eq!(doc["issuer"], json!(url));
        let claims = jws::decode(&issuer.token(), 16384)
            .unwrap()
            .claims()
            .unwrap();
        assert_eq!(claims["iss"], json!(url));
        issuer.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn jwks_carries_cache_control_and_counts_requests() {
    bounded(async {
        let issuer = DevIssuer::start(IssuerOptions {
            jwks_max_age: 42,
            ..IssuerOptions::default()
        })
        .await
        .unwrap();
        assert_eq!(issuer.jwks_requests(), 0);
        let r = get(&issuer.jwks_url()).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("cache-control").as_deref(),
            Some("public, max-age=42")
        );
        let keys = r.json()["keys"].as_array().unwrap().clone();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0]["kid"], json!(issuer.current_kid()));
        assert_eq!(keys[0]["use"], json!("sig"));
        assert!(keys[0].get("d").is_none(), "no private member is published");
        get(&issuer.jwks_url()).await;
        assert_eq!(issuer.jwks_requests(), 2);
        issuer.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn client_secret_post_scope_and_resource() {
    bounded(async {
        let issuer = DevIssuer::start(IssuerOptions {
            clients: vec![Client {
                id: "orders-svc".into(),
                secret: "s3cret&=+".into(),
                scopes: vec!["read".into()],
                audiences: vec!["api://orders".into(), "api://billing".into()],
            }],
            ..IssuerOptions::default()
        })
        .await
        .unwrap();
        // client_secret_post, with a secret that needs form encoding.
        let r = post_form(
            &issuer.token_endpoint(),
            "grant_type=client_credentials&client_id=orders-svc&client_secret=s3cret%26%3D%2B&scope=read&resource=api%3A%2F%2Fbilling",
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
        let body = r.json();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3600);
        assert_eq!(body["scope"], "read");
        let claims = jws::decode(body["access_token"].as_str().unwrap(), 16384)
            .unwrap()
            .claims()
            .unwrap();
        assert_eq!(claims["aud"], json!("api://billing"));
        assert_eq!(claims["sub"], json!("orders-svc"));
        // Two resources (RFC 8707): aud is an array; no resource: the first allowed.
        let r = post_form(
            &issuer.token_endpoint(),
            "grant_type=client_credentials&audience=api://orders&resource=api://billing",
            Some(("orders-svc", "s3cret&=+")),
        )
        .await;
        let token = r.json()["access_token"].as_str().unwrap().to_string();
        let claims = jws::decode(&token, 16384).unwrap().claims().unwrap();
        assert_eq!(claims["aud"], json!(["api://orders", "api://billing"]));
        issuer.shutdown().await;
    })
    .await;
}

/// RFC 9449 section 5: a DPoP proof at the token endpoint binds the token to its key
/// (`token_type: DPoP`, `cnf.jkt`); a replayed or misdirected proof is `invalid_dpop_proof`.
#[tokio::test]
async fn a_dpop_proof_at_the_token_endpoint_binds_the_token() {
    use base64::Engine;
    bounded(async {
        let issuer = DevIssuer::start(IssuerOptions::default()).await.unwrap();
        let key = tollgate::SigningKey::generate(Algorithm::ES256, "c").unwrap();
        let now = tollgate::clock::unix_now();
        let basic = base64::engine::general_purpose::STANDARD.encode("dev:dev-secret");
        let send = |proof: String| {
            let url = issuer.token_endpoint();
            let basic = basic.clone();
            async move {
                let r = common::client(std::time::Duration::from_secs(10))
                    .post(url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("authorization", format!("Basic {basic}"))
                    .header("dpop", proof)
                    .body("grant_type=client_credentials")
                    .send()
                    .await
                    .unwrap();
                common::answer(r).await
            }
        };
        let proof =
            tollgate::dpop::make_proof(&key, "POST", &issuer.token_endpoint(), None, now).unwrap();
        let r = send(proof.clone()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let body = r.json();
        assert_eq!(body["token_type"], "DPoP");
        let claims = jws::decode(body["access_token"].as_str().unwrap(), 16384)
            .unwrap()
            .claims()
            .unwrap();
        assert_eq!(
            claims["cnf"]["jkt"],
            json!(tollgate::jwk::thumbprint_of(&key.public_jwk()).unwrap())
        );
        // Replayed, for another URL, another method: refused.
        for proof in [
            proof,
            tollgate::dpop::make_proof(&key, "POST", "http://127.0.0.1:1/token", None, now)
                .unwrap(),
            tollgate::dpop::make_proof(&key, "GET", &issuer.token_endpoint(), None, now).unwrap(),
            "not a proof".into(),
        ] {
            let r = send(proof).await;
            assert_eq!(r.status, 400, "{}", r.body);
            assert_eq!(r.json()["error"], "invalid_dpop_proof");
        }
        let doc = get(&issuer.discovery_url()).await.json();
        assert!(doc["dpop_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("ES256")));
        issuer.shutdown().await;
    })
    .await;
}
