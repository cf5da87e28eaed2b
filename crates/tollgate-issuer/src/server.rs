//! The HTTP face of the issuer (axum): discovery, JWKS, the token endpoint and the admin
//! endpoints tests drive. Each handler reads the shared [`Issuer`] state; nothing is global.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::admin_guard::AdminGuard;
use crate::fault::Fault;
use crate::issuer::Issuer;
use crate::oauth;

/// Path of the JWKS.
pub const JWKS_PATH: &str = "/jwks";
/// Path of the token endpoint.
pub const TOKEN_PATH: &str = "/token";
/// Path of the token introspection endpoint (RFC 7662).
pub const INTROSPECTION_PATH: &str = "/introspect";
/// Path of the token revocation endpoint (RFC 7009).
pub const REVOCATION_PATH: &str = "/revoke";
/// Path of the OpenID Connect discovery document.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
/// Path of the RFC 8414 authorization server metadata (same document).
pub const OAUTH_METADATA_PATH: &str = "/.well-known/oauth-authorization-server";

type Shared = State<Arc<Issuer>>;

/// The router of one issuer.
pub(crate) fn router(issuer: Arc<Issuer>) -> Router {
    let mut router = Router::new()
        .route("/", get(index))
        .route(DISCOVERY_PATH, get(discovery))
        .route(OAUTH_METADATA_PATH, get(discovery))
        .route(JWKS_PATH, get(jwks))
        .route(TOKEN_PATH, post(token))
        .route(INTROSPECTION_PATH, post(introspect))
        .route(REVOCATION_PATH, post(revoke));
    // The admin endpoints are unauthenticated: only requests that name this issuer, come
    // from no foreign web page, and (POST) say they are JSON get through; see `admin_guard`.
    let guard = Arc::new(AdminGuard::new(issuer.addr(), &issuer.url()));
    let admin = Router::new()
        .route("/admin/rotate", post(admin_rotate))
        .route("/admin/mint", post(admin_mint))
        .route("/admin/fault", post(admin_fault))
        .route("/admin/state", get(admin_state))
        .route_layer(middleware::from_fn_with_state(guard, guard_admin));
    router = router.merge(admin);
    // An issuer URL with a path (Keycloak style, `http://host/realms/dev`) gets its
    // discovery document under that path too, where validators look for it.
    if let Some(prefix) = issuer.issuer_path() {
        router = router
            .route(&format!("{prefix}{DISCOVERY_PATH}"), get(discovery))
            .route(&format!("{prefix}{OAUTH_METADATA_PATH}"), get(discovery));
    }
    router.with_state(issuer)
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn with_cache(mut response: Response, max_age: u64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        response.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    response
}

/// Waits while the fault is `Hang`; returns the fault in force afterwards, or `None` when
/// the issuer is shutting down.
async fn fault_after_hang(issuer: &Issuer) -> Option<Fault> {
    let mut fault = issuer.fault_watch();
    let mut stop = issuer.shutdown_watch();
    let current = *fault.borrow_and_update();
    if current != Fault::Hang {
        return Some(current);
    }
    tokio::select! {
        r = fault.wait_for(|f| *f != Fault::Hang) => r.ok().map(|f| *f),
        _ = stop.wait_for(|s| *s) => None,
    }
}

fn unavailable() -> Response {
    json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &json!({"error": "shutting_down", "error_description": "the issuer is stopping"}),
    )
}

fn injected_500() -> Response {
    json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        &json!({"error": "server_error", "error_description": "injected fault: 500"}),
    )
}

async fn index(State(issuer): Shared) -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "service": "tollgate dev issuer",
            "issuer": issuer.url(),
            "discovery": issuer.discovery_url(),
            "jwks_uri": issuer.jwks_url(),
            "token_endpoint": issuer.token_endpoint(),
            "introspection_endpoint": issuer.introspection_endpoint(),
            "revocation_endpoint": issuer.revocation_endpoint(),
            "admin": ["POST /admin/rotate", "POST /admin/mint", "POST /admin/fault", "GET /admin/state"],
            "admin_requests": "POST with Content-Type: application/json; Host this issuer's address; no foreign Origin",
        }),
    )
}

async fn discovery(State(issuer): Shared) -> Response {
    issuer.discovery_requests.fetch_add(1, Ordering::SeqCst);
    match fault_after_hang(&issuer).await {
        None => unavailable(),
        Some(Fault::Status500) => injected_500(),
        Some(_) => with_cache(
            json_response(StatusCode::OK, &issuer.discovery_document()),
            issuer.options().jwks_max_age,
        ),
    }
}

async fn jwks(State(issuer): Shared) -> Response {
    issuer.jwks_requests.fetch_add(1, Ordering::SeqCst);
    let fault = match fault_after_hang(&issuer).await {
        None => return unavailable(),
        Some(f) => f,
    };
    let max_age = issuer.options().jwks_max_age;
    let body = match fault {
        Fault::Status500 => return injected_500(),
        Fault::Garbage => {
            return with_cache(
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    "<html><body>502 Bad Gateway (injected fault: garbage)</body></html>",
                )
                    .into_response(),
                max_age,
            )
        }
        Fault::EmptyKeys => json!({"keys": []}),
        Fault::DropKeys => issuer.jwks_without_current(),
        Fault::None | Fault::Hang => issuer.jwks(),
    };
    with_cache(json_response(StatusCode::OK, &body), max_age)
}

fn oauth_error(e: &oauth::OAuthError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = no_store(json_response(status, &e.body()));
    if e.basic_challenge {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"tollgate-dev-issuer\""),
        );
    }
    response
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

