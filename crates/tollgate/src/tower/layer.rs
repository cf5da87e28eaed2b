//! [`JwtLayer`]: authenticate every request of the wrapped service.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use axum::body::{Body, HttpBody};
use axum::response::{IntoResponse, Response};
use axum::BoxError;
use bytes::Bytes;
use http::{Method, Request, StatusCode};

use super::token::{Found, Sources, TokenSource};
use super::TokenValidator;
use crate::challenge::{Challenge, ChallengeOptions};
use crate::error::ValidationError;

/// The `on_rejected` callback.
type Hook = Arc<dyn Fn(&Rejection) + Send + Sync>;

/// Why a request was refused: the data behind a [`Rejection`].
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum RejectReason {
    /// No usable bearer token (401 `missing_token`): no `Authorization` header, another
    /// scheme, an empty `Bearer`. The sentence says which.
    MissingToken(String),
    /// The request is ambiguous (400 `invalid_request`): a token in two places, a repeated
    /// query parameter.
    InvalidRequest(String),
    /// The token was rejected (401), or could not be checked now (503): the full typed error.
    Invalid(ValidationError),
    /// The token is valid but lacks what the route requires (403): `code` is
    /// `insufficient_scope` or `insufficient_role`.
    Forbidden {
        /// The stable code.
        code: &'static str,
        /// What was required and what the token has.
        description: String,
    },
}

/// A refused request, as shown to [`JwtLayer::on_rejected`]: why, the answer sent, and which
/// request it was. Never holds the token.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct Rejection {
    /// Why the request was refused.
    pub reason: RejectReason,
    /// The answer sent to the client.
    pub challenge: Challenge,
    /// The request method.
    pub method: Method,
    /// The request path (without the query, which may hold a token).
    pub path: String,
    /// Where the token was found, when there was one.
    pub source: Option<TokenSource>,
    /// For rejected tokens, the most likely cause by the [doctor](crate::doctor) (its
    /// [`id`](crate::doctor::Cause::id) is stable: `audience_other_api`, `keys_rotated`,
    /// `clock_skew`...), when the validator can tell the policy
    /// ([`TokenValidator::policy_for`]). Only computed when an `on_rejected` hook is set.
    pub cause: Option<crate::doctor::Cause>,
}

impl Rejection {
    /// The stable code: a [`ValidationError::code`], `missing_token`, `invalid_request`,
    /// `insufficient_scope` or `insufficient_role`. Good as a metrics label.
    pub fn code(&self) -> &'static str {
        self.challenge.code
    }
    /// The validation error, when the token itself was rejected.
    pub fn error(&self) -> Option<&ValidationError> {
        match &self.reason {
            RejectReason::Invalid(e) => Some(e),
            _ => None,
        }
    }
    /// The HTTP status sent.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.challenge.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        self.challenge.into_response()
    }
}

#[derive(Clone)]
pub(crate) struct Shared {
    validator: Arc<dyn TokenValidator>,
    sources: Sources,
    pub(crate) challenges: ChallengeOptions,
    on_rejected: Option<Hook>,
    optional: bool,
    /// The URL clients use (DPoP `htu`), `scheme://host[:port]`.
    public_url: Option<String>,
}

/// What the layer leaves in the request extensions for the extractors and guards: the
/// challenge settings and the hook, so every refusal looks and is reported the same.
#[derive(Clone)]
pub(crate) struct LayerContext(pub(crate) Arc<Shared>);

impl LayerContext {
    /// The refusal of a route that needs a token when the request has none (an extractor or
    /// guard behind an optional layer).
    pub(crate) fn missing_token(&self, method: &Method, path: &str) -> Response {
        let why = "this route requires a token and the request has none; send Authorization: Bearer <access token>";
        let challenge = self.challenges().missing_token(why);
        let reason = RejectReason::MissingToken(why.into());
        self.reject(reason, challenge, method, path, None, None)
    }

