//! Fetching remote key material over HTTPS: one configured `reqwest` client with timeouts,
//! a body limit, same-origin redirects only, ETag revalidation, and a typed error for every
//! way a fetch can fail.

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::{header, redirect, StatusCode, Url};
use serde_json::Value;

use super::discovery::{compare_issuers, Discovery};
use super::remote_url::parse_remote_url;
use crate::json;
use crate::jwk::{JwkSet, SkippedKey};

/// How remote metadata is fetched.
///
/// ```
/// use std::time::Duration;
/// use tollgate::keys::FetchOptions;
/// let options = FetchOptions::default().timeout(Duration::from_secs(3));
/// assert_eq!(options.connect_timeout, Duration::from_secs(2));
/// ```
///
/// `#[non_exhaustive]`: start from [`FetchOptions::default`] and use the builder methods.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchOptions {
    /// Time allowed to open the TCP connection and finish the TLS handshake. Default 2 s:
    /// a reachable IdP connects in milliseconds; waiting longer only holds requests hostage
    /// to a dead address.
    pub connect_timeout: Duration,
    /// Time allowed for the whole request, body included. Default 5 s: JWKS documents are a
    /// few KiB; an IdP slower than this is failing, and callers never wait longer anyway
    /// (`CacheOptions::max_wait`).
    pub timeout: Duration,
    /// The largest response body accepted, in bytes. Default 512 KiB: the largest real
    /// JWKS documents (Entra with x5c chains) are about 20 KiB; a bigger body is an error
    /// page, a misconfigured URL or an attack, and is never buffered whole.
    pub max_body: usize,
}

impl FetchOptions {
    /// Sets [`connect_timeout`](FetchOptions::connect_timeout).
    pub fn connect_timeout(mut self, value: Duration) -> FetchOptions {
        self.connect_timeout = value;
        self
    }
    /// Sets [`timeout`](FetchOptions::timeout).
    pub fn timeout(mut self, value: Duration) -> FetchOptions {
        self.timeout = value;
        self
    }
    /// Sets [`max_body`](FetchOptions::max_body) (bytes).
    pub fn max_body(mut self, value: usize) -> FetchOptions {
        self.max_body = value;
        self
    }
}

impl Default for FetchOptions {
    fn default() -> FetchOptions {
        FetchOptions {
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(5),
            max_body: 512 * 1024,
        }
    }
}

/// What was being fetched, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fetched {
    /// An OpenID Connect discovery document.
    Discovery,
    /// A JSON Web Key Set.
    Jwks,
    /// An OAuth 2.0 token introspection answer (RFC 7662).
    Introspection,
}

impl Fetched {
    /// `"the discovery document"`, `"the JWKS"` or `"the introspection answer"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Fetched::Discovery => "the discovery document",
            Fetched::Jwks => "the JWKS",
            Fetched::Introspection => "the introspection answer",
        }
    }
}

