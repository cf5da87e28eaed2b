//! The remote validator: several issuers, each chosen by the token's exact `iss`, each with
//! its own key cache and policy (feature `remote`).
//!
//! An issuer is found by its exact name or one of its aliases, else by a `{tenantid}`
//! template the `iss` matches with a tenant id in place (Entra ID's multi-tenant issuers; the
//! policy then checks `tid` and the allowed tenants, and the keys' `issuer` members).
//!
//! token -> [`crate::jws::decode`] -> unverified `iss` -> that issuer's configuration (an
//! unconfigured `iss` is rejected and nothing is fetched) -> its keys
//! ([`crate::keys`] cache) -> `verify_decoded_payload` (the payload decoded once) with its policy.
//!
//! [`TokenValidator`] is the one validating service: token in, [`Verified`] claims or a
//! typed [`ValidationError`] out, plus the state of the keys behind it. The tower layer
//! ([`crate::tower::JwtLayer`]) and `tollgate serve` both take any `TokenValidator`.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::binding::{self, RequestContext};
use crate::claims::payload::{Found, Lookup, Payload};
use crate::claims::{is_template, is_tenant_id, template_tenant, Policy, TENANT_PLACEHOLDER};
use crate::clock::{Clock, SystemClock};
use crate::dpop::{MemoryReplayCache, ReplayCache};
use crate::error::{TokenPart, ValidationError};
use crate::introspection::Introspector;
use crate::json;
use crate::jws;
use crate::keys::{check_remote_url, FetchError, Fetcher, IssuerConfig, IssuerStatus, KeyCache};
use crate::validate::{verify_decoded_payload, LocalValidator, Verified};

/// The future a [`TokenValidator`] returns.
pub type ValidateFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Verified, ValidationError>> + Send + 'a>>;

/// The future of [`TokenValidator::check_binding`].
pub type BindingFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ValidationError>> + Send + 'a>>;

/// How often [`TokenValidator::maintain`] checks whether an issuer's keys are due for a
/// refresh: 30 s, the key cache's default unknown-kid cooldown, so the check itself never
/// adds IdP load (a check only starts the refreshes that are due).
pub const MAINTAIN_INTERVAL: Duration = Duration::from_secs(30);

