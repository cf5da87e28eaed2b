//! The gateway's configuration: the TOML file `tollgate serve --config FILE` reads, checked
//! once at startup into a [`Config`] the rest of the gateway trusts.
//!
//! Every option, its default and the reason for the default are written here, next to the
//! field, once (the key-cache options are the library's [`tollgate::CacheOptions`], documented
//! there). A bad file is refused with the file name, the line and what to change.
//!
//! The parts: `raw.rs` is the TOML schema as serde reads it, `lower.rs` checks it and
//! lowers it into the types below (each `[[issuer]]` straight into the library's
//! [`IssuerConfig`]), `suggest.rs` adds "did you mean" to unknown fields, `summary.rs`
//! prints what a configuration sets up.
//!
//! ```
//! use tollgate_gateway::Config;
//! let config = Config::from_toml_str(r#"
//!     [[issuer]]
//!     issuer = "https://login.example.com/tenant/v2.0"
//!     audiences = ["api://orders"]
//!
//!     [[route]]
//!     path = "/"
//! "#).unwrap();
//! assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
//! assert_eq!(config.routes.len(), 1);
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use http::{HeaderName, Method, Uri};
use serde::Deserialize;
use serde_json::Value;

mod lower;
mod raw;
mod suggest;
mod summary;
#[cfg(test)]
mod tests;

/// Where an issuer's keys come from: the library's type (`jwks_file` becomes
/// [`KeySource::Static`]).
pub use tollgate::keys::KeySource;
/// One `[[issuer]]`, checked: the library's type, used as is by the validator.
pub use tollgate::{CacheOptions, IssuerConfig};

/// The answer to refusals is the library's (`tollgate::challenge`); so are its defaults.
pub use tollgate::challenge::{
    DEFAULT_REALM, DEFAULT_RETRY_AFTER_SECS, DEFAULT_UNAVAILABLE_STATUS,
};

/// Default gateway listener: loopback, so a first run never exposes anything by accident.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default admin listener (`/healthz`, `/readyz`, `/metrics`, `/keys`): loopback, because the
/// key cache view and metrics are for operators, not clients.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9090";
/// Default forward-auth path.
pub const DEFAULT_VERIFY_PATH: &str = "/verify";
/// Default size of the verified-token cache: 10,000 entries (about 20 MB at most), enough
/// for every active client of a busy API to pay the signature check once per token.
pub const DEFAULT_TOKEN_CACHE_ENTRIES: usize = 10_000;
/// Default upstream timeout (reverse-proxy mode), from sending the request to the response
/// headers: 30 s, longer than typical API work, short enough to free stuck connections.
pub const DEFAULT_UPSTREAM_TIMEOUT_SECS: u64 = 30;
/// Default time a client may take to send its request headers: 10 s, far more than any
/// real client needs, short enough that slow-header connections cannot pile up.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 10;
/// Default time a kept-alive connection may stay idle between a response and the next
/// request (and an HTTP/2 connection with no open stream): 60 s, above the keep-alive of
/// the proxies that pool connections to the gateway (nginx `keepalive_timeout` 60 s for
/// upstreams, Caddy 2 min client-side but it retries), short enough that idle sockets are
/// returned.
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 60;
/// Default `trusted_proxies`: loopback only. A proxy on the same host (nginx, Caddy, a
/// sidecar) is trusted to name the original request; any other peer is not until listed.
pub const DEFAULT_TRUSTED_PROXIES: [&str; 2] = ["127.0.0.0/8", "::1/128"];
/// Default number of recent refusals the admin listener keeps for the doctor page
/// (`/doctor`): 50, enough to find the request someone just complained about, small enough
/// that the personal data they hold (claims) stays little and short-lived.
pub const DEFAULT_RECENT_REFUSALS: usize = 50;
/// The most recent refusals that may be kept (`recent_refusals`).
pub const MAX_RECENT_REFUSALS: usize = 10_000;
/// Default time in-flight requests get to finish after SIGTERM/SIGINT: 30 s (the default
/// Kubernetes termination grace period).
pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 30;