/// Why fetching remote metadata failed. `Display` says what was fetched, from where, and
/// what went wrong.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum FetchError {
    /// The URL is neither HTTPS nor plain HTTP on a loopback address, or cannot be parsed.
    InsecureUrl {
        /// What the URL was for.
        what: Fetched,
        /// The URL.
        url: String,
        /// Why it is refused.
        reason: String,
    },
    /// No connection: DNS lookup failed, connection refused or reset, host unreachable.
    Connect {
        /// What was being fetched.
        what: Fetched,
        /// From where.
        url: String,
        /// What the network layer reported.
        reason: String,
    },
    /// The TLS handshake failed (untrusted or expired certificate, wrong host name).
    Tls {
        /// What was being fetched.
        what: Fetched,
        /// From where.
        url: String,
        /// What the TLS layer reported.
        reason: String,
    },
    /// The connection or the whole request took longer than allowed.
    Timeout {
        /// What was being fetched.
        what: Fetched,
        /// From where.
        url: String,
        /// The limit that was hit.
        after: Duration,
    },
    /// The server answered with a status other than 200 (or 304 to a revalidation).
    Status {
        /// What was being fetched.
        what: Fetched,
        /// From where.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the body, printable characters only.
        body_preview: String,
    },
    /// The body is larger than `FetchOptions::max_body`.
    TooLarge {
        /// What was being fetched.
        what: Fetched,
        /// From where.
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The body could not be read to the end.
    Read {
        /// What was being fetched.
        what: Fetched,
        /// From where.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The body is not the JSON document expected (not JSON, not an object, a required
    /// member missing or of the wrong type).
    Json {
        /// What was being fetched.
        what: Fetched,
        /// From where.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The server redirected to another origin (scheme, host or port), which is not followed.
    Redirect {
        /// What was being fetched.
        what: Fetched,
        /// From where.
        url: String,
        /// Where the server wanted to send us.
        location: String,
    },
    /// The JWKS holds no usable key.
    EmptyKeySet {
        /// From where.
        url: String,
        /// The keys present but unusable, with the reasons.
        skipped: Vec<SkippedKey>,
    },
    /// The discovery document names another issuer than the one configured.
    IssuerMismatch {
        /// The discovery URL.
        url: String,
        /// The issuer configured.
        configured: String,
        /// The `issuer` of the discovery document.
        found: String,
        /// The difference, in words.
        difference: String,
    },
}

impl FetchError {
    /// A stable short name for logs and metrics (`timeout`, `status`, `json`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            FetchError::InsecureUrl { .. } => "insecure_url",
            FetchError::Connect { .. } => "connect",
            FetchError::Tls { .. } => "tls",
            FetchError::Timeout { .. } => "timeout",
            FetchError::Status { .. } => "status",
            FetchError::TooLarge { .. } => "too_large",
            FetchError::Read { .. } => "read",
            FetchError::Json { .. } => "json",
            FetchError::Redirect { .. } => "redirect",
            FetchError::EmptyKeySet { .. } => "empty_key_set",
            FetchError::IssuerMismatch { .. } => "issuer_mismatch",
        }
    }

    /// The URL concerned.
    pub fn url(&self) -> &str {
        match self {
            FetchError::InsecureUrl { url, .. }
            | FetchError::Connect { url, .. }
            | FetchError::Tls { url, .. }
            | FetchError::Timeout { url, .. }
            | FetchError::Status { url, .. }
            | FetchError::TooLarge { url, .. }
            | FetchError::Read { url, .. }
            | FetchError::Json { url, .. }
            | FetchError::Redirect { url, .. }
            | FetchError::EmptyKeySet { url, .. }
            | FetchError::IssuerMismatch { url, .. } => url,
        }
    }

    fn with_what(self, w: Fetched) -> FetchError {
        match self {
            FetchError::InsecureUrl { url, reason, .. } => FetchError::InsecureUrl {
                what: w,
                url,
                reason,
            },
            other => other,
        }
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::InsecureUrl { what, url, reason } => {
                write!(f, "refusing to fetch {} from {url}: {reason}", what.as_str())
            }
            FetchError::Connect { what, url, reason } => write!(
                f,
                "cannot fetch {} from {url}: no connection ({reason})",
                what.as_str()
            ),
            FetchError::Tls { what, url, reason } => write!(
                f,
                "cannot fetch {} from {url}: the TLS handshake failed ({reason})",
                what.as_str()
            ),
            FetchError::Timeout { what, url, after } => write!(
                f,
                "cannot fetch {} from {url}: no complete answer within {} ms",
                what.as_str(),
                after.as_millis()
            ),
            FetchError::Status {
                what,
                url,
                status,
                body_preview,
            } => {
                write!(f, "fetching {} from {url} failed: HTTP status {status}", what.as_str())?;
                if !body_preview.is_empty() {
                    write!(f, " (body starts {body_preview:?})")?;
                }
                Ok(())
            }
            FetchError::TooLarge { what, url, limit } => write!(
                f,
                "{} from {url} is larger than the limit of {limit} bytes; refused",
                what.as_str()
            ),
            FetchError::Read { what, url, reason } => write!(
                f,
                "cannot read {} from {url}: {reason}",
                what.as_str()
            ),
            FetchError::Json { what, url, reason } => {
                write!(f, "{} from {url} is not usable: {reason}", what.as_str())
            }
            FetchError::Redirect {
                what,
                url,
                location,
            } => write!(
                f,
                "fetching {} from {url} was redirected to another origin ({location}); cross-origin redirects are not followed: configure the final URL",
                what.as_str()
            ),
            FetchError::EmptyKeySet { url, skipped } => {
                write!(f, "the JWKS from {url} holds no usable key")?;
                if skipped.is_empty() {
                    write!(f, " (\"keys\" is empty)")
                } else {
                    let reasons: Vec<String> = skipped
                        .iter()
                        .map(|s| {
                            format!(
                                "{}: {}",
                                s.kid.as_deref().map(|k| format!("kid {k:?}")).unwrap_or_else(|| format!("key #{}", s.index)),
                                s.reason
                            )
                        })
                        .collect();
                    write!(f, "; skipped: {}", reasons.join("; "))
                }
            }
            FetchError::IssuerMismatch {
                url,
                configured,
                found,
                difference,
            } => write!(
                f,
                "the discovery document at {url} names issuer {found:?}, but the configured issuer is {configured:?} ({difference}); they must be equal exactly"
            ),
        }
    }
}

