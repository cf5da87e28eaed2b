//! # Tollgate dev issuer
//!
//! A small OpenID Connect / OAuth 2.0 issuer for development and tests: discovery, a JWKS
//! with `Cache-Control`, a `client_credentials` token endpoint issuing RFC 9068 access
//! tokens, key rotation with a grace period, and injected faults. Run it with
//! `tollgate issuer`, or start one inside a test:
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use serde_json::json;
//! use tollgate::{JwkSet, LocalValidator, Policy};
//! use tollgate_issuer::{DevIssuer, Fault, IssuerOptions};
//!
//! let issuer = DevIssuer::start(IssuerOptions::default()).await.unwrap();
//! let keys = JwkSet::from_value(&issuer.jwks()).unwrap();
//! let validator = LocalValidator::new(keys, Policy::new().issuer(issuer.url()).audience("api://default"));
//!
//! assert!(validator.validate(&issuer.token()).is_ok());
//! let expired = issuer.mint(json!({}), json!({"exp": 1}));
//! assert_eq!(validator.validate(&expired).unwrap_err().code(), "expired");
//! let unknown = issuer.mint(json!({"kid": "nope"}), json!({}));
//! assert_eq!(validator.validate(&unknown).unwrap_err().code(), "kid_not_found");
//! issuer.set_fault(Fault::Status500); // GET /jwks now answers 500
//! issuer.shutdown().await;
//! # });
//! ```
//!
//! The admin endpoints (`/admin/rotate`, `/admin/mint`, `/admin/fault`, `/admin/state`) are
//! unauthenticated: the issuer binds to loopback by default and warns otherwise. So that a
//! web page cannot drive them (cross-site requests, DNS rebinding), they answer only requests
//! whose `Host` names the issuer (its bound `ip:port`, `localhost:port`, or its issuer URL's
//! `host:port`), that carry no `Origin` other than the issuer's own, and, for `POST`, that
//! say `Content-Type: application/json`; anything else is refused (400, 403 or 415) with a
//! JSON body naming what was expected and found.
//!
//! Modules: [`options`] (what it is told), `keyring` (its keys), [`state`] (keys on disk),
//! [`token`] (building and signing tokens), [`keyfile`] (private keys from files), [`oauth`] (the token endpoint's rules),
//! `server` (HTTP), [`fault`] (injected failures).

#![forbid(unsafe_code)]

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;

pub mod admin_guard;
pub mod error;
pub mod fault;
mod issuer;
pub mod keyfile;
mod keyring;
pub mod oauth;
pub mod options;
mod server;
pub mod state;
pub mod token;

pub use error::IssuerError;
pub use fault::Fault;
pub use options::{Client, IssuerOptions, OPAQUE_TOKEN_PREFIX};
pub use server::{
    DISCOVERY_PATH, INTROSPECTION_PATH, JWKS_PATH, OAUTH_METADATA_PATH, REVOCATION_PATH, TOKEN_PATH,
};

/// A raw HTTP answer `/introspect` gives instead of the real one (after client
/// authentication), to test how a validator reads hostile or broken answers; see
/// [`DevIssuer::set_introspection_answer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: String,
    /// The body, as sent.
    pub body: Vec<u8>,
}

impl RawAnswer {
    /// A `200` answer with `Content-Type: application/json` and this body.
    pub fn json(body: impl Into<Vec<u8>>) -> RawAnswer {
        RawAnswer {
            status: 200,
            content_type: "application/json".into(),
            body: body.into(),
        }
    }
}

use issuer::{Issuer, SharedIssuer};
use keyring::KeyRing;

/// How long [`DevIssuer::shutdown`] waits for open requests before cutting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running dev issuer. Cheap to clone; the server stops on [`shutdown`](DevIssuer::shutdown)
/// or when the last clone is dropped.
#[derive(Clone)]
pub struct DevIssuer {
    issuer: SharedIssuer,
    control: Arc<Control>,
}

/// Owns the server task; dropping the last handle stops the server.
struct Control {
    issuer: SharedIssuer,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Control {
    fn drop(&mut self) {
        self.issuer.signal_shutdown();
    }
}

impl fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevIssuer")
            .field("url", &self.issuer.url())
            .field("addr", &self.issuer.addr())
            .field("current_kid", &self.issuer.current_kid())
            .finish_non_exhaustive()
    }
}

fn resolve(mut opts: IssuerOptions) -> IssuerOptions {
    if opts.clients.is_empty() {
        opts.clients.push(Client::default());
    }
    opts
}