    /// Reports a refusal (with the doctor's diagnosis, when made) to the hook and turns it
    /// into the response.
    pub(crate) fn reject(
        &self,
        reason: RejectReason,
        challenge: Challenge,
        method: &Method,
        path: &str,
        source: Option<TokenSource>,
        cause: Option<crate::doctor::Cause>,
    ) -> Response {
        let rejection = Rejection {
            reason,
            challenge,
            method: method.clone(),
            path: path.to_string(),
            source,
            cause,
        };
        tracing::debug!(
            target: "tollgate::tower",
            code = rejection.code(),
            status = rejection.challenge.status,
            method = %rejection.method,
            path = %crate::text::cut_text(&rejection.path),
            "request refused"
        );
        if let Some(hook) = &self.0.on_rejected {
            hook(&rejection);
        }
        rejection.into_response()
    }

    pub(crate) fn challenges(&self) -> &ChallengeOptions {
        &self.0.challenges
    }
}

/// A tower [`Layer`](tower::Layer) that authenticates requests with a bearer token.
///
/// For each request it reads the token (the `Authorization: Bearer` header; a cookie or a
/// query parameter only when configured), validates it with the shared validator and
///
/// - on success, inserts the [`Verified`](crate::Verified) token into the request extensions
///   (read it with [`Claims`](super::Claims) or `Extension<Verified>`) and calls the service;
/// - otherwise answers without calling the service: 401 `missing_token` or `invalid_token`,
///   400 `invalid_request`, or 503 with `Retry-After` when keys are unavailable, as
///   described in [`crate::challenge`]; then calls [`on_rejected`](JwtLayer::on_rejected).
///
/// Cheap to clone; build it once.
///
/// ```
/// use axum::{body::Body, http::Request, routing::get, Router};
/// use serde_json::json;
/// use tollgate::tower::{Claims, JwtLayer};
/// use tollgate::{jws, Algorithm, JwkSet, LocalValidator, Policy, SigningKey};
/// use tower::ServiceExt;
///
/// let key = SigningKey::generate(Algorithm::ES256, "k1").unwrap();
/// let keys = JwkSet::from_value(&json!({"keys": [key.public_jwk()]})).unwrap();
/// let validator = LocalValidator::new(keys, Policy::new().audience("api"));
///
/// let layer = JwtLayer::new(validator)
///     .cookie("access_token")
///     .realm("orders")
///     .on_rejected(|r| eprintln!("refused {} {}: {}", r.method, r.path, r.code()));
/// let app: Router = Router::new()
///     .route("/me", get(|Claims(c): Claims| async move { c["sub"].to_string() }))
///     .layer(layer);
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// // No token: 401 with a bare challenge.
/// let res = app.clone().oneshot(Request::get("/me").body(Body::empty()).unwrap()).await.unwrap();
/// assert_eq!(res.status(), 401);
/// assert_eq!(res.headers()["www-authenticate"], r#"Bearer realm="orders""#);
///
/// // A valid token in the cookie: the handler sees the claims.
/// let token = jws::sign(&json!({}), &json!({"sub": "ada", "aud": "api", "exp": 4_000_000_000u64}), &key).unwrap();
/// let req = Request::get("/me").header("cookie", format!("access_token={token}")).body(Body::empty()).unwrap();
/// let res = app.oneshot(req).await.unwrap();
/// assert_eq!(res.status(), 200);
/// # });
/// ```
#[derive(Clone)]
pub struct JwtLayer {
    shared: Arc<Shared>,
}

impl fmt::Debug for JwtLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtLayer")
            .field("cookie", &self.shared.sources.cookie)
            .field("query_param", &self.shared.sources.query)
            .field("challenges", &self.shared.challenges)
            .field("optional", &self.shared.optional)
            .field("on_rejected", &self.shared.on_rejected.is_some())
            .finish_non_exhaustive()
    }
}

