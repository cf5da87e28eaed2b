//! Bad token requests get the RFC 6749 section 5.2 error and status.

mod common;

use common::{bounded, client, post_form, Answer};
use tollgate_issuer::{Client, DevIssuer, IssuerOptions};

fn assert_error(r: &Answer, status: u16, error: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.json()["error"], error, "{}", r.body);
    assert!(
        r.json()["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{}",
        r.body
    );
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
}

async fn issuer() -> DevIssuer {
    DevIssuer::start(IssuerOptions {
        clients: vec![
            Client::default(),
            Client {
                id: "reader".into(),
                secret: "r".into(),
                scopes: vec!["read".into()],
                audiences: Vec::new(),
            },
            Client {
                id: "orders-only".into(),
                secret: "o".into(),
                scopes: Vec::new(),
                audiences: vec!["api://orders".into()],
            },
        ],
        ..IssuerOptions::default()
    })
    .await
    .unwrap()
}

const CC: &str = "grant_type=client_credentials";

#[tokio::test]
async fn invalid_client() {
    bounded(async {
        let issuer = issuer().await;
        let url = issuer.token_endpoint();
        // Wrong secret over Basic: 401 with a Basic challenge.
        let r = post_form(&url, CC, Some(("dev", "wrong"))).await;
        assert_error(&r, 401, "invalid_client");
        assert!(r.header("www-authenticate").unwrap().starts_with("Basic"));
        assert!(r.body.contains("wrong secret"), "{}", r.body);
        // Unknown client in the body: 401, no challenge (Basic was not used).
        let r = post_form(&url, &format!("{CC}&client_id=ghost&client_secret=x"), None).await;
        assert_error(&r, 401, "invalid_client");
        assert!(r.header("www-authenticate").is_none());
        assert!(r.body.contains("unknown client"), "{}", r.body);
        // No authentication at all.
        let r = post_form(&url, CC, None).await;
        assert_error(&r, 401, "invalid_client");
        assert!(r.header("www-authenticate").is_some());
        issuer.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn grant_type_problems() {
    bounded(async {
        let issuer = issuer().await;
        let url = issuer.token_endpoint();
        let dev = Some(("dev", "dev-secret"));
        let r = post_form(&url, "grant_type=password&username=a&password=b", dev).await;
        assert_error(&r, 400, "unsupported_grant_type");
        let r = post_form(&url, "scope=read", dev).await;
        assert_error(&r, 400, "invalid_request");
        assert!(r.body.contains("grant_type"), "{}", r.body);
        issuer.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn scope_and_target_problems() {
    bounded(async {
        let issuer = issuer().await;
        let url = issuer.token_endpoint();
        let r = post_form(
            &url,
            &format!("{CC}&scope=read%20admin"),
            Some(("dev", "dev-secret")),
        )
        .await;
        assert_error(&r, 400, "invalid_scope");
        assert!(r.body.contains("admin"), "{}", r.body);
        // A client limited to "read" may not ask for "write".
        let r = post_form(&url, &format!("{CC}&scope=write"), Some(("reader", "r"))).await;
        assert_error(&r, 400, "invalid_scope");
        let r = post_form(&url, &format!("{CC}&scope=read"), Some(("reader", "r"))).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["scope"], "read");
        // A dev issuer grants an audience it was not told about (it serves whatever APIs
        // are being built)...
        let r = post_form(
            &url,
            &format!("{CC}&resource=api://other"),
            Some(("dev", "dev-secret")),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        // ... but not to a client registered with its audiences (RFC 8707).
        let r = post_form(
            &url,
            &format!("{CC}&resource=api://other"),
            Some(("orders-only", "o")),
        )
        .await;
        assert_error(&r, 400, "invalid_target");
        issuer.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn malformed_requests() {
    bounded(async {
        let issuer = issuer().await;
        let url = issuer.token_endpoint();
        // Parameters twice.
        let r = post_form(
            &url,
            &format!("{CC}&scope=read&scope=write"),
            Some(("dev", "dev-secret")),
        )
        .await;
        assert_error(&r, 400, "invalid_request");
        // Two authentication methods.
        let r = post_form(
            &url,
            &format!("{CC}&client_secret=dev-secret"),
            Some(("dev", "dev-secret")),
        )
        .await;
        assert_error(&r, 400, "invalid_request");
        // JSON instead of a form.
        let http = client(std::time::Duration::from_secs(10));
        let r = http
            .post(&url)
            .header("content-type", "application/json")
            .body(r#"{"grant_type":"client_credentials"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400);
        assert!(r.text().await.unwrap().contains("invalid_request"));
        // GET is not the token endpoint's method.
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 405);
        issuer.shutdown().await;
    })
    .await;
}