impl std::error::Error for FetchError {}

/// A fetched JWKS with the response's caching metadata.
#[derive(Clone, Debug)]
pub struct FetchedJwks {
    /// The parsed set (usable keys and skipped ones). Empty when `not_modified`.
    pub set: JwkSet,
    /// The document as received (`Value::Null` when `not_modified`).
    pub raw: Value,
    /// The URL fetched.
    pub url: String,
    /// The `Cache-Control` header, as sent.
    pub cache_control: Option<String>,
    /// The `ETag` header, as sent.
    pub etag: Option<String>,
    /// `max-age` from `Cache-Control`, in seconds (`no-store`/`no-cache` read as 0).
    pub max_age: Option<u64>,
    /// When the answer arrived (Unix seconds, system clock).
    pub fetched_at: i64,
    /// True for a `304 Not Modified` answer to `If-None-Match`: the set held is still current.
    pub not_modified: bool,
    /// The HTTP status.
    pub status: u16,
    /// How long the request took.
    pub elapsed: Duration,
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

/// The HTTP client for discovery documents and key sets. Cheap to clone (one shared
/// connection pool).
///
/// ```
/// use tollgate::keys::{FetchOptions, Fetcher};
/// let fetcher = Fetcher::new(FetchOptions::default());
/// # let _ = fetcher;
/// ```
#[derive(Clone, Debug)]
pub struct Fetcher {
    client: reqwest::Client,
    options: FetchOptions,
}

impl Default for Fetcher {
    fn default() -> Fetcher {
        Fetcher::new(FetchOptions::default())
    }
}

/// Same-origin redirects are followed (at most this many); others stop the request.
const MAX_REDIRECTS: usize = 5;

impl Fetcher {
    /// A fetcher with these options: rustls, `User-Agent: tollgate/<version>`, same-origin
    /// redirects only.
    pub fn new(options: FetchOptions) -> Fetcher {
        let policy = redirect::Policy::custom(|attempt| {
            let first = attempt.previous().first().cloned();
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.stop();
            }
            match first {
                Some(origin) if same_origin(&origin, attempt.url()) => attempt.follow(),
                _ => attempt.stop(),
            }
        });
        let builder = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.timeout)
            .user_agent(concat!("tollgate/", env!("CARGO_PKG_VERSION")))
            .redirect(policy);
        // Building fails only when the TLS backend cannot initialise; fall back to a default
        // client (which then fails each request with a TLS error) rather than panic.
        let client = builder.build().unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot build the HTTP client; using defaults");
            reqwest::Client::new()
        });
        Fetcher { client, options }
    }

    /// The options in use.
    pub fn options(&self) -> &FetchOptions {
        &self.options
    }

    /// Fetches and parses an OpenID Connect discovery document. The document must be a JSON
    /// object with string `issuer` and `jwks_uri`; `jwks_uri` must pass [`check_remote_url`](super::check_remote_url).
    /// The issuer is not compared here: see [`Fetcher::discovery_for`].
    pub async fn discovery(&self, url: &str) -> Result<Discovery, FetchError> {
        let w = Fetched::Discovery;
        let response = self.get(w, url, None).await?;
        if response.status != StatusCode::OK {
            return Err(status_error(w, url, response.status, &response.body));
        }
        Discovery::from_json(url, &response.body)
    }

    /// Fetches the discovery document at `url` and checks that its `issuer` equals
    /// `issuer` exactly ([`FetchError::IssuerMismatch`] names the difference otherwise).
    pub async fn discovery_for(&self, issuer: &str, url: &str) -> Result<Discovery, FetchError> {
        let doc = self.discovery(url).await?;
        if let Some(difference) = compare_issuers(issuer, &doc.issuer) {
            return Err(FetchError::IssuerMismatch {
                url: url.to_string(),
                configured: issuer.to_string(),
                found: doc.issuer,
                difference,
            });
        }
        Ok(doc)
    }

    /// Fetches and parses a JWKS. With `etag`, sends `If-None-Match` and accepts `304 Not
    /// Modified` (then `not_modified` is true and `set` is empty). A set with no usable key
    /// is an error ([`FetchError::EmptyKeySet`]).
    pub async fn jwks(&self, url: &str, etag: Option<&str>) -> Result<FetchedJwks, FetchError> {
        let w = Fetched::Jwks;
        let response = self.get(w, url, etag).await?;
        let header = |name: header::HeaderName| {
            response
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let cache_control = header(header::CACHE_CONTROL);
        let new_etag = header(header::ETAG);
        let max_age = cache_control.as_deref().and_then(parse_max_age);
        let fetched_at = crate::clock::unix_now();
        if response.status == StatusCode::NOT_MODIFIED && etag.is_some() {
            return Ok(FetchedJwks {
                set: JwkSet::new(),
                raw: Value::Null,
                url: url.to_string(),
                cache_control,
                etag: new_etag.or_else(|| etag.map(str::to_string)),
                max_age,
                fetched_at,
                not_modified: true,
                status: response.status.as_u16(),
                elapsed: response.elapsed,
            });
        }
        if response.status != StatusCode::OK {
            return Err(status_error(w, url, response.status, &response.body));
        }
        let raw = parse_json(w, url, &response.body)?;
        let set = JwkSet::from_value(&raw).map_err(|e| FetchError::Json {
            what: w,
            url: url.to_string(),
            reason: e.0,
        })?;
        if set.is_empty() {
            return Err(FetchError::EmptyKeySet {
                url: url.to_string(),
                skipped: set.skipped().to_vec(),
            });
        }
        Ok(FetchedJwks {
            set,
            raw,
            url: url.to_string(),
            cache_control,
            etag: new_etag,
            max_age,
            fetched_at,
            not_modified: false,
            status: response.status.as_u16(),
            elapsed: response.elapsed,
        })
    }

    async fn get(
        &self,
        what: Fetched,
        url: &str,
        etag: Option<&str>,
    ) -> Result<RawResponse, FetchError> {
        let parsed = parse_remote_url(url).map_err(|e| e.with_what(what))?;
        let mut request = self
            .client
            .get(parsed)
            .header(header::ACCEPT, "application/json, application/jwk-set+json");
        if let Some(tag) = etag {
            request = request.header(header::IF_NONE_MATCH, tag);
        }
        self.send(what, url, request).await
    }

    /// POSTs an `application/x-www-form-urlencoded` body to `url` (which must pass
    /// [`check_remote_url`](super::check_remote_url)), with HTTP Basic credentials when
    /// given (each part form-encoded first, RFC 6749 section 2.3.1), under the same
    /// timeouts, body limit and redirect rule as every fetch. For token introspection.
    pub(crate) async fn post_form(
        &self,
        what: Fetched,
        url: &str,
        accept: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<RawResponse, FetchError> {
        let parsed = parse_remote_url(url).map_err(|e| e.with_what(what))?;
        let encode = |pairs: &[(&str, &str)]| {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            s.extend_pairs(pairs);
            s.finish()
        };
        let mut request = self
            .client
            .post(parsed)
            .header(header::ACCEPT, accept)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(encode(form));
        if let Some((id, secret)) = basic {
            let one =
                |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
            request = request.basic_auth(one(id), Some(one(secret)));
        }
        self.send(what, url, request).await
    }

    async fn send(
        &self,
        what: Fetched,
        url: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<RawResponse, FetchError> {
        let started = Instant::now();
        let mut response = request
            .send()
            .await
            .map_err(|e| self.transport_error(what, url, &e))?;
        let status = response.status();
        if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(no Location header)")
                .to_string();
            return Err(FetchError::Redirect {
                what,
                url: url.to_string(),
                location,
            });
        }
        let limit = self.options.max_body;
        let too_large = || FetchError::TooLarge {
            what,
            url: url.to_string(),
            limit,
        };
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let headers = response.headers().clone();
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > limit {
                        return Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) if e.is_timeout() => {
                    return Err(FetchError::Timeout {
                        what,
                        url: url.to_string(),
                        after: self.options.timeout,
                    })
                }
                Err(e) => {
                    return Err(FetchError::Read {
                        what,
                        url: url.to_string(),
                        reason: error_chain(&e),
                    })
                }
            }
        }
        Ok(RawResponse {
            status,
            headers,
            body,
            elapsed: started.elapsed(),
        })
    }

    fn transport_error(&self, what: Fetched, url: &str, e: &reqwest::Error) -> FetchError {
        let chain = error_chain(e);
        let lower = chain.to_ascii_lowercase();
        if e.is_timeout() {
            let after = if e.is_connect() {
                self.options.connect_timeout
            } else {
                self.options.timeout
            };
            return FetchError::Timeout {
                what,
                url: url.to_string(),
                after,
            };
        }
        // rustls reports through io::Error text; these are its handshake failures.
        const TLS_MARKERS: [&str; 8] = [
            "certificate",
            "tls",
            "handshake",
            "unknownissuer",
            "corrupt message",
            "alert",
            "protocol version",
            "peer misbehaved",
        ];
        if TLS_MARKERS.iter().any(|m| lower.contains(m)) {
            return FetchError::Tls {
                what,
                url: url.to_string(),
                reason: chain,
            };
        }
        let reason =
            if lower.contains("dns") || lower.contains("lookup") || lower.contains("resolve") {
                format!("DNS lookup failed: {chain}")
            } else if lower.contains("refused") {
                format!("connection refused; is the server running? ({chain})")
            } else {
                chain
            };
        FetchError::Connect {
            what,
            url: url.to_string(),
            reason,
        }
    }
}

