//! What a dev issuer is told at start: [`IssuerOptions`] and its OAuth [`Client`]s.
//!
//! Every default is written once, here, next to its option, with its reason.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use tollgate::Algorithm;

/// Default listen address: loopback, any free port. Loopback because the admin endpoints are
/// unauthenticated; port 0 so tests never collide.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// Default signing algorithm: RS256, the one every OIDC provider and every library supports
/// (OpenID Connect Discovery makes it mandatory to implement).
pub const DEFAULT_ALG: Algorithm = Algorithm::RS256;

/// Default audience (`aud`) of issued tokens: a neutral API identifier in the `api://` style
/// Entra and Auth0 users will recognise.
pub const DEFAULT_AUDIENCE: &str = "api://default";

/// Default `Cache-Control: max-age` of `/jwks`, in seconds: 5 minutes, short enough that a
/// rotation shows up quickly in a demo, long enough that a caching validator really caches.
pub const DEFAULT_JWKS_MAX_AGE: u64 = 300;

/// Default time a rotated-out key stays published: 1 hour, the default token lifetime, so
/// every token signed before a rotation still validates until it expires.
pub const DEFAULT_ROTATION_GRACE: Duration = Duration::from_secs(3600);

/// Default access-token lifetime: 1 hour, the common provider default (Okta, Entra, Cognito).
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// Default scopes the issuer knows and grants: a read/write pair, enough to test
/// scope-based authorization.
pub const DEFAULT_SCOPES: [&str; 2] = ["read", "write"];

/// The tenant id of tokens a multi-tenant issuer ([`IssuerOptions::multi_tenant`]) mints
/// when the request names none: a fixed, recognisable GUID, so pasted commands keep working.
pub const DEFAULT_TENANT: &str = "d0d0d0d0-0000-4000-8000-000000000001";

/// Entra ID's tenant of personal Microsoft accounts. A multi-tenant dev issuer signs this
/// tenant's tokens with a separate key whose `issuer` names this tenant, as Entra's `common`
/// key set does.
pub const PERSONAL_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// The client registered when none is given: `dev` / `dev-secret`, printed at start.
pub const DEFAULT_CLIENT_ID: &str = "dev";
/// The secret of the default client.
pub const DEFAULT_CLIENT_SECRET: &str = "dev-secret";

/// The subject of tokens minted through [`DevIssuer::mint`](crate::DevIssuer::mint) and
/// [`DevIssuer::token`](crate::DevIssuer::token): a user, as a login flow would produce.
pub const DEFAULT_SUBJECT: &str = "dev-user";

/// How a [`DevIssuer`](crate::DevIssuer) is configured. `IssuerOptions::default()` is a working
/// issuer on `127.0.0.1:<free port>` signing RS256 with one client `dev`/`dev-secret`.
///
/// ```
/// use tollgate_issuer::IssuerOptions;
/// let opts = IssuerOptions { audience: "api://orders".into(), ..IssuerOptions::default() };
/// assert!(opts.listen.ip().is_loopback());
/// ```
#[derive(Clone, Debug)]
pub struct IssuerOptions {
    /// Address to bind. Default [`DEFAULT_LISTEN`].
    pub listen: SocketAddr,
    /// The issuer URL (`iss`, discovery `issuer`). Default `http://{bound address}`.
    pub issuer: Option<String>,
    /// Signing algorithm of the generated keys. Default [`DEFAULT_ALG`].
    pub alg: Algorithm,
    /// Audience of issued tokens. Default [`DEFAULT_AUDIENCE`].
    pub audience: String,
    /// More audiences (`--audience` given several times): tokens issued without an
    /// `audience`/`resource` request carry `audience` and these. Default: none.
    pub extra_audiences: Vec<String>,
    /// Play a multi-tenant provider shaped like Entra ID's `common` endpoint: the discovery
    /// document's issuer is the template `{issuer}/{tenantid}/v2.0`, every published key
    /// carries an `issuer` member, tokens carry `tid` and the issuer of their tenant
    /// (chosen per request with the `tenant` form field, default [`DEFAULT_TENANT`]), and
    /// [`PERSONAL_TENANT`] tokens are signed by a key of their own. Default: false.
    pub multi_tenant: bool,
    /// Registered clients. Empty means one client [`DEFAULT_CLIENT_ID`] /
    /// [`DEFAULT_CLIENT_SECRET`] allowed every scope and the audience.
    pub clients: Vec<Client>,
    /// Where keys are kept across restarts (PEM files and `keys.json`). Default: none, keys
    /// live in memory only.
    pub state_dir: Option<PathBuf>,
    /// `Cache-Control: public, max-age=N` on `/jwks`. Default [`DEFAULT_JWKS_MAX_AGE`].
    pub jwks_max_age: u64,
    /// How long a rotated-out key stays in the JWKS. Default [`DEFAULT_ROTATION_GRACE`].
    pub rotation_grace: Duration,
    /// Lifetime of issued tokens. Default [`DEFAULT_TOKEN_TTL`].
    pub token_ttl: Duration,
    /// Scopes the issuer knows (`scopes_supported`). Default [`DEFAULT_SCOPES`].
    pub scopes: Vec<String>,
    /// Issue opaque access tokens (random strings starting with [`OPAQUE_TOKEN_PREFIX`],
    /// whose claims only `/introspect` tells) from the token endpoint instead of JWTs.
    /// Default false. [`DevIssuer::opaque_token`](crate::DevIssuer::opaque_token) mints one
    /// either way.
    pub opaque_tokens: bool,
}