async fn token(State(issuer): Shared, headers: HeaderMap, body: Bytes) -> Response {
    let form = match client_form(&headers, &body) {
        Ok(form) => form,
        Err(e) => return oauth_error(&e),
    };
    let proofs: Vec<&str> = headers
        .get_all("dpop")
        .iter()
        .map(|v| v.to_str().unwrap_or("\u{fffd}"))
        .collect();
    match issuer.token_response(authorization(&headers), &form, &proofs) {
        Ok(body) => no_store(json_response(StatusCode::OK, &body)),
        Err(e) => oauth_error(&e),
    }
}

/// The decoded form of a client request (token, introspection, revocation), or the RFC 6749
/// error for a body that is not a form.
fn client_form(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Vec<(String, String)>, oauth::OAuthError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return Err(oauth::OAuthError {
            status: 400,
            error: "invalid_request",
            description: format!(
                "the request must be a form (Content-Type: application/x-www-form-urlencoded), found {content_type:?}"
            ),
            basic_challenge: false,
        });
    }
    Ok(oauth::parse_form(body))
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// `POST /introspect` (RFC 7662). Faults `500`, `hang` and `garbage` apply here too.
async fn introspect(State(issuer): Shared, headers: HeaderMap, body: Bytes) -> Response {
    issuer.introspection_requests.fetch_add(1, Ordering::SeqCst);
    match fault_after_hang(&issuer).await {
        None => return unavailable(),
        Some(Fault::Status500) => return injected_500(),
        Some(Fault::Garbage) => {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "<html><body>502 Bad Gateway (injected fault: garbage)</body></html>",
            )
                .into_response()
        }
        Some(_) => {}
    }
    let form = match client_form(&headers, &body) {
        Ok(form) => form,
        Err(e) => return oauth_error(&e),
    };
    match issuer.introspection_response(authorization(&headers), &form) {
        Ok(answer) => {
            let replaced = issuer
                .introspection_override
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            match replaced {
                Some(raw) => no_store(
                    (
                        StatusCode::from_u16(raw.status).unwrap_or(StatusCode::OK),
                        [(header::CONTENT_TYPE, raw.content_type)],
                        raw.body,
                    )
                        .into_response(),
                ),
                None => no_store(json_response(StatusCode::OK, &answer)),
            }
        }
        Err(e) => oauth_error(&e),
    }
}

/// `POST /revoke` (RFC 7009): 200 with an empty body, for known and unknown tokens alike.
async fn revoke(State(issuer): Shared, headers: HeaderMap, body: Bytes) -> Response {
    issuer.revocation_requests.fetch_add(1, Ordering::SeqCst);
    let form = match client_form(&headers, &body) {
        Ok(form) => form,
        Err(e) => return oauth_error(&e),
    };
    match issuer.revocation_response(authorization(&headers), &form) {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => oauth_error(&e),
    }
}

/// Lets an admin request through only when [`AdminGuard::check`] accepts it.
async fn guard_admin(State(guard): State<Arc<AdminGuard>>, req: Request, next: Next) -> Response {
    match guard.check(req.method(), req.uri(), req.headers()) {
        Ok(()) => next.run(req).await,
        Err(refusal) => {
            let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::FORBIDDEN);
            no_store(json_response(status, &refusal.body))
        }
    }
}

fn bad_admin_request(reason: impl Into<String>) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({"error": "invalid_request", "error_description": reason.into()}),
    )
}

/// The JSON body of an admin request (empty means `{}`), or why it is not JSON.
fn parse_json_body(body: &Bytes) -> Result<Value, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))
}

async fn admin_rotate(State(issuer): Shared) -> Response {
    let previous = issuer.current_kid();
    match issuer.try_rotate() {
        Ok(kid) => json_response(
            StatusCode::OK,
            &json!({"kid": kid, "previous": previous, "grace_seconds": issuer.options().rotation_grace.as_secs()}),
        ),
        Err(e) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": "server_error", "error_description": e.to_string()}),
        ),
    }
}

async fn admin_mint(State(issuer): Shared, body: Bytes) -> Response {
    let request = match parse_json_body(&body) {
        Ok(v) => v,
        Err(reason) => return bad_admin_request(reason),
    };
    let header = request.get("header").cloned().unwrap_or(json!({}));
    let claims = request.get("claims").cloned().unwrap_or(json!({}));
    for (name, v) in [("header", &header), ("claims", &claims)] {
        if !v.is_object() {
            return bad_admin_request(format!("{name:?} must be a JSON object"));
        }
    }
    if request.get("opaque") == Some(&Value::Bool(true)) {
        return json_response(
            StatusCode::OK,
            &json!({"token": issuer.mint_opaque(&claims)}),
        );
    }
    match issuer.try_mint(&header, &claims) {
        Ok(token) => json_response(StatusCode::OK, &json!({"token": token})),
        Err(e) => bad_admin_request(e.to_string()),
    }
}

async fn admin_fault(State(issuer): Shared, body: Bytes) -> Response {
    let request = match parse_json_body(&body) {
        Ok(v) => v,
        Err(reason) => return bad_admin_request(reason),
    };
    let Some(name) = request.get("fault").and_then(Value::as_str) else {
        return bad_admin_request(
            "expected {\"fault\": \"none\"|\"500\"|\"hang\"|\"garbage\"|\"drop_keys\"|\"empty\"}",
        );
    };
    match name.parse::<Fault>() {
        Ok(fault) => {
            issuer.set_fault(fault);
            json_response(StatusCode::OK, &json!({"fault": fault.as_str()}))
        }
        Err(e) => bad_admin_request(e),
    }
}

async fn admin_state(State(issuer): Shared) -> Response {
    json_response(StatusCode::OK, &issuer.state())
}