impl JwtLayer {
    /// A layer validating with `validator`: a [`Validator`](crate::Validator), a
    /// [`LocalValidator`](crate::LocalValidator), an `Arc` of one, or any
    /// [`TokenValidator`]. Tokens are read from the `Authorization` header only, and
    /// challenges use [`ChallengeOptions::default`].
    pub fn new(validator: impl TokenValidator) -> JwtLayer {
        JwtLayer {
            shared: Arc::new(Shared {
                validator: Arc::new(validator),
                sources: Sources::default(),
                challenges: ChallengeOptions::default(),
                on_rejected: None,
                optional: false,
                public_url: None,
            }),
        }
    }

    fn with(mut self, change: impl FnOnce(&mut Shared)) -> JwtLayer {
        change(Arc::make_mut(&mut self.shared));
        self
    }

    /// Also reads the token from the cookie `name` when the request has no bearer token
    /// (browser front ends). The `Authorization` header wins when both are present, since
    /// browsers send cookies on their own. Protect cookie-authenticated routes against CSRF.
    pub fn cookie(self, name: impl Into<String>) -> JwtLayer {
        let name = name.into();
        self.with(|s| s.sources.cookie = Some(name))
    }

    /// Also reads the token from the query parameter `name` (RFC 6750 section 2.3 uses
    /// `access_token`), for clients that cannot set headers (WebSocket, EventSource). A token
    /// in both the header and the query is refused with 400 `invalid_request`. Query strings
    /// end up in logs and browser history: prefer the header.
    pub fn query_param(self, name: impl Into<String>) -> JwtLayer {
        let name = name.into();
        self.with(|s| s.sources.query = Some(name))
    }

    /// Lets requests without any token through, without claims (an optional [`Claims`] or
    /// [`RequireScope`](super::RequireScope) decides later). A token that is present but
    /// invalid is still refused.
    ///
    /// [`Claims`]: super::Claims
    pub fn optional(self) -> JwtLayer {
        self.with(|s| s.optional = true)
    }

    /// Sets the URL clients use to reach the service, `scheme://host[:port]`: DPoP proofs
    /// (RFC 9449) name the URL the client saw, which a TLS-terminating proxy in front
    /// changes. Default: the request's own URI, else `http://` and its `Host` header.
    ///
    /// The layer sees no client certificate: certificate-bound tokens (RFC 8705,
    /// `cnf["x5t#S256"]`) are refused (`client_cert_missing`); check them where TLS ends.
    pub fn public_url(self, url: impl Into<String>) -> JwtLayer {
        let url = url.into();
        self.with(|s| s.public_url = Some(url))
    }

    /// Sets the `realm` of `WWW-Authenticate` (default
    /// [`DEFAULT_REALM`](crate::challenge::DEFAULT_REALM)).
    pub fn realm(self, realm: impl Into<String>) -> JwtLayer {
        let realm = realm.into();
        self.with(|s| s.challenges.realm = realm)
    }

    /// Replaces every challenge setting: realm, how much detail clients see, the status and
    /// `Retry-After` for "cannot verify now".
    pub fn challenges(self, options: ChallengeOptions) -> JwtLayer {
        self.with(|s| s.challenges = options)
    }

    /// Calls `hook` for every refused request, after the answer is decided and before it is
    /// sent, with the full typed reason ([`Rejection::error`] for rejected tokens): log it,
    /// count it. Also called for refusals by [`Claims`](super::Claims),
    /// [`RequireScope`](super::RequireScope) and [`RequireRole`](super::RequireRole) under
    /// this layer. Keep it fast: it runs on the request path.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// use tollgate::tower::JwtLayer;
    /// # use tollgate::{JwkSet, LocalValidator, Policy};
    /// # let validator = LocalValidator::new(JwkSet::default(), Policy::new());
    /// let expired = Arc::new(AtomicU64::new(0));
    /// let counter = expired.clone();
    /// let layer = JwtLayer::new(validator).on_rejected(move |rejection| {
    ///     if rejection.code() == "expired" {
    ///         counter.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// });
    /// # let _ = layer;
    /// ```
    pub fn on_rejected(self, hook: impl Fn(&Rejection) + Send + Sync + 'static) -> JwtLayer {
        self.with(|s| s.on_rejected = Some(Arc::new(hook)))
    }
}

