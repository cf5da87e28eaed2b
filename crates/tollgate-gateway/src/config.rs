//! The gateway's configuration: the TOML file `tollgate serve --config FILE` reads, checked
//! once at startup into a [`Config`] the rest of the gateway trusts.
//!
//! Every option, its default and the reason for the default are written here, next to the
//! field, once. A bad file is refused with the file name, the line and what to change.
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

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::{HeaderName, Method, Uri};
use serde::Deserialize;
use serde_json::Value;
use tollgate::{Algorithm, JwkSet, Policy, TypPolicy};
use toml::Spanned;

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
    /// The issuers whose tokens are accepted.
    pub issuers: Vec<IssuerSettings>,
    /// The route rules, in file order; the first match wins; no match is denied.
    pub routes: Vec<RouteSettings>,
    /// Identity headers set for the upstream: (header, claim). Client-supplied copies of
    /// every one of them are always removed first.
    pub headers: Vec<(HeaderName, String)>,
    /// Entries in the verified-token cache; 0 turns it off. Default
    /// [`DEFAULT_TOKEN_CACHE_ENTRIES`].
    pub token_cache_entries: usize,
    /// Status for "cannot verify now" (`keys_unavailable`): 503 (default), 401 or 500.
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
    /// Log settings (read by the CLI, which owns the subscriber).
    pub log: LogSettings,
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

/// The log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// How an issuer's keys are found.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// OIDC discovery at `{issuer}/.well-known/openid-configuration` (the default).
    Discovery,
    /// Discovery at an explicit metadata URL.
    DiscoveryUrl(String),
    /// A JWKS URL, no discovery.
    JwksUri(String),
    /// A fixed key set read from a file at startup (`jwks_file`).
    Static(JwkSet),
}

/// One `[[issuer]]`.
#[derive(Clone, Debug)]
pub struct IssuerSettings {
    /// The exact `iss` value.
    pub issuer: String,
    /// Where the keys come from.
    pub source: KeySource,
    /// The validation policy (issuer, audiences, algorithms, leeway, `typ`, required claims).
    pub policy: Policy,
    /// Key-cache options; `None` keeps the library's default for that option.
    pub cache: KeyCacheSettings,
    /// Line of the `[[issuer]]` table in the file.
    pub line: usize,
}

/// `[issuer.cache]`: the key cache options, in seconds (bytes for `max_body`). Each `None`
/// keeps the library default (see `tollgate::CacheOptions`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KeyCacheSettings {
    /// Refresh interval when the JWKS response has no usable `Cache-Control`.
    pub default_ttl: Option<u64>,
    /// Lower bound on the refresh interval.
    pub min_ttl: Option<u64>,
    /// Upper bound on the refresh interval.
    pub max_ttl: Option<u64>,
    /// Minimum time between two fetches caused by unknown `kid`s.
    pub cooldown: Option<u64>,
    /// How long stale keys keep being used while the issuer is unreachable.
    pub max_stale: Option<u64>,
    /// How long a request may wait for a first fetch or an unknown-`kid` refetch.
    pub max_wait: Option<u64>,
    /// TCP connect timeout for key fetches.
    pub connect_timeout: Option<u64>,
    /// Total timeout of one key fetch.
    pub timeout: Option<u64>,
    /// Maximum size of a JWKS or metadata document, in bytes.
    pub max_body: Option<usize>,
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