/// A checked gateway configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the gateway listens (forward-auth and reverse proxy). Default [`DEFAULT_LISTEN`].
    pub listen: SocketAddr,
    /// Where the admin endpoints listen; `None` (`admin_listen = ""`) turns them off.
    /// Default [`DEFAULT_ADMIN_LISTEN`].
    pub admin_listen: Option<SocketAddr>,
    /// Reverse-proxy mode: the upstream every allowed request is streamed to. `None`:
    /// forward-auth only, at [`verify_path`](Config::verify_path).
    pub upstream: Option<Uri>,
    /// The forward-auth endpoint (forward-auth mode only). Default [`DEFAULT_VERIFY_PATH`].
    pub verify_path: String,
    /// The issuers whose tokens are accepted, in file order: each with its key source,
    /// policy and key-cache options (`[issuer.cache]`, in seconds; omitted options keep the
    /// library's defaults).
    pub issuers: Vec<IssuerConfig>,
    /// The route rules, in file order; the first match wins; no match is denied.
    pub routes: Vec<RouteSettings>,
    /// Identity headers set for the upstream: (header, claim). Client-supplied copies of
    /// every one of them are always removed first.
    pub headers: Vec<(HeaderName, String)>,
    /// Entries in the verified-token cache; 0 turns it off. Default
    /// [`DEFAULT_TOKEN_CACHE_ENTRIES`].
    pub token_cache_entries: usize,
    /// Status for "cannot verify now" (`keys_unavailable`): 503 (default), 401, 403, 500,
    /// 502 or 504.
    pub unavailable_status: u16,
    /// `Retry-After` seconds sent with a 503. Default [`DEFAULT_RETRY_AFTER_SECS`].
    pub retry_after: u64,
    /// Upstream timeout. Default [`DEFAULT_UPSTREAM_TIMEOUT_SECS`].
    pub upstream_timeout: Duration,
    /// Grace period for in-flight requests at shutdown. Default
    /// [`DEFAULT_SHUTDOWN_GRACE_SECS`].
    pub shutdown_grace: Duration,
    /// How long a client may take to send its request headers, counted from the accepted
    /// connection (a client that sends nothing is closed too). Default
    /// [`DEFAULT_HEADER_READ_TIMEOUT_SECS`].
    pub header_read_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request. Default
    /// [`DEFAULT_IDLE_TIMEOUT_SECS`].
    pub idle_timeout: Duration,
    /// The most connections the gateway listener holds open at once; `None` (default):
    /// derived from the open-files limit at start, with room kept for the admin listener,
    /// key fetches and upstream connections.
    pub max_connections: Option<usize>,
    /// Peers trusted to name the original request: their `X-Forwarded-*`, `X-Original-*`
    /// and `Forwarded` headers are honoured (forward-auth) or extended (reverse proxy);
    /// from any other peer they are refused (forward-auth) or replaced (reverse proxy).
    /// Default [`DEFAULT_TRUSTED_PROXIES`].
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The upstream routes paths ignoring letter case (ASP.NET Core, Express by default):
    /// route prefixes are then matched ignoring case too. Default false: a path that
    /// matches a route only when case is ignored is refused.
    pub case_insensitive_paths: bool,
    /// `realm` in `WWW-Authenticate`. Default [`DEFAULT_REALM`].
    pub realm: String,
    /// Whether 401/403 bodies and `error_description` carry the full sentence (expected and
    /// found values) or only the code. Default true: diagnosis is the point of Tollgate;
    /// set false if the accepted audiences or key ids must not be shown to clients.
    pub expose_details: bool,
    /// Refused requests kept in memory for the admin listener's doctor page
    /// (`/doctor`): time, route, code, top cause, and the token's header and claims (never
    /// its signature or the whole token). Claims are personal data (subject, name, email):
    /// the ring is in memory only, bounded, served on the admin listener only. 0 turns it
    /// off. Default [`DEFAULT_RECENT_REFUSALS`], at most [`MAX_RECENT_REFUSALS`].
    pub recent_refusals: usize,
    /// Log settings (read by the CLI, which owns the subscriber).
    pub log: LogSettings,
    /// The URL clients use to reach the API, `scheme://host[:port]` (no path): DPoP proofs
    /// name the URL the client saw (`htu`), which a proxy in front (TLS termination, another
    /// host name) changes. `None` (default): the trusted proxy's `X-Forwarded-Proto` and
    /// `X-Forwarded-Host`, else (reverse proxy) `http://` and the `Host` header.
    pub public_url: Option<String>,
    /// Where a TLS-terminating proxy passes the client certificate (certificate-bound
    /// tokens, RFC 8705), honoured from `trusted_proxies` only. `None` (default): no
    /// certificate, so certificate-bound tokens are refused (`client_cert_missing`).
    pub client_cert: Option<ClientCertSettings>,
    /// The DPoP replay cache (`[replay]`).
    pub replay: ReplaySettings,
}

/// `[client_cert]`: the header and its format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCertSettings {
    /// The header, e.g. `X-SSL-Client-Cert` (nginx `$ssl_client_escaped_cert`) or
    /// `X-Forwarded-Client-Cert` (Envoy).
    pub header: HeaderName,
    /// How the certificate is written: `escaped_pem` (default), `xfcc`, `der_base64`.
    pub format: tollgate::binding::CertFormat,
}

/// Default time a Redis replay check may take: 500 ms. Past it the request is refused as
/// "cannot verify now" (503), never allowed.
pub const DEFAULT_REPLAY_TIMEOUT_MS: u64 = 500;

/// `[replay]`: where DPoP proofs already seen are remembered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplaySettings {
    /// `redis://host:port[/db]`: shared by every replica (one atomic script per proof, see
    /// [`crate::replay`]); when Redis cannot answer, DPoP requests are refused with 503
    /// ("cannot verify now"). `None` (default): in memory, per process.
    pub redis: Option<String>,
    /// The in-memory cache's bound. Default [`tollgate::dpop::DEFAULT_MAX_ENTRIES`].
    pub max_entries: usize,
    /// The most live proofs one DPoP key (one client) may have within the proof window, in
    /// memory or across replicas in Redis; past it the client is refused with 429
    /// `dpop_key_over_quota` while every other client is served. At least 1. Default
    /// [`tollgate::dpop::DEFAULT_MAX_PER_KEY`] (the reason is written there).
    pub max_per_key: usize,
    /// How long one Redis check may take. Default [`DEFAULT_REPLAY_TIMEOUT_MS`].
    pub timeout: Duration,
}

