//! The file as written: the TOML schema, as serde reads it. Unknown fields are refused
//! (with a suggestion, see `suggest.rs`); spans give error lines. Nothing is checked here
//! beyond types: `lower.rs` checks and converts.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::LogFormat;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) listen: Option<Spanned<String>>,
    pub(super) admin_listen: Option<Spanned<String>>,
    pub(super) upstream: Option<Spanned<String>>,
    pub(super) verify_path: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) issuer: Vec<Spanned<RawIssuer>>,
    #[serde(default)]
    pub(super) route: Vec<Spanned<RawRoute>>,
    #[serde(default)]
    pub(super) headers: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub(super) token_cache: RawTokenCache,
    #[serde(default)]
    pub(super) unavailable: RawUnavailable,
    pub(super) upstream_timeout: Option<u64>,
    pub(super) shutdown_grace: Option<u64>,
    pub(super) header_read_timeout: Option<u64>,
    pub(super) idle_timeout: Option<u64>,
    pub(super) max_connections: Option<Spanned<usize>>,
    pub(super) trusted_proxies: Option<Spanned<Vec<String>>>,
    pub(super) case_insensitive_paths: Option<bool>,
    pub(super) realm: Option<String>,
    pub(super) expose_details: Option<bool>,
    pub(super) recent_refusals: Option<Spanned<usize>>,
    #[serde(default)]
    pub(super) log: RawLog,
    pub(super) public_url: Option<Spanned<String>>,
    pub(super) client_cert: Option<Spanned<RawClientCert>>,
    #[serde(default)]
    pub(super) replay: RawReplay,
}

/// `[client_cert]`: where a TLS-terminating proxy puts the client certificate (RFC 8705).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClientCert {
    pub(super) header: String,
    pub(super) format: Option<String>,
}

/// `[replay]`: the DPoP replay cache.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReplay {
    pub(super) redis: Option<Spanned<String>>,
    pub(super) max_entries: Option<usize>,
    pub(super) max_per_key: Option<Spanned<usize>>,
    pub(super) timeout_ms: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTokenCache {
    pub(super) max_entries: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUnavailable {
    pub(super) status: Option<Spanned<u16>>,
    pub(super) retry_after: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    pub(super) format: Option<LogFormat>,
    pub(super) level: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIssuer {
    pub(super) issuer: String,
    /// Other `iss` spellings (or `{tenantid}` templates) sharing this issuer's keys and policy.
    #[serde(default)]
    pub(super) aliases: Vec<String>,
    /// Accepted tenant ids of a `{tenantid}` template (empty: every tenant).
    #[serde(default)]
    pub(super) tenants: Vec<String>,
    pub(super) discovery_url: Option<String>,
    pub(super) jwks_uri: Option<String>,
    pub(super) jwks_file: Option<String>,
    #[serde(default)]
    pub(super) audiences: Vec<String>,
    #[serde(default)]
    pub(super) any_audience: bool,
    pub(super) algorithms: Option<Vec<String>>,
    pub(super) leeway: Option<u64>,
    pub(super) max_age: Option<u64>,
    #[serde(default)]
    pub(super) required_claims: Vec<String>,
    pub(super) typ: Option<Vec<String>>,
    pub(super) reject_typ: Option<Vec<String>>,
    pub(super) max_token_size: Option<usize>,
    #[serde(default)]
    pub(super) cache: RawCache,
    pub(super) dpop: Option<String>,
    pub(super) dpop_algorithms: Option<Vec<String>>,
    pub(super) dpop_window: Option<u64>,
    pub(super) dpop_leeway: Option<u64>,
    pub(super) introspection: Option<Spanned<RawIntrospection>>,
}

/// `[issuer.introspection]`: the library's `IntrospectionOptions`, durations in seconds.
/// The secret comes from a file or an environment variable, never inline.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIntrospection {
    pub(super) endpoint: Option<String>,
    pub(super) client_id: String,
    pub(super) client_secret_file: Option<String>,
    pub(super) client_secret_env: Option<String>,
    /// Read only to refuse it with a clear message: a secret written in the file would end
    /// up in version control and in logs of the configuration.
    pub(super) client_secret: Option<toml::Value>,
    pub(super) auth: Option<String>,
    pub(super) max_ttl: Option<u64>,
    pub(super) inactive_ttl: Option<u64>,
    pub(super) max_entries: Option<usize>,
    pub(super) token_prefix: Option<String>,
    pub(super) introspect_jwts: Option<bool>,
    pub(super) jwt_answers: Option<bool>,
    pub(super) connect_timeout: Option<u64>,
    pub(super) timeout: Option<u64>,
    pub(super) max_body: Option<usize>,
}

/// `[issuer.cache]`: the library's `CacheOptions`, durations in seconds, `max_body` in
/// bytes. Each omitted option keeps the library's default.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCache {
    pub(super) default_ttl: Option<u64>,
    pub(super) min_ttl: Option<u64>,
    pub(super) max_ttl: Option<u64>,
    pub(super) cooldown: Option<u64>,
    pub(super) max_stale: Option<u64>,
    pub(super) max_wait: Option<u64>,
    pub(super) retry_min: Option<u64>,
    pub(super) retry_max: Option<u64>,
    pub(super) connect_timeout: Option<u64>,
    pub(super) timeout: Option<u64>,
    pub(super) max_body: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoute {
    pub(super) path: String,
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) methods: Vec<String>,
    #[serde(default)]
    pub(super) anonymous: bool,
    #[serde(default)]
    pub(super) issuers: Vec<String>,
    #[serde(default)]
    pub(super) scopes: Vec<String>,
    #[serde(default)]
    pub(super) roles: Vec<String>,
    #[serde(default)]
    pub(super) claims: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub(super) claims_contain: BTreeMap<String, toml::Value>,
}
