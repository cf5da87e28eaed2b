//! The tower layer end to end: an axum API behind `JwtLayer`, keys fetched by discovery from
//! a dev issuer on 127.0.0.1:0. Every refusal is checked for status, headers and body, and
//! for what the `on_rejected` hook saw.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::routing::{delete, get, post};
use axum::Router;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tollgate::tower::{Claims, JwtLayer, RejectReason, Rejection, RequireRole, RequireScope};
use tollgate::{CacheOptions, IssuerConfig, Policy, ValidationError, Validator, Verified};
use tollgate_issuer::{DevIssuer, Fault, IssuerOptions};
use tower::ServiceExt;

/// Every test finishes well within this; a hang fails instead of blocking CI.
const LIMIT: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize)]
struct MyClaims {
    sub: String,
    iss: String,
    scope: String,
    exp: i64,
    #[serde(default)]
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
struct NeedsEmail {
    #[allow(dead_code)]
    email: String,
}

async fn me(Claims(c): Claims<MyClaims>) -> axum::Json<Value> {
    axum::Json(json!({
        "sub": c.sub, "iss": c.iss, "scope": c.scope, "exp": c.exp, "email": c.email,
    }))
}

async fn raw(Claims(c): Claims) -> axum::Json<Value> {
    axum::Json(c)
}

async fn verified(v: Verified) -> String {
    format!(
        "{} {}",
        v.alg.map_or("-", |a| a.as_str()),
        v.header.typ.as_deref().unwrap_or("-")
    )
}

async fn email(Claims(_): Claims<NeedsEmail>) -> &'static str {
    "has email"
}

async fn maybe(claims: Option<Claims<MyClaims>>) -> String {
    match claims {
        Some(Claims(c)) => format!("hello {}", c.sub),
        None => "hello stranger".into(),
    }
}

type Seen = Arc<Mutex<Vec<Rejection>>>;

struct Api {
    issuer: DevIssuer,
    app: Router,
    seen: Seen,
}

fn validator_for(issuer: &DevIssuer) -> Validator {
    Validator::new(vec![IssuerConfig::discovery(issuer.url())
        .policy(Policy::new().audience(issuer.audience()))
        .cache(CacheOptions::default().max_wait(Duration::from_secs(3)))])
    .unwrap()
}

fn routes() -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/raw", get(raw))
        .route("/verified", get(verified))
        .route("/email", get(email))
        .route(
            "/orders",
            post(|| async { "created" }).layer(RequireScope::new("orders.write")),
        )
        .route(
            "/users/{id}",
            delete(|| async { "deleted" }).layer(RequireRole::new("admin")),
        )
}

fn app(layer: JwtLayer) -> (Router, Seen) {
    let seen: Seen = Arc::default();
    let sink = seen.clone();
    let layer = layer.on_rejected(move |r| sink.lock().unwrap().push(r.clone()));
    let app = Router::new()
        .route("/public", get(|| async { "public" }))
        .merge(routes().layer(layer));
    (app, seen)
}

async fn api() -> Api {
    let issuer = DevIssuer::start(IssuerOptions::default()).await.unwrap();
    let (app, seen) = app(JwtLayer::new(validator_for(&issuer)));
    Api { issuer, app, seen }
}

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    text: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }
}

async fn send(app: &Router, req: Request<Body>) -> Answer {
    let response = tokio::time::timeout(LIMIT, app.clone().oneshot(req))
        .await
        .expect("the request finished in time")
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        text: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

fn get_with(path: &str, token: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::empty()).unwrap()
}

fn last(seen: &Seen) -> Rejection {
    seen.lock()
        .unwrap()
        .last()
        .cloned()
        .expect("the hook saw a rejection")
}

