//! `tollgate serve --dev`: everything a newcomer needs on loopback, in one command. A dev
//! issuer, an echo upstream (it answers with the request it received, so the identity
//! headers are visible) and the gateway in reverse-proxy mode in front of it, configured by
//! a TOML text that is printed with ready-to-paste `curl` commands and what each returns.
//!
//! The tokens printed are minted by the dev issuer, whose keys live in memory and die with
//! the process; they are printed because pasting them is the point of the demo.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::Request;
use axum::Router;
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tollgate_issuer::{DevIssuer, IssuerOptions};

use crate::{Config, Gateway, RunningGateway};

/// The audience of the demo API.
pub const DEV_AUDIENCE: &str = "api://orders";
/// The scopes the dev issuer grants by default.
pub const DEV_SCOPES: [&str; 2] = ["orders.read", "orders.write"];
/// How long the startup waits for the gateway to load the issuer's keys: 10 s, far more
/// than a loopback fetch needs.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the demo could not start.
#[derive(Debug)]
pub struct DevError(pub String);

impl std::fmt::Display for DevError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DevError {}

/// The tokens of the demo, one per case.
#[derive(Clone, Debug)]
pub struct DevTokens {
    /// Valid, with every scope: 200.
    pub valid: String,
    /// Expired ten minutes ago: 401 `expired`.
    pub expired: String,
    /// For another API: 401 `audience_mismatch`.
    pub wrong_audience: String,
    /// Names a key the issuer never published: 401 `kid_not_found`.
    pub unknown_kid: String,
    /// Valid, `orders.read` only: 403 `insufficient_scope` on writes to /orders/.
    pub read_only: String,
    /// An opaque access token (`tgo_...`, `orders.read` only), judged by the dev issuer's
    /// `/introspect`: 200, then 401 `token_inactive` after `/revoke`, within the
    /// introspection `max_ttl`.
    pub opaque: String,
}

/// The introspection client secret of the demo: the dev issuer's default client's. Written
/// to a file for the configuration (secrets are never inline), removed at shutdown.
const DEV_INTROSPECTION_SECRET: &str = tollgate_issuer::options::DEFAULT_CLIENT_SECRET;

/// How long the demo keeps introspection answers: 10 s, so a revocation shows quickly.
pub const DEV_INTROSPECTION_MAX_TTL: u64 = 10;

