//! Where an issuer's keys come from and how they are kept current (feature `remote`).
//!
//! - [`discovery`]: the OIDC discovery URL of an issuer, and how two issuers differ.
//! - [`fetch`]: the HTTP client (timeouts, body limit, same-origin redirects, ETag) and its
//!   typed errors.
//! - `cache`: one key cache per issuer: lock-free reads, refresh ahead of expiry,
//!   one coalesced fetch for an unknown kid, outages ridden out up to `max_stale`.
//! - [`check_remote_url`]: the one rule for key URLs: https, or http on loopback.
//! - [`status`]: a snapshot of each cache for admin views and metrics.
//!
//! The [`Validator`](crate::Validator) ties them together: several issuers, each chosen by
//! the token's exact `iss` (an alias, or a `{tenantid}` template with a tenant id in place). Nothing is ever fetched from a URL named in a token.

mod cache;
pub mod discovery;
pub mod fetch;
mod remote_url;
pub mod status;

use std::sync::Arc;

pub use cache::CacheOptions;
pub(crate) use cache::KeyCache;
pub use discovery::{compare_issuers, discovery_url, Discovery};
pub use fetch::{parse_max_age, FetchError, FetchOptions, Fetched, FetchedJwks, Fetcher};
pub use remote_url::check_remote_url;
pub use status::IssuerStatus;

use crate::claims::Policy;
use crate::jwk::JwkSet;

/// Where an issuer's keys come from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// OIDC discovery at `{issuer}/.well-known/openid-configuration`. The document is
    /// fetched before the first JWKS, and again after a JWKS fetch fails (the JWKS URL may
    /// have moved); its `issuer` must equal the configured issuer exactly.
    Discovery,
    /// OIDC discovery at an explicit URL (the document's `issuer` must still equal the
    /// configured issuer).
    DiscoveryUrl(String),
    /// A JWKS URL, no discovery.
    JwksUri(String),
    /// A fixed key set, never refreshed.
    Static(Arc<JwkSet>),
}

impl KeySource {
    /// The URL that will be fetched first, if any.
    pub fn url(&self, issuer: &str) -> Option<String> {
        match self {
            KeySource::Discovery => Some(discovery_url(issuer)),
            KeySource::DiscoveryUrl(u) | KeySource::JwksUri(u) => Some(u.clone()),
            KeySource::Static(_) => None,
        }
    }
}

/// One accepted issuer: its exact `iss`, where its keys come from, the policy its tokens
/// must meet, and how its keys are cached.
///
/// ```
/// use tollgate::{IssuerConfig, Policy};
/// let config = IssuerConfig::discovery("https://login.example.com/")
///     .policy(Policy::new().audience("api://orders"));
/// assert_eq!(config.issuer, "https://login.example.com/");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct IssuerConfig {
    /// The issuer, exactly as tokens spell `iss` (and as the discovery document names it),
    /// or a template with `{tenantid}` (Entra ID's multi-tenant
    /// `https://login.microsoftonline.com/{tenantid}/v2.0`; see [`crate::claims::template_tenant`]).
    /// A template needs an explicit discovery or JWKS URL, and accepts the tenants of
    /// `policy.tenants` (every tenant when empty).
    pub issuer: String,
    /// Other `iss` spellings (or templates) of the same issuer, sharing its keys and policy:
    /// Google's `accounts.google.com` next to `https://accounts.google.com`, Entra ID's v1
    /// `https://sts.windows.net/{tenantid}/` next to the v2 issuer.
    pub aliases: Vec<String>,
    /// Where its keys come from.
    pub source: KeySource,
    /// The policy its tokens must meet. Its `issuers` list is replaced by [`Self::issuer`].
    pub policy: Policy,
    /// How its keys are cached.
    pub cache: CacheOptions,
    /// Whether its tokens may or must be DPoP-bound, and how proofs are checked
    /// (default: allowed, see [`crate::dpop::DpopOptions`]).
    pub dpop: crate::dpop::DpopOptions,
    /// Its token introspection (RFC 7662), for opaque tokens; `None` (the default): its
    /// tokens must be JWTs. See [`crate::introspection`].
    pub introspection: Option<crate::introspection::IntrospectionOptions>,
}

impl IssuerConfig {
    /// An issuer whose keys come from `source`, with every other option at its default
    /// (the constructors below name the usual sources).
    pub fn with_source(issuer: impl Into<String>, source: KeySource) -> IssuerConfig {
        IssuerConfig {
            issuer: issuer.into(),
            aliases: Vec::new(),
            source,
            policy: Policy::default(),
            cache: CacheOptions::default(),
            dpop: crate::dpop::DpopOptions::default(),
            introspection: None,
        }
    }
    /// Keys found by OIDC discovery at `{issuer}/.well-known/openid-configuration`.
    pub fn discovery(issuer: impl Into<String>) -> IssuerConfig {
        IssuerConfig::with_source(issuer, KeySource::Discovery)
    }
    /// Keys found by OIDC discovery at an explicit URL.
    pub fn discovery_url(issuer: impl Into<String>, url: impl Into<String>) -> IssuerConfig {
        IssuerConfig::with_source(issuer, KeySource::DiscoveryUrl(url.into()))
    }
    /// Keys fetched from a JWKS URL.
    pub fn jwks_uri(issuer: impl Into<String>, uri: impl Into<String>) -> IssuerConfig {
        IssuerConfig::with_source(issuer, KeySource::JwksUri(uri.into()))
    }
    /// A fixed key set.
    pub fn static_keys(issuer: impl Into<String>, keys: JwkSet) -> IssuerConfig {
        IssuerConfig::with_source(issuer, KeySource::Static(Arc::new(keys)))
    }
    /// Adds another `iss` spelling (or template) of this issuer, sharing its keys and policy
    /// (see [`IssuerConfig::aliases`]).
    ///
    /// ```
    /// use tollgate::IssuerConfig;
    /// let google = IssuerConfig::discovery("https://accounts.google.com").alias("accounts.google.com");
    /// assert_eq!(google.aliases, ["accounts.google.com"]);
    /// ```
    pub fn alias(mut self, issuer: impl Into<String>) -> IssuerConfig {
        self.aliases.push(issuer.into());
        self
    }
    /// Every `iss` this configuration accepts: the issuer, then its aliases.
    pub fn names(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.issuer).chain(&self.aliases)
    }
    /// Sets the policy for this issuer's tokens (audiences, algorithms, leeway, `typ`,
    /// `tenants`...). Its `issuers` is replaced by this issuer and its aliases: a token is
    /// matched to its issuer by `iss`.
    pub fn policy(mut self, policy: Policy) -> IssuerConfig {
        self.policy = policy;
        self
    }
    /// Sets how this issuer's keys are cached and fetched (TTLs, cooldown, staleness,
    /// waiting, HTTP timeouts); see [`CacheOptions`] for each default and its reason.
    pub fn cache(mut self, cache: CacheOptions) -> IssuerConfig {
        self.cache = cache;
        self
    }
    /// Sets whether this issuer's tokens may (default), must or must not be DPoP-bound, and
    /// how proofs are checked ([`crate::dpop::DpopOptions`]).
    pub fn dpop(mut self, dpop: crate::dpop::DpopOptions) -> IssuerConfig {
        self.dpop = dpop;
        self
    }
    /// Validates this issuer's opaque tokens (and, optionally, its JWTs) by token
    /// introspection (RFC 7662); see [`crate::introspection`].
    pub fn introspection(
        mut self,
        options: crate::introspection::IntrospectionOptions,
    ) -> IssuerConfig {
        self.introspection = Some(options);
        self
    }
}