pub(crate) struct RawResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: header::HeaderMap,
    pub(crate) body: Vec<u8>,
    pub(crate) elapsed: Duration,
}

/// The error and its sources, joined, without the URL reqwest repeats.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        let text = err.to_string();
        let text = match text.find(" for url (") {
            Some(i) => text[..i].to_string(),
            None => text,
        };
        // reqwest's and hyper's wrappers say nothing the variant does not.
        let boilerplate = text.starts_with("error sending request")
            || text.starts_with("client error")
            || text.starts_with("request or response body error")
            || text.starts_with("error decoding response body");
        if !boilerplate && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = err.source();
    }
    parts.join(": ")
}

pub(crate) fn status_error(
    what: Fetched,
    url: &str,
    status: StatusCode,
    body: &[u8],
) -> FetchError {
    FetchError::Status {
        what,
        url: url.to_string(),
        status: status.as_u16(),
        body_preview: preview(body, 120),
    }
}

/// The first `max` characters of a body, control characters replaced, for messages.
pub(crate) fn preview(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(max * 4)]);
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if text.chars().count() > max {
        out.push_str("...");
    }
    out.trim().to_string()
}

pub(crate) fn parse_json(what: Fetched, url: &str, body: &[u8]) -> Result<Value, FetchError> {
    json::parse_value(body).map_err(|reason| {
        let start = preview(body, 40);
        FetchError::Json {
            what,
            url: url.to_string(),
            reason: if start.is_empty() {
                "the body is empty".to_string()
            } else {
                format!("the body is not valid JSON ({reason}); it starts {start:?}")
            },
        }
    })
}

