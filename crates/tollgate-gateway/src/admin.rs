//! The admin listener (loopback by default): `/healthz` (the process answers), `/readyz`
//! (every issuer has usable keys), `/metrics` (Prometheus), `/keys` (each issuer's key
//! cache: kids, fetched at, next refresh, last error, stale since), and the doctor page
//! (`/doctor`, see [`crate::web`]) with the issuers prefilled and the recent refusals, when
//! the admin listener is on loopback.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{header, HeaderValue, StatusCode};

use crate::server::Shared;

/// The admin router for a listener bound to `addr`; the doctor page is mounted only on a
/// loopback address (its guard then accepts requests naming that address).
pub(crate) fn router(shared: Arc<Shared>, addr: Option<std::net::SocketAddr>) -> Router {
    let page = match addr {
        Some(a) if a.ip().is_loopback() => {
            crate::web::DoctorPage::of_gateway(shared.clone()).router(a)
        }
        _ => Router::new(),
    };
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/keys", get(keys))
        .with_state(shared)
        .merge(page)
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    if shared.validator.is_ready() {
        return (StatusCode::OK, "ready\n").into_response();
    }
    let waiting: Vec<String> = shared
        .validator
        .status()
        .into_iter()
        .filter(|i| !i.ready)
        .map(|i| i.issuer)
        .collect();
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("not ready: no usable keys yet for {}\n", waiting.join(", ")),
    )
        .into_response()
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let cache = shared.decider.cache();
    let text = shared
        .metrics
        .render(cache.stats(), cache.len(), &shared.validator.status());
    let mut r = (StatusCode::OK, Body::from(text)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

async fn keys(State(shared): State<Arc<Shared>>) -> Response {
    let body =
        serde_json::to_string_pretty(&shared.validator.status()).unwrap_or_else(|_| "[]".into());
    let mut r = (StatusCode::OK, Body::from(body)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
