//! Lowering: the file as written (`raw.rs`) checked and turned into the gateway's
//! [`Config`]; each `[[issuer]]` straight into the library's [`IssuerConfig`] and
//! [`CacheOptions`]. Every error names the line and what to change.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, Method, Uri};
use serde_json::Value;
use tollgate::introspection::{ClientAuth, ClientSecret, IntrospectionOptions};
use tollgate::keys::{check_remote_url, FetchError};
use tollgate::{Algorithm, JwkSet, Policy, TypPolicy};
use toml::Spanned;

use super::raw::{RawCache, RawConfig, RawIntrospection, RawIssuer, RawRoute};
use super::*;

/// Checks a configuration read from `src` (relative `jwks_file` paths are taken from
/// `base_dir`, else the current directory).
pub(super) fn lower(
    raw: RawConfig,
    src: &str,
    base_dir: Option<&Path>,
) -> Result<Config, ConfigError> {
    Ctx { src, base_dir }.build(raw)
}

/// Why a key URL is refused, for a configuration message: the URL and the library's reason
/// (`tollgate::keys::check_remote_url` is the one rule: https, or http on loopback).
fn url_refused(url: &str, error: FetchError) -> String {
    match error {
        FetchError::InsecureUrl { reason, .. } => format!("{url:?} is refused: {reason}"),
        other => other.to_string(),
    }
}