impl Default for ReplaySettings {
    fn default() -> ReplaySettings {
        ReplaySettings {
            redis: None,
            max_entries: tollgate::dpop::DEFAULT_MAX_ENTRIES,
            max_per_key: tollgate::dpop::DEFAULT_MAX_PER_KEY,
            timeout: Duration::from_millis(DEFAULT_REPLAY_TIMEOUT_MS),
        }
    }
}

/// Logging options (`[log]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSettings {
    /// `text` (default, for people) or `json` (for log pipelines).
    pub format: LogFormat,
    /// A `tracing` filter, e.g. `info` (default) or `tollgate_gateway=debug`. `RUST_LOG`
    /// overrides it.
    pub level: String,
}

/// The log line format (`[log] format`, `tollgate serve --log-format`): `"text"` or
/// `"json"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<LogFormat, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("must be \"text\" or \"json\", found {other:?}")),
        }
    }
}

impl TryFrom<String> for LogFormat {
    type Error = String;
    fn try_from(s: String) -> Result<LogFormat, String> {
        s.parse().map_err(|e| format!("[log] format {e}"))
    }
}

/// What a route requires.
#[derive(Clone, Debug, PartialEq)]
pub enum Access {
    /// No token needed (`anonymous = true`); no identity headers are set.
    Anonymous,
    /// A valid token meeting these requirements.
    Token(Requirements),
}

/// The requirements of a route on a valid token. Every list is "all of"; empty lists are
/// not checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Requirements {
    /// The token's issuer must be one of these (empty: any configured issuer).
    pub issuers: Vec<String>,
    /// Every scope must be granted (`scope` space-delimited, or `scp` string/array).
    pub scopes: Vec<String>,
    /// Every role must be held (`roles`, `realm_access.roles`, `cognito:groups`, `groups`).
    pub roles: Vec<String>,
    /// Claims that must equal a value.
    pub claims_equal: Vec<(String, Value)>,
    /// Claims that must contain a value (an array holding it, or a space-delimited string
    /// with it as one word).
    pub claims_contain: Vec<(String, Value)>,
}

/// One `[[route]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteSettings {
    /// The label in logs and metrics: `name`, or the path.
    pub name: String,
    /// The path prefix, matched segment-wise: `/orders/` matches `/orders`, `/orders/` and
    /// `/orders/42`; `/orders` also matches those, but not `/orders-old`.
    pub path: String,
    /// The methods this route applies to (upper-cased; `GET` implies `HEAD`); empty: every
    /// method.
    pub methods: Vec<Method>,
    /// Anonymous, or a valid token with requirements.
    pub access: Access,
    /// Line of the `[[route]]` table in the file.
    pub line: usize,
}

/// A configuration that cannot be used: where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, when read from one.
    pub file: Option<PathBuf>,
    /// The line (1-based), when known.
    pub line: Option<usize>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{line}: {}", file.display(), self.message),
            (Some(file), None) => write!(f, "{}: {}", file.display(), self.message),
            (None, Some(line)) => write!(f, "line {line}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// True when `peer` is in `trusted_proxies`. An IPv4 peer seen through a dual-stack
    /// listener (`::ffff:127.0.0.1`) is compared as the IPv4 address it is.
    ///
    /// ```
    /// let c = tollgate_gateway::Config::from_toml_str(
    ///     "[[issuer]]\nissuer = \"https://idp.example/\"\naudiences = [\"a\"]\n[[route]]\npath = \"/\"\n",
    /// ).unwrap();
    /// assert!(c.trusts("127.0.0.1".parse().unwrap()));
    /// assert!(c.trusts("::ffff:127.0.0.1".parse().unwrap()));
    /// assert!(!c.trusts("10.0.0.1".parse().unwrap()));
    /// ```
    pub fn trusts(&self, peer: std::net::IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.trusted_proxies.iter().any(|n| n.contains(&peer))
    }

    /// Reads and checks a configuration file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let src = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: Some(path.to_path_buf()),
            line: None,
            message: format!("cannot read the configuration file: {e}"),
        })?;
        Config::parse(&src, path.parent()).map_err(|mut e| {
            e.file = Some(path.to_path_buf());
            e
        })
    }

    /// Checks a configuration given as TOML text (relative `jwks_file` paths are taken from
    /// the current directory).
    pub fn from_toml_str(src: &str) -> Result<Config, ConfigError> {
        Config::parse(src, None)
    }

    fn parse(src: &str, base_dir: Option<&Path>) -> Result<Config, ConfigError> {
        let raw: raw::RawConfig = toml::from_str(src).map_err(|e| ConfigError {
            file: None,
            line: e.span().map(|s| lower::line_of(src, s.start)),
            message: suggest::with_suggestion(e.message().trim()),
        })?;
        lower::lower(raw, src, base_dir)
    }
}
