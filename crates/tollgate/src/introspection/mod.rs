//! Opaque access tokens: OAuth 2.0 token introspection (RFC 7662), per issuer, opt-in
//! (feature `remote`).
//!
//! Many access tokens are not JWTs (Okta org authorization server tokens, Auth0 tokens
//! requested without an audience, IdentityServer reference tokens, Keycloak when configured
//! for revocable tokens): only their issuer can say whether they are valid. An issuer
//! configured with [`IntrospectionOptions`] ([`IssuerConfig::introspection`](crate::IssuerConfig::introspection))
//! gets them:
//!
//! 1. **Which tokens**: a token that is not a compact JWS (it does not decode as one) goes
//!    to the introspection endpoints of the issuers that have one. With several, an issuer
//!    whose [`token_prefix`](IntrospectionOptions::token_prefix) the token starts with is
//!    the only one asked (the longest prefix wins); without a matching prefix, the issuers
//!    without a prefix are asked in configuration order until one says `active: true`
//!    (each asked issuer sees the token, so give prefixes when you can). With
//!    [`introspect_jwts`](IntrospectionOptions::introspect_jwts), a JWT whose signature and
//!    claims are valid is also introspected, so that a revoked JWT is refused; and a JWT
//!    signed by a key the issuer does not publish (`kid_not_found`: Okta org authorization
//!    server tokens, which only Okta can validate) is judged by introspection alone, by
//!    the answer's claims, never the token's unverified ones.
//! 2. **The decision is the same as for a JWT**: `active` must be the JSON boolean `true`;
//!    the answer's members are then the token's claims (`iss` defaults to the configured
//!    issuer when the answer has none) and go through the issuer's [`Policy`](crate::Policy):
//!    issuer, audience, `exp`/`nbf`/`iat` with leeway, maximum age, required claims. The
//!    header `typ` rule does not apply (an opaque token has no header), but an answer that
//!    names a refresh token (`token_type` `refresh_token`, Hydra's `token_use`, Keycloak's
//!    `typ` `Refresh`: servers answer for every token type) is `type_mismatch`. Scopes, roles and
//!    identity headers are read from the same claims, by every route, on every request.
//! 3. **Cache that never widens access**: answers are kept by the SHA-256 of the exact token
//!    bytes (tokens that differ by one letter's case never share an entry), holding the
//!    answer's claims, never a decision: every request re-checks the policy's times and its
//!    route's rules. An active answer is kept for min([`max_ttl`](IntrospectionOptions::max_ttl),
//!    `exp` - now), so a revocation is felt within `max_ttl` (default 60 s); an inactive one
//!    for [`inactive_ttl`](IntrospectionOptions::inactive_ttl) (default 10 s), so a flood of
//!    garbage tokens costs the server one call per token and ten seconds. One call per token
//!    is in flight at a time, shared by every concurrent caller. The cache is bounded
//!    ([`max_entries`](IntrospectionOptions::max_entries)).
//! 4. **Fail closed**: an endpoint that cannot be reached, answers late (the wait is bounded
//!    by [`FetchOptions::timeout`](crate::keys::FetchOptions::timeout)), refuses the client,
//!    or answers something that is not an RFC 7662 response is "cannot verify now"
//!    (`introspection_unavailable`, `introspection_malformed`: 503), never an allow; an
//!    inactive token is `token_inactive` (401).
//!
//! Signed answers (RFC 9701, `application/token-introspection+jwt`) are asked for and
//! accepted only with [`jwt_answers`](IntrospectionOptions::jwt_answers), and only when
//! signed by the issuer's keys with an allowed algorithm, typed `token-introspection+jwt`,
//! from the issuer (`iss`) for this client (`aud`).
//!
//! The client secret is read once (from a file or an environment variable) and is never
//! printed: `Debug` and `Display` show `***`, and the status views carry no field for it.

mod client;

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub(crate) use client::{Answer, Introspector};

use crate::keys::FetchOptions;

