//! `tollgate verify`: the scriptable front of the library.
//!
//! Exit 0 valid (claims printed as JSON), 1 invalid, 2 usage or configuration error,
//! 3 cannot verify now (keys unavailable).

use serde_json::{json, Value};
use tollgate::{FixedClock, JwkSet, LocalValidator, Policy, ValidationError};

use crate::exit;
use crate::input::{read_file, read_token};
use crate::policy::{IntrospectionArgs, PolicyArgs};

/// Arguments of `tollgate verify`.
#[derive(clap::Args)]
pub struct Args {
    /// The token (with or without `Bearer `); `-` or nothing reads standard input.
    pub token: Option<String>,
    /// The keys: a JWKS file (or a single JWK), or a JWKS URL (https, or http on loopback).
    /// With `--jwks`, `--issuer` only names the accepted issuer and nothing is discovered.
    #[arg(long, value_name = "FILE|URL")]
    pub jwks: Option<String>,
    /// What the API accepts.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Opaque tokens: token introspection at the issuer.
    #[command(flatten)]
    pub introspection: IntrospectionArgs,
    /// Print one JSON object: {"valid", "code", "message", "header", "claims", "details"}.
    #[arg(long)]
    pub json: bool,
    /// What the request presented besides the token (DPoP proof, method, URL, certificate):
    /// a valid token is then also checked against it.
    #[command(flatten)]
    pub request: crate::policy::RequestArgs,
    /// Record the proof's `jti` in this Redis replay cache (`redis://host:port`), as the
    /// gateway does: a proof seen before is `dpop_replayed`; a key that already has
    /// `--replay-max-per-key` live proofs is `dpop_key_over_quota`; Redis not answering is
    /// `replay_cache_unavailable` (exit 3).
    #[arg(long, value_name = "URL")]
    pub replay_redis: Option<String>,
    /// With `--replay-redis`: the most live proofs one DPoP key may have, as the gateway's
    /// `[replay] max_per_key` (default 1000).
    #[arg(long, value_name = "N", requires = "replay_redis", value_parser = clap::value_parser!(u64).range(1..))]
    pub replay_max_per_key: Option<u64>,
}

/// A usage or configuration problem (exit 2).
pub struct UsageError(pub String);

/// Builds the policy the options describe.
pub fn policy_from(args: &Args) -> Result<Policy, UsageError> {
    args.policy.policy().map_err(UsageError)
}

/// Loads the local keys: the JWKS file and the HMAC secret.
pub fn local_keys(args: &Args, policy: &Policy) -> Result<JwkSet, UsageError> {
    let mut keys = match &args.jwks {
        Some(path) => {
            let bytes = read_file(path).map_err(UsageError)?;
            JwkSet::from_json(&bytes).map_err(|e| UsageError(format!("{path}: {e}")))?
        }
        None => JwkSet::new(),
    };
    add_secret(args, policy, &mut keys)?;
    Ok(keys)
}

/// Adds the HMAC secret of `--secret-file`, if given, to `keys`.
fn add_secret(args: &Args, policy: &Policy, keys: &mut JwkSet) -> Result<(), UsageError> {
    if let Some(path) = &args.policy.secret_file {
        let secret = read_file(&path.display().to_string()).map_err(UsageError)?;
        if secret.is_empty() {
            return Err(UsageError(format!(
                "{}: the secret file is empty",
                path.display()
            )));
        }
        let jwk = tollgate::Jwk::from_secret(&secret, &policy.algorithms)
            .map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
        keys.push(jwk);
    }
    Ok(())
}

/// Validates the token as the options say.
fn validate(
    args: &Args,
    token: &str,
) -> Result<Result<tollgate::Verified, ValidationError>, UsageError> {
    let policy = policy_from(args)?;
    if let Some(options) = args.introspection.options().map_err(UsageError)? {
        return validate_with_introspection(args, policy, options, token);
    }
    if args.jwks.is_none() && args.policy.secret_file.is_none() {
        if !args.policy.issuers.is_empty() {
            return crate::jwks::validate_by_discovery(
                &args.policy.issuers,
                &policy,
                args.policy.now,
                token,
            )
            .map_err(UsageError);
        }
        return Err(UsageError(
            "no keys: give --issuer URL (OIDC discovery), --jwks FILE|URL (a JWKS) or --secret-file FILE (an HMAC secret)".into(),
        ));
    }
    let keys = match args.jwks.as_deref() {
        Some(url) if tollgate::doctor::gather::Source::is_url(url) => {
            let mut keys = match crate::jwks::fetch_set(url).map_err(UsageError)? {
                Ok(keys) => keys,
                Err(unavailable) => return Ok(Err(unavailable)),
            };
            add_secret(args, &policy, &mut keys)?;
            keys
        }
        _ => local_keys(args, &policy)?,
    };
    let validator = LocalValidator::new(keys, policy);
    let result = match args.policy.now {
        Some(now) => validator.with_clock(FixedClock::new(now)).validate(token),
        None => validator.validate(token),
    };
    Ok(result)
}