impl<S> tower::Layer<S> for JwtLayer {
    type Service = JwtService<S>;

    fn layer(&self, inner: S) -> JwtService<S> {
        JwtService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service [`JwtLayer`] wraps around yours.
#[derive(Clone)]
pub struct JwtService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> fmt::Debug for JwtService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtService").finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> tower::Service<Request<ReqBody>> for JwtService<S>
where
    S: tower::Service<Request<ReqBody>, Response = http::Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let shared = self.shared.clone();
        // The clone that was polled ready serves this request (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            match authenticate(&shared, &mut req).await {
                Ok(()) => inner.call(req).await.map(|r| r.map(Body::new)),
                Err(refused) => Ok(refused),
            }
        })
    }
}

/// Validates the token with what the request presents (DPoP proofs, method, URL): the
/// validator's one path ([`TokenValidator::validate_request`]), shared with the gateway.
async fn validate(
    shared: &Shared,
    (method, uri, headers): (&http::Method, &http::Uri, &http::HeaderMap),
    token: &str,
    scheme: crate::challenge::AuthScheme,
) -> Result<crate::Verified, ValidationError> {
    let proofs: Vec<&str> = headers
        .get_all("dpop")
        .iter()
        .map(|v| v.to_str().unwrap_or("\u{fffd}"))
        .collect();
    let request = crate::binding::RequestContext::new(
        scheme,
        token,
        method.as_str(),
        request_url(shared.public_url.as_deref(), uri, headers),
    )
    .dpop_proofs(proofs);
    shared.validator.validate_request(&request).await
}

/// The absolute URL the client sent the request to: the configured public URL and the
/// request's path; else the request's own absolute URI; else `http://` and `Host` (when it
/// is a `host[:port]`, [`crate::binding::request_origin`]).
fn request_url(
    public_url: Option<&str>,
    uri: &http::Uri,
    headers: &http::HeaderMap,
) -> Option<String> {
    let path = uri.path();
    if let Some(base) = public_url {
        return Some(format!("{}{path}", base.trim_end_matches('/')));
    }
    if let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) {
        return Some(format!("{scheme}://{authority}{path}"));
    }
    let mut hosts = headers.get_all(http::header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(host), None) => crate::binding::request_origin("http", host.to_str().ok()?)
            .map(|o| format!("{o}{path}")),
        _ => None,
    }
}

/// Finds and validates the token; on success the request carries the `Verified` token.
async fn authenticate<B>(shared: &Arc<Shared>, req: &mut Request<B>) -> Result<(), Response> {
    let context = LayerContext(shared.clone());
    let outcome = match shared.sources.find(req.headers(), req.uri()) {
        Found::Token(token, source, scheme) => match validate(
            shared,
            (req.method(), req.uri(), req.headers()),
            &token,
            scheme,
        )
        .await
        {
            Ok(verified) => Ok(verified),
            Err(err) => {
                let challenge = shared.challenges.error_for(&err, scheme);
                let cause = match shared.on_rejected {
                    Some(_) => super::diagnose(shared.validator.as_ref(), &err, &token),
                    None => None,
                };
                Err((RejectReason::Invalid(err), challenge, Some(source), cause))
            }
        },
        Found::Missing(_) if shared.optional => {
            req.extensions_mut().insert(context);
            return Ok(());
        }
        Found::Missing(why) => {
            let challenge = shared.challenges.missing_token(&why);
            Err((RejectReason::MissingToken(why), challenge, None, None))
        }
        Found::Conflict(why) => {
            let challenge = shared.challenges.invalid_request(&why);
            Err((RejectReason::InvalidRequest(why), challenge, None, None))
        }
    };
    match outcome {
        Ok(verified) => {
            req.extensions_mut().insert(verified);
            req.extensions_mut().insert(context);
            Ok(())
        }
        Err((reason, challenge, source, cause)) => Err(context.reject(
            reason,
            challenge,
            req.method(),
            req.uri().path(),
            source,
            cause,
        )),
    }
}
