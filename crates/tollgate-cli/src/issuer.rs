//! `tollgate issuer`: a local OIDC issuer for development and tests. Prints where it is and a
//! ready-to-paste `curl` for a token, then serves until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use tollgate::Algorithm;
use tollgate_issuer::options::{DEFAULT_AUDIENCE, DEFAULT_JWKS_MAX_AGE};
use tollgate_issuer::{state, token, Client, DevIssuer, IssuerOptions};

use crate::exit;

/// Default address of `tollgate issuer`: loopback (the admin endpoints are
/// unauthenticated) on a fixed, memorable port so pasted commands keep working across runs.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Arguments of `tollgate issuer`.
#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on. Port 0 picks a free port. Anything but loopback exposes the
    /// unauthenticated /admin endpoints (a warning is printed).
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// The issuer URL (`iss`). Default: http://{listen address}.
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
    /// Signing algorithm: RS256, PS256, ES256, ES384 or EdDSA. Default RS256, or the
    /// algorithm of the keys already in --state.
    #[arg(long, value_name = "ALG")]
    pub alg: Option<String>,
    /// Audience (`aud`) of issued tokens (repeatable: default tokens carry every one).
    /// A token request may also name any other `audience`/`resource`: a dev issuer serves
    /// whatever APIs you are building. Default: api://default.
    #[arg(long = "audience", value_name = "AUD")]
    pub audiences: Vec<String>,
    /// Play a multi-tenant provider shaped like Entra ID's `common` endpoint: the discovery
    /// issuer is `{issuer}/{tenantid}/v2.0`, keys carry `issuer`, tokens carry `tid`, and a
    /// token request picks its tenant with `-d tenant=<GUID>`.
    #[arg(long)]
    pub multi_tenant: bool,
    /// Keep keys in this directory (created if needed), so a restart serves the same keys
    /// and `tollgate mint --state DIR` signs with the current one.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Cache-Control max-age of /jwks, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_JWKS_MAX_AGE)]
    pub jwks_max_age: u64,
    /// A client allowed the client_credentials grant, as ID:SECRET (repeatable).
    /// Default: dev:dev-secret.
    #[arg(long = "client", value_name = "ID:SECRET")]
    pub clients: Vec<String>,
    /// Lifetime of issued tokens (30s, 15m, 1h, 2d).
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub token_ttl: String,
    /// How long a rotated-out key stays in the JWKS (POST /admin/rotate).
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub rotation_grace: String,
    /// A scope the issuer knows and grants (repeatable). Default: read, write.
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// Issue opaque access tokens (`tgo_...`) from /token instead of JWTs; APIs check them
    /// at /introspect (RFC 7662), and /revoke (RFC 7009) revokes them.
    #[arg(long)]
    pub opaque_tokens: bool,
}

fn positive_duration(text: &str, option: &str) -> Result<std::time::Duration, String> {
    match token::parse_lifetime(text) {
        Ok(secs) if secs > 0 => Ok(std::time::Duration::from_secs(secs as u64)),
        Ok(_) => Err(format!("{option} must be positive, found {text:?}")),
        Err(e) => Err(format!("{option}: {e}")),
    }
}

/// Turns the arguments into issuer options.
pub fn options_from(args: &Args) -> Result<IssuerOptions, String> {
    let alg = match &args.alg {
        Some(a) => a.parse::<Algorithm>().map_err(|e| e.to_string())?,
        None => match &args.state {
            Some(dir) => state::read_state(dir)
                .map_err(|e| e.to_string())?
                .and_then(|s| s.current_key().map(|k| k.alg))
                .unwrap_or(tollgate_issuer::options::DEFAULT_ALG),
            None => tollgate_issuer::options::DEFAULT_ALG,
        },
    };
    if alg.is_symmetric() {
        return Err(format!(
            "--alg {alg}: the issuer publishes its keys in a JWKS, and an HMAC secret must never be published; use RS256, PS256, ES256, ES384 or EdDSA"
        ));
    }
    let clients = args
        .clients
        .iter()
        .map(|c| Client::parse(c))
        .collect::<Result<Vec<_>, _>>()?;
    let mut opts = IssuerOptions {
        listen: args.listen,
        issuer: args.issuer.clone(),
        alg,
        audience: args
            .audiences
            .first()
            .cloned()
            .unwrap_or_else(|| DEFAULT_AUDIENCE.to_string()),
        extra_audiences: args.audiences.iter().skip(1).cloned().collect(),
        multi_tenant: args.multi_tenant,
        opaque_tokens: args.opaque_tokens,
        clients,
        state_dir: args.state.clone(),
        jwks_max_age: args.jwks_max_age,
        rotation_grace: positive_duration(&args.rotation_grace, "--rotation-grace")?,
        token_ttl: positive_duration(&args.token_ttl, "--token-ttl")?,
        ..IssuerOptions::default()
    };
    if !args.scopes.is_empty() {
        opts.scopes = args.scopes.clone();
    }
    Ok(opts)
}