crate::error::vocabulary! {
    /// How the client authenticates to the introspection endpoint (RFC 6749 section 2.3.1);
    /// the string is the discovery metadata name.
    ///
    /// ```
    /// use tollgate::introspection::ClientAuth;
    /// assert_eq!(ClientAuth::parse("client_secret_post"), Some(ClientAuth::ClientSecretPost));
    /// assert_eq!(ClientAuth::parse("private_key_jwt"), None);
    /// ```
    #[derive(Default)]
    pub enum ClientAuth {
        /// HTTP Basic with the form-encoded id and secret (the default: every server supports
        /// it, and RFC 6749 makes it mandatory to implement).
        #[default]
        ClientSecretBasic = "client_secret_basic",
        /// `client_id` and `client_secret` in the form body.
        ClientSecretPost = "client_secret_post",
    }
}

/// A client secret: held once, never printed (`Debug` and `Display` show `***`).
///
/// ```
/// use tollgate::introspection::ClientSecret;
/// let secret = ClientSecret::new("s3cret");
/// assert_eq!(format!("{secret:?} {secret}"), "ClientSecret(***) ***");
/// ```
#[derive(Clone)]
pub struct ClientSecret(Arc<str>);

impl ClientSecret {
    /// A secret given as a value (tests, or a secret your program already holds).
    pub fn new(value: impl Into<String>) -> ClientSecret {
        ClientSecret(Arc::from(value.into()))
    }

    /// Reads the secret from a file: its content without one trailing newline (`\n` or
    /// `\r\n`, which editors and `echo` add). An empty secret is refused; the error names
    /// the file, never its content.
    pub fn from_file(path: impl AsRef<Path>) -> Result<ClientSecret, String> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the client secret file {}: {e}", path.display()))?;
        let value = text
            .strip_suffix('\n')
            .map(|t| t.strip_suffix('\r').unwrap_or(t))
            .unwrap_or(&text);
        if value.is_empty() {
            return Err(format!(
                "the client secret file {} is empty",
                path.display()
            ));
        }
        Ok(ClientSecret::new(value))
    }

    /// Reads the secret from the environment variable `name`. An unset or empty variable
    /// is refused; the error names the variable, never a value.
    pub fn from_env(name: &str) -> Result<ClientSecret, String> {
        // A value that is not a variable name may be the secret itself, pasted in the wrong
        // setting: it is never repeated in the error (errors reach logs and terminals).
        let is_name = !name.is_empty()
            && name.len() <= 128
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !is_name {
            return Err(format!(
                "the client secret's environment variable name is not a name ({} characters,                  not only letters, digits and _; not repeated here in case it is the secret                  itself): give the name of the variable that holds the secret, e.g.                  TOLLGATE_INTROSPECTION_SECRET",
                name.chars().count()
            ));
        }
        match std::env::var(name) {
            Ok(v) if !v.is_empty() => Ok(ClientSecret::new(v)),
            Ok(_) => Err(format!(
                "the environment variable {name} (client secret) is empty"
            )),
            Err(_) => Err(format!(
                "the environment variable {name} (client secret) is not set or not UTF-8"
            )),
        }
    }

    /// The secret itself, for the request only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(***)")
    }
}

impl fmt::Display for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Default [`IntrospectionOptions::max_ttl`]: 60 s, so a revocation is felt within a
/// minute while a client reusing its token costs the server one call a minute.
pub const DEFAULT_MAX_TTL: Duration = Duration::from_secs(60);

/// Default [`IntrospectionOptions::inactive_ttl`]: 10 s, long enough that a flood of
/// garbage tokens (each asked once) costs little, short enough that a token the server
/// did not know yet (replication lag) is accepted soon after.
pub const DEFAULT_INACTIVE_TTL: Duration = Duration::from_secs(10);

/// Default [`IntrospectionOptions::max_entries`]: 10 000 answers, a few MiB at most.
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;

/// Default [`FetchOptions`] for introspection: 2 s to connect, 3 s for the whole call (a
/// request waits for it: an endpoint slower than this is failing), answers up to 64 KiB (a
/// real answer is under 2 KiB; a bigger one is an error page or an attack).
pub fn default_fetch_options() -> FetchOptions {
    FetchOptions::default()
        .timeout(Duration::from_secs(3))
        .max_body(64 * 1024)
}

