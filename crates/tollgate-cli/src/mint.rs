//! `tollgate mint`: sign a token with a local key (a key file, or the dev issuer's current
//! key from its state directory) and print it. For scripts and tests.

use std::path::PathBuf;

use serde_json::{json, Map, Value};
use tollgate::{Algorithm, SigningKey};
use tollgate_issuer::options::{DEFAULT_AUDIENCE, DEFAULT_SCOPES, DEFAULT_SUBJECT};
use tollgate_issuer::token::{self, ACCESS_TOKEN_TYP};
use tollgate_issuer::{keyfile, state};

use crate::exit;
use crate::input::read_file;

/// Default `iss` without `--iss` or a state directory: the URL of `tollgate issuer` started
/// with its defaults, so a minted token matches a local dev setup.
fn default_issuer() -> String {
    format!("http://{}", crate::issuer::DEFAULT_LISTEN)
}

/// Arguments of `tollgate mint`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["key", "state"])))]
pub struct Args {
    /// The private key: PEM (PKCS#8, PKCS#1 RSA, SEC1 EC) or a private JWK (JSON with "d";
    /// an "oct" JWK for HS*).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Use the current key of a `tollgate issuer --state DIR` (and its issuer and audience
    /// as defaults; HS* tokens use its HMAC secret).
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Header `alg`. Default: the key's algorithm. Another algorithm of the same key type
    /// re-signs (RS256 -> PS256); any other name is written as given, for negative tests.
    #[arg(long, value_name = "ALG")]
    pub alg: Option<String>,
    /// Header `kid`. Default: the key's (JWK kid, the issuer's kid, or its thumbprint prefix).
    #[arg(long, value_name = "KID")]
    pub kid: Option<String>,
    /// `iss`. Default: the state directory's issuer, else http://127.0.0.1:8080.
    #[arg(long, value_name = "ISS")]
    pub iss: Option<String>,
    /// `aud`. Default: the state directory's audience, else api://default.
    #[arg(long, value_name = "AUD")]
    pub aud: Option<String>,
    /// `sub`.
    #[arg(long, value_name = "SUB", default_value = DEFAULT_SUBJECT)]
    pub sub: String,
    /// Lifetime: `exp` = now + this (30s, 15m, 1h, 2d; -5m for an already expired token).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "1h",
        allow_hyphen_values = true
    )]
    pub exp: String,
    /// Set a claim, NAME=VALUE (repeatable). VALUE is JSON when valid JSON (n=1, ok=true,
    /// roles=["a"], exp=null removes), else a string.
    #[arg(long = "claim", value_name = "NAME=VALUE", allow_hyphen_values = true)]
    pub claims: Vec<String>,
    /// Set a header member, NAME=VALUE (repeatable), e.g. typ=JWT or kid=null.
    #[arg(long = "header", value_name = "NAME=VALUE", allow_hyphen_values = true)]
    pub headers: Vec<String>,
    /// Bind the token to this DPoP key (RFC 9449): `cnf.jkt` = the RFC 7638 thumbprint of
    /// its public key. The private key file `tollgate dpop --key` signs proofs with.
    #[arg(long, value_name = "FILE")]
    pub bind_key: Option<PathBuf>,
    /// Bind the token to this client certificate (RFC 8705, PEM): `cnf["x5t#S256"]`.
    #[arg(long, value_name = "FILE")]
    pub bind_cert: Option<PathBuf>,
}

/// The `cnf` claim `--bind-key` / `--bind-cert` ask for, if any.
fn confirmation(args: &Args) -> Result<Option<Value>, String> {
    let mut cnf = Map::new();
    if let Some(path) = &args.bind_key {
        let key = crate::dpop::load_key(path)?;
        let jkt = tollgate::jwk::thumbprint_of(&key.public_jwk())
            .map_err(|e| format!("--bind-key {}: {e}", path.display()))?;
        cnf.insert("jkt".into(), json!(jkt));
    }
    if let Some(path) = &args.bind_cert {
        let pem = read_file(&path.display().to_string())?;
        let pem = String::from_utf8_lossy(&pem);
        let der =
            tollgate::binding::read_client_cert(&pem, tollgate::binding::CertFormat::EscapedPem)
                .map_err(|e| format!("--bind-cert {}: {e}", path.display()))?;
        cnf.insert(
            "x5t#S256".into(),
            json!(tollgate::binding::cert_thumbprint(&der)),
        );
    }
    Ok((!cnf.is_empty()).then_some(Value::Object(cnf)))
}

