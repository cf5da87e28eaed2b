//! axum extractors for what [`JwtLayer`](super::JwtLayer) verified: [`Claims<T>`] and
//! [`Verified`].

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::Response;
use http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::layer::{LayerContext, RejectReason};
use crate::error::ValidationError;
use crate::validate::Verified;

/// The verified token's claims, deserialized into `T` (default: `serde_json::Value`, the
/// whole claims object).
///
/// Needs [`JwtLayer`](super::JwtLayer) around the route. Refusals:
///
/// - no layer: 500 `layer_missing` (a server mistake, logged at error level);
/// - an optional layer and no token: 401 `missing_token`;
/// - the claims do not fit `T` (say a required field is absent): 401 `invalid_claim`, naming
///   the serde error, and reported to [`on_rejected`](super::JwtLayer::on_rejected).
///
/// `Option<Claims<T>>` is `None` for an anonymous request under an optional layer.
///
/// ```
/// use axum::{routing::get, Router};
/// use serde::Deserialize;
/// use tollgate::tower::{Claims, JwtLayer};
/// # use tollgate::{JwkSet, LocalValidator, Policy};
/// # let validator = LocalValidator::new(JwkSet::default(), Policy::new());
///
/// #[derive(Deserialize)]
/// struct MyClaims {
///     sub: String,
///     #[serde(default)]
///     email: Option<String>,
/// }
///
/// async fn typed(Claims(c): Claims<MyClaims>) -> String {
///     format!("{} <{}>", c.sub, c.email.unwrap_or_default())
/// }
///
/// async fn untyped(Claims(c): Claims) -> String {
///     c["iss"].to_string()
/// }
///
/// let app: Router = Router::new()
///     .route("/me", get(typed))
///     .route("/raw", get(untyped))
///     .layer(JwtLayer::new(validator));
/// # let _ = app;
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Claims<T = Value>(pub T);

impl<T> std::ops::Deref for Claims<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<S, T> FromRequestParts<S> for Claims<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Response> {
        let context = layer_context(parts, "the Claims extractor")?;
        let Some(verified) = parts.extensions.get::<Verified>() else {
            return Err(missing(parts, &context));
        };
        typed(parts, &context, verified).map(Claims)
    }
}

impl<S, T> OptionalFromRequestParts<S> for Claims<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Response> {
        let context = layer_context(parts, "the Claims extractor")?;
        match parts.extensions.get::<Verified>() {
            Some(verified) => typed(parts, &context, verified).map(|t| Some(Claims(t))),
            None => Ok(None),
        }
    }
}

/// The whole verified token (header, claims, algorithm; what introspection said, for an
/// opaque token), as an extractor. Same refusals as [`Claims`].
///
/// ```
/// use tollgate::Verified;
/// async fn handler(verified: Verified) -> String {
///     let by = match verified.alg {
///         Some(alg) => format!("signed with {alg}"),
///         None => "opaque, introspected".into(),
///     };
///     format!("{} {by}", verified.claims.subject().unwrap_or("?"))
/// }
/// ```
impl<S: Send + Sync> FromRequestParts<S> for Verified {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Response> {
        let context = layer_context(parts, "the Verified extractor")?;
        match parts.extensions.get::<Verified>() {
            Some(v) => Ok(v.clone()),
            None => Err(missing(parts, &context)),
        }
    }
}

/// `None` for an anonymous request under an optional [`JwtLayer`](super::JwtLayer).
impl<S: Send + Sync> OptionalFromRequestParts<S> for Verified {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Response> {
        layer_context(parts, "the Verified extractor")?;
        Ok(parts.extensions.get::<Verified>().cloned())
    }
}

// axum rejections are `Response`s; boxing them would only add an allocation.
#[allow(clippy::result_large_err)]
fn layer_context(parts: &Parts, what: &str) -> Result<LayerContext, Response> {
    parts
        .extensions
        .get::<LayerContext>()
        .cloned()
        .ok_or_else(|| super::layer_missing(what))
}

fn missing(parts: &Parts, context: &LayerContext) -> Response {
    context.missing_token(&parts.method, parts.uri.path())
}

#[allow(clippy::result_large_err)]
fn typed<T: DeserializeOwned>(
    parts: &Parts,
    context: &LayerContext,
    verified: &Verified,
) -> Result<T, Response> {
    verified.claims.deserialize::<T>().map_err(|e| {
        let err = ValidationError::InvalidClaim {
            claim: field_of(&e.to_string()).unwrap_or_else(|| "(claims)".into()),
            expected: format!("claims that fit {}", short_type_name::<T>()),
            found: e.to_string(),
        };
        let challenge = context.challenges().error(&err);
        context.reject(
            RejectReason::Invalid(err),
            challenge,
            &parts.method,
            parts.uri.path(),
            None,
            None,
        )
    })
}

/// The field a serde error names (`missing field `email``, `unknown field `x``), if any.
fn field_of(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = message[start..].find('`')? + start;
    Some(message[start..end].to_string())
}

/// `MyClaims` rather than `my_app::auth::MyClaims`; generic types keep their full name.
fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    if full.contains('<') {
        full
    } else {
        full.rsplit("::").next().unwrap_or(full)
    }
}
