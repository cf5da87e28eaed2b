//! Per-route requirements on a verified token: [`RequireScope`] and [`RequireRole`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use axum::body::{Body, HttpBody};
use axum::response::Response;
use axum::BoxError;
use bytes::Bytes;
use http::Request;

use super::layer::{LayerContext, RejectReason};
use crate::challenge::{missing_roles, missing_scopes};
use crate::validate::Verified;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Scopes,
    Roles,
}

/// A requirement on the verified token; a route passes when the token has all of them.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Requirement {
    kind: Kind,
    values: Arc<[String]>,
}

/// A layer that lets a request through only when its verified token grants every listed
/// scope ([`Claims::scopes`](crate::Claims::scopes): `scope`, `scp`). Otherwise: 403 with
/// `WWW-Authenticate: Bearer error="insufficient_scope", ..., scope="<required>"` and code
/// `insufficient_scope`.
///
/// Put it on a route (or a router) that [`JwtLayer`](super::JwtLayer) wraps:
///
/// ```
/// use axum::{routing::post, Router};
/// use tollgate::tower::{JwtLayer, RequireScope};
/// # use tollgate::{JwkSet, LocalValidator, Policy};
/// # let validator = LocalValidator::new(JwkSet::default(), Policy::new());
/// let app: Router = Router::new()
///     .route("/orders", post(|| async { "created" }).layer(RequireScope::new("orders.write")))
///     .layer(JwtLayer::new(validator));
/// # let _ = app;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequireScope(Requirement);

impl RequireScope {
    /// Requires one scope.
    pub fn new(scope: impl Into<String>) -> RequireScope {
        RequireScope::all([scope.into()])
    }
    /// Requires every scope listed.
    pub fn all<I: IntoIterator<Item = S>, S: Into<String>>(scopes: I) -> RequireScope {
        RequireScope(Requirement {
            kind: Kind::Scopes,
            values: scopes.into_iter().map(Into::into).collect(),
        })
    }
}

/// A layer that lets a request through only when its verified token holds every listed role
/// ([`Claims::roles`](crate::Claims::roles): `roles`, `realm_access.roles`,
/// `cognito:groups`, `groups`). Otherwise: 403 `insufficient_scope` in
/// `WWW-Authenticate`, code `insufficient_role`.
///
/// ```
/// use axum::{routing::delete, Router};
/// use tollgate::tower::{JwtLayer, RequireRole};
/// # use tollgate::{JwkSet, LocalValidator, Policy};
/// # let validator = LocalValidator::new(JwkSet::default(), Policy::new());
/// let app: Router = Router::new()
///     .route("/users/{id}", delete(|| async { "gone" }).layer(RequireRole::new("admin")))
///     .layer(JwtLayer::new(validator));
/// # let _ = app;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequireRole(Requirement);

impl RequireRole {
    /// Requires one role.
    pub fn new(role: impl Into<String>) -> RequireRole {
        RequireRole::all([role.into()])
    }
    /// Requires every role listed.
    pub fn all<I: IntoIterator<Item = S>, S: Into<String>>(roles: I) -> RequireRole {
        RequireRole(Requirement {
            kind: Kind::Roles,
            values: roles.into_iter().map(Into::into).collect(),
        })
    }
}

impl<S> tower::Layer<S> for RequireScope {
    type Service = RequireService<S>;
    fn layer(&self, inner: S) -> RequireService<S> {
        RequireService {
            inner,
            requirement: self.0.clone(),
        }
    }
}

impl<S> tower::Layer<S> for RequireRole {
    type Service = RequireService<S>;
    fn layer(&self, inner: S) -> RequireService<S> {
        RequireService {
            inner,
            requirement: self.0.clone(),
        }
    }
}

/// The service [`RequireScope`] and [`RequireRole`] wrap around a route.
#[derive(Clone)]
pub struct RequireService<S> {
    inner: S,
    requirement: Requirement,
}

impl<S> fmt::Debug for RequireService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireService")
            .field("requirement", &self.requirement)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> tower::Service<Request<ReqBody>> for RequireService<S>
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

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if let Some(refused) = self.requirement.check(&req) {
            return Box::pin(async move { Ok(refused) });
        }
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move { inner.call(req).await.map(|r| r.map(Body::new)) })
    }
}

impl Requirement {
    /// `None` when the request may go on; otherwise the refusal.
    fn check<B>(&self, req: &Request<B>) -> Option<Response> {
        let what = match self.kind {
            Kind::Scopes => "RequireScope",
            Kind::Roles => "RequireRole",
        };
        let Some(context) = req.extensions().get::<LayerContext>() else {
            return Some(super::layer_missing(what));
        };
        let (method, path) = (req.method(), req.uri().path());
        let Some(verified) = req.extensions().get::<Verified>() else {
            // An optional layer let an anonymous request through.
            return Some(context.missing_token(method, path));
        };
        let claims = &verified.claims;
        let (code, description) = match self.kind {
            Kind::Scopes => (
                "insufficient_scope",
                missing_scopes(&self.values, &claims.scopes())?,
            ),
            Kind::Roles => (
                "insufficient_role",
                missing_roles(&self.values, &claims.roles())?,
            ),
        };
        let scopes: &[String] = match self.kind {
            Kind::Scopes => &self.values,
            Kind::Roles => &[],
        };
        let challenge = context.challenges().forbidden(code, &description, scopes);
        Some(context.reject(
            RejectReason::Forbidden { code, description },
            challenge,
            method,
            path,
            None,
            None,
        ))
    }
}