/// One issuer's introspection: where, with which client, and how answers are cached.
///
/// ```
/// use std::time::Duration;
/// use tollgate::introspection::{ClientAuth, ClientSecret, IntrospectionOptions};
/// use tollgate::{IssuerConfig, Policy};
/// let options = IntrospectionOptions::new("api-client", ClientSecret::new("s3cret"))
///     .endpoint("https://example.okta.com/oauth2/v1/introspect")
///     .auth(ClientAuth::ClientSecretPost)
///     .max_ttl(Duration::from_secs(30));
/// let config = IssuerConfig::discovery("https://example.okta.com")
///     .policy(Policy::new().audience("api://orders"))
///     .introspection(options);
/// assert!(!format!("{config:?}").contains("s3cret"));
/// ```
///
/// `#[non_exhaustive]`: start from [`IntrospectionOptions::new`] and use the builder methods.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct IntrospectionOptions {
    /// The endpoint. Default `None`: the `introspection_endpoint` of the issuer's discovery
    /// document (fetched once, then kept). Must be https, or http on loopback.
    pub endpoint: Option<String>,
    /// The client id this API introspects with.
    pub client_id: String,
    /// Its secret (never printed).
    pub client_secret: ClientSecret,
    /// How the client authenticates. Default [`ClientAuth::ClientSecretBasic`].
    pub auth: ClientAuth,
    /// The longest an active answer is kept. Default [`DEFAULT_MAX_TTL`].
    pub max_ttl: Duration,
    /// How long an inactive answer is kept. Default [`DEFAULT_INACTIVE_TTL`].
    pub inactive_ttl: Duration,
    /// The most answers kept. Default [`DEFAULT_MAX_ENTRIES`]; 0 keeps none.
    pub max_entries: usize,
    /// Only tokens starting with this go to this issuer (see the module documentation).
    /// Default `None`: any token that is not a JWT.
    pub token_prefix: Option<String>,
    /// Also introspect this issuer's JWTs after their signature and claims pass, so that a
    /// revoked JWT is refused; a JWT whose key the issuer does not publish (Okta org
    /// authorization server tokens) is then judged by introspection alone. Default `false`.
    pub introspect_jwts: bool,
    /// The HTTP options of the calls. Default [`default_fetch_options`].
    pub fetch: FetchOptions,
    /// Ask for signed answers (RFC 9701, `Accept: application/token-introspection+jwt`)
    /// and accept them only when signed by the issuer's keys (an allowed algorithm, header
    /// `typ` `token-introspection+jwt`, `iss` the issuer, `aud` the client id). Default
    /// false: answers are JSON over TLS, and a JWT answer is `introspection_malformed`.
    pub jwt_answers: bool,
}