impl DevIssuer {
    /// Binds `opts.listen`, loads or generates the keys and serves until
    /// [`shutdown`](DevIssuer::shutdown). Must be called inside a tokio runtime.
    pub async fn start(opts: IssuerOptions) -> Result<DevIssuer, IssuerError> {
        let opts = resolve(opts);
        if opts.alg.is_symmetric() {
            return Err(IssuerError::Config(format!(
                "the issuer cannot publish {} keys: an HMAC secret is never put in a JWKS; use RS256, PS256, ES256, ES384 or EdDSA (HS256 tokens can still be minted with mint())",
                opts.alg
            )));
        }
        let ring = match &opts.state_dir {
            Some(dir) => match state::load_ring(dir)? {
                Some((ring, _)) => {
                    let stored = ring.current.alg();
                    if stored != opts.alg {
                        return Err(IssuerError::State {
                            path: dir.clone(),
                            reason: format!(
                                "holds a {stored} key but {} was asked; pass --alg {stored}, or use another directory for {} keys",
                                opts.alg, opts.alg
                            ),
                        });
                    }
                    ring
                }
                None => KeyRing::generate(opts.alg)?,
            },
            None => KeyRing::generate(opts.alg)?,
        };
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|source| IssuerError::Bind {
                addr: opts.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| IssuerError::Bind {
            addr: opts.listen,
            source,
        })?;
        if !addr.ip().is_loopback() {
            tracing::warn!(
                %addr,
                "the dev issuer listens beyond loopback: its /admin endpoints are unauthenticated"
            );
        }
        let issuer = Arc::new(Issuer::new(addr, opts, ring)?);
        let app = server::router(issuer.clone());
        let mut stop = issuer.shutdown_watch();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = served {
                tracing::warn!("the dev issuer stopped: {e}");
            }
        });
        Ok(DevIssuer {
            control: Arc::new(Control {
                issuer: issuer.clone(),
                task: Mutex::new(Some(task)),
            }),
            issuer,
        })
    }

    /// The issuer URL: the `iss` of its tokens and the `issuer` of its discovery document.
    pub fn url(&self) -> String {
        self.issuer.url()
    }

    /// The JWKS URL (`jwks_uri`).
    pub fn jwks_url(&self) -> String {
        self.issuer.jwks_url()
    }

    /// The token endpoint URL.
    pub fn token_endpoint(&self) -> String {
        self.issuer.token_endpoint()
    }

    /// The discovery URL: `{issuer}/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        self.issuer.discovery_url()
    }

    /// The bound address (the real port when `listen` had port 0).
    pub fn addr(&self) -> SocketAddr {
        self.issuer.addr()
    }

    /// The options in force (with the default client filled in).
    pub fn options(&self) -> &IssuerOptions {
        self.issuer.options()
    }

    /// The audience of default tokens.
    pub fn audience(&self) -> String {
        self.issuer.options().audience.clone()
    }

    /// The `iss` of `tenant`'s tokens when the issuer is multi-tenant
    /// ([`IssuerOptions::multi_tenant`]): its `{tenantid}` template with `tenant` in place.
    /// Single-tenant: the issuer URL.
    pub fn issuer_for(&self, tenant: &str) -> String {
        self.issuer.issuer_for(tenant)
    }

    /// The issuer as the discovery document names it: the `{tenantid}` template when
    /// multi-tenant, else [`url`](DevIssuer::url).
    pub fn published_issuer(&self) -> String {
        self.issuer.published_issuer().to_string()
    }

    /// The kid of the personal-account tenant's own key (multi-tenant only): mint with
    /// header `{"kid": <it>}` to sign with it.
    pub fn personal_kid(&self) -> Option<String> {
        self.issuer.personal_kid()
    }

    /// A valid RFC 9068 access token with the defaults: `typ: at+jwt`, the current kid,
    /// `iss`, `sub: dev-user`, `aud` the audience, `iat`, `exp` now + `token_ttl`, `jti`,
    /// `client_id` and `scope` (every scope).
    ///
    /// # Panics
    /// Only if the system cannot sign at all (the OS random generator failed).
    pub fn token(&self) -> String {
        self.mint(Value::Null, Value::Null)
    }

    /// A token from the defaults of [`token`](DevIssuer::token), with `header` and `claims`
    /// (JSON objects) overlaid; a JSON `null` removes a member.
    ///
    /// - `mint(json!({}), json!({"exp": 1}))`: expired;
    /// - header `{"kid": "nope"}`: an unknown kid (signed by the current key);
    /// - header `{"kid": <a retiring kid>}`: signed by that key;
    /// - header `{"alg": "HS256"}`: signed with [`hs256_secret`](DevIssuer::hs256_secret);
    /// - header `{"alg": "PS256"}` on an RSA issuer: a real PS256 signature;
    /// - header `{"alg": "ES256"}` on an RSA issuer: RSA-signed, so alg and key disagree;
    /// - header `{"alg": "none"}`: unsigned.
    ///
    /// # Panics
    /// Only if the system cannot sign at all; see [`try_mint`](DevIssuer::try_mint).
    pub fn mint(&self, header: Value, claims: Value) -> String {
        match self.try_mint(header, claims) {
            Ok(t) => t,
            Err(e) => panic!("the dev issuer could not sign a token: {e}"),
        }
    }

    /// [`mint`](DevIssuer::mint), returning signing failures.
    pub fn try_mint(&self, header: Value, claims: Value) -> Result<String, IssuerError> {
        self.issuer.try_mint(&header, &claims)
    }

    /// The secret that signs HS* tokens minted with `{"alg": "HS256"}` (never published).
    pub fn hs256_secret(&self) -> Vec<u8> {
        self.issuer.hs256_secret()
    }

    /// Generates a new current key and returns its kid; the previous key stays in the JWKS
    /// for `rotation_grace`, then retires.
    ///
    /// # Panics
    /// Only if key generation fails (the OS random generator failed).
    pub fn rotate(&self) -> String {
        match self.issuer.try_rotate() {
            Ok(kid) => kid,
            Err(e) => panic!("the dev issuer could not rotate its key: {e}"),
        }
    }

    /// The kid of the current signing key.
    pub fn current_kid(&self) -> String {
        self.issuer.current_kid()
    }

    /// The JWKS as currently published (faults aside).
    pub fn jwks(&self) -> Value {
        self.issuer.jwks()
    }

    /// Sets how `/jwks` (and, for `Status500` and `Hang`, discovery; for `Status500`, `Hang`
    /// and `Garbage`, `/introspect`) answer.
    pub fn set_fault(&self, fault: Fault) {
        self.issuer.set_fault(fault);
    }

    /// The fault in force.
    pub fn fault(&self) -> Fault {
        self.issuer.fault()
    }

    /// How many `GET /jwks` requests arrived (whatever the fault).
    pub fn jwks_requests(&self) -> u64 {
        self.issuer.jwks_requests.load(Ordering::SeqCst)
    }

    /// How many discovery requests arrived (`openid-configuration` and
    /// `oauth-authorization-server`, whatever the fault).
    pub fn discovery_requests(&self) -> u64 {
        self.issuer.discovery_requests.load(Ordering::SeqCst)
    }

    /// The introspection endpoint URL (RFC 7662, `POST /introspect`).
    pub fn introspection_endpoint(&self) -> String {
        self.issuer.introspection_endpoint()
    }

    /// The revocation endpoint URL (RFC 7009, `POST /revoke`).
    pub fn revocation_endpoint(&self) -> String {
        self.issuer.revocation_endpoint()
    }

    /// An opaque access token ([`OPAQUE_TOKEN_PREFIX`] + 256 random bits) whose claims,
    /// told only by `/introspect`, are those of [`token`](DevIssuer::token) with `claims`
    /// (a JSON object) overlaid; a JSON `null` removes a member. `json!({"exp": 1})` gives
    /// an expired one (inactive), `json!({"aud": "other"})` one for another API.
    pub fn opaque_token(&self, claims: Value) -> String {
        self.issuer.mint_opaque(&claims)
    }

    /// Revokes a token as `POST /revoke` would: an opaque token is forgotten, a JWT's `jti`
    /// is remembered as revoked. Either is then inactive at `/introspect`.
    pub fn revoke(&self, token: &str) {
        self.issuer.revoke(token);
    }

    /// How many `POST /introspect` requests arrived (whatever the fault).
    pub fn introspection_requests(&self) -> u64 {
        self.issuer.introspection_requests.load(Ordering::SeqCst)
    }

    /// Makes `/introspect` answer `answer` (after client authentication) instead of the
    /// truth; `None` restores the truth.
    pub fn set_introspection_answer(&self, answer: Option<RawAnswer>) {
        *self
            .issuer
            .introspection_override
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = answer;
    }

    /// What `GET /admin/state` answers: keys with status, fault, counters.
    pub fn state(&self) -> Value {
        self.issuer.state()
    }

    /// Stops the server: open requests (a hanging `/jwks` included) are ended, waiting at
    /// most 5 seconds.
    pub async fn shutdown(self) {
        self.issuer.signal_shutdown();
        let task = self
            .control
            .task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(mut task) = task {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}
