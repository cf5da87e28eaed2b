//! Protect a tower or axum service (feature `tower`).
//!
//! - [`JwtLayer`] reads the bearer token, validates it with a shared validator, puts the
//!   [`Verified`](crate::Verified) token into the request extensions, and answers refusals exactly like
//!   `tollgate serve` (see [`crate::challenge`]): 401 with `WWW-Authenticate: Bearer
//!   error="invalid_token"`, 503 with `Retry-After` when keys are unavailable, a small JSON
//!   body with the stable code. [`JwtLayer::on_rejected`] sees every refusal with its full
//!   typed [`ValidationError`], for logs and metrics.
//! - [`Claims<T>`] extracts the claims in a handler, typed through serde or as
//!   `serde_json::Value`; `Verified` can be extracted too.
//! - [`RequireScope`] and [`RequireRole`] guard single routes: 403 `insufficient_scope` with
//!   the `scope` parameter in `WWW-Authenticate`.
//!
//! ```
//! use axum::{routing::{get, post}, Router};
//! use serde::Deserialize;
//! use tollgate::tower::{Claims, JwtLayer, RequireScope};
//! use tollgate::{IssuerConfig, Policy, Validator};
//!
//! #[derive(Deserialize)]
//! struct MyClaims {
//!     sub: String,
//! }
//!
//! async fn me(Claims(claims): Claims<MyClaims>) -> String {
//!     format!("hello {}", claims.sub)
//! }
//!
//! async fn create_order() -> &'static str {
//!     "created"
//! }
//!
//! let validator = Validator::new(vec![
//!     IssuerConfig::discovery("https://login.example.com/")
//!         .policy(Policy::new().audience("api://orders")),
//! ])
//! .unwrap();
//!
//! let protected = Router::new()
//!     .route("/me", get(me))
//!     .route("/orders", post(create_order).layer(RequireScope::new("orders.write")))
//!     .layer(JwtLayer::new(validator));
//! let app: Router = Router::new()
//!     .route("/health", get(|| async { "ok" }))
//!     .merge(protected);
//! # let _ = app;
//! ```
//!
//! Order matters as in any tower stack: [`JwtLayer`] must wrap the routes that use
//! [`Claims`], [`RequireScope`] or [`RequireRole`]. Without it they answer 500 with a
//! message saying so, never 200. A CORS layer goes outside [`JwtLayer`] (added after it), so
//! that browsers' preflight `OPTIONS` requests, which carry no token, are answered first.

mod extract;
mod layer;
mod require;
mod token;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, StatusCode};

use crate::challenge::Challenge;
use crate::error::ValidationError;

/// The validating service the layer calls; it lives in [`crate::validator`], shared with
/// `tollgate serve`.
pub use crate::validator::{TokenValidator, ValidateFuture};
pub use extract::Claims;
pub use layer::{JwtLayer, JwtService, RejectReason, Rejection};
pub use require::{RequireRole, RequireScope, RequireService};
pub use token::TokenSource;

/// The most likely cause of a rejection, by the doctor, from the token's (unverified)
/// header and claims and the policy it was judged by. Pure; the token is not kept.
fn diagnose(
    validator: &dyn TokenValidator,
    err: &ValidationError,
    token: &str,
) -> Option<crate::doctor::Cause> {
    let policy = validator.policy_for(token)?;
    let settings = crate::doctor::Settings::new(policy, crate::clock::unix_now());
    crate::doctor::explain(err, token, &settings)
        .into_iter()
        .next()
}

/// The HTTP response for a challenge: its status, every header of
/// [`Challenge::headers`] and the JSON body.
impl IntoResponse for Challenge {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body_text()));
        *response.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        for (name, value) in self.headers() {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
        response
    }
}

/// A 500 for a server-side mistake (an extractor or guard used without [`JwtLayer`]): the
/// same JSON shape as a challenge, code `layer_missing`. Logged at error level.
fn layer_missing(what: &str) -> Response {
    let description = format!(
        "{what} is used on a route that tollgate::tower::JwtLayer does not wrap; add \
         .layer(JwtLayer::new(validator)) around this route (outside the guards)"
    );
    tracing::error!(target: "tollgate::tower", "{description}");
    let body = serde_json::json!({
        "error": "server_error",
        "code": "layer_missing",
        "error_description": description,
    });
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