// ---- the file as written -------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<Spanned<String>>,
    admin_listen: Option<Spanned<String>>,
    upstream: Option<Spanned<String>>,
    verify_path: Option<Spanned<String>>,
    #[serde(default)]
    issuer: Vec<Spanned<RawIssuer>>,
    #[serde(default)]
    route: Vec<Spanned<RawRoute>>,
    #[serde(default)]
    headers: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    token_cache: RawTokenCache,
    #[serde(default)]
    unavailable: RawUnavailable,
    upstream_timeout: Option<u64>,
    shutdown_grace: Option<u64>,
    header_read_timeout: Option<u64>,
    idle_timeout: Option<u64>,
    max_connections: Option<Spanned<usize>>,
    trusted_proxies: Option<Spanned<Vec<String>>>,
    case_insensitive_paths: Option<bool>,
    realm: Option<String>,
    expose_details: Option<bool>,
    #[serde(default)]
    log: RawLog,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTokenCache {
    max_entries: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawUnavailable {
    status: Option<Spanned<u16>>,
    retry_after: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLog {
    format: Option<Spanned<String>>,
    level: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssuer {
    issuer: String,
    discovery_url: Option<String>,
    jwks_uri: Option<String>,
    jwks_file: Option<String>,
    #[serde(default)]
    audiences: Vec<String>,
    #[serde(default)]
    any_audience: bool,
    algorithms: Option<Vec<String>>,
    leeway: Option<u64>,
    max_age: Option<u64>,
    #[serde(default)]
    required_claims: Vec<String>,
    typ: Option<Vec<String>>,
    reject_typ: Option<Vec<String>>,
    max_token_size: Option<usize>,
    #[serde(default)]
    cache: KeyCacheSettings,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    path: String,
    name: Option<String>,
    #[serde(default)]
    methods: Vec<String>,
    #[serde(default)]
    anonymous: bool,
    #[serde(default)]
    issuers: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    claims: BTreeMap<String, toml::Value>,
    #[serde(default)]
    claims_contain: BTreeMap<String, toml::Value>,
}

/// Headers that are never identity headers: they carry the request itself.
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
    "proxy-connection",
    "cookie",
    "x-forwarded-method",
    "x-forwarded-uri",
    "x-original-method",
    "x-original-uri",
];

/// Adds "did you mean `x`?" to serde's "unknown field `y`, expected one of `a`, `b`" when
/// one expected name is close to the unknown one.
fn with_suggestion(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_string();
    };
    let Some((unknown, expected)) = rest.split_once("`, expected one of ") else {
        return message.to_string();
    };
    let best = expected
        .split(", ")
        .map(|e| e.trim_matches('`'))
        .map(|e| (edit_distance(unknown, e), e))
        .min();
    match best {
        Some((d, name)) if d <= 2 || name.starts_with(unknown) || unknown.starts_with(name) => {
            format!("{message}; did you mean `{name}`?")
        }
        _ => message.to_string(),
    }
}

/// Levenshtein distance, for suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(prev + usize::from(ca != *cb));
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// Turns a byte offset into a 1-based line number.
fn line_of(src: &str, offset: usize) -> usize {
    src.as_bytes()[..offset.min(src.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

struct Ctx<'a> {
    src: &'a str,
    base_dir: Option<&'a Path>,
}

impl Ctx<'_> {
    fn err(&self, offset: usize, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: None,
            line: Some(line_of(self.src, offset)),
            message: message.into(),
        }
    }
}

impl Config {
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
        let raw: RawConfig = toml::from_str(src).map_err(|e| ConfigError {
            file: None,
            line: e.span().map(|s| line_of(src, s.start)),
            message: with_suggestion(e.message().trim()),
        })?;
        let cx = Ctx { src, base_dir };
        cx.build(raw)
    }

    /// A short human summary: mode, listeners, issuers and routes (for startup logs and
    /// `--check-config`).
    pub fn summary(&self) -> String {
        let mut out = String::new();
        match &self.upstream {
            Some(u) => out.push_str(&format!("mode: reverse proxy on {} -> {u}\n", self.listen)),
            None => out.push_str(&format!(
                "mode: forward-auth on {} at {}\n",
                self.listen, self.verify_path
            )),
        }
        match self.admin_listen {
            Some(a) => out.push_str(&format!("admin: {a} (/healthz /readyz /metrics /keys)\n")),
            None => out.push_str("admin: off\n"),
        }
        for i in &self.issuers {
            let source = match &i.source {
                KeySource::Discovery => "discovery".to_string(),
                KeySource::DiscoveryUrl(u) => format!("discovery at {u}"),
                KeySource::JwksUri(u) => format!("JWKS at {u}"),
                KeySource::Static(set) => format!("{} static key(s)", set.len()),
            };
            out.push_str(&format!(
                "issuer: {} ({source}); audiences: {}\n",
                i.issuer,
                if i.policy.audiences.is_empty() {
                    "any".to_string()
                } else {
                    i.policy.audiences.join(", ")
                }
            ));
        }
        for r in &self.routes {
            let methods = if r.methods.is_empty() {
                "any method".to_string()
            } else {
                r.methods
                    .iter()
                    .map(Method::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let access = match &r.access {
                Access::Anonymous => "anonymous".to_string(),
                Access::Token(req) => {
                    let mut parts = vec!["valid token".to_string()];
                    if !req.scopes.is_empty() {
                        parts.push(format!("scopes {}", req.scopes.join(" ")));
                    }
                    if !req.roles.is_empty() {
                        parts.push(format!("roles {}", req.roles.join(" ")));
                    }
                    if !req.issuers.is_empty() {
                        parts.push(format!("issuers {}", req.issuers.join(" ")));
                    }
                    if !req.claims_equal.is_empty() || !req.claims_contain.is_empty() {
                        parts.push("claim rules".into());
                    }
                    parts.join(", ")
                }
            };
            out.push_str(&format!("route: {} ({methods}): {access}\n", r.path));
        }
        out.push_str("route: anything else: denied\n");
        out
    }
}

fn parse_addr(cx: &Ctx<'_>, name: &str, v: &Spanned<String>) -> Result<SocketAddr, ConfigError> {
    v.get_ref().parse().map_err(|_| {
        cx.err(
            v.span().start,
            format!(
                "`{name}` must be an IP address and port such as \"127.0.0.1:8080\" or \"0.0.0.0:8080\", found {:?}",
                v.get_ref()
            ),
        )
    })
}

fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// Checks a metadata/JWKS URL: https, or http on loopback only.
fn check_url(url: &str) -> Result<(), String> {
    let uri: Uri = url.parse().map_err(|_| format!("{url:?} is not a URL"))?;
    let host = uri.host().unwrap_or("");
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if is_loopback(host) => Ok(()),
        Some("http") => Err(format!(
            "{url:?} uses http; keys must be fetched over https (http is allowed only on 127.0.0.1, localhost and [::1])"
        )),
        _ => Err(format!("{url:?} must start with https://")),
    }
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1")
}

impl Ctx<'_> {
    fn build(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let listen = match &raw.listen {
            Some(v) => parse_addr(self, "listen", v)?,
            None => DEFAULT_LISTEN.parse().expect("valid default"),
        };
        let admin_listen = match &raw.admin_listen {
            Some(v) if v.get_ref().is_empty() || v.get_ref() == "off" => None,
            Some(v) => Some(parse_addr(self, "admin_listen", v)?),
            None => Some(DEFAULT_ADMIN_LISTEN.parse().expect("valid default")),
        };
        let upstream = match &raw.upstream {
            None => None,
            Some(v) => {
                let uri: Uri = v.get_ref().parse().map_err(|_| {
                    self.err(
                        v.span().start,
                        format!("`upstream` {:?} is not a URL", v.get_ref()),
                    )
                })?;
                if uri.scheme_str() != Some("http") || uri.authority().is_none() {
                    return Err(self.err(
                        v.span().start,
                        format!(
                            "`upstream` must be an http:// URL with a host, such as \"http://127.0.0.1:3000\", found {:?} (put a TLS-terminating proxy in front for https)",
                            v.get_ref()
                        ),
                    ));
                }
                if uri.query().is_some() {
                    return Err(self.err(v.span().start, "`upstream` must not have a query string"));
                }
                Some(uri)
            }
        };
        let verify_path = match &raw.verify_path {
            Some(v) if !v.get_ref().starts_with('/') => {
                return Err(self.err(
                    v.span().start,
                    format!("`verify_path` must start with '/', found {:?}", v.get_ref()),
                ))
            }
            Some(v) => v.get_ref().clone(),
            None => DEFAULT_VERIFY_PATH.into(),
        };

        if raw.issuer.is_empty() {
            return Err(ConfigError {
                file: None,
                line: None,
                message: "no [[issuer]] is configured; add one, e.g.\n[[issuer]]\nissuer = \"https://login.example.com/\"\naudiences = [\"api://my-api\"]".into(),
            });
        }
        let mut issuers = Vec::new();
        for spanned in &raw.issuer {
            let issuer = self.build_issuer(spanned)?;
            if issuers
                .iter()
                .any(|i: &IssuerSettings| i.issuer == issuer.issuer)
            {
                return Err(self.err(
                    spanned.span().start,
                    format!("issuer {:?} is configured twice", issuer.issuer),
                ));
            }
            issuers.push(issuer);
        }

        if raw.route.is_empty() {
            return Err(ConfigError {
                file: None,
                line: None,
                message: "no [[route]] is configured, so every request would be denied; add at least\n[[route]]\npath = \"/\"   # any valid token".into(),
            });
        }
        let mut routes = Vec::new();
        for spanned in &raw.route {
            routes.push(self.build_route(spanned, &issuers)?);
        }

        let mut headers = Vec::new();
        for (name, claim) in &raw.headers {
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                self.err(
                    claim.span().start,
                    format!("[headers]: {name:?} is not a valid HTTP header name"),
                )
            })?;
            if RESERVED_HEADERS.contains(&header.as_str()) {
                return Err(self.err(
                    claim.span().start,
                    format!("[headers]: {name} carries the request itself and cannot be an identity header; use a name such as X-Auth-Subject"),
                ));
            }
            if claim.get_ref().is_empty() {
                return Err(self.err(
                    claim.span().start,
                    format!("[headers]: {name} names no claim; write e.g. {name} = \"sub\""),
                ));
            }
            headers.push((header, claim.get_ref().clone()));
        }

        let unavailable_status = match &raw.unavailable.status {
            None => DEFAULT_UNAVAILABLE_STATUS,
            Some(s) if matches!(*s.get_ref(), 401 | 403 | 500 | 502 | 503 | 504) => *s.get_ref(),
            Some(s) => {
                return Err(self.err(
                    s.span().start,
                    format!(
                        "[unavailable] status must be 503 (default), 401, 403, 500, 502 or 504, found {}",
                        s.get_ref()
                    ),
                ))
            }
        };
        let format = match &raw.log.format {
            None => LogFormat::Text,
            Some(f) => match f.get_ref().as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => {
                    return Err(self.err(
                        f.span().start,
                        format!("[log] format must be \"text\" or \"json\", found {other:?}"),
                    ))
                }
            },
        };

        let trusted_proxies = match &raw.trusted_proxies {
            None => DEFAULT_TRUSTED_PROXIES
                .iter()
                .map(|n| n.parse().expect("valid default"))
                .collect(),
            Some(list) => {
                let mut nets = Vec::new();
                for n in list.get_ref() {
                    let net = n
                        .parse::<ipnet::IpNet>()
                        .or_else(|_| n.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                        .map_err(|_| {
                            self.err(
                                list.span().start,
                                format!("`trusted_proxies`: {n:?} is not an IP address or CIDR range such as \"10.0.0.0/8\" or \"::1\""),
                            )
                        })?;
                    nets.push(net.trunc());
                }
                nets
            }
        };
        if let Some(m) = &raw.max_connections {
            if *m.get_ref() < 16 {
                return Err(self.err(
                    m.span().start,
                    format!("`max_connections` must be at least 16, found {}; omit it to derive it from the open-files limit", m.get_ref()),
                ));
            }
        }

        Ok(Config {
            listen,
            admin_listen,
            upstream,
            verify_path,
            issuers,
            routes,
            headers,
            token_cache_entries: raw
                .token_cache
                .max_entries
                .unwrap_or(DEFAULT_TOKEN_CACHE_ENTRIES),
            unavailable_status,
            retry_after: raw
                .unavailable
                .retry_after
                .unwrap_or(DEFAULT_RETRY_AFTER_SECS),
            upstream_timeout: Duration::from_secs(
                raw.upstream_timeout
                    .unwrap_or(DEFAULT_UPSTREAM_TIMEOUT_SECS),
            ),
            shutdown_grace: Duration::from_secs(
                raw.shutdown_grace.unwrap_or(DEFAULT_SHUTDOWN_GRACE_SECS),
            ),
            header_read_timeout: Duration::from_secs(
                raw.header_read_timeout
                    .unwrap_or(DEFAULT_HEADER_READ_TIMEOUT_SECS)
                    .max(1),
            ),
            idle_timeout: Duration::from_secs(
                raw.idle_timeout.unwrap_or(DEFAULT_IDLE_TIMEOUT_SECS).max(1),
            ),
            max_connections: raw.max_connections.map(|m| *m.get_ref()),
            trusted_proxies,
            case_insensitive_paths: raw.case_insensitive_paths.unwrap_or(false),
            realm: raw.realm.unwrap_or_else(|| DEFAULT_REALM.into()),
            expose_details: raw.expose_details.unwrap_or(true),
            log: LogSettings {
                format,
                level: raw.log.level.unwrap_or_else(|| "info".into()),
            },
        })
    }

    fn build_issuer(&self, spanned: &Spanned<RawIssuer>) -> Result<IssuerSettings, ConfigError> {
        let at = spanned.span().start;
        let raw = spanned.get_ref();
        let name = &raw.issuer;
        if name.is_empty() {
            return Err(self.err(
                at,
                "[[issuer]]: `issuer` is empty; write the exact `iss` value of your tokens",
            ));
        }
        let sources = [
            raw.discovery_url.is_some(),
            raw.jwks_uri.is_some(),
            raw.jwks_file.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if sources > 1 {
            return Err(self.err(
                at,
                format!(
                    "issuer {name:?}: set at most one of `discovery_url`, `jwks_uri`, `jwks_file`"
                ),
            ));
        }
        let source = if let Some(url) = &raw.discovery_url {
            check_url(url)
                .map_err(|e| self.err(at, format!("issuer {name:?}: discovery_url {e}")))?;
            KeySource::DiscoveryUrl(url.clone())
        } else if let Some(url) = &raw.jwks_uri {
            check_url(url).map_err(|e| self.err(at, format!("issuer {name:?}: jwks_uri {e}")))?;
            KeySource::JwksUri(url.clone())
        } else if let Some(file) = &raw.jwks_file {
            let path = match self.base_dir {
                Some(dir) if Path::new(file).is_relative() => dir.join(file),
                _ => PathBuf::from(file),
            };
            let bytes = std::fs::read(&path).map_err(|e| {
                self.err(
                    at,
                    format!(
                        "issuer {name:?}: cannot read jwks_file {}: {e}",
                        path.display()
                    ),
                )
            })?;
            let set = JwkSet::from_json(&bytes).map_err(|e| {
                self.err(
                    at,
                    format!("issuer {name:?}: jwks_file {}: {e}", path.display()),
                )
            })?;
            if set.is_empty() {
                return Err(self.err(
                    at,
                    format!(
                        "issuer {name:?}: jwks_file {} holds no usable key",
                        path.display()
                    ),
                ));
            }
            KeySource::Static(set)
        } else {
            check_url(name).map_err(|e| {
                self.err(at, format!("issuer {name:?}: discovery needs the issuer to be a URL: {e}; or set `jwks_uri` / `jwks_file`"))
            })?;
            KeySource::Discovery
        };

        if raw.audiences.is_empty() && !raw.any_audience {
            return Err(self.err(
                at,
                format!("issuer {name:?}: `audiences` is empty; list the audiences of this API (e.g. audiences = [\"api://orders\"]), or set any_audience = true to accept tokens minted for any API of this issuer (not recommended)"),
            ));
        }
        let mut policy = Policy::new().issuer(name.clone());
        for aud in &raw.audiences {
            policy = policy.audience(aud.clone());
        }
        if let Some(algs) = &raw.algorithms {
            let mut parsed = Vec::new();
            for a in algs {
                let alg: Algorithm = a.parse().map_err(|_| {
                    self.err(at, format!("issuer {name:?}: unknown algorithm {a:?}; use names such as RS256, ES256, EdDSA"))
                })?;
                parsed.push(alg);
            }
            if parsed.is_empty() {
                return Err(self.err(at, format!("issuer {name:?}: `algorithms` is empty; omit it to allow every asymmetric algorithm")));
            }
            policy = policy.algorithms(parsed);
        }
        if let Some(l) = raw.leeway {
            policy = policy.leeway(l);
        }
        if let Some(m) = raw.max_age {
            policy = policy.max_age(m);
        }
        for c in &raw.required_claims {
            policy = policy.require_claim(c.clone());
        }
        match (&raw.typ, &raw.reject_typ) {
            (Some(_), Some(_)) => {
                return Err(self.err(at, format!("issuer {name:?}: set `typ` (accepted types) or `reject_typ` (refused types), not both")))
            }
            (Some(t), None) => policy = policy.typ(TypPolicy::OneOf(t.clone())),
            (None, Some(t)) => policy = policy.typ(TypPolicy::NoneOf(t.clone())),
            (None, None) => {}
        }
        if let Some(size) = raw.max_token_size {
            policy = policy.max_token_size(size);
        }
        Ok(IssuerSettings {
            issuer: name.clone(),
            source,
            policy,
            cache: raw.cache.clone(),
            line: line_of(self.src, at),
        })
    }

    fn build_route(
        &self,
        spanned: &Spanned<RawRoute>,
        issuers: &[IssuerSettings],
    ) -> Result<RouteSettings, ConfigError> {
        let at = spanned.span().start;
        let raw = spanned.get_ref();
        let path = &raw.path;
        if !path.starts_with('/') {
            return Err(self.err(
                at,
                format!("[[route]]: path must start with '/', found {path:?}"),
            ));
        }
        if path.contains(['?', '#', '%', '\\']) || path.split('/').any(|s| s == "." || s == "..") {
            return Err(self.err(
                at,
                format!("[[route]] {path:?}: a route path is a plain path prefix (no query, '%', '\\', '.' or '..' segments)"),
            ));
        }
        let mut methods = Vec::new();
        for m in &raw.methods {
            let upper = m.to_ascii_uppercase();
            let method = Method::from_bytes(upper.as_bytes()).map_err(|_| {
                self.err(
                    at,
                    format!("[[route]] {path:?}: {m:?} is not an HTTP method"),
                )
            })?;
            if !methods.contains(&method) {
                methods.push(method);
            }
        }
        // HEAD runs the GET handler in most frameworks (Flask, Express, Rails, Spring): a
        // rule for GET covers HEAD too, so HEAD cannot reach a GET handler under a looser rule.
        if methods.contains(&Method::GET) && !methods.contains(&Method::HEAD) {
            methods.push(Method::HEAD);
        }
        let has_requirements = !raw.issuers.is_empty()
            || !raw.scopes.is_empty()
            || !raw.roles.is_empty()
            || !raw.claims.is_empty()
            || !raw.claims_contain.is_empty();
        let access = if raw.anonymous {
            if has_requirements {
                return Err(self.err(
                    at,
                    format!("[[route]] {path:?}: `anonymous = true` cannot be combined with issuers, scopes, roles or claims (an anonymous request has no token to check); remove one of them"),
                ));
            }
            Access::Anonymous
        } else {
            for i in &raw.issuers {
                if !issuers.iter().any(|c| &c.issuer == i) {
                    return Err(self.err(
                        at,
                        format!("[[route]] {path:?}: issuer {i:?} is not configured; the [[issuer]] entries are: {}",
                            issuers.iter().map(|c| format!("{:?}", c.issuer)).collect::<Vec<_>>().join(", ")),
                    ));
                }
            }
            for s in raw.scopes.iter().chain(&raw.roles) {
                if s.is_empty() || s.contains(char::is_whitespace) {
                    return Err(self.err(
                        at,
                        format!(
                            "[[route]] {path:?}: {s:?}: list each scope or role as its own string"
                        ),
                    ));
                }
            }
            Access::Token(Requirements {
                issuers: raw.issuers.clone(),
                scopes: raw.scopes.clone(),
                roles: raw.roles.clone(),
                claims_equal: raw
                    .claims
                    .iter()
                    .map(|(k, v)| (k.clone(), toml_to_json(v)))
                    .collect(),
                claims_contain: raw
                    .claims_contain
                    .iter()
                    .map(|(k, v)| (k.clone(), toml_to_json(v)))
                    .collect(),
            })
        };
        Ok(RouteSettings {
            name: raw.name.clone().unwrap_or_else(|| path.clone()),
            path: path.clone(),
            methods,
            access,
            line: line_of(self.src, at),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The minimal configuration of issue 6, exactly as written there.
    pub(crate) const MINIMAL: &str = r#"
listen = "127.0.0.1:8080"          # the gateway
admin_listen = "127.0.0.1:9090"    # /healthz, /readyz, /metrics, key cache view
upstream = "http://127.0.0.1:3000" # omit it: forward-auth only, at POST/GET /verify

[[issuer]]
issuer = "https://login.example.com/tenant/v2.0"  # discovery at {issuer}/.well-known/...
audiences = ["api://orders"]

[[route]]
path = "/public/"
anonymous = true

[[route]]
path = "/orders/"
methods = ["POST", "PUT", "DELETE"]
scopes = ["orders.write"]

[[route]]
path = "/"            # any valid token

[headers]
X-Auth-Subject = "sub"
X-Auth-Scope = "scope"
"#;

    #[test]
    fn minimal_configuration_parses_as_written() {
        let c = Config::from_toml_str(MINIMAL).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.admin_listen.unwrap().to_string(), "127.0.0.1:9090");
        assert_eq!(
            c.upstream.as_ref().unwrap().to_string(),
            "http://127.0.0.1:3000/"
        );
        assert_eq!(c.issuers.len(), 1);
        assert!(matches!(c.issuers[0].source, KeySource::Discovery));
        assert_eq!(c.issuers[0].policy.audiences, vec!["api://orders"]);
        assert_eq!(
            c.issuers[0].policy.issuers,
            vec!["https://login.example.com/tenant/v2.0"]
        );
        assert_eq!(c.routes.len(), 3);
        assert_eq!(c.routes[0].access, Access::Anonymous);
        assert_eq!(
            c.routes[1].methods,
            vec![Method::POST, Method::PUT, Method::DELETE]
        );
        match &c.routes[1].access {
            Access::Token(r) => assert_eq!(r.scopes, vec!["orders.write"]),
            other => panic!("{other:?}"),
        }
        assert_eq!(c.routes[2].access, Access::Token(Requirements::default()));
        assert_eq!(c.routes[1].line, 14);
        let names: Vec<&str> = c.headers.iter().map(|(h, _)| h.as_str()).collect();
        assert_eq!(names, vec!["x-auth-scope", "x-auth-subject"]);
        assert_eq!(c.token_cache_entries, 10_000);
        assert_eq!(c.unavailable_status, 503);
        assert!(c.summary().contains("reverse proxy"));
    }

    fn err(src: &str) -> ConfigError {
        Config::from_toml_str(src).unwrap_err()
    }

    const ISSUER: &str =
        "[[issuer]]\nissuer = \"https://idp.example.com/\"\naudiences = [\"api\"]\n";

    #[test]
    fn syntax_errors_name_the_line() {
        let e = err(&format!(
            "{ISSUER}[[route]]\npath = \"/\"\nmethods = [\"GET\"\n"
        ));
        assert_eq!(e.line, Some(6), "{e}");
        let e = err(&format!(
            "{ISSUER}[[route]]\npath = \"/\"\nscope = [\"a\"]\n"
        ));
        assert_eq!(e.line, Some(6), "{e}");
        assert!(e.message.contains("unknown field `scope`"), "{e}");
        assert!(e.message.ends_with("did you mean `scopes`?"), "{e}");
        let e = err(&format!(
            "{ISSUER}[[route]]\npath = \"/\"\nmethod = [\"GET\"]\n"
        ));
        assert!(e.message.ends_with("did you mean `methods`?"), "{e}");
        let e = err(&format!("{ISSUER}[[route]]\npath = \"/\"\nzzzzzz = 1\n"));
        assert!(!e.message.contains("did you mean"), "{e}");
    }

    #[test]
    fn semantic_errors_name_the_line_and_fix() {
        let e = err(&format!(
            "{ISSUER}[[route]]\npath = \"/p/\"\nanonymous = true\nscopes = [\"x\"]\n"
        ));
        assert_eq!(e.line, Some(4), "{e}");
        assert!(e.message.contains("anonymous"), "{e}");
        let e = err("[[issuer]]\nissuer = \"https://idp/\"\n[[route]]\npath = \"/\"\n");
        assert!(e.message.contains("audiences"), "{e}");
        assert_eq!(e.line, Some(1));
        let e = err("[[issuer]]\nissuer = \"http://idp.example.com/\"\naudiences=[\"a\"]\n[[route]]\npath = \"/\"\n");
        assert!(e.message.contains("https"), "{e}");
        let e = err(&format!(
            "{ISSUER}[[route]]\npath = \"/\"\nissuers = [\"https://other/\"]\n"
        ));
        assert!(e.message.contains("not configured"), "{e}");
        let e = err(&format!("{ISSUER}[[route]]\npath = \"orders\"\n"));
        assert!(e.message.contains("start with '/'"), "{e}");
        let e = err(&format!(
            "{ISSUER}[[route]]\npath = \"/\"\n[headers]\nAuthorization = \"sub\"\n"
        ));
        assert!(e.message.contains("cannot be an identity header"), "{e}");
        assert_eq!(e.line, Some(7));
        let e = err(&format!(
            "listen = \"8080\"\n{ISSUER}[[route]]\npath = \"/\"\n"
        ));
        assert_eq!(e.line, Some(1));
        let e = err(&format!(
            "upstream = \"https://x\"\n{ISSUER}[[route]]\npath = \"/\"\n"
        ));
        assert!(e.message.contains("http://"), "{e}");
        let e = err(ISSUER);
        assert!(e.message.contains("no [[route]]"), "{e}");
        let e = err(&format!(
            "[unavailable]\nstatus = 302\n{ISSUER}[[route]]\npath = \"/\"\n"
        ));
        assert_eq!(e.line, Some(2));
    }

    /// The reference file in the crate's README: every option, with its default.
    #[test]
    fn the_readme_reference_parses_with_the_defaults_it_states() {
        let readme = include_str!("../README.md");
        let start = readme.find("<!-- reference -->\n```toml\n").unwrap();
        let block = &readme[start..];
        let block = &block[block.find("listen").unwrap()..];
        let block = &block[..block.find("```").unwrap()];
        let c = Config::from_toml_str(block).unwrap();
        let defaults = Config::from_toml_str(
            "[[issuer]]\nissuer = \"https://i.example\"\naudiences = [\"a\"]\n[[route]]\npath = \"/\"\n",
        )
        .unwrap();
        assert_eq!(c.listen, defaults.listen);
        assert_eq!(c.admin_listen, defaults.admin_listen);
        assert_eq!(c.verify_path, defaults.verify_path);
        assert_eq!(c.upstream_timeout, defaults.upstream_timeout);
        assert_eq!(c.shutdown_grace, defaults.shutdown_grace);
        assert_eq!(c.header_read_timeout, defaults.header_read_timeout);
        assert_eq!(c.realm, defaults.realm);
        assert_eq!(c.expose_details, defaults.expose_details);
        assert_eq!(c.token_cache_entries, defaults.token_cache_entries);
        assert_eq!(c.unavailable_status, defaults.unavailable_status);
        assert_eq!(c.retry_after, defaults.retry_after);
        assert_eq!(c.log, defaults.log);
        let (i, d) = (&c.issuers[0], &defaults.issuers[0]);
        assert_eq!(i.policy.leeway, d.policy.leeway);
        assert_eq!(i.policy.max_token_size, d.policy.max_token_size);
        let lib = tollgate::CacheOptions::default();
        assert_eq!(i.cache.default_ttl, Some(lib.default_ttl.as_secs()));
        assert_eq!(i.cache.min_ttl, Some(lib.min_ttl.as_secs()));
        assert_eq!(i.cache.max_ttl, Some(lib.max_ttl.as_secs()));
        assert_eq!(i.cache.cooldown, Some(lib.cooldown.as_secs()));
        assert_eq!(i.cache.max_stale, Some(lib.max_stale.as_secs()));
        assert_eq!(i.cache.max_wait, Some(lib.max_wait.as_secs()));
        assert_eq!(
            i.cache.connect_timeout,
            Some(lib.fetch.connect_timeout.as_secs())
        );
        assert_eq!(i.cache.timeout, Some(lib.fetch.timeout.as_secs()));
        assert_eq!(i.cache.max_body, Some(lib.fetch.max_body));
        assert_eq!(c.routes.len(), 4);
        assert_eq!(c.routes[1].name, "orders-write");
        assert_eq!(c.headers.len(), 3);
    }

    #[test]
    fn file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gw.toml");
        std::fs::write(&path, "listen = 3\n").unwrap();
        let e = Config::from_file(&path).unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("{}:1: ", path.display())),
            "{e}"
        );
    }

    #[test]
    fn issuer_options_reach_the_policy() {
        let c = Config::from_toml_str(
            r#"
admin_listen = ""
[[issuer]]
issuer = "https://idp.example.com/"
jwks_uri = "http://127.0.0.1:9999/jwks"
audiences = ["a", "b"]
algorithms = ["ES256"]
leeway = 5
max_age = 600
required_claims = ["sub"]
typ = ["at+jwt"]
[issuer.cache]
max_stale = 3600
[[route]]
path = "/"
claims = { tid = "t1", level = 3 }
claims_contain = { groups = "admins" }
"#,
        )
        .unwrap();
        assert!(c.admin_listen.is_none());
        let i = &c.issuers[0];
        assert!(matches!(&i.source, KeySource::JwksUri(u) if u == "http://127.0.0.1:9999/jwks"));
        assert_eq!(i.policy.algorithms, vec![Algorithm::ES256]);
        assert_eq!(i.policy.leeway, 5);
        assert_eq!(i.policy.max_age, Some(600));
        assert_eq!(i.policy.typ, TypPolicy::OneOf(vec!["at+jwt".into()]));
        assert_eq!(i.cache.max_stale, Some(3600));
        match &c.routes[0].access {
            Access::Token(r) => {
                assert_eq!(r.claims_equal.len(), 2);
                assert_eq!(
                    r.claims_contain[0],
                    ("groups".into(), Value::from("admins"))
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