/// The validating service: token in, verified claims or a typed refusal out.
///
/// Implemented by the remote [`Validator`] (keys from issuers), a [`LocalValidator`] (a
/// fixed key set), an `Arc` of either, or your own (for example a wrapper that counts,
/// caches or adds checks). [`crate::tower::JwtLayer`] and `tollgate serve` take any of them.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use tollgate::validator::{TokenValidator, ValidateFuture};
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
/// ```
pub trait TokenValidator: Send + Sync + 'static {
    /// Validates `token` (without the `Bearer ` prefix).
    fn validate<'a>(&'a self, token: &'a str) -> ValidateFuture<'a>;

    /// The policy `token` is judged by, so that a rejection can be diagnosed. Default:
    /// `None`, no diagnosis.
    fn policy_for(&self, token: &str) -> Option<Policy> {
        let _ = token;
        None
    }

    /// True when every issuer has usable keys (a readiness probe). Default: true.
    fn is_ready(&self) -> bool {
        true
    }

    /// A snapshot of each issuer's key cache (admin views, metrics). Default: none.
    fn status(&self) -> Vec<IssuerStatus> {
        Vec::new()
    }

    /// Loads every issuer's keys now (so the first requests do not wait), then keeps them
    /// fresh while no request comes, checking every [`MAINTAIN_INTERVAL`]. Runs until the
    /// caller drops or aborts it. Default: returns at once (nothing to maintain).
    fn maintain(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(std::future::ready(()))
    }

    /// Checks what `request` presents beyond its token, which `verified` is: DPoP proof and
    /// key binding (RFC 9449), certificate binding (RFC 8705). Runs on every request, also
    /// when the token's validation came from a cache. Default: fails closed without DPoP
    /// state ([`binding::check_binding_without_dpop`]): certificate bindings are checked,
    /// the `DPoP` scheme and DPoP-bound tokens are refused.
    fn check_binding<'a>(
        &'a self,
        verified: &'a Verified,
        request: &'a RequestContext<'a>,
    ) -> BindingFuture<'a> {
        Box::pin(std::future::ready(binding::check_binding_without_dpop(
            verified, request,
        )))
    }

    /// Validates the token of `request`, then [`check_binding`](TokenValidator::check_binding):
    /// the one path for front ends that have the whole request (the tower layer). Default:
    /// [`validate`](TokenValidator::validate), then `check_binding`.
    fn validate_request<'a>(&'a self, request: &'a RequestContext<'a>) -> ValidateFuture<'a> {
        Box::pin(async move {
            let verified = self.validate(request.token).await?;
            self.check_binding(&verified, request).await?;
            Ok(verified)
        })
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
                issuers: self.accepted(),
                ..Policy::new()
            }),
        }
    }

    fn is_ready(&self) -> bool {
        Validator::is_ready(self)
    }

    fn status(&self) -> Vec<IssuerStatus> {
        Validator::status(self)
    }

    /// DPoP and certificate binding with the token's issuer's [`IssuerConfig::dpop`] and
    /// the validator's replay cache ([`Validator::with_replay_cache`]).
    fn check_binding<'a>(
        &'a self,
        verified: &'a Verified,
        request: &'a RequestContext<'a>,
    ) -> BindingFuture<'a> {
        Box::pin(async move {
            let issuer = verified.claims.issuer().unwrap_or_default();
            let options = match self.config(issuer) {
                Some(config) => &config.dpop,
                None => return binding::check_binding_without_dpop(verified, request),
            };
            let now = self.shared.clock.now();
            binding::check_binding(
                verified,
                request,
                issuer,
                options,
                self.shared.replay.as_ref(),
                now,
            )
            .await
        })
    }

    fn maintain(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            self.refresh_all().await;
            // Keys are refreshed when requests need them; an idle service (or one serving
            // only cached tokens) keeps them fresh here, so readiness and the key view stay
            // true. Only refreshes that are due start; static keys never are.
            loop {
                tokio::time::sleep(MAINTAIN_INTERVAL).await;
                self.shared.entries.iter().for_each(|e| e.cache.tick());
            }
        })
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
    fn is_ready(&self) -> bool {
        T::is_ready(self)
    }
    fn status(&self) -> Vec<IssuerStatus> {
        T::status(self)
    }
    fn maintain(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        T::maintain(self)
    }
    fn check_binding<'a>(
        &'a self,
        verified: &'a Verified,
        request: &'a RequestContext<'a>,
    ) -> BindingFuture<'a> {
        T::check_binding(self, verified, request)
    }
    fn validate_request<'a>(&'a self, request: &'a RequestContext<'a>) -> ValidateFuture<'a> {
        T::validate_request(self, request)
    }
}

