//! `tollgate doctor`: gathers what the diagnosis needs (the token, the API's settings, key
//! sets and discovery documents from files or the issuer) and prints the library's report.
//! Every judgement is made by `tollgate::doctor`; this file only reads, fetches and prints.
//!
//! Network rule: only URLs the user configured (`--issuer`, `--discovery`, `--jwks`, and
//! the `jwks_uri` of a configured discovery document) are fetched. A URL named inside the
//! token is never fetched, with one exception: with no `--issuer`, `--discovery` or
//! `--jwks`, the token's own `iss` is used for discovery if it is HTTPS, and the report says
//! so. `--offline` fetches nothing.

use std::io::{IsTerminal, Read};

use serde_json::Value;

use crate::input::read_file;
use tollgate::doctor::{
    self, input, Context, DiscoveryInfo, Fetched, KeySource, Settings, Verdict,
};
use tollgate::{Algorithm, JwkSet, Policy, TypPolicy};

/// Arguments of `tollgate doctor`.
#[derive(clap::Args)]
pub struct Args {
    /// The token (`-` or absent: read standard input). Accepts `Bearer <t>`, an
    /// `Authorization:` line, quotes, line breaks, a JSON token response or a URL with
    /// `access_token=`.
    pub token: Option<String>,
    /// The issuer the API trusts (repeatable). Its discovery document is fetched unless
    /// `--offline`.
    #[arg(long, value_name = "URL")]
    pub issuer: Vec<String>,
    /// The discovery document: a URL to fetch or a file.
    #[arg(long, value_name = "URL|FILE")]
    pub discovery: Option<String>,
    /// The key set the API holds: a URL to fetch or a file.
    #[arg(long, value_name = "URL|FILE")]
    pub jwks: Option<String>,
    /// An audience the API accepts (repeatable).
    #[arg(long = "audience", value_name = "AUD")]
    pub audiences: Vec<String>,
    /// An algorithm the API accepts (repeatable; default: every asymmetric one, plus HS*
    /// when --secret-file is given).
    #[arg(long = "alg", value_name = "ALG")]
    pub algs: Vec<String>,
    /// A file holding the HMAC secret the API uses (bytes exactly as in the file).
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<String>,
    /// Clock leeway in seconds (default 60).
    #[arg(long, value_name = "SECS")]
    pub leeway: Option<u64>,
    /// "Now" in Unix seconds (default: the system clock).
    #[arg(long, value_name = "UNIX")]
    pub now: Option<i64>,
    /// A `typ` the API requires (repeatable), e.g. `at+jwt`.
    #[arg(long, value_name = "T")]
    pub require_typ: Vec<String>,
    /// Fetch nothing: use only the token and the files given.
    #[arg(long)]
    pub offline: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Reads the token argument: the value itself, or standard input for `-` or when absent.
pub fn read_raw(arg: Option<&str>) -> Result<String, String> {
    match arg {
        Some("-") | None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| format!("cannot read the token from standard input: {e}"))?;
            Ok(s)
        }
        Some(t) => Ok(t.to_string()),
    }
}

fn is_url(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.starts_with("https://") || l.starts_with("http://")
}

/// Runs the command.
pub fn run(args: Args) -> u8 {
    match prepare(&args) {
        Ok(ctx) => {
            let report = doctor::diagnose(&ctx);
            if args.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("tollgate doctor: {e}");
                        return crate::exit::USAGE;
                    }
                }
            } else {
                let colour = std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
                print!("{}", doctor::render(&report, colour));
            }
            match report.verdict {
                Verdict::Valid => crate::exit::OK,
                Verdict::Invalid => crate::exit::INVALID,
                Verdict::CannotCheck => crate::exit::CANNOT_CHECK,
            }
        }
        Err(e) => {
            eprintln!("tollgate doctor: {e}");
            crate::exit::USAGE
        }
    }
}