/// The checks every refusal shares: JSON body with the code, `no-store`, the code header.
fn assert_refusal(a: &Answer, status: u16, error: &str, code: &str) -> Value {
    assert_eq!(a.status.as_u16(), status, "{}", a.text);
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert_eq!(a.header("cache-control"), Some("no-store"));
    assert_eq!(a.header("x-tollgate-error"), Some(code));
    let body = a.json();
    assert_eq!(body["error"], error);
    assert_eq!(body["code"], code);
    body
}

#[tokio::test]
async fn valid_token_reaches_the_handler_with_typed_claims() {
    let api = api().await;
    let token = api.issuer.token();

    let a = send(&api.app, get_with("/me", Some(&token))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let body = a.json();
    assert_eq!(body["sub"], "dev-user");
    assert_eq!(body["iss"], api.issuer.url());
    assert_eq!(body["scope"], "read write");
    assert!(body["exp"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(body["email"], Value::Null);
    assert_eq!(a.header("www-authenticate"), None);

    // Untyped, and the whole verified token.
    let a = send(&api.app, get_with("/raw", Some(&token))).await;
    assert_eq!(a.json()["aud"], api.issuer.audience());
    let a = send(&api.app, get_with("/verified", Some(&token))).await;
    assert_eq!(a.text, "RS256 at+jwt");

    // A public route needs nothing; the scheme is case-insensitive.
    let a = send(&api.app, get_with("/public", None)).await;
    assert_eq!((a.status, a.text.as_str()), (StatusCode::OK, "public"));
    let req = Request::get("/me")
        .header("authorization", format!("bEaReR {token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&api.app, req).await.status, StatusCode::OK);
    assert!(api.seen.lock().unwrap().is_empty());
    api.issuer.shutdown().await;
}

#[tokio::test]
async fn expired_token_is_401_invalid_token() {
    let api = api().await;
    let token = api.issuer.mint(json!({}), json!({"exp": 1}));
    let a = send(&api.app, get_with("/me", Some(&token))).await;
    let body = assert_refusal(&a, 401, "invalid_token", "expired");
    let challenge = a.header("www-authenticate").unwrap();
    assert!(
        challenge.starts_with(
            r#"Bearer realm="tollgate", error="invalid_token", error_description="expired: the token expired "#
        ),
        "{challenge}"
    );
    assert!(challenge.contains("(exp 1, now "), "{challenge}");
    assert!(!challenge.contains(&token[..20]), "the token never appears");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("expired: the token expired "));
    assert!(body["fix"].as_str().unwrap().len() > 10);
    assert_eq!(a.header("retry-after"), None);

    // The hook holds the full typed error and the request.
    let r = last(&api.seen);
    assert!(matches!(
        r.error(),
        Some(ValidationError::Expired { exp: 1, .. })
    ));
    assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/me"));
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "expired");
    assert_eq!(r.cause.as_ref().map(|c| c.id), Some("token_expired"));
    api.issuer.shutdown().await;
}

#[tokio::test]
async fn wrong_audience_is_401_with_expected_and_found() {
    let api = api().await;
    let token = api.issuer.mint(json!({}), json!({"aud": "api://other"}));
    let a = send(&api.app, get_with("/me", Some(&token))).await;
    let body = assert_refusal(&a, 401, "invalid_token", "audience_mismatch");
    assert_eq!(
        a.header("www-authenticate").unwrap(),
        r#"Bearer realm="tollgate", error="invalid_token", error_description="audience_mismatch: the audience 'api://other' is not accepted; expected 'api://default'""#
    );
    assert_eq!(
        body["error_description"],
        r#"audience_mismatch: the audience "api://other" is not accepted; expected "api://default""#
    );
    let r = last(&api.seen);
    let cause = r.cause.as_ref().expect("the doctor names a cause");
    // The doctor's diagnosis comes with the rejection.
    assert_eq!(cause.id, "audience_other_api");
    assert!(cause.fix.contains("api://default"), "{cause}");
    match r.error() {
        Some(ValidationError::AudienceMismatch { expected, found }) => {
            assert_eq!(expected, &vec!["api://default".to_string()]);
            assert_eq!(found, &vec!["api://other".to_string()]);
        }
        other => panic!("{other:?}"),
    }
    api.issuer.shutdown().await;
}

#[tokio::test]
async fn missing_token_is_401_with_a_bare_bearer_challenge() {
    let api = api().await;
    let a = send(&api.app, get_with("/me", None)).await;
    let body = assert_refusal(&a, 401, "missing_token", "missing_token");
    // RFC 6750 section 3.1: no error code when the request carries no credentials.
    assert_eq!(
        a.header("www-authenticate"),
        Some(r#"Bearer realm="tollgate""#)
    );
    assert_eq!(
        body["error_description"],
        "missing_token: the request has no Authorization header; send Authorization: Bearer <access token>"
    );
    assert!(matches!(
        last(&api.seen).reason,
        RejectReason::MissingToken(_)
    ));

    // Another scheme is "no bearer token" too, and says so.
    let req = Request::get("/me")
        .header("authorization", "Basic ZGV2OmRldi1zZWNyZXQ=")
        .body(Body::empty())
        .unwrap();
    let a = send(&api.app, req).await;
    let body = assert_refusal(&a, 401, "missing_token", "missing_token");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains(r#"uses the "Basic" scheme"#));
    assert!(!a.text.contains("ZGV2OmRldi1zZWNyZXQ"));

    // Two Authorization headers: refused, not guessed.
    let req = Request::get("/me")
        .header("authorization", format!("Bearer {}", api.issuer.token()))
        .header("authorization", format!("Bearer {}", api.issuer.token()))
        .body(Body::empty())
        .unwrap();
    let a = send(&api.app, req).await;
    assert_refusal(&a, 401, "missing_token", "missing_token");
    assert!(a.text.contains("more than one Authorization header"));
    api.issuer.shutdown().await;
}

#[tokio::test]
async fn insufficient_scope_is_403_naming_the_scope() {
    let api = api().await;
    let reader = api.issuer.mint(json!({}), json!({"scope": "orders.read"}));
    let req = Request::post("/orders")
        .header("authorization", format!("Bearer {reader}"))
        .body(Body::empty())
        .unwrap();
    let a = send(&api.app, req).await;
    let body = assert_refusal(&a, 403, "insufficient_scope", "insufficient_scope");
    assert_eq!(
        a.header("www-authenticate").unwrap(),
        concat!(
            r#"Bearer realm="tollgate", error="insufficient_scope", "#,
            r#"error_description="insufficient_scope: this route requires scope orders.write; the token grants orders.read", "#,
            r#"scope="orders.write""#
        )
    );
    assert_eq!(
        body["error_description"],
        "insufficient_scope: this route requires scope orders.write; the token grants orders.read"
    );
    let r = last(&api.seen);
    assert_eq!(
        r.reason,
        RejectReason::Forbidden {
            code: "insufficient_scope",
            description: "this route requires scope orders.write; the token grants orders.read"
                .into()
        }
    );
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/orders"));

    let writer = api
        .issuer
        .mint(json!({}), json!({"scope": "orders.read orders.write"}));
    let req = Request::post("/orders")
        .header("authorization", format!("Bearer {writer}"))
        .body(Body::empty())
        .unwrap();
    let a = send(&api.app, req).await;
    assert_eq!((a.status, a.text.as_str()), (StatusCode::OK, "created"));

    // Roles: 403 with code insufficient_role, no scope parameter.
    let admin = api.issuer.mint(json!({}), json!({"roles": ["admin"]}));
    let plain = api.issuer.token();
    let del = |t: &str| {
        Request::delete("/users/7")
            .header("authorization", format!("Bearer {t}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(send(&api.app, del(&admin)).await.status, StatusCode::OK);
    let a = send(&api.app, del(&plain)).await;
    assert_refusal(&a, 403, "insufficient_scope", "insufficient_role");
    let challenge = a.header("www-authenticate").unwrap();
    assert!(challenge.contains(r#"error="insufficient_scope""#));
    assert!(!challenge.contains("scope=\"admin"), "{challenge}");
    api.issuer.shutdown().await;
}

/// Finding 5 of issue 11: with details exposed, a "cannot verify now" answer still names
/// neither the fetch URL, the IdP's address, nor what the IdP or the OS said; only that keys
/// are unavailable and when to retry.
fn assert_no_internals(a: &Answer, secrets: &[&str]) {
    let everything = format!("{:?} {}", a.headers, a.text);
    for secret in secrets.iter().chain(&[
        "127.0.0.1",
        "/jwks",
        "openid-configuration",
        "http://",
        "HTTP status",
        "os error",
        "injected fault",
        "server_error",
        "timed out",
        "max_wait",
    ]) {
        assert!(
            !everything.contains(secret),
            "{secret:?} reached the client: {everything}"
        );
    }
    let body = a.json();
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.starts_with("keys_unavailable: cannot verify now: the token's signing keys are unavailable; retry after "),
        "{description}"
    );
    assert!(body["fix"].is_string(), "details are exposed: {body}");
}

#[tokio::test]
async fn keys_unavailable_is_503_with_retry_after() {
    // Cold start while the issuer fails: nothing was ever fetched.
    let api = api().await;
    let token = api.issuer.token();
    api.issuer.set_fault(Fault::Status500);
    let a = send(&api.app, get_with("/me", Some(&token))).await;
    let body = assert_refusal(&a, 503, "temporarily_unavailable", "keys_unavailable");
    assert_eq!(a.header("retry-after"), Some("5"));
    assert_eq!(a.header("www-authenticate"), None);
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("keys_unavailable: cannot verify now"));
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .ends_with("retry after 5 s"));
    assert_no_internals(
        &a,
        &[
            &api.issuer.url(),
            &api.issuer.discovery_url(),
            &api.issuer.jwks_url(),
        ],
    );
    // The hook (logs) still gets the whole reason.
    match last(&api.seen).error() {
        Some(e @ ValidationError::KeysUnavailable { reason, .. }) => {
            assert!(e.to_string().contains(reason.as_str()));
            assert!(reason.contains("500"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // The same with unavailable_status 401: an invalid_token challenge, no internals.
    let (app, _) = app(JwtLayer::new(validator_for(&api.issuer))
        .challenges(tollgate::challenge::ChallengeOptions::new().unavailable_status(401)));
    let a = send(&app, get_with("/me", Some(&token))).await;
    assert_refusal(&a, 401, "invalid_token", "keys_unavailable");
    assert!(a
        .header("www-authenticate")
        .unwrap()
        .contains("retry after 5 s"));
    assert_no_internals(&a, &[&api.issuer.url(), &api.issuer.discovery_url()]);
    api.issuer.shutdown().await;
}

#[tokio::test]
async fn hanging_issuer_is_503_after_max_wait_not_a_hang() {
    let issuer = DevIssuer::start(IssuerOptions::default()).await.unwrap();
    issuer.set_fault(Fault::Hang);
    let validator = Validator::new(vec![IssuerConfig::discovery(issuer.url())
        .policy(Policy::new().audience(issuer.audience()))
        .cache(CacheOptions::default().max_wait(Duration::from_millis(300)))])
    .unwrap();
    let (app, seen) = app(JwtLayer::new(validator));
    let started = std::time::Instant::now();
    let a = send(&app, get_with("/me", Some(&issuer.token()))).await;
    assert_refusal(&a, 503, "temporarily_unavailable", "keys_unavailable");
    assert_eq!(a.header("retry-after"), Some("5"));
    assert_no_internals(&a, &[&issuer.url(), &issuer.discovery_url()]);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(last(&seen).error().unwrap().is_unavailable());
    issuer.shutdown().await;
}

#[tokio::test]
async fn unreachable_jwks_on_a_cold_start_is_503() {
    let issuer = DevIssuer::start(IssuerOptions::default()).await.unwrap();
    let closed: SocketAddr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let validator = Validator::new(vec![IssuerConfig::jwks_uri(
        issuer.url(),
        format!("http://{closed}/jwks"),
    )
    .policy(Policy::new().audience(issuer.audience()))
    .cache(CacheOptions::default().max_wait(Duration::from_secs(3)))])
    .unwrap();
    let (app, seen) = app(JwtLayer::new(validator)
        .challenges(tollgate::challenge::ChallengeOptions::new().retry_after(30)));
    let a = send(&app, get_with("/me", Some(&issuer.token()))).await;
    assert_refusal(&a, 503, "temporarily_unavailable", "keys_unavailable");
    assert_eq!(a.header("retry-after"), Some("30"));
    assert_no_internals(
        &a,
        &[&closed.to_string(), &closed.port().to_string(), "refused"],
    );
    assert!(a.json()["error_description"]
        .as_str()
        .unwrap()
        .ends_with("retry after 30 s"));
    match last(&seen).error() {
        Some(ValidationError::KeysUnavailable { issuer: iss, .. }) => {
            assert_eq!(iss.as_deref(), Some(issuer.url().as_str()))
        }
        other => panic!("{other:?}"),
    }
    issuer.shutdown().await;
}

#[tokio::test]
async fn claims_that_do_not_fit_the_type_are_401_invalid_claim() {
    let api = api().await;
    let a = send(&api.app, get_with("/email", Some(&api.issuer.token()))).await;
    let body = assert_refusal(&a, 401, "invalid_token", "invalid_claim");
    let text = body["error_description"].as_str().unwrap();
    assert!(text.contains("\"email\""), "{text}");
    assert!(text.contains("NeedsEmail"), "{text}");
    assert!(matches!(
        last(&api.seen).error(),
        Some(ValidationError::InvalidClaim { claim, .. }) if claim == "email"
    ));
    let with = api
        .issuer
        .mint(json!({}), json!({"email": "a@example.com"}));
    let a = send(&api.app, get_with("/email", Some(&with))).await;
    assert_eq!((a.status, a.text.as_str()), (StatusCode::OK, "has email"));
    api.issuer.shutdown().await;
}

#[tokio::test]
async fn extractors_without_the_layer_answer_500() {
    let app = Router::new().route("/me", get(me)).route(
        "/orders",
        post(|| async { "created" }).layer(RequireScope::new("orders.write")),
    );
    let a = send(&app, get_with("/me", Some("a.b.c"))).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(a.json()["code"], "layer_missing");
    assert!(a.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("JwtLayer"));
    let req = Request::post("/orders").body(Body::empty()).unwrap();
    let a = send(&app, req).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(a.text.contains("RequireScope"));
}

#[tokio::test]
async fn cookie_and_query_parameter_when_configured() {
    let issuer = DevIssuer::start(IssuerOptions::default()).await.unwrap();
    let token = issuer.token();
    let (app, seen) = app(JwtLayer::new(validator_for(&issuer))
        .cookie("at")
        .query_param("access_token")
        .realm("orders"));

    let req = Request::get("/me")
        .header("cookie", format!("theme=dark; at={token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, req).await.status, StatusCode::OK);
    let req = Request::get(format!("/me?access_token={token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, req).await.status, StatusCode::OK);

    // The same token in the header and the query: ambiguous, 400.
    let req = Request::get(format!("/me?access_token={token}"))
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let a = send(&app, req).await;
    assert_refusal(&a, 400, "invalid_request", "invalid_request");
    assert!(a
        .header("www-authenticate")
        .unwrap()
        .starts_with(r#"Bearer realm="orders", error="invalid_request""#));
    let r = last(&seen);
    assert!(matches!(r.reason, RejectReason::InvalidRequest(_)));
    assert_eq!(r.path, "/me", "the query (and its token) is not reported");

    // An expired token in the cookie is rejected like one in the header.
    let expired = issuer.mint(json!({}), json!({"exp": 1}));
    let req = Request::get("/me")
        .header("cookie", format!("at={expired}"))
        .body(Body::empty())
        .unwrap();
    let a = send(&app, req).await;
    assert_refusal(&a, 401, "invalid_token", "expired");
    assert_eq!(
        last(&seen).source,
        Some(tollgate::tower::TokenSource::Cookie("at".into()))
    );

    // Nothing anywhere.
    let a = send(&app, get_with("/me", None)).await;
    assert_eq!(
        a.header("www-authenticate"),
        Some(r#"Bearer realm="orders""#)
    );
    assert!(a.text.contains(r#"no cookie \"at\""#), "{}", a.text);
    issuer.shutdown().await;
}

#[tokio::test]
async fn optional_layer_lets_anonymous_requests_through() {
    let issuer = DevIssuer::start(IssuerOptions::default()).await.unwrap();
    let layer = JwtLayer::new(validator_for(&issuer)).optional();
    let app = Router::new()
        .route("/maybe", get(maybe))
        .route("/me", get(me))
        .route(
            "/orders",
            post(|| async { "created" }).layer(RequireScope::new("write")),
        )
        .layer(layer);
    let a = send(&app, get_with("/maybe", None)).await;
    assert_eq!(a.text, "hello stranger");
    let a = send(&app, get_with("/maybe", Some(&issuer.token()))).await;
    assert_eq!(a.text, "hello dev-user");
    // A bad token is still refused.
    let expired = issuer.mint(json!({}), json!({"exp": 1}));
    let a = send(&app, get_with("/maybe", Some(&expired))).await;
    assert_refusal(&a, 401, "invalid_token", "expired");
    // Routes that need claims refuse anonymous requests.
    let a = send(&app, get_with("/me", None)).await;
    assert_refusal(&a, 401, "missing_token", "missing_token");
    let a = send(&app, Request::post("/orders").body(Body::empty()).unwrap()).await;
    assert_refusal(&a, 401, "missing_token", "missing_token");
    issuer.shutdown().await;
}

#[tokio::test]
async fn over_a_real_socket() {
    let api = api().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, api.app)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
            .unwrap();
    });
    let client = reqwest::Client::builder().timeout(LIMIT).build().unwrap();
    let ok = client
        .get(format!("http://{addr}/me"))
        .bearer_auth(api.issuer.token())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let body: Value = serde_json::from_str(&ok.text().await.unwrap()).unwrap();
    assert_eq!(body["sub"], "dev-user");
    let no = client
        .get(format!("http://{addr}/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(no.status(), 401);
    assert_eq!(
        no.headers()["www-authenticate"].to_str().unwrap(),
        r#"Bearer realm="tollgate""#
    );
    let _ = stop_tx.send(());
    tokio::time::timeout(LIMIT, server).await.unwrap().unwrap();
    api.issuer.shutdown().await;
}

/// A validator for `https://idp` (audience `api`), a client key, and a token bound to it.
fn dpop_setup() -> (tollgate::Validator, tollgate::SigningKey, String) {
    use tollgate::{jwk::thumbprint_of, jws, Algorithm, JwkSet, SigningKey};
    let issuer_key = SigningKey::generate(Algorithm::ES256, "i").unwrap();
    let client_key = SigningKey::generate(Algorithm::ES256, "c").unwrap();
    let keys = JwkSet::from_value(&json!({"keys": [issuer_key.public_jwk()]})).unwrap();
    let validator = Validator::new(vec![
        IssuerConfig::static_keys("https://idp", keys).policy(Policy::new().audience("api"))
    ])
    .unwrap();
    let now = tollgate::clock::unix_now();
    let jkt = thumbprint_of(&client_key.public_jwk()).unwrap();
    let token = jws::sign(
        &json!({"typ": "at+jwt"}),
        &json!({"iss": "https://idp", "aud": "api", "exp": now + 600, "cnf": {"jkt": jkt}}),
        &issuer_key,
    )
    .unwrap();
    (validator, client_key, token)
}

/// DPoP through the layer: the validator's one binding path (`validate_request`), with the
/// URL from `public_url`; a replay, a wrong method and a bound token sent as Bearer are
/// refused with their codes and a `DPoP` challenge.
#[tokio::test]
async fn dpop_bound_tokens_through_the_layer() {
    use tollgate::dpop::make_proof;
    let (validator, client_key, token) = dpop_setup();
    let app = Router::new()
        .route("/orders/{id}", get(|| async { "ok" }))
        .layer(JwtLayer::new(validator).public_url("https://api.example.com"));
    let now = tollgate::clock::unix_now();
    let send = |scheme: &str, proof: &str| {
        Request::get("/orders/7")
            .header("authorization", format!("{scheme} {token}"))
            .header("dpop", proof)
            .body(Body::empty())
            .unwrap()
    };
    let url = "https://api.example.com/orders/7";
    let proof = make_proof(&client_key, "GET", url, Some(&token), now).unwrap();
    let r = app.clone().oneshot(send("DPoP", &proof)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    for (scheme, proof, code) in [
        ("DPoP", proof.clone(), "dpop_replayed"),
        (
            "DPoP",
            make_proof(&client_key, "POST", url, Some(&token), now).unwrap(),
            "dpop_htm_mismatch",
        ),
        (
            "Bearer",
            make_proof(&client_key, "GET", url, Some(&token), now).unwrap(),
            "dpop_bound_token_as_bearer",
        ),
    ] {
        let r = app.clone().oneshot(send(scheme, &proof)).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()["x-tollgate-error"], code);
        let w = r.headers()["www-authenticate"].to_str().unwrap();
        assert!(w.starts_with("DPoP realm=\"tollgate\", algs="), "{w}");
    }
}

/// Without `public_url` the layer reads `Host`, which the client writes: a `Host` that is not
/// `host[:port]` (a proof's path, then `#` or `?`) must not make an unused proof for another
/// path match this request's URL.
#[tokio::test]
async fn dpop_host_header_cannot_stand_in_for_the_signed_path() {
    use tollgate::dpop::make_proof;
    let (validator, client_key, token) = dpop_setup();
    let app = Router::new()
        .route("/orders/{id}", get(|| async { "ok" }))
        .route("/admin", get(|| async { "admin" }))
        .layer(JwtLayer::new(validator));
    let now = tollgate::clock::unix_now();
    let url = "http://api.example/orders/7";
    let proof = make_proof(&client_key, "GET", url, Some(&token), now).unwrap();
    let send = |path: &str, host: &str| {
        Request::get(path)
            .header("host", host)
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", &proof)
            .body(Body::empty())
            .unwrap()
    };
    for host in ["api.example/orders/7#", "api.example/orders/7?"] {
        let r = app.clone().oneshot(send("/admin", host)).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{host}");
        assert_eq!(
            r.headers()["x-tollgate-error"],
            "dpop_htu_mismatch",
            "{host}"
        );
    }
    let r = app
        .clone()
        .oneshot(send("/orders/7", "api.example"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// An opaque token through the layer: introspected at the dev issuer, its answer's claims
/// reach the extractors, scope rules apply, and a revoked or unanswerable token is refused
/// (401 / 503), never let through.
#[tokio::test]
async fn opaque_tokens_are_introspected_by_the_layer() {
    use tollgate::introspection::{ClientSecret, IntrospectionOptions};
    let issuer = DevIssuer::start(IssuerOptions::default()).await.unwrap();
    let validator = Validator::new(vec![IssuerConfig::discovery(issuer.url())
        .policy(Policy::new().audience(issuer.audience()))
        .introspection(
            IntrospectionOptions::new("dev", ClientSecret::new("dev-secret"))
                .max_ttl(Duration::ZERO)
                .inactive_ttl(Duration::ZERO),
        )])
    .unwrap();
    let (app, _seen) = app(JwtLayer::new(validator));
    let token = issuer.opaque_token(json!({"scope": "read orders.read", "sub": "opaque-user"}));
    let a = send(&app, get_with("/me", Some(&token))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json()["sub"], "opaque-user");
    let a = send(&app, get_with("/verified", Some(&token))).await;
    assert_eq!(a.text, "- -");
    let post = Request::post("/orders")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    assert_refusal(
        &send(&app, post).await,
        403,
        "insufficient_scope",
        "insufficient_scope",
    );
    issuer.revoke(&token);
    let a = send(&app, get_with("/me", Some(&token))).await;
    assert_refusal(&a, 401, "invalid_token", "token_inactive");
    issuer.set_fault(Fault::Status500);
    let fresh = issuer.opaque_token(json!({}));
    let a = send(&app, get_with("/me", Some(&fresh))).await;
    assert_refusal(
        &a,
        503,
        "temporarily_unavailable",
        "introspection_unavailable",
    );
    assert!(a.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("introspection endpoint is unavailable"));
    issuer.shutdown().await;
}

/// The layer in front of a multi-tenant API: the dev issuer plays Entra's `common` endpoint
/// (a `{tenantid}` discovery issuer, keys with `issuer` members); the validator accepts the
/// template for two tenants. Allowed tenants reach the handler with `tid` in the claims;
/// another tenant, a missing `tid` and a personal-account key for an organisation's `iss`
/// are refused with their codes.
#[tokio::test]
async fn multi_tenant_issuer_behind_the_layer() {
    const CONTOSO: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const FABRIKAM: &str = "0b5a1f7e-3c4d-4e8f-9a0b-1c2d3e4f5a6b";
    const OTHER: &str = "11111111-2222-4333-8444-555555555555";
    let issuer = DevIssuer::start(IssuerOptions {
        multi_tenant: true,
        ..IssuerOptions::default()
    })
    .await
    .unwrap();
    let template = issuer.published_issuer();
    assert!(template.ends_with("/{tenantid}/v2.0"), "{template}");
    let validator = Validator::new(vec![IssuerConfig::discovery_url(
        &template,
        issuer.discovery_url(),
    )
    .policy(
        Policy::new()
            .audience(issuer.audience())
            .tenants([CONTOSO, FABRIKAM]),
    )])
    .unwrap();
    let (app, seen) = app(JwtLayer::new(validator));
    let for_tenant = |tid: &str| {
        issuer.mint(
            json!({}),
            json!({"iss": issuer.issuer_for(tid), "tid": tid}),
        )
    };

    for tid in [CONTOSO, FABRIKAM] {
        let a = send(&app, get_with("/raw", Some(&for_tenant(tid)))).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        assert_eq!(a.json()["tid"], tid);
        assert_eq!(a.json()["iss"], issuer.issuer_for(tid));
    }
    let a = send(&app, get_with("/raw", Some(&for_tenant(OTHER)))).await;
    assert_refusal(&a, 401, "invalid_token", "tenant_not_allowed");
    assert_eq!(
        last(&seen).error().map(ValidationError::code),
        Some("tenant_not_allowed")
    );
    let no_tid = issuer.mint(
        json!({}),
        json!({"iss": issuer.issuer_for(CONTOSO), "tid": null}),
    );
    let a = send(&app, get_with("/raw", Some(&no_tid))).await;
    assert_refusal(&a, 401, "invalid_token", "tenant_missing");
    let forged = issuer.mint(
        json!({"kid": issuer.personal_kid().unwrap()}),
        json!({"iss": issuer.issuer_for(CONTOSO), "tid": CONTOSO}),
    );
    let a = send(&app, get_with("/raw", Some(&forged))).await;
    assert_refusal(&a, 401, "invalid_token", "key_issuer_mismatch");
    issuer.shutdown().await;
}