/// Why a validator could not be built.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigError {
    /// A metadata URL is not HTTPS (plain HTTP is allowed on loopback only) or not a URL.
    InsecureUrl {
        /// The issuer concerned.
        issuer: String,
        /// The URL and why it is refused.
        error: FetchError,
    },
    /// The same issuer is configured twice.
    DuplicateIssuer {
        /// The issuer.
        issuer: String,
    },
    /// An issuer is empty or has leading/trailing whitespace.
    InvalidIssuer {
        /// The issuer as configured.
        issuer: String,
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::InsecureUrl { issuer, error } => {
                write!(f, "issuer {issuer:?}: {error}")
            }
            ConfigError::DuplicateIssuer { issuer } => write!(
                f,
                "issuer {issuer:?} is configured twice; each issuer may appear once"
            ),
            ConfigError::InvalidIssuer { issuer, reason } => {
                write!(f, "issuer {issuer:?} is invalid: {reason}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

struct Entry {
    config: IssuerConfig,
    cache: KeyCache,
    introspector: Option<Arc<Introspector>>,
}

struct Shared {
    entries: Vec<Entry>,
    /// Literal issuers and aliases.
    by_issuer: HashMap<String, usize>,
    /// `{tenantid}` templates, tried in order after the literal issuers.
    templates: Vec<(String, usize)>,
    clock: Arc<dyn Clock>,
    max_token_size: usize,
    /// The DPoP proofs seen (shared by every issuer).
    replay: Arc<dyn ReplayCache>,
}

/// Validates tokens from several issuers, fetching and caching their keys.
///
/// `Send + Sync`, cheap to clone (one `Arc`): build it once and share it.
///
/// ```
/// use serde_json::json;
/// use tollgate::{jws, Algorithm, IssuerConfig, JwkSet, Policy, SigningKey, Validator};
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let key = SigningKey::generate(Algorithm::ES256, "k1").unwrap();
/// let keys = JwkSet::from_value(&json!({"keys": [key.public_jwk()]})).unwrap();
/// let validator = Validator::new(vec![
///     IssuerConfig::static_keys("https://idp.example", keys).policy(Policy::new().audience("api")),
///     IssuerConfig::discovery("https://login.example.com/"),
/// ])
/// .unwrap();
/// let token = jws::sign(&json!({}), &json!({"iss": "https://idp.example", "aud": "api", "exp": 4_000_000_000u64}), &key).unwrap();
/// assert!(validator.validate(&format!("Bearer {token}")).await.is_ok());
/// let other = jws::sign(&json!({}), &json!({"iss": "https://evil.example", "exp": 4_000_000_000u64}), &key).unwrap();
/// assert_eq!(validator.validate(&other).await.unwrap_err().code(), "issuer_mismatch");
/// # });
/// ```
#[derive(Clone)]
pub struct Validator {
    shared: Arc<Shared>,
    configs: Arc<Vec<IssuerConfig>>,
}

/// A fresh default replay cache.
fn default_replay() -> Arc<dyn ReplayCache> {
    Arc::new(MemoryReplayCache::default())
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validator")
            .field("issuers", &self.issuers())
            .finish_non_exhaustive()
    }
}

impl Validator {
    /// A validator for these issuers, on the system clock. Checks that every metadata URL is
    /// HTTPS (or loopback HTTP) and that no issuer appears twice. Fetches nothing: keys are
    /// loaded by [`Validator::refresh_all`] or by the first token of each issuer.
    pub fn new(issuers: Vec<IssuerConfig>) -> Result<Validator, ConfigError> {
        let mut seen = HashMap::new();
        for (i, config) in issuers.iter().enumerate() {
            let issuer = &config.issuer;
            let invalid = |issuer: &String, reason: String| ConfigError::InvalidIssuer {
                issuer: issuer.clone(),
                reason,
            };
            for name in config.names() {
                if name.is_empty() {
                    return Err(invalid(name, "it is empty".into()));
                }
                if name.trim() != name {
                    return Err(invalid(
                        name,
                        "it has leading or trailing whitespace, which tokens never have".into(),
                    ));
                }
                if name.matches(TENANT_PLACEHOLDER).count() > 1 {
                    return Err(invalid(
                        name,
                        format!("it holds {TENANT_PLACEHOLDER} more than once; a template names one tenant"),
                    ));
                }
                if seen.insert(name.clone(), i).is_some() {
                    return Err(ConfigError::DuplicateIssuer {
                        issuer: name.clone(),
                    });
                }
            }
            let templated = config.names().any(|n| is_template(n));
            if let Some(t) = config.policy.tenants.iter().find(|t| !is_tenant_id(t)) {
                return Err(invalid(
                    issuer,
                    format!("tenant {t:?} is not a tenant id: a GUID in lower case (8-4-4-4-12 digits 0-9a-f), as Entra ID's tid claim spells it"),
                ));
            }
            if !config.policy.tenants.is_empty() && !templated {
                return Err(invalid(
                    issuer,
                    "`tenants` restricts a {tenantid} template, and this issuer is not one; a literal issuer already names one tenant".into(),
                ));
            }
            if let Some(url) = config.source.url(issuer) {
                if url.contains(TENANT_PLACEHOLDER) {
                    return Err(invalid(
                        issuer,
                        format!("its keys would be fetched from {url:?}, which holds the {TENANT_PLACEHOLDER} placeholder; set the discovery URL explicitly, e.g. https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration (work and school accounts) or .../common/v2.0/... (also personal accounts)"),
                    ));
                }
                check_remote_url(&url).map_err(|error| ConfigError::InsecureUrl {
                    issuer: issuer.clone(),
                    error,
                })?;
            }
            if let Some(options) = &config.introspection {
                if options.token_prefix.as_deref() == Some("") {
                    return Err(invalid(
                        issuer,
                        "its introspection token_prefix is empty, which would take every opaque token away from the issuers without a prefix; omit it to take every token that is not a JWT".into(),
                    ));
                }
                let url = Introspector::first_url(issuer, &config.source, options);
                check_remote_url(&url).map_err(|error| ConfigError::InsecureUrl {
                    issuer: issuer.clone(),
                    error,
                })?;
            }
        }
        Ok(Validator::build(
            issuers,
            Arc::new(SystemClock),
            default_replay(),
        ))
    }

    fn build(
        configs: Vec<IssuerConfig>,
        clock: Arc<dyn Clock>,
        replay: Arc<dyn ReplayCache>,
    ) -> Validator {
        let mut fetchers: Vec<(crate::keys::FetchOptions, Fetcher)> = Vec::new();
        let mut entries = Vec::new();
        let mut by_issuer = HashMap::new();
        let mut templates = Vec::new();
        let mut max_token_size = 0;
        for (i, config) in configs.iter().enumerate() {
            let mut config = config.clone();
            config.policy.issuers = config.names().cloned().collect();
            max_token_size = max_token_size.max(config.policy.max_token_size);
            // One connection pool per distinct set of HTTP options.
            let fetcher = match fetchers.iter().find(|(o, _)| *o == config.cache.fetch) {
                Some((_, f)) => f.clone(),
                None => {
                    let f = Fetcher::new(config.cache.fetch.clone());
                    fetchers.push((config.cache.fetch.clone(), f.clone()));
                    f
                }
            };
            let cache = KeyCache::new(
                config.issuer.clone(),
                config.source.clone(),
                config.cache.clone(),
                fetcher,
                clock.clone(),
            );
            let introspector = config.introspection.clone().map(|options| {
                Arc::new(Introspector::new(
                    &config.issuer,
                    &config.source,
                    options,
                    clock.clone(),
                    cache.clone(),
                    config.policy.algorithms.clone(),
                ))
            });
            for name in config.names() {
                if is_template(name) {
                    templates.push((name.clone(), i));
                } else {
                    by_issuer.insert(name.clone(), i);
                }
            }
            entries.push(Entry {
                config,
                cache,
                introspector,
            });
        }
        Validator {
            shared: Arc::new(Shared {
                entries,
                by_issuer,
                templates,
                clock,
                max_token_size: max_token_size.max(jws::DEFAULT_MAX_TOKEN_SIZE),
                replay,
            }),
            configs: Arc::new(configs),
        }
    }

    /// Uses another clock for the claims (`exp`, `nbf`, `iat`) and for cache timing (expiry,
    /// cooldown, retries, staleness). Call it right after [`Validator::new`]: the key caches
    /// are rebuilt empty.
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Validator {
        Validator::build(
            self.configs.as_ref().clone(),
            clock,
            self.shared.replay.clone(),
        )
    }

    /// Uses another DPoP replay cache (default: a [`MemoryReplayCache`] of
    /// [`crate::dpop::DEFAULT_MAX_ENTRIES`]): a shared one (Redis) when several replicas
    /// serve one API, so a proof accepted by one is refused by the others. Call it right
    /// after [`Validator::new`]: the key caches are rebuilt empty.
    pub fn with_replay_cache(self, replay: Arc<dyn ReplayCache>) -> Validator {
        Validator::build(
            self.configs.as_ref().clone(),
            self.shared.clock.clone(),
            replay,
        )
    }

    /// The configured issuers, in configuration order.
    pub fn issuers(&self) -> Vec<String> {
        self.shared
            .entries
            .iter()
            .map(|e| e.config.issuer.clone())
            .collect()
    }

    /// The configuration accepting `iss` (its policy has `issuers` set to the issuer and its
    /// aliases): a literal issuer or alias equal to it, else a `{tenantid}` template it
    /// matches with a tenant id in place (the tenant itself is checked with the claims).
    pub fn config(&self, iss: &str) -> Option<&IssuerConfig> {
        self.index_of(iss).map(|i| &self.shared.entries[i].config)
    }

    fn index_of(&self, iss: &str) -> Option<usize> {
        let shared = &self.shared;
        shared.by_issuer.get(iss).copied().or_else(|| {
            shared
                .templates
                .iter()
                .find(|(t, _)| template_tenant(t, iss).is_some())
                .map(|&(_, i)| i)
        })
    }

    /// Every accepted `iss` spelling (issuers, then their aliases; templates as written).
    fn accepted(&self) -> Vec<String> {
        self.shared
            .entries
            .iter()
            .flat_map(|e| e.config.names().cloned())
            .collect()
    }

    /// Validates a token (a leading `Bearer ` is accepted).
    ///
    /// This checks the token alone. A sender-constrained token (DPoP `cnf.jkt`, certificate
    /// `cnf["x5t#S256"]`) is bound to something the request must present: use
    /// [`TokenValidator::validate_request`] (or [`TokenValidator::check_binding`] after this
    /// call), as the gateway and the tower layer do.
    ///
    /// The unverified `iss` picks the issuer; an unconfigured or missing `iss` is
    /// `issuer_mismatch` listing the configured issuers, and nothing is fetched for it.
    /// Waits at most the issuer's `max_wait` for keys; `keys_unavailable` when there are none.
    ///
    /// A token that does not decode as a compact JWS goes to token introspection when an
    /// issuer has it (see [`crate::introspection`] for which issuer is asked); without
    /// one, it is `malformed_token`.
    pub async fn validate(&self, token: &str) -> Result<Verified, ValidationError> {
        let shared = &self.shared;
        let token = jws::strip_bearer(token);
        let decoded = match jws::decode(token, shared.max_token_size) {
            Ok(decoded) => decoded,
            Err(e @ ValidationError::Malformed { .. }) => {
                return match self.validate_opaque(token).await {
                    Some(result) => result,
                    None => Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        // Decoded once: for the issuer's name here, and for the claims checks.
        let payload = decoded.payload_json().ok().map(Payload::new);
        let entry = match payload.as_ref().and_then(|p| self.entry_quick(p)) {
            Some(found) => found?,
            None => {
                let claims = decoded.claims()?;
                match claims.get("iss") {
                    Some(Value::String(iss)) => self.entry_of(iss)?,
                    Some(other) => return Err(self.issuer_mismatch(Some(json::preview(other, 80)))),
                    None => return Err(self.issuer_mismatch(None)),
                }
            }
        };
        let policy = &entry.config.policy;
        if token.len() > policy.max_token_size {
            return Err(ValidationError::TokenTooLarge {
                limit: policy.max_token_size,
                found: token.len(),
            });
        }
        let introspector = entry
            .introspector
            .as_ref()
            .filter(|i| i.options().introspect_jwts);
        let keys = entry.cache.keys_for(decoded.header.kid.as_deref()).await?;
        let verified = verify_decoded_payload(decoded, payload, &keys, policy, shared.clock.now());
        let Some(introspector) = introspector else {
            return verified;
        };
        match verified {
            // A JWT signed by a key the issuer does not publish (Okta org authorization
            // server tokens): with `introspect_jwts`, the issuer's introspection alone
            // judges it, by its answer's claims (never the token's unverified ones).
            Err(ValidationError::KidNotFound { .. }) => {
                self.judge_answer(entry, introspector.introspect(token).await?)
            }
            Err(e) => Err(e),
            // A valid JWT is also asked about, so that a revoked one is refused; its own
            // (signed) claims stand.
            Ok(mut verified) => {
                let answer = introspector.introspect(token).await?;
                let Some(claims) = &answer.claims else {
                    return Err(inactive(entry));
                };
                refresh_token(claims)?;
                verified.introspection = Some(answer.info.clone());
                Ok(verified)
            }
        }
    }

    /// An opaque token (not a compact JWS), judged by introspection: `None` when no issuer
    /// takes it (no introspection configured, or no prefix matches), so that the caller
    /// reports why it is not a JWT.
    ///
    /// The issuers asked: those whose `token_prefix` the token starts with (the longest
    /// only), else those without a prefix, in configuration order. The first `active`
    /// answer decides (its claims then meet that issuer's policy or the token is refused);
    /// when none is active, an issuer that could not answer makes it "cannot verify now"
    /// (it may have been that issuer's token), else `token_inactive`.
    async fn validate_opaque(&self, token: &str) -> Option<Result<Verified, ValidationError>> {
        let asked = self.introspecting(token)?;
        if let Some(bad) = not_token68(token) {
            return Some(Err(bad));
        }
        let mut failure = None;
        let mut last_inactive = None;
        for entry in asked {
            let Some(introspector) = &entry.introspector else {
                continue;
            };
            let policy = &entry.config.policy;
            if token.len() > policy.max_token_size {
                failure.get_or_insert(ValidationError::TokenTooLarge {
                    limit: policy.max_token_size,
                    found: token.len(),
                });
                continue;
            }
            match introspector.introspect(token).await {
                Ok(answer) if answer.claims.is_some() => {
                    return Some(self.judge_answer(entry, answer));
                }
                Ok(_) => last_inactive = Some(entry),
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        Some(Err(failure.or(last_inactive.map(inactive))?))
    }

    /// An introspection answer judged like a JWT: active, then its claims meet the
    /// issuer's policy at the validator's time.
    fn judge_answer(
        &self,
        entry: &Entry,
        answer: Arc<crate::introspection::Answer>,
    ) -> Result<Verified, ValidationError> {
        let Some(claims) = &answer.claims else {
            return Err(inactive(entry));
        };
        refresh_token(claims)?;
        let now = self.shared.clock.now();
        entry.config.policy.check_claims(claims, now)?;
        Ok(Verified {
            header: jws::Header::new("", None, None, serde_json::Map::new()),
            claims: crate::Claims::from(claims.clone()),
            alg: None,
            introspection: Some(answer.info.clone()),
        })
    }

    /// The issuers an opaque `token` goes to, in configuration order: those whose
    /// `token_prefix` it starts with (the longest only), else those without a prefix; `None`
    /// when no issuer introspects it.
    fn introspecting<'s>(&'s self, token: &'s str) -> Option<impl Iterator<Item = &'s Entry>> {
        let entries = &self.shared.entries;
        let takes = |e: &Entry| e.introspector.as_ref().and_then(|i| i.prefix_len(token));
        let longest = entries.iter().filter_map(takes).max()?;
        Some(entries.iter().filter(move |e| takes(e) == Some(longest)))
    }

    /// The raw introspection answer for `token` from the issuer that would judge it (the
    /// first that takes an opaque token; the one its `iss` names for a JWT): the answer's
    /// members when active (before any policy check), `None` when inactive; from the cache
    /// when [`Validator::validate`] just asked, so a report costs no second call. `None`
    /// when no issuer introspects this token: a JWT whose issuer lacks `introspect_jwts`,
    /// a value with characters no bearer token holds (nothing `validate` would not send is
    /// sent). For diagnosis (`tollgate doctor`).
    #[allow(clippy::type_complexity)]
    pub async fn introspection_answer(
        &self,
        token: &str,
    ) -> Option<(
        String,
        Result<Option<serde_json::Map<String, Value>>, ValidationError>,
    )> {
        let token = jws::strip_bearer(token);
        // Only what `validate` would send: a JWT to an issuer with `introspect_jwts`, an
        // opaque token only when it is a bearer token's syntax.
        let entry = match jws::decode(token, self.shared.max_token_size) {
            Ok(decoded) => self
                .entry_quick(&Payload::new(decoded.payload_json().ok()?))?
                .ok()
                .filter(|e| {
                    e.introspector
                        .as_ref()
                        .is_some_and(|i| i.options().introspect_jwts)
                })?,
            Err(_) => {
                if not_token68(token).is_some() {
                    return None;
                }
                self.introspecting(token)?.next()?
            }
        };
        let answer = entry.introspector.as_ref()?.introspect(token).await;
        Some((
            entry.config.issuer.clone(),
            answer.map(|a| a.claims.clone()),
        ))
    }

    /// The issuer entry named by `iss`, or `issuer_mismatch`.
    fn entry_of(&self, iss: &str) -> Result<&Entry, ValidationError> {
        match self.index_of(iss) {
            Some(i) => Ok(&self.shared.entries[i]),
            None => Err(self.issuer_mismatch(Some(iss.to_string()))),
        }
    }

    /// The issuer entry, with `iss` read from the payload's index (one scan) instead of building
    /// the claims map; `None` ("not decided here") when the scanner does not accept the
    /// payload or `iss` is not a plain string nor absent. When the scanner accepts, the
    /// strict parser reads the same members (see `json::scan_object`), so the answer is the
    /// one the map would give.
    fn entry_quick(&self, payload: &Payload) -> Option<Result<&Entry, ValidationError>> {
        match payload.lookup("iss") {
            Lookup::Found(Found::Str(iss)) => Some(self.entry_of(iss)),
            Lookup::Absent => Some(Err(self.issuer_mismatch(None))),
            Lookup::Found(_) | Lookup::Unindexed => None,
        }
    }

    fn issuer_mismatch(&self, found: Option<String>) -> ValidationError {
        ValidationError::IssuerMismatch {
            expected: self.accepted(),
            found,
        }
    }

    /// Loads (or refreshes) every issuer's keys now, concurrently, and waits until each fetch
    /// ends (bounded by the HTTP timeouts, not `max_wait`). For start-up; failures are
    /// recorded in [`Validator::status`] and retried with backoff. Does not count against
    /// the unknown-kid cooldown.
    pub async fn refresh_all(&self) {
        let fetches = self.shared.entries.iter().map(|e| e.cache.refresh_now());
        let _ = futures::future::join_all(fetches).await;
    }

    /// Starts a background task on the current tokio runtime that, every `check_every`,
    /// starts the refreshes that are due (refresh-ahead time or retry time passed, or keys
    /// never loaded), exactly as a request would, without waiting for them. Keeps keys warm
    /// for a validator that may sit idle (a gateway's readiness stays true). The task ends
    /// when every clone of the validator is dropped, or when the handle is aborted.
    ///
    /// Without it, refreshes are started by requests (see [`crate::keys`]).
    pub fn spawn_refresher(&self, check_every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(&self.shared);
        let check_every = check_every.max(std::time::Duration::from_millis(1));
        tokio::spawn(async move {
            loop {
                match weak.upgrade() {
                    Some(shared) => shared.entries.iter().for_each(|e| e.cache.tick()),
                    None => return,
                }
                tokio::time::sleep(check_every).await;
            }
        })
    }

    /// A snapshot of every issuer's keys, in configuration order.
    pub fn status(&self) -> Vec<IssuerStatus> {
        self.shared
            .entries
            .iter()
            .map(|e| IssuerStatus {
                introspection: e.introspector.as_ref().map(|i| i.status()),
                ..e.cache.status()
            })
            .collect()
    }

    /// True when every issuer holds usable keys (loaded and not stale beyond `max_stale`).
    pub fn is_ready(&self) -> bool {
        self.shared.entries.iter().all(|e| e.cache.is_ready())
    }
}

/// `token_inactive` for the entry's issuer.
fn inactive(entry: &Entry) -> ValidationError {
    ValidationError::TokenInactive {
        issuer: entry.config.issuer.clone(),
    }
}

/// `type_mismatch` when an active introspection answer says the token is a refresh token.
/// RFC 7662 servers answer for every token type whatever the `token_type_hint`
/// (`oidc-provider`: `token_type` `refresh_token`; Keycloak: `typ` `Refresh`; Ory Hydra:
/// `token_use` `refresh_token`), and a refresh token is no access token: accepting one would
/// let a long-lived credential meant only for the authorization server call the API.
fn refresh_token(claims: &serde_json::Map<String, Value>) -> Result<(), ValidationError> {
    let says = |name: &'static str, refresh: &[&str]| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|v| refresh.iter().any(|r| v.eq_ignore_ascii_case(r)))
            .map(|v| (name, v))
    };
    let found = says("token_type", &["refresh_token", "refresh"])
        .or_else(|| says("token_use", &["refresh_token", "refresh"]))
        .or_else(|| says("typ", &["refresh", "refresh_token"]));
    match found {
        None => Ok(()),
        Some((name, value)) => Err(ValidationError::TypeMismatch {
            expected: format!(
                "an access token (the introspection answer's {name:?} names a refresh token, which only the authorization server takes)"
            ),
            found: Some(value.to_string()),
        }),
    }
}

/// Why `token` cannot be an opaque bearer token: it holds a character outside the RFC 6750
/// `b64token` syntax (letters, digits, `-._~+/`, trailing `=`), such as a space, a control
/// character or a non-ASCII letter. Such a value is never sent to an introspection endpoint.
fn not_token68(token: &str) -> Option<ValidationError> {
    let body = token.trim_end_matches('=');
    let bad = body
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-._~+/".contains(*c)));
    let reason = match bad {
        _ if body.is_empty() => "is empty".to_string(),
        Some(c) => format!(
            "holds {c:?}, which a bearer token never does (RFC 6750 b64token: letters, digits, -._~+/ and trailing =)"
        ),
        None => return None,
    };
    Some(ValidationError::Malformed {
        part: TokenPart::Token,
        reason,
    })
}