impl IntrospectionOptions {
    /// Introspection as `client_id` with `client_secret`, every other option at its default.
    pub fn new(client_id: impl Into<String>, client_secret: ClientSecret) -> IntrospectionOptions {
        IntrospectionOptions {
            endpoint: None,
            client_id: client_id.into(),
            client_secret,
            auth: ClientAuth::default(),
            max_ttl: DEFAULT_MAX_TTL,
            inactive_ttl: DEFAULT_INACTIVE_TTL,
            max_entries: DEFAULT_MAX_ENTRIES,
            token_prefix: None,
            introspect_jwts: false,
            fetch: default_fetch_options(),
            jwt_answers: false,
        }
    }
    /// Sets [`jwt_answers`](IntrospectionOptions::jwt_answers).
    pub fn jwt_answers(mut self, value: bool) -> IntrospectionOptions {
        self.jwt_answers = value;
        self
    }
    /// Sets [`endpoint`](IntrospectionOptions::endpoint).
    pub fn endpoint(mut self, url: impl Into<String>) -> IntrospectionOptions {
        self.endpoint = Some(url.into());
        self
    }
    /// Sets [`auth`](IntrospectionOptions::auth).
    pub fn auth(mut self, auth: ClientAuth) -> IntrospectionOptions {
        self.auth = auth;
        self
    }
    /// Sets [`max_ttl`](IntrospectionOptions::max_ttl).
    pub fn max_ttl(mut self, value: Duration) -> IntrospectionOptions {
        self.max_ttl = value;
        self
    }
    /// Sets [`inactive_ttl`](IntrospectionOptions::inactive_ttl).
    pub fn inactive_ttl(mut self, value: Duration) -> IntrospectionOptions {
        self.inactive_ttl = value;
        self
    }
    /// Sets [`max_entries`](IntrospectionOptions::max_entries).
    pub fn max_entries(mut self, value: usize) -> IntrospectionOptions {
        self.max_entries = value;
        self
    }
    /// Sets [`token_prefix`](IntrospectionOptions::token_prefix).
    pub fn token_prefix(mut self, prefix: impl Into<String>) -> IntrospectionOptions {
        self.token_prefix = Some(prefix.into());
        self
    }
    /// Sets [`introspect_jwts`](IntrospectionOptions::introspect_jwts).
    pub fn introspect_jwts(mut self, value: bool) -> IntrospectionOptions {
        self.introspect_jwts = value;
        self
    }
    /// Sets [`fetch`](IntrospectionOptions::fetch).
    pub fn fetch(mut self, options: FetchOptions) -> IntrospectionOptions {
        self.fetch = options;
        self
    }
}

/// What introspection said about a token that was accepted, on [`Verified`](crate::Verified).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Introspected {
    /// The configured issuer whose endpoint answered.
    pub issuer: String,
    /// When the answer arrived (Unix seconds, the validator's clock).
    pub checked_at: i64,
    /// Until when the answer is reused without asking again: min(`checked_at` + `max_ttl`,
    /// `exp`). A cache of verified tokens must not keep the token longer.
    pub valid_until: i64,
}

/// The state of one issuer's introspection, for admin views and metrics. Holds no secret.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct IntrospectionStatus {
    /// The endpoint in use (configured, or found by discovery); `None` until discovery
    /// answered.
    pub endpoint: Option<String>,
    /// The client id (the secret is never shown).
    pub client_id: String,
    /// The client authentication method.
    pub auth: ClientAuth,
    /// The token prefix this issuer takes, if any.
    pub token_prefix: Option<String>,
    /// Whether JWTs are introspected too.
    pub introspect_jwts: bool,
    /// [`IntrospectionOptions::max_ttl`] in seconds.
    pub max_ttl_secs: u64,
    /// [`IntrospectionOptions::inactive_ttl`] in seconds.
    pub inactive_ttl_secs: u64,
    /// Answers held now (active and inactive).
    pub cache_entries: usize,
    /// [`IntrospectionOptions::max_entries`].
    pub cache_capacity: usize,
    /// Tokens answered from the cache.
    pub cache_hits: u64,
    /// Calls answered `active: true`.
    pub calls_active: u64,
    /// Calls answered `active: false`.
    pub calls_inactive: u64,
    /// Calls that failed (no connection, timeout, status, client refused).
    pub calls_failed: u64,
    /// Calls answered with something that is not an RFC 7662 response.
    pub calls_malformed: u64,
    /// Total time spent in calls, in seconds (with the counts: the mean latency).
    pub call_seconds_total: f64,
    /// The last failure, if the last call failed.
    pub last_error: Option<String>,
    /// When the last call answered (Unix seconds).
    pub last_answer_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_secret_pasted_as_the_variable_name_is_never_repeated() {
        let pasted = "s3cr3t-Value/with+base64==";
        let err = super::ClientSecret::from_env(pasted).unwrap_err();
        assert!(!err.contains(pasted) && !err.contains("s3cr3t"), "{err}");
        assert!(err.contains("not a name"), "{err}");
        let err = super::ClientSecret::from_env("TOLLGATE_TEST_UNSET_VARIABLE_42").unwrap_err();
        assert!(err.contains("TOLLGATE_TEST_UNSET_VARIABLE_42"), "{err}");
    }
}