fn policy(args: &Args) -> Result<Policy, String> {
    let mut policy = Policy::new();
    for i in &args.issuer {
        policy = policy.issuer(i.clone());
    }
    for a in &args.audiences {
        policy = policy.audience(a.clone());
    }
    if !args.algs.is_empty() {
        let algs = args
            .algs
            .iter()
            .map(|a| a.parse::<Algorithm>().map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        policy = policy.algorithms(algs);
    } else if args.secret_file.is_some() {
        let mut algs = Algorithm::ASYMMETRIC.to_vec();
        algs.extend([Algorithm::HS256, Algorithm::HS384, Algorithm::HS512]);
        policy = policy.algorithms(algs);
    }
    if let Some(l) = args.leeway {
        policy = policy.leeway(l);
    }
    if !args.require_typ.is_empty() {
        policy = policy.typ(TypPolicy::OneOf(args.require_typ.clone()));
    }
    Ok(policy)
}

fn jwks_file(path: &str) -> Result<KeySource, String> {
    let bytes = read_file(path)?;
    let set = JwkSet::from_json(&bytes).map_err(|e| format!("{path}: {e}"))?;
    Ok(KeySource::new(path, set))
}

fn discovery_doc(origin: &str, bytes: &[u8]) -> Result<DiscoveryInfo, String> {
    let v: Value = tollgate::json::parse_value(bytes).map_err(|e| format!("{origin}: {e}"))?;
    let obj = v
        .as_object()
        .ok_or_else(|| format!("{origin}: a discovery document must be a JSON object"))?;
    if obj.contains_key("keys") && !obj.contains_key("issuer") {
        return Err(format!(
            "{origin}: this is a JWKS, not a discovery document (use --jwks)"
        ));
    }
    let s = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(DiscoveryInfo {
        url: origin.to_string(),
        issuer: s("issuer"),
        jwks_uri: s("jwks_uri"),
    })
}

/// Reads the input and the files, fetches what is allowed, and builds the context.
fn prepare(args: &Args) -> Result<Context, String> {
    let raw = read_raw(args.token.as_deref())?;
    let normalized = input::normalize(&raw)?;
    let mut policy = policy(args)?;
    let now = args.now.unwrap_or_else(tollgate::clock::unix_now);
    if args.offline {
        for (flag, v) in [("--jwks", &args.jwks), ("--discovery", &args.discovery)] {
            if v.as_deref().is_some_and(is_url) {
                return Err(format!(
                    "{flag} is a URL but --offline forbids fetching; give a file"
                ));
            }
        }
    }
    let mut secrets = Vec::new();
    if let Some(path) = &args.secret_file {
        secrets.push(read_file(path)?);
    }
    let token_iss = doctor::token::inspect(&normalized.token)
        .claim_str("iss")
        .map(str::to_string);
    let mut notes = normalized.notes.clone();
    let mut net = remote::Net::new(args.offline);

    // The keys the API holds.
    let mut api_keys_failure: Option<remote::JwksFailure> = None;
    let api_keys = match &args.jwks {
        None => None,
        Some(j) if is_url(j) => match net.jwks(j) {
            Ok(src) => Some(src),
            Err(e) => {
                api_keys_failure = Some(e);
                None
            }
        },
        Some(path) => Some(jwks_file(path)?),
    };

    // The discovery document.
    let discovery_source: Result<String, String> = match (&args.discovery, args.issuer.first()) {
        (Some(d), _) => Ok(d.clone()),
        (None, Some(iss)) => Ok(remote::discovery_url(iss)),
        (None, None) if args.jwks.is_none() => match &token_iss {
            Some(iss) if iss.to_ascii_lowercase().starts_with("https://") && !args.offline => {
                notes.push(format!(
                    "no --issuer given: discovery uses the token's own iss \"{iss}\" (HTTPS); the issuer is not checked against any configuration"
                ));
                Ok(remote::discovery_url(iss))
            }
            Some(iss) if !args.offline => Err(format!(
                "the token's iss \"{iss}\" is not HTTPS, so it is not fetched; give --issuer, --discovery or --jwks"
            )),
            _ => Err("no --issuer, --discovery or --jwks given".into()),
        },
        (None, None) => Err("no --issuer or --discovery given".into()),
    };
    let discovery: Fetched<DiscoveryInfo> = match discovery_source {
        Err(why) => Fetched::NotTried(why),
        Ok(src) if !is_url(&src) => Fetched::Ok(discovery_doc(&src, &read_file(&src)?)?),
        Ok(_) if args.offline => Fetched::NotTried("--offline".into()),
        Ok(url) => match net.discovery(&url) {
            Ok(d) => Fetched::Ok(d),
            Err(error) => Fetched::Failed { url, error },
        },
    };
    if args.issuer.is_empty() {
        if let Some(iss) = discovery.ok().and_then(|d| d.issuer.clone()) {
            notes.push(format!(
                "the expected issuer \"{iss}\" is taken from the discovery document"
            ));
            policy = policy.issuer(iss);
        }
    }

    // The issuer's live keys.
    let mut live_unusable = None;
    let live_keys: Fetched<KeySource> = match discovery.ok().and_then(|d| d.jwks_uri.clone()) {
        Some(_) if args.offline => Fetched::NotTried("--offline".into()),
        Some(url) => match net.jwks(&url) {
            Ok(src) => Fetched::Ok(src),
            Err(e) => {
                live_unusable = e.unusable;
                Fetched::Failed {
                    url,
                    error: e.error,
                }
            }
        },
        None => match (&args.jwks, &api_keys, api_keys_failure) {
            (Some(j), Some(src), _) if is_url(j) => Fetched::Ok(src.clone()),
            (Some(j), None, Some(e)) => {
                live_unusable = e.unusable;
                Fetched::Failed {
                    url: j.clone(),
                    error: e.error,
                }
            }
            _ => match &discovery {
                Fetched::Ok(_) => {
                    Fetched::NotTried("the discovery document has no jwks_uri".into())
                }
                _ => Fetched::NotTried("no discovery document".into()),
            },
        },
    };

    // Entra: the application-specific keys, when the kid is not in the tenant's keys.
    let app_keys = match (&live_keys, args.issuer.first()) {
        (Fetched::Ok(live), Some(configured)) if !args.offline => {
            doctor::app_keys_url(&normalized.token, configured, live)
                .and_then(|(appid, url)| net.jwks(&url).ok().map(|src| (appid, src)))
        }
        _ => None,
    };

    let mut settings = Settings::new(policy, now);
    settings.secrets = secrets;
    let mut ctx = Context::new(&normalized.token, settings);
    ctx.api_keys = api_keys;
    ctx.discovery = discovery;
    ctx.live_keys = live_keys;
    ctx.live_unusable = live_unusable;
    ctx.app_keys = app_keys;
    ctx.notes = notes;
    Ok(ctx)
}

/// Fetching, through the library's key fetcher (`tollgate::keys::Fetcher`): HTTPS, or
/// plain HTTP on loopback only; bounded by the fetcher's timeouts.
mod remote {
    use tollgate::doctor::{DiscoveryInfo, KeySource};
    use tollgate::keys::{check_remote_url, FetchError, FetchOptions, Fetcher};
    use tollgate::SkippedKey;

    pub use tollgate::keys::discovery_url;

    /// Why a JWKS could not be used: the message, and the skipped keys when the set was
    /// fetched but holds no usable key.
    pub struct JwksFailure {
        pub error: String,
        pub unusable: Option<Vec<SkippedKey>>,
    }

    /// A fetcher and its runtime, created on first use.
    pub struct Net {
        offline: bool,
        inner: Option<(tokio::runtime::Runtime, Fetcher)>,
    }

    impl Net {
        pub fn new(offline: bool) -> Net {
            Net {
                offline,
                inner: None,
            }
        }

        fn get(&mut self) -> Result<&(tokio::runtime::Runtime, Fetcher), String> {
            if self.offline {
                return Err("--offline".into());
            }
            if self.inner.is_none() {
                let rt = crate::jwks::runtime()?;
                self.inner = Some((rt, Fetcher::new(FetchOptions::default())));
            }
            Ok(self.inner.as_ref().expect("set above"))
        }

        pub fn discovery(&mut self, url: &str) -> Result<DiscoveryInfo, String> {
            check_remote_url(url).map_err(|e| e.to_string())?;
            let (rt, fetcher) = self.get()?;
            let doc = rt
                .block_on(fetcher.discovery(url))
                .map_err(|e| e.to_string())?;
            Ok(DiscoveryInfo {
                url: doc.url,
                issuer: Some(doc.issuer),
                jwks_uri: Some(doc.jwks_uri),
            })
        }

        pub fn jwks(&mut self, url: &str) -> Result<KeySource, JwksFailure> {
            let fail = |error: String| JwksFailure {
                error,
                unusable: None,
            };
            check_remote_url(url).map_err(|e| fail(e.to_string()))?;
            let (rt, fetcher) = self.get().map_err(fail)?;
            match rt.block_on(fetcher.jwks(url, None)) {
                Ok(f) => Ok(KeySource::new(url, f.set)),
                Err(e) => {
                    let unusable = match &e {
                        FetchError::EmptyKeySet { skipped, .. } => Some(skipped.clone()),
                        _ => None,
                    };
                    Err(JwksFailure {
                        error: e.to_string(),
                        unusable,
                    })
                }
            }
        }
    }
}