/// Reads `max-age` from a `Cache-Control` value; `no-store` and `no-cache` read as 0
/// (which the cache clamps up to its minimum).
///
/// ```
/// use tollgate::keys::parse_max_age;
/// assert_eq!(parse_max_age("public, max-age=3600, must-revalidate"), Some(3600));
/// assert_eq!(parse_max_age("no-store"), Some(0));
/// assert_eq!(parse_max_age("public"), None);
/// ```
pub fn parse_max_age(cache_control: &str) -> Option<u64> {
    let mut found = None;
    for directive in cache_control.split(',') {
        let d = directive.trim();
        let (name, value) = match d.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (d, None),
        };
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return Some(0);
        }
        if name.eq_ignore_ascii_case("max-age") {
            if let Some(v) = value.and_then(|v| v.parse::<u64>().ok()) {
                found = Some(v);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let a = Url::parse("https://a.example/x").unwrap();
        assert!(same_origin(
            &a,
            &Url::parse("https://A.example:443/y").unwrap()
        ));
        assert!(!same_origin(&a, &Url::parse("http://a.example/x").unwrap()));
        assert!(!same_origin(
            &a,
            &Url::parse("https://b.example/x").unwrap()
        ));
    }

    #[test]
    fn previews_are_printable() {
        assert_eq!(preview(b"<html>\n<body>", 100), "<html> <body>");
        assert_eq!(preview(&[b'a'; 10], 4), "aaaa...");
    }
}
