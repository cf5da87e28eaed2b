//! Protect a tower or axum service (feature `tower`).
//!
//! - [`JwtLayer`] reads the bearer token, validates it with a shared validator, puts the
//!   [`Verified`] token into the request extensions, and answers refusals exactly like
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

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, StatusCode};

use crate::challenge::Challenge;
use crate::claims::Policy;
use crate::error::ValidationError;
use crate::jws;
use crate::validate::{LocalValidator, Verified};
use crate::validator::Validator;

pub use extract::Claims;
pub use layer::{JwtLayer, JwtService, RejectReason, Rejection};
pub use require::{RequireRole, RequireScope, RequireService};
pub use token::TokenSource;

/// The future a [`TokenValidator`] returns.
pub type ValidateFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Verified, ValidationError>> + Send + 'a>>;

/// Something that validates a token: the remote [`Validator`] (keys from issuers), a
/// [`LocalValidator`] (a fixed key set), an `Arc` of either, or your own (for example a
/// wrapper that counts, caches or adds checks).
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use tollgate::tower::{JwtLayer, TokenValidator, ValidateFuture};
/// use tollgate::{LocalValidator, Policy};
///
/// /// Counts the tokens it is asked about, then delegates.
/// struct Counting {
///     inner: LocalValidator,
///     seen: AtomicU64,
/// }
///
/// impl TokenValidator for Counting {
///     fn validate<'a>(&'a self, token: &'a str) -> ValidateFuture<'a> {
///         self.seen.fetch_add(1, Ordering::Relaxed);
///         TokenValidator::validate(&self.inner, token)
///     }
///     fn policy_for(&self, token: &str) -> Option<Policy> {
///         self.inner.policy_for(token)
///     }
/// }
/// # let inner = LocalValidator::new(tollgate::JwkSet::default(), Policy::new());
/// let layer = JwtLayer::new(Counting { inner, seen: AtomicU64::new(0) });
/// # let _ = layer;
/// ```
pub trait TokenValidator: Send + Sync + 'static {
    /// Validates `token` (without the `Bearer ` prefix).
    fn validate<'a>(&'a self, token: &'a str) -> ValidateFuture<'a>;

    /// The policy `token` is judged by, so that a rejection can be diagnosed
    /// ([`Rejection::cause`]). Default: `None`, no diagnosis.
    fn policy_for(&self, token: &str) -> Option<Policy> {
        let _ = token;
        None
    }
}

impl TokenValidator for Validator {
    fn validate<'a>(&'a self, token: &'a str) -> ValidateFuture<'a> {
        Box::pin(Validator::validate(self, token))
    }

    /// The policy of the issuer the token names (unverified `iss`); for an unknown issuer, a
    /// policy listing every configured issuer.
    fn policy_for(&self, token: &str) -> Option<Policy> {
        let claims = jws::decode(token, usize::MAX).ok()?.claims().ok();
        let iss = claims
            .as_ref()
            .and_then(|c| c.get("iss"))
            .and_then(|v| v.as_str());
        match iss.and_then(|iss| self.config(iss)) {
            Some(config) => Some(config.policy.clone()),
            None => Some(Policy {
                issuers: self.issuers(),
                ..Policy::new()
            }),
        }
    }
}

impl TokenValidator for LocalValidator {
    fn validate<'a>(&'a self, token: &'a str) -> ValidateFuture<'a> {
        Box::pin(std::future::ready(LocalValidator::validate(self, token)))
    }

    fn policy_for(&self, _token: &str) -> Option<Policy> {
        Some(self.policy().clone())
    }
}

impl<T: TokenValidator> TokenValidator for Arc<T> {
    fn validate<'a>(&'a self, token: &'a str) -> ValidateFuture<'a> {
        T::validate(self, token)
    }

    fn policy_for(&self, token: &str) -> Option<Policy> {
        T::policy_for(self, token)
    }
}

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