/// An upstream that answers every request with JSON: method, path and query, headers.
pub struct EchoUpstream {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl EchoUpstream {
    /// Starts on `listen`.
    pub async fn start(listen: SocketAddr) -> std::io::Result<EchoUpstream> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let app = Router::new().fallback(|req: Request| async move {
            let mut headers = Map::new();
            for (k, v) in req.headers() {
                let text = String::from_utf8_lossy(v.as_bytes()).into_owned();
                let shown = if k == http::header::AUTHORIZATION {
                    shorten_credentials(&text)
                } else {
                    text
                };
                headers.insert(k.as_str().to_string(), Value::from(shown));
            }
            let body = json!({
                "upstream": "echo",
                "method": req.method().as_str(),
                "path": req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/"),
                "headers": headers,
            });
            let mut text = serde_json::to_string_pretty(&body).unwrap_or_default();
            text.push('\n');
            ([(http::header::CONTENT_TYPE, "application/json")], text)
        });
        let (stop, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(EchoUpstream { addr, stop, task })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_secs(5), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

/// An `Authorization` value as the echo shows it: the scheme and the first 12 characters
/// of the credentials, never a whole token.
fn shorten_credentials(value: &str) -> String {
    let (scheme, rest) = value.split_once(' ').unwrap_or(("", value));
    if rest.chars().count() <= 12 {
        return value.to_string();
    }
    let head: String = rest.chars().take(12).collect();
    format!("{scheme} {head}... ({} characters)", rest.chars().count())
}

/// The running demo.
pub struct DevSetup {
    issuer: DevIssuer,
    upstream: EchoUpstream,
    gateway: RunningGateway,
    config_text: String,
    tokens: DevTokens,
    secret_file: std::path::PathBuf,
}

impl std::fmt::Debug for DevSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevSetup")
            .field("gateway", &self.gateway.addr())
            .field("issuer", &self.issuer.url())
            .finish_non_exhaustive()
    }
}

/// The demo gateway's configuration: the issue's minimal file, pointed at the dev issuer
/// and the echo upstream.
pub fn dev_config_text(
    listen: SocketAddr,
    admin: SocketAddr,
    upstream: SocketAddr,
    issuer: &str,
    secret_file: &str,
) -> String {
    let client = tollgate_issuer::options::DEFAULT_CLIENT_ID;
    let prefix = tollgate_issuer::OPAQUE_TOKEN_PREFIX;
    format!(
        r#"listen = "{listen}"
admin_listen = "{admin}"     # /healthz, /readyz, /metrics, /keys, /doctor
upstream = "http://{upstream}"  # the echo upstream

[[issuer]]
issuer = "{issuer}"   # the dev issuer (discovery)
audiences = ["{DEV_AUDIENCE}"]

[issuer.introspection]   # opaque tokens ({prefix}...): RFC 7662 at the dev issuer
client_id = "{client}"
client_secret_file = {secret_file:?}
token_prefix = "{prefix}"
max_ttl = {DEV_INTROSPECTION_MAX_TTL}   # a revocation is felt within this many seconds

[[route]]
path = "/public/"
anonymous = true

[[route]]
path = "/orders/"
methods = ["POST", "PUT", "PATCH", "DELETE"]
scopes = ["orders.write"]

[[route]]
path = "/"            # any valid token

[headers]
X-Auth-Subject = "sub"
X-Auth-Scope = "scope"
"#
    )
}

impl DevSetup {
    /// Starts the issuer and the upstream on loopback ephemeral ports, and the gateway on
    /// `listen` (admin on `admin`, default any loopback port); waits until the gateway
    /// holds the issuer's keys.
    pub async fn start(
        listen: SocketAddr,
        admin: Option<SocketAddr>,
    ) -> Result<DevSetup, DevError> {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let issuer = DevIssuer::start(IssuerOptions {
            audience: DEV_AUDIENCE.into(),
            scopes: DEV_SCOPES.iter().map(|s| s.to_string()).collect(),
            ..IssuerOptions::default()
        })
        .await
        .map_err(|e| DevError(format!("cannot start the dev issuer: {e}")))?;
        let upstream = EchoUpstream::start(loopback)
            .await
            .map_err(|e| DevError(format!("cannot start the echo upstream: {e}")))?;

        let listener = TcpListener::bind(listen).await.map_err(|e| {
            DevError(format!(
                "cannot listen on {listen}: {e}; pick another address, e.g. --listen 127.0.0.1:0 (any free port)"
            ))
        })?;
        let admin_listener = TcpListener::bind(admin.unwrap_or(loopback))
            .await
            .map_err(|e| DevError(format!("cannot bind the admin listener: {e}")))?;
        let bound = listener.local_addr().map_err(|e| DevError(e.to_string()))?;
        let admin_bound = admin_listener
            .local_addr()
            .map_err(|e| DevError(e.to_string()))?;
        let secret_file = std::env::temp_dir().join(format!(
            "tollgate-dev-introspection-secret-{}-{}",
            std::process::id(),
            bound.port()
        ));
        std::fs::write(&secret_file, DEV_INTROSPECTION_SECRET).map_err(|e| {
            DevError(format!(
                "cannot write the demo's introspection secret to {}: {e}",
                secret_file.display()
            ))
        })?;
        let config_text = dev_config_text(
            bound,
            admin_bound,
            upstream.addr(),
            &issuer.url(),
            &secret_file.display().to_string(),
        );
        let config = Config::from_toml_str(&config_text)
            .map_err(|e| DevError(format!("the dev configuration is invalid: {e}")))?;
        let gateway = Gateway::new(config).map_err(|e| DevError(e.to_string()))?;
        let gateway = gateway.serve_on(listener, Some(admin_listener));

        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        let validator_ready = || gateway.gateway().is_ready();
        while !validator_ready() {
            if tokio::time::Instant::now() > deadline {
                return Err(DevError(format!(
                    "the gateway did not load the dev issuer's keys within {} s",
                    READY_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        let now = tollgate::clock::unix_now();
        let tokens = DevTokens {
            valid: issuer.token(),
            expired: issuer.mint(json!({}), json!({"iat": now - 4200, "exp": now - 600})),
            wrong_audience: issuer.mint(json!({}), json!({"aud": "api://billing"})),
            unknown_kid: issuer.mint(json!({"kid": "not-published"}), json!({})),
            read_only: issuer.mint(json!({}), json!({"scope": "orders.read"})),
            opaque: issuer.opaque_token(json!({"scope": "orders.read", "sub": "opaque-user"})),
        };
        Ok(DevSetup {
            issuer,
            upstream,
            gateway,
            config_text,
            tokens,
            secret_file,
        })
    }

    /// The gateway.
    pub fn gateway(&self) -> &RunningGateway {
        &self.gateway
    }

    /// The dev issuer.
    pub fn issuer(&self) -> &DevIssuer {
        &self.issuer
    }

    /// The echo upstream's address.
    pub fn upstream_addr(&self) -> SocketAddr {
        self.upstream.addr()
    }

    /// The tokens of the demo.
    pub fn tokens(&self) -> &DevTokens {
        &self.tokens
    }

    /// The configuration the gateway runs, as TOML.
    pub fn config_text(&self) -> &str {
        &self.config_text
    }

    /// What to print: the addresses, the configuration, the tokens as shell variables, and
    /// the `curl` commands with what each returns.
    pub fn instructions(&self) -> String {
        let gw = self.gateway.url();
        let admin = self.gateway.admin_url().unwrap_or_default();
        let t = &self.tokens;
        let config: String = self
            .config_text
            .lines()
            .map(|l| format!("    {l}\n"))
            .collect();
        format!(
            r#"Tollgate dev mode: a dev issuer, an echo upstream and the gateway, all on loopback.
Stop with Ctrl-C.

  gateway   {gw}   reverse proxy to the echo upstream
  upstream  http://{upstream}   echo: answers with the request it received
  issuer    {issuer}   dev OIDC issuer (discovery, /jwks, /token, /introspect, /revoke)
  admin     {admin}   /healthz /readyz /metrics /keys
  doctor    {admin}/doctor   open in a browser: why a token is refused, recent refusals, fix it in your stack

The gateway runs this configuration (tollgate serve --config FILE takes the same):

{config}
1. Paste these token variables into your shell (dev tokens, valid for 1 hour):

VALID='{valid}'
EXPIRED='{expired}'
WRONG_AUD='{wrong}'
UNKNOWN_KID='{unknown}'
READ_ONLY='{read_only}'
OPAQUE='{opaque}'

2. Then try:

# A valid token: 200; the echo shows "x-auth-subject": "dev-user" and "x-auth-scope".
curl -s {gw}/orders/42 -H "Authorization: Bearer $VALID"

# Expired: 401, WWW-Authenticate: Bearer ... error="invalid_token", error_description="expired: ..."
curl -i {gw}/orders/42 -H "Authorization: Bearer $EXPIRED"

# Wrong audience: 401, error_description="audience_mismatch: ..."
curl -i {gw}/orders/42 -H "Authorization: Bearer $WRONG_AUD"

# Unknown kid: 401, error_description="kid_not_found: ..."
curl -i {gw}/orders/42 -H "Authorization: Bearer $UNKNOWN_KID"

# No token: 401, WWW-Authenticate: Bearer realm="tollgate"
curl -i {gw}/orders/42

# An anonymous route: 200 without a token
curl -s {gw}/public/hello

# Valid, but without the orders.write scope: 403, error="insufficient_scope", scope="orders.write"
curl -i -X POST {gw}/orders/ -H "Authorization: Bearer $READ_ONLY"

# A forged identity header is replaced: the echo shows "x-auth-subject": "dev-user"
curl -s {gw}/orders/42 -H "Authorization: Bearer $VALID" -H "X-Auth-Subject: admin"

# An opaque token: not a JWT, so the gateway asks the issuer's /introspect: 200,
# the echo shows "x-auth-subject": "opaque-user"
curl -s {gw}/orders/42 -H "Authorization: Bearer $OPAQUE"

# Revoke it at the issuer (RFC 7009); within {ttl} s (the introspection max_ttl) the same
# request answers 401, error_description="token_inactive: ..."
curl -s -u {client}:{secret} -d "token=$OPAQUE" {issuer}/revoke
sleep {ttl}; curl -i {gw}/orders/42 -H "Authorization: Bearer $OPAQUE"

# Operations: decisions by code, introspection calls, the issuer's key cache
curl -s {admin}/metrics | grep -E 'tollgate_(decisions|introspection_calls)_total'
curl -s {admin}/keys

3. DPoP (RFC 9449): a token bound to a key the client holds, with a proof per request:

# A client key (created once), and a DPoP-bound token from the dev issuer ("token_type":"DPoP")
DPOP_TOKEN=$(curl -s -u dev:dev-secret -d grant_type=client_credentials {token_url} \
  -H "DPoP: $(tollgate dpop --key client-key.pem --new --method POST --url {token_url})" \
  | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
# With a fresh proof: 200
curl -s {gw}/orders/42 -H "Authorization: DPoP $DPOP_TOKEN" \
  -H "DPoP: $(tollgate dpop --key client-key.pem --method GET --url {gw}/orders/42 --token "$DPOP_TOKEN")"
# The same proof twice: the second is 401, WWW-Authenticate: DPoP ... error="invalid_dpop_proof", error_description="dpop_replayed: ..."
PROOF=$(tollgate dpop --key client-key.pem --method GET --url {gw}/orders/42 --token "$DPOP_TOKEN")
curl -s -o /dev/null -w '%{{http_code}}\n' {gw}/orders/42 -H "Authorization: DPoP $DPOP_TOKEN" -H "DPoP: $PROOF"
curl -i {gw}/orders/42 -H "Authorization: DPoP $DPOP_TOKEN" -H "DPoP: $PROOF"
# The bound token as a plain Bearer token: 401, error_description="dpop_bound_token_as_bearer: ..."
curl -i {gw}/orders/42 -H "Authorization: Bearer $DPOP_TOKEN"
"#,
            token_url = self.issuer.token_endpoint(),
            opaque = t.opaque,
            ttl = DEV_INTROSPECTION_MAX_TTL,
            client = tollgate_issuer::options::DEFAULT_CLIENT_ID,
            secret = DEV_INTROSPECTION_SECRET,
            upstream = self.upstream.addr(),
            issuer = self.issuer.url(),
            valid = t.valid,
            expired = t.expired,
            wrong = t.wrong_audience,
            unknown = t.unknown_kid,
            read_only = t.read_only,
        )
    }

    /// Serves until `signal`, then stops the gateway (in-flight requests finish), the
    /// upstream and the issuer.
    pub async fn run_until(self, signal: impl Future<Output = ()>) {
        signal.await;
        self.shutdown().await;
    }

    /// Stops everything.
    pub async fn shutdown(self) {
        self.gateway.shutdown().await;
        self.upstream.shutdown().await;
        self.issuer.shutdown().await;
        let _ = std::fs::remove_file(&self.secret_file);
    }
}
