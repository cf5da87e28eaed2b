//! Helpers shared by the issuer's integration tests: a plain HTTP client and a validator
//! built from the issuer's published JWKS.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use base64::Engine;
use serde_json::Value;
use tollgate::{JwkSet, LocalValidator, Policy};
use tollgate_issuer::DevIssuer;

/// Upper bound for any one test.
pub const TEST_LIMIT: Duration = Duration::from_secs(60);

/// Runs `f` with the test time limit.
pub async fn bounded<F: Future<Output = T>, T>(f: F) -> T {
    tokio::time::timeout(TEST_LIMIT, f)
        .await
        .expect("the test took longer than its time limit")
}

/// A client with a request timeout, so a hanging server fails the test instead of blocking.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .no_proxy()
        .build()
        .unwrap()
}

/// One HTTP answer.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

pub async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.text().await.unwrap();
    Answer {
        status,
        headers,
        body,
    }
}

pub async fn get(url: &str) -> Answer {
    answer(
        client(Duration::from_secs(10))
            .get(url)
            .send()
            .await
            .unwrap(),
    )
    .await
}

pub async fn post_json(url: &str, body: &str) -> Answer {
    answer(
        client(Duration::from_secs(10))
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// POSTs a form body to the token endpoint, optionally with HTTP Basic `id:secret`.
pub async fn post_form(url: &str, form: &str, basic: Option<(&str, &str)>) -> Answer {
    let mut req = client(Duration::from_secs(10))
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_string());
    if let Some((id, secret)) = basic {
        let creds = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        req = req.header("authorization", format!("Basic {creds}"));
    }
    answer(req.send().await.unwrap()).await
}

/// A validator over the JWKS the issuer publishes now, for its issuer and audience.
pub async fn validator_for(issuer: &DevIssuer) -> LocalValidator {
    let jwks = get(&issuer.jwks_url()).await;
    assert_eq!(jwks.status, 200, "{}", jwks.body);
    let keys = JwkSet::from_json(jwks.body.as_bytes()).unwrap();
    LocalValidator::new(
        keys,
        Policy::new()
            .issuer(issuer.url())
            .audience(issuer.audience()),
    )
}

/// A token from the token endpoint with the default client.
pub async fn client_token(issuer: &DevIssuer) -> String {
    let r = post_form(
        &issuer.token_endpoint(),
        "grant_type=client_credentials",
        Some(("dev", "dev-secret")),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["access_token"].as_str().unwrap().to_string()
}