/// Validates with the library's remote validator for the one `--issuer`, its keys by
/// discovery (or `--jwks`), opaque tokens by introspection.
fn validate_with_introspection(
    args: &Args,
    policy: Policy,
    options: tollgate::introspection::IntrospectionOptions,
    token: &str,
) -> Result<Result<tollgate::Verified, ValidationError>, UsageError> {
    let [issuer] = args.policy.issuers.as_slice() else {
        return Err(UsageError(
            "introspection needs exactly one --issuer (the issuer of the opaque tokens)".into(),
        ));
    };
    let config = match args.jwks.as_deref() {
        Some(url) if tollgate::doctor::gather::Source::is_url(url) => {
            tollgate::IssuerConfig::jwks_uri(issuer.clone(), url)
        }
        Some(_) => tollgate::IssuerConfig::static_keys(issuer.clone(), local_keys(args, &policy)?),
        None => tollgate::IssuerConfig::discovery(issuer.clone()),
    };
    let mut validator =
        tollgate::Validator::new(vec![config.policy(policy).introspection(options)])
            .map_err(|e| UsageError(e.to_string()))?;
    if let Some(now) = args.policy.now {
        validator = validator.with_clock(std::sync::Arc::new(FixedClock::new(now)));
    }
    let rt = crate::jwks::runtime().map_err(UsageError)?;
    Ok(rt.block_on(validator.validate(token)))
}

/// The header and claims of a token without verifying it (for reports), if readable.
pub fn peek(token: &str) -> (Value, Value) {
    match tollgate::jws::decode(token, usize::MAX) {
        Ok(d) => {
            let claims = d.claims().map(Value::Object).unwrap_or(Value::Null);
            (Value::Object(d.header.raw().clone()), claims)
        }
        Err(_) => (Value::Null, Value::Null),
    }
}

/// Runs the command.
pub fn run(args: Args) -> u8 {
    let token = match read_token(args.token.as_deref()) {
        Ok(t) => t,
        Err(e) => return usage(&args, &e),
    };
    let result = match validate(&args, &token) {
        Ok(r) => r,
        Err(UsageError(e)) => return usage(&args, &e),
    };
    let result = match result {
        Ok(verified) if args.request.given() => match check_request(&args, &token, &verified) {
            Ok(Ok(())) => Ok(verified),
            Ok(Err(e)) => Err(e),
            Err(UsageError(e)) => return usage(&args, &e),
        },
        other => other,
    };
    report(&args, &token, result)
}

/// The sender-constraint checks of a valid token against the request the flags describe,
/// then (with `--replay-redis`) the replay cache, as the gateway runs them.
fn check_request(
    args: &Args,
    token: &str,
    verified: &tollgate::Verified,
) -> Result<Result<(), ValidationError>, UsageError> {
    let request = args.request.request().map_err(UsageError)?;
    let now = args.policy.now.unwrap_or_else(tollgate::clock::unix_now);
    let checked = match request.check(tollgate::jws::strip_bearer(token), &verified.claims, now) {
        Ok(Some(checked)) => checked,
        Ok(None) => return Ok(Ok(())),
        Err(e) => return Ok(Err(e)),
    };
    let Some(url) = &args.replay_redis else {
        return Ok(Ok(()));
    };
    let max_per_key = args
        .replay_max_per_key
        .map_or(tollgate::dpop::DEFAULT_MAX_PER_KEY, |n| {
            usize::try_from(n).unwrap_or(usize::MAX)
        });
    let cache = tollgate_gateway::replay::RedisReplayCache::new(
        url,
        std::time::Duration::from_millis(tollgate_gateway::config::DEFAULT_REPLAY_TIMEOUT_MS),
    )
    .map_err(UsageError)?
    .max_per_key(max_per_key);
    let rt = crate::jwks::runtime().map_err(UsageError)?;
    use tollgate::dpop::ReplayCache;
    let until = request.options.replay_until(checked.iat);
    let answer = rt.block_on(cache.insert_new(checked.id(), now, until));
    Ok(checked.replay_verdict(answer))
}

fn usage(args: &Args, message: &str) -> u8 {
    if args.json {
        println!(
            "{}",
            json!({"valid": false, "code": "usage", "message": message})
        );
    } else {
        eprintln!("tollgate verify: {message}");
    }
    exit::USAGE
}

/// Prints the outcome and returns the exit code.
pub fn report(args: &Args, token: &str, result: Result<tollgate::Verified, ValidationError>) -> u8 {
    match result {
        Ok(v) => {
            if args.json {
                let mut out = json!({"valid": true, "header": Value::Object(v.header.into_raw()), "claims": v.claims});
                if let Some(info) = &v.introspection {
                    out["introspection"] = json!(info);
                }
                println!("{out}");
            } else {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&v.claims).unwrap_or_default()
                );
            }
            exit::OK
        }
        Err(e) => {
            let (header, claims) = peek(token);
            if args.json {
                println!(
                    "{}",
                    json!({
                        "valid": false,
                        "code": e.code(),
                        "message": e.to_string(),
                        "cause": e.cause(),
                        "fix": e.fix(),
                        "header": header,
                        "claims": claims,
                        "details": e.details(),
                    })
                );
            } else {
                eprintln!("invalid token [{}]: {e}", e.code());
                eprintln!("  likely cause: {}", e.cause());
                eprintln!("  fix: {}", e.fix());
                eprintln!("  (run `tollgate doctor` with the same options for a full diagnosis)");
            }
            if e.is_unavailable() {
                exit::CANNOT_CHECK
            } else {
                exit::INVALID
            }
        }
    }
}