/// The library's key-cache options with the file's overrides (seconds; bytes for
/// `max_body`).
fn cache_options(raw: &RawCache) -> CacheOptions {
    let d = CacheOptions::default();
    let secs = |v: Option<u64>, default: Duration| v.map_or(default, Duration::from_secs);
    CacheOptions::default()
        .default_ttl(secs(raw.default_ttl, d.default_ttl))
        .min_ttl(secs(raw.min_ttl, d.min_ttl))
        .max_ttl(secs(raw.max_ttl, d.max_ttl))
        .cooldown(secs(raw.cooldown, d.cooldown))
        .max_stale(secs(raw.max_stale, d.max_stale))
        .max_wait(secs(raw.max_wait, d.max_wait))
        .retry_min(secs(raw.retry_min, d.retry_min))
        .retry_max(secs(raw.retry_max, d.retry_max))
        .fetch(
            tollgate::keys::FetchOptions::default()
                .connect_timeout(secs(raw.connect_timeout, d.fetch.connect_timeout))
                .timeout(secs(raw.timeout, d.fetch.timeout))
                .max_body(raw.max_body.unwrap_or(d.fetch.max_body)),
        )
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

/// Turns a byte offset into a 1-based line number.
pub(super) fn line_of(src: &str, offset: usize) -> usize {
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
                .any(|i: &IssuerConfig| i.issuer == issuer.issuer)
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
        let format = raw.log.format.unwrap_or_default();

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
                if nets.is_empty() && upstream.is_none() {
                    return Err(self.err(
                        list.span().start,
                        "`trusted_proxies` is empty, so forward-auth would refuse every request; list the proxy's address (e.g. [\"127.0.0.1\"]) or omit the option for loopback",
                    ));
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

        let public_url = match &raw.public_url {
            None => None,
            Some(v) => {
                let text = v.get_ref().trim_end_matches('/');
                let normal = tollgate::dpop::normalize_htu(text).map_err(|why| {
                    self.err(v.span().start, format!("`public_url` {:?} is not usable: {why}; write the URL clients use, e.g. \"https://api.example.com\"", v.get_ref()))
                })?;
                let normal = normal.trim_end_matches('/').to_string();
                if normal.matches('/').count() != 2 || text.contains(['?', '#']) {
                    return Err(self.err(v.span().start, format!("`public_url` {:?} must be scheme://host[:port] only (no path, query or fragment): the request's path is added to it", v.get_ref())));
                }
                Some(normal)
            }
        };
        let client_cert = match &raw.client_cert {
            None => None,
            Some(c) => {
                let at = c.span().start;
                let c = c.get_ref();
                let header = HeaderName::from_bytes(c.header.as_bytes()).map_err(|_| {
                    self.err(
                        at,
                        format!(
                            "[client_cert] header {:?} is not a valid HTTP header name",
                            c.header
                        ),
                    )
                })?;
                let format = match &c.format {
                    None => tollgate::binding::CertFormat::EscapedPem,
                    Some(f) => f
                        .parse()
                        .map_err(|e: String| self.err(at, format!("[client_cert] {e}")))?,
                };
                Some(super::ClientCertSettings { header, format })
            }
        };
        let max_per_key = match &raw.replay.max_per_key {
            None => tollgate::dpop::DEFAULT_MAX_PER_KEY,
            Some(n) if *n.get_ref() >= 1 => *n.get_ref(),
            Some(n) => {
                return Err(self.err(
                    n.span().start,
                    format!("[replay] max_per_key must be at least 1 (the most live DPoP proofs one key may have; without it one client can fill the replay cache for everyone), found {}", n.get_ref()),
                ));
            }
        };
        let replay = super::ReplaySettings {
            redis: match &raw.replay.redis {
                None => None,
                Some(v) => {
                    let url = v.get_ref();
                    if !(url.starts_with("redis://") || url.starts_with("unix://")) {
                        return Err(self.err(
                            v.span().start,
                            format!("[replay] redis {url:?} must be a redis://host:port URL (or unix:///path/redis.sock); TLS (rediss://) is not built in: reach Redis on a private network or through a local TLS tunnel"),
                        ));
                    }
                    Some(url.clone())
                }
            },
            max_entries: raw
                .replay
                .max_entries
                .unwrap_or(tollgate::dpop::DEFAULT_MAX_ENTRIES),
            max_per_key,
            timeout: Duration::from_millis(
                raw.replay
                    .timeout_ms
                    .unwrap_or(super::DEFAULT_REPLAY_TIMEOUT_MS)
                    .max(1),
            ),
        };

        let recent_refusals = match &raw.recent_refusals {
            None => DEFAULT_RECENT_REFUSALS,
            Some(n) if *n.get_ref() <= MAX_RECENT_REFUSALS => *n.get_ref(),
            Some(n) => {
                return Err(self.err(
                    n.span().start,
                    format!("`recent_refusals` must be at most {MAX_RECENT_REFUSALS} (they hold personal data in memory), found {}; 0 turns the list off", n.get_ref()),
                ));
            }
        };
        Ok(Config {
            public_url,
            client_cert,
            replay,
            recent_refusals,
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

    /// An issuer's list of algorithm names (`option`), parsed: not empty, each known (and
    /// asymmetric when `asymmetric_only`).
    fn algorithms(
        &self,
        at: usize,
        name: &str,
        option: &str,
        algs: &[String],
        asymmetric_only: bool,
    ) -> Result<Vec<Algorithm>, ConfigError> {
        let mut parsed = Vec::new();
        for a in algs {
            match a.parse::<Algorithm>() {
                Ok(alg) if !(asymmetric_only && alg.is_symmetric()) => parsed.push(alg),
                Ok(_) => return Err(self.err(at, format!("issuer {name:?}: {option}: {a:?} is not an asymmetric algorithm (ES256, RS256, EdDSA, ...)"))),
                Err(_) => return Err(self.err(at, format!("issuer {name:?}: unknown algorithm {a:?} in `{option}`; use names such as RS256, ES256, EdDSA"))),
            }
        }
        if parsed.is_empty() {
            return Err(self.err(at, format!("issuer {name:?}: `{option}` is empty; omit it to allow every asymmetric algorithm")));
        }
        Ok(parsed)
    }

    fn build_issuer(&self, spanned: &Spanned<RawIssuer>) -> Result<IssuerConfig, ConfigError> {
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
            check_remote_url(url).map_err(|e| {
                self.err(
                    at,
                    format!("issuer {name:?}: discovery_url {}", url_refused(url, e)),
                )
            })?;
            KeySource::DiscoveryUrl(url.clone())
        } else if let Some(url) = &raw.jwks_uri {
            check_remote_url(url).map_err(|e| {
                self.err(
                    at,
                    format!("issuer {name:?}: jwks_uri {}", url_refused(url, e)),
                )
            })?;
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
            KeySource::Static(Arc::new(set))
        } else if tollgate::claims::is_template(name) {
            return Err(self.err(at, format!("issuer {name:?} is a {{tenantid}} template, which has no discovery document of its own; set discovery_url to the multi-tenant endpoint, e.g. \"https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration\" (work and school accounts) or \"https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration\" (also personal Microsoft accounts)")));
        } else {
            check_remote_url(name).map_err(|e| {
                self.err(at, format!("issuer {name:?}: discovery needs the issuer to be a URL: {}; or set `jwks_uri` / `jwks_file`", url_refused(name, e)))
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
        if let Some(t) = raw
            .tenants
            .iter()
            .find(|t| !tollgate::claims::is_tenant_id(&t.to_ascii_lowercase()))
        {
            return Err(self.err(at, format!("issuer {name:?}: tenant {t:?} is not a tenant id; write the directory (tenant) id as Entra shows it, a GUID in lower case such as \"72f988bf-86f1-41af-91ab-2d7cd011db47\"")));
        }
        policy = policy.tenants(raw.tenants.iter().cloned());
        for aud in &raw.audiences {
            policy = policy.audience(aud.clone());
        }
        if let Some(algs) = &raw.algorithms {
            policy = policy.algorithms(self.algorithms(at, name, "algorithms", algs, false)?);
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
        let mut dpop = tollgate::dpop::DpopOptions::default();
        if let Some(mode) = &raw.dpop {
            dpop = dpop.mode(
                mode.parse()
                    .map_err(|e: String| self.err(at, format!("issuer {name:?}: {e}")))?,
            );
        }
        if let Some(algs) = &raw.dpop_algorithms {
            dpop = dpop.algorithms(self.algorithms(at, name, "dpop_algorithms", algs, true)?);
        }
        if let Some(w) = raw.dpop_window {
            dpop = dpop.window(w);
        }
        if let Some(l) = raw.dpop_leeway {
            dpop = dpop.leeway(l);
        }
        let mut config = IssuerConfig::with_source(name.clone(), source)
            .policy(policy)
            .cache(cache_options(&raw.cache))
            .dpop(dpop);
        config.aliases.clone_from(&raw.aliases);
        if let Some(spanned) = &raw.introspection {
            config = config.introspection(self.build_introspection(name, spanned)?);
        }
        Ok(config)
    }

    /// `[issuer.introspection]`: the endpoint (https, or http on loopback; default from
    /// discovery), the client, its secret read now from a file or the environment.
    fn build_introspection(
        &self,
        name: &str,
        spanned: &Spanned<RawIntrospection>,
    ) -> Result<IntrospectionOptions, ConfigError> {
        let at = spanned.span().start;
        let raw = spanned.get_ref();
        let err = |m: String| self.err(at, format!("issuer {name:?}: [issuer.introspection] {m}"));
        if raw.client_secret.is_some() {
            return Err(err("`client_secret` is not accepted in the file (it would end up in version control and backups); put the secret in a file readable only by the gateway and set `client_secret_file`, or set `client_secret_env` to the name of an environment variable holding it".into()));
        }
        if raw.client_id.is_empty() {
            return Err(err(
                "`client_id` is empty; write the client id this API introspects with".into(),
            ));
        }
        let secret = match (&raw.client_secret_file, &raw.client_secret_env) {
            (Some(file), None) => {
                let path = match self.base_dir {
                    Some(dir) if Path::new(file).is_relative() => dir.join(file),
                    _ => PathBuf::from(file),
                };
                ClientSecret::from_file(&path).map_err(err)?
            }
            (None, Some(var)) => ClientSecret::from_env(var).map_err(err)?,
            _ => {
                return Err(err(
                    "set exactly one of `client_secret_file` (a file holding the secret) and `client_secret_env` (an environment variable holding it)".into(),
                ))
            }
        };
        let mut options = IntrospectionOptions::new(raw.client_id.clone(), secret);
        if let Some(url) = &raw.endpoint {
            check_remote_url(url).map_err(|e| err(format!("endpoint {}", url_refused(url, e))))?;
            options = options.endpoint(url.clone());
        }
        if let Some(auth) = &raw.auth {
            options = options.auth(ClientAuth::parse(auth).ok_or_else(|| {
                err(format!(
                    "`auth` must be \"client_secret_basic\" (default) or \"client_secret_post\", found {auth:?}"
                ))
            })?);
        }
        if let Some(prefix) = &raw.token_prefix {
            if prefix.is_empty() {
                return Err(err(
                    "`token_prefix` is empty; omit it to take every token that is not a JWT".into(),
                ));
            }
            options = options.token_prefix(prefix.clone());
        }
        let d = tollgate::introspection::default_fetch_options();
        let secs = |v: Option<u64>, default: Duration| v.map_or(default, Duration::from_secs);
        Ok(options
            .max_ttl(secs(raw.max_ttl, tollgate::introspection::DEFAULT_MAX_TTL))
            .inactive_ttl(secs(
                raw.inactive_ttl,
                tollgate::introspection::DEFAULT_INACTIVE_TTL,
            ))
            .max_entries(
                raw.max_entries
                    .unwrap_or(tollgate::introspection::DEFAULT_MAX_ENTRIES),
            )
            .introspect_jwts(raw.introspect_jwts.unwrap_or(false))
            .jwt_answers(raw.jwt_answers.unwrap_or(false))
            .fetch(
                tollgate::keys::FetchOptions::default()
                    .connect_timeout(secs(raw.connect_timeout, d.connect_timeout))
                    .timeout(secs(raw.timeout, d.timeout))
                    .max_body(raw.max_body.unwrap_or(d.max_body)),
            ))
    }

    fn build_route(
        &self,
        spanned: &Spanned<RawRoute>,
        issuers: &[IssuerConfig],
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
                if !issuers.iter().any(|c| c.names().any(|n| n == i)) {
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
                // A route names an issuer by any of its names; it then accepts them all.
                issuers: raw
                    .issuers
                    .iter()
                    .filter_map(|i| issuers.iter().find(|c| c.names().any(|n| n == i)))
                    .flat_map(|c| c.names().cloned())
                    .collect(),
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