/// The prefix of the dev issuer's opaque access tokens (`tgo_` + 43 base64url characters,
/// 256 random bits), so a validator can route them by prefix.
pub const OPAQUE_TOKEN_PREFIX: &str = "tgo_";

impl Default for IssuerOptions {
    fn default() -> IssuerOptions {
        IssuerOptions {
            listen: DEFAULT_LISTEN,
            issuer: None,
            alg: DEFAULT_ALG,
            audience: DEFAULT_AUDIENCE.to_string(),
            extra_audiences: Vec::new(),
            multi_tenant: false,
            clients: Vec::new(),
            state_dir: None,
            jwks_max_age: DEFAULT_JWKS_MAX_AGE,
            rotation_grace: DEFAULT_ROTATION_GRACE,
            token_ttl: DEFAULT_TOKEN_TTL,
            scopes: DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
            opaque_tokens: false,
        }
    }
}

/// An OAuth client allowed to use the `client_credentials` grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    /// `client_id`; also the `sub` of its tokens.
    pub id: String,
    /// `client_secret`.
    pub secret: String,
    /// Scopes it may request. Empty: every scope of the issuer.
    pub scopes: Vec<String>,
    /// Audiences it may request (`audience` / `resource`). Empty: only the issuer's audience.
    pub audiences: Vec<String>,
}

impl Client {
    /// A client allowed every scope of the issuer and its audience.
    ///
    /// ```
    /// let c = tollgate_issuer::Client::new("svc", "s3cret");
    /// assert!(c.scopes.is_empty());
    /// ```
    pub fn new(id: impl Into<String>, secret: impl Into<String>) -> Client {
        Client {
            id: id.into(),
            secret: secret.into(),
            scopes: Vec::new(),
            audiences: Vec::new(),
        }
    }

    /// Parses `ID:SECRET` (the `--client` option). The secret may contain `:`.
    ///
    /// ```
    /// let c = tollgate_issuer::Client::parse("svc:a:b").unwrap();
    /// assert_eq!((c.id.as_str(), c.secret.as_str()), ("svc", "a:b"));
    /// assert!(tollgate_issuer::Client::parse("svc").is_err());
    /// ```
    pub fn parse(spec: &str) -> Result<Client, String> {
        match spec.split_once(':') {
            Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
                Ok(Client::new(id, secret))
            }
            _ => Err(format!(
                "a client is ID:SECRET with both parts non-empty, found {spec:?} (e.g. --client svc:s3cret)"
            )),
        }
    }
}

impl Default for Client {
    fn default() -> Client {
        Client::new(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    }
}