/// Single-quotes a value for a POSIX shell.
fn shell_quote(s: &str) -> String {
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.:/@%+=,".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r#"'\''"#))
}

/// The startup banner: where everything is, and how to get and check a token.
pub fn banner(issuer: &DevIssuer) -> String {
    let opts = issuer.options();
    let mut out = String::new();
    let line = |out: &mut String, label: &str, value: &str| {
        out.push_str(&format!("  {label:<15} {value}\n"));
    };
    out.push_str("tollgate dev issuer (for development and tests only)\n");
    line(&mut out, "issuer", &issuer.published_issuer());
    if opts.multi_tenant {
        line(
            &mut out,
            "tenants",
            &format!(
                "any, chosen per token with -d tenant=<GUID> (default {}; personal accounts {})",
                tollgate_issuer::options::DEFAULT_TENANT,
                tollgate_issuer::options::PERSONAL_TENANT
            ),
        );
    }
    line(&mut out, "discovery", &issuer.discovery_url());
    line(&mut out, "jwks", &issuer.jwks_url());
    line(&mut out, "token endpoint", &issuer.token_endpoint());
    line(
        &mut out,
        "introspection",
        &format!(
            "{}  (RFC 7662; revoke: {})",
            issuer.introspection_endpoint(),
            issuer.revocation_endpoint()
        ),
    );
    if opts.opaque_tokens {
        line(
            &mut out,
            "access tokens",
            &format!(
                "opaque ({}...): check them by introspection",
                tollgate_issuer::OPAQUE_TOKEN_PREFIX
            ),
        );
    }
    line(
        &mut out,
        "signing key",
        &format!("{}, kid {}", opts.alg, issuer.current_kid()),
    );
    let audiences: Vec<&str> = std::iter::once(&opts.audience)
        .chain(&opts.extra_audiences)
        .map(String::as_str)
        .collect();
    line(&mut out, "audience", &audiences.join(" "));
    for c in &opts.clients {
        let scopes = if c.scopes.is_empty() {
            opts.scopes.join(" ")
        } else {
            c.scopes.join(" ")
        };
        line(
            &mut out,
            "client",
            &format!("{} / {}  (scopes: {scopes})", c.id, c.secret),
        );
    }
    match &opts.state_dir {
        Some(d) => line(&mut out, "state", &d.display().to_string()),
        None => line(
            &mut out,
            "state",
            "memory only (--state DIR keeps keys across restarts)",
        ),
    }
    line(
        &mut out,
        "admin",
        "POST /admin/rotate, POST /admin/mint, POST /admin/fault (Content-Type: application/json), GET /admin/state",
    );
    let client = &opts.clients[0];
    out.push_str("\nGet a token:\n");
    out.push_str(&format!(
        "  curl -s -u {} -d grant_type=client_credentials {}\n",
        shell_quote(&format!("{}:{}", client.id, client.secret)),
        issuer.token_endpoint()
    ));
    out.push_str("\nCheck it (paste the access_token):\n");
    if opts.multi_tenant {
        out.push_str(&format!(
            "  tollgate verify --issuer {} --jwks {} --audience {} TOKEN\n",
            shell_quote(&issuer.published_issuer()),
            issuer.jwks_url(),
            shell_quote(&opts.audience)
        ));
    } else {
        out.push_str(&format!(
            "  tollgate verify --issuer {} --audience {} TOKEN\n",
            shell_quote(&issuer.url()),
            shell_quote(&opts.audience)
        ));
    }
    out.push_str("\nPress Ctrl-C to stop.\n");
    out
}

/// Ctrl-C and SIGTERM, registered when created: a signal sent right after the banner is
/// printed must stop the issuer cleanly, not kill it.
struct StopSignals {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl StopSignals {
    fn register() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let streams = signal(SignalKind::interrupt())
                .and_then(|int| signal(SignalKind::terminate()).map(|term| (int, term)))
                .ok();
            StopSignals { streams }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    async fn wait(self) {
        #[cfg(unix)]
        if let Some((mut int, mut term)) = self.streams {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs the command.
pub fn run(args: Args) -> u8 {
    let opts = match options_from(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("tollgate issuer: {e}");
            return exit::USAGE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tollgate issuer: cannot start the async runtime: {e}");
            return exit::USAGE;
        }
    };
    runtime.block_on(async move {
        let issuer = match DevIssuer::start(opts).await {
            Ok(i) => i,
            Err(e) => {
                eprintln!("tollgate issuer: {e}");
                return exit::USAGE;
            }
        };
        if !issuer.addr().ip().is_loopback() {
            eprintln!(
                "warning: listening on {}, beyond loopback: the /admin endpoints are unauthenticated, so anyone who can reach this address can mint valid tokens",
                issuer.addr()
            );
        }
        let signals = StopSignals::register();
        print!("{}", banner(&issuer));
        signals.wait().await;
        eprintln!("tollgate issuer: stopping");
        issuer.shutdown().await;
        exit::OK
    })
}