/// The key, the HMAC secret (from a state directory) and the defaults it brings.
struct Source {
    key: SigningKey,
    hmac_secret: Option<Vec<u8>>,
    issuer: Option<String>,
    audience: Option<String>,
}

fn load_source(args: &Args, alg: Option<Algorithm>) -> Result<Source, String> {
    if let Some(dir) = &args.state {
        let (key, secret, stored) = state::load_current_key(dir).map_err(|e| e.to_string())?;
        return Ok(Source {
            key,
            hmac_secret: Some(secret),
            issuer: stored.issuer,
            audience: stored.audience,
        });
    }
    let path = args.key.as_ref().ok_or("give --key FILE or --state DIR")?;
    let bytes = read_file(&path.display().to_string())?;
    // An --alg of the key's family picks the algorithm at load time (PS256 for an RSA PEM);
    // any other --alg is applied only to the header.
    let key = keyfile::load_private_key(&bytes, None, None)
        .or_else(|first| match alg {
            Some(a) => keyfile::load_private_key(&bytes, Some(a), None).map_err(|_| first),
            None => Err(first),
        })
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Source {
        key,
        hmac_secret: None,
        issuer: None,
        audience: None,
    })
}

/// Builds and signs the token the arguments describe.
pub fn mint(args: &Args, now: i64) -> Result<String, String> {
    let alg = match &args.alg {
        Some(a) => Some(a.parse::<Algorithm>().map_err(|e| format!("--alg: {e}"))?),
        None => None,
    };
    let source = load_source(args, alg)?;
    let lifetime = token::parse_lifetime(&args.exp).map_err(|e| format!("--exp: {e}"))?;
    let mut header = Map::new();
    header.insert(
        "alg".into(),
        json!(alg.unwrap_or(source.key.alg()).as_str()),
    );
    header.insert("typ".into(), json!(ACCESS_TOKEN_TYP));
    if let Some(kid) = args.kid.as_deref().or(source.key.kid()) {
        header.insert("kid".into(), json!(kid));
    }
    let mut claims = Map::new();
    let iss = args
        .iss
        .clone()
        .or(source.issuer)
        .unwrap_or_else(default_issuer);
    claims.insert("iss".into(), json!(iss));
    claims.insert("sub".into(), json!(args.sub));
    let aud = args
        .aud
        .clone()
        .or(source.audience)
        .unwrap_or_else(|| DEFAULT_AUDIENCE.to_string());
    claims.insert("aud".into(), json!(aud));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now.saturating_add(lifetime)));
    claims.insert("jti".into(), json!(token::new_jti()));
    claims.insert("scope".into(), json!(DEFAULT_SCOPES.join(" ")));
    if let Some(cnf) = confirmation(args)? {
        claims.insert("cnf".into(), cnf);
    }
    for (target, items, option) in [
        (&mut header, &args.headers, "--header"),
        (&mut claims, &args.claims, "--claim"),
    ] {
        let mut changes = Map::new();
        for item in items {
            let (name, value) =
                token::parse_assignment(item).map_err(|e| format!("{option}: {e}"))?;
            changes.insert(name, value);
        }
        token::overlay(target, &Value::Object(changes));
    }
    token::sign_as_declared(
        &Value::Object(header),
        &Value::Object(claims),
        &source.key,
        source.hmac_secret.as_deref(),
    )
    .map_err(|e| format!("signing failed: {e}"))
}

/// Runs the command.
pub fn run(args: Args) -> u8 {
    match mint(&args, tollgate::clock::unix_now()) {
        Ok(token) => {
            println!("{token}");
            exit::OK
        }
        Err(e) => {
            eprintln!("tollgate mint: {e}");
            exit::USAGE
        }
    }
}
