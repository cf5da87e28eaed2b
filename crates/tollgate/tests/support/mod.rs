//! An in-process identity provider for the key-management tests: serves a discovery document
//! and a JWKS on 127.0.0.1:0, and can rotate keys, fail in every way a real IdP fails, send
//! Cache-Control and ETag, and count the requests it gets.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use tollgate::{jws, Algorithm, SigningKey};

/// How the JWKS endpoint answers.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// The current keys.
    Normal,
    /// This status, with a short HTML body.
    Status(u16),
    /// Never answers.
    Hang,
    /// Waits this long, then answers normally.
    Slow(Duration),
    /// An HTML page with status 200.
    Garbage,
    /// A 200 body of this many bytes.
    Huge(usize),
    /// `{"keys": []}`.
    Empty,
    /// 302 to this location.
    Redirect(String),
}

pub struct IdpState {
    pub base: String,
    mode: Mutex<Mode>,
    keys: Mutex<Vec<Arc<SigningKey>>>,
    /// The `issuer` the discovery document names (default: `base`).
    discovery_issuer: Mutex<Option<String>>,
    cache_control: Mutex<Option<String>>,
    etag: Mutex<Option<String>>,
    pub jwks_hits: AtomicUsize,
    pub discovery_hits: AtomicUsize,
    pub not_modified: AtomicUsize,
}

pub struct TestIdp {
    pub addr: SocketAddr,
    pub state: Arc<IdpState>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestIdp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestIdp {
    /// Starts an IdP with one ES256 key `k1`.
    pub async fn start() -> TestIdp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://127.0.0.1:{}", addr.port());
        let state = Arc::new(IdpState {
            base: base.clone(),
            mode: Mutex::new(Mode::Normal),
            keys: Mutex::new(vec![Arc::new(
                SigningKey::generate(Algorithm::ES256, "k1").unwrap(),
            )]),
            discovery_issuer: Mutex::new(None),
            cache_control: Mutex::new(None),
            etag: Mutex::new(None),
            jwks_hits: AtomicUsize::new(0),
            discovery_hits: AtomicUsize::new(0),
            not_modified: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/moved-jwks", get(moved_jwks))
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestIdp {
            addr,
            state,
            server,
        }
    }

    /// `http://127.0.0.1:PORT`: the issuer, and the base of every URL.
    pub fn issuer(&self) -> String {
        self.state.base.clone()
    }
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.state.base)
    }
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.state.base)
    }
    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }
    pub fn set_discovery_issuer(&self, issuer: &str) {
        *self.state.discovery_issuer.lock().unwrap() = Some(issuer.to_string());
    }
    pub fn set_cache_control(&self, value: Option<&str>) {
        *self.state.cache_control.lock().unwrap() = value.map(str::to_string);
    }
    pub fn set_etag(&self, value: Option<&str>) {
        *self.state.etag.lock().unwrap() = value.map(str::to_string);
    }
    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }
    pub fn discovery_hits(&self) -> usize {
        self.state.discovery_hits.load(Ordering::SeqCst)
    }
    /// Replaces every key by a new ES256 key `kid`; tokens are then signed with it.
    pub fn rotate(&self, kid: &str) {
        *self.state.keys.lock().unwrap() = vec![Arc::new(
            SigningKey::generate(Algorithm::ES256, kid).unwrap(),
        )];
    }
    /// Publishes a new ES256 key `kid` next to the others; tokens are then signed with it.
    pub fn add_key(&self, kid: &str) {
        self.state.keys.lock().unwrap().push(Arc::new(
            SigningKey::generate(Algorithm::ES256, kid).unwrap(),
        ));
    }
    /// The key tokens are signed with (the last one published).
    pub fn signing_key(&self) -> Arc<SigningKey> {
        self.state.keys.lock().unwrap().last().unwrap().clone()
    }
    /// A valid token from this issuer (exp in 2100), signed with the current key.
    pub fn token(&self) -> String {
        self.token_with(&json!({}), &self.claims())
    }
    pub fn claims(&self) -> Value {
        json!({"iss": self.issuer(), "sub": "alice", "aud": "api", "exp": 4_102_444_800u64})
    }
    /// A token with extra header members (e.g. another kid), signed with the current key.
    pub fn token_with(&self, header: &Value, claims: &Value) -> String {
        jws::sign(header, claims, &self.signing_key()).unwrap()
    }
    /// The JWKS currently published.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .state
            .keys
            .lock()
            .unwrap()
            .iter()
            .map(|k| k.public_jwk())
            .collect();
        json!({ "keys": keys })
    }
}

async fn discovery(State(state): State<Arc<IdpState>>) -> Response {
    state.discovery_hits.fetch_add(1, Ordering::SeqCst);
    let issuer = state
        .discovery_issuer
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| state.base.clone());
    axum::Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{}/jwks", state.base),
        "id_token_signing_alg_values_supported": ["ES256"],
    }))
    .into_response()
}

/// The target of a same-origin redirect: always the current keys.
async fn moved_jwks(State(state): State<Arc<IdpState>>, request_headers: HeaderMap) -> Response {
    serve_keys(&state, &request_headers)
}

async fn jwks(State(state): State<Arc<IdpState>>, request_headers: HeaderMap) -> Response {
    state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let mode = state.mode.lock().unwrap().clone();
    match mode {
        Mode::Normal => {}
        Mode::Slow(d) => tokio::time::sleep(d).await,
        Mode::Hang => std::future::pending::<()>().await,
        Mode::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap();
            return (
                status,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>Service Unavailable</body></html>",
            )
                .into_response();
        }
        Mode::Garbage => {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>Please sign in</body></html>",
            )
                .into_response();
        }
        Mode::Huge(n) => {
            let mut body = String::from("{\"keys\":[],\"pad\":\"");
            body.push_str(&"a".repeat(n));
            body.push_str("\"}");
            return (StatusCode::OK, body).into_response();
        }
        Mode::Empty => return axum::Json(json!({"keys": []})).into_response(),
        Mode::Redirect(location) => {
            return (StatusCode::FOUND, [(header::LOCATION, location)]).into_response();
        }
    }
    serve_keys(&state, &request_headers)
}

fn serve_keys(state: &IdpState, request_headers: &HeaderMap) -> Response {
    let keys: Vec<Value> = state
        .keys
        .lock()
        .unwrap()
        .iter()
        .map(|k| k.public_jwk())
        .collect();
    let etag = state.etag.lock().unwrap().clone();
    let cache_control = state.cache_control.lock().unwrap().clone();
    let mut headers = HeaderMap::new();
    if let Some(cc) = &cache_control {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_str(cc).unwrap());
    }
    if let Some(tag) = &etag {
        headers.insert(header::ETAG, HeaderValue::from_str(tag).unwrap());
        let matches = request_headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            == Some(tag.as_str());
        if matches {
            state.not_modified.fetch_add(1, Ordering::SeqCst);
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
    }
    (headers, axum::Json(json!({ "keys": keys }))).into_response()
}

/// Waits (real time, at most 10 s) until `check` holds; panics with `what` otherwise.
pub async fn until(what: &str, check: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A token with header `{"alg": "ES256", "kid": kid}` and a junk signature: enough to make
/// the validator look the kid up (it never gets as far as the signature).
pub fn junk_token(kid: &str, iss: &str) -> String {
    use tollgate::b64;
    let header = json!({"alg": "ES256", "kid": kid});
    let claims = json!({"iss": iss, "exp": 4_102_444_800u64});
    format!(
        "{}.{}.{}",
        b64::encode(header.to_string()),
        b64::encode(claims.to_string()),
        b64::encode([7u8; 64])
    )
}
