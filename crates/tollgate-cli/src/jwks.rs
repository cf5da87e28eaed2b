//! `tollgate jwks`: list the keys of an issuer (by discovery), a JWKS URL or a JWKS file:
//! kid, type, algorithm, use, size or curve, RFC 7638 thumbprint, certificates, the keys that
//! were skipped and why, and the response's cache headers.
//!
//! Exit 0 listed, 2 usage (bad option, unreadable file, non-HTTPS URL), 3 the keys could not
//! be fetched or none is usable.
//!
//! Certificates (`x5c`): the first certificate's subject and validity are read with the
//! `x509-cert` parser (`cert_summary`), for display only: nothing is trusted or verified
//! from it, and a certificate it cannot read is shown as "not parsed". The listing
//! also shows the SHA-256 of the first certificate (what `x5t#S256` would be) and the
//! `x5t`/`x5t#S256` the key publishes.

use serde_json::{json, Value};
use tollgate::keys::{
    check_remote_url, compare_issuers, discovery_url, FetchError, FetchOptions, Fetcher,
};
use tollgate::{b64, CacheOptions, Jwk, JwkSet, KeyFamily, SkippedKey, ValidationError};

use crate::exit;
use crate::input::read_file;

/// Arguments of `tollgate jwks`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["issuer", "jwks"])))]
pub struct Args {
    /// An issuer: its keys are found by OIDC discovery ({issuer}/.well-known/openid-configuration).
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
    /// A JWKS URL (https, or http on loopback) or a JWKS file.
    #[arg(long, value_name = "URL|FILE")]
    pub jwks: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A runtime for one command.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// Fetches a JWKS URL for `tollgate verify --jwks URL`: the set, or `keys_unavailable`
/// saying why (exit 3), or a usage error for a non-HTTPS URL (exit 2).
pub fn fetch_set(url: &str) -> Result<Result<JwkSet, ValidationError>, String> {
    check_remote_url(url).map_err(|e| e.to_string())?;
    let rt = runtime()?;
    let fetcher = Fetcher::new(FetchOptions::default());
    Ok(rt
        .block_on(fetcher.jwks(url, None))
        .map(|f| f.set)
        .map_err(|e| ValidationError::KeysUnavailable {
            issuer: None,
            reason: e.to_string(),
        }))
}

/// Where the listing came from.
struct Source {
    issuer: Option<String>,
    discovery_url: Option<String>,
    issuer_found: Option<String>,
    issuer_difference: Option<String>,
    jwks: String,
}

/// What a fetch told us besides the keys.
#[derive(Default)]
struct Response {
    status: Option<u16>,
    cache_control: Option<String>,
    etag: Option<String>,
    max_age: Option<u64>,
    fetched_at: Option<i64>,
    elapsed_ms: Option<u128>,
}

enum Failure {
    Usage(String),
    Fetch(Box<(FetchError, Option<Source>)>),
}

/// Runs the command.
pub fn run(args: Args) -> u8 {
    match list(&args) {
        Ok((source, response, set)) => {
            if args.json {
                println!("{}", to_json(&source, &response, &set));
            } else {
                print_text(&source, &response, &set);
            }
            if set.is_empty() {
                exit::CANNOT_CHECK
            } else {
                exit::OK
            }
        }
        Err(Failure::Usage(message)) => {
            if args.json {
                println!(
                    "{}",
                    json!({"error": {"kind": "usage", "message": message}})
                );
            } else {
                eprintln!("tollgate jwks: {message}");
            }
            exit::USAGE
        }
        Err(Failure::Fetch(failure)) => {
            let (e, source) = *failure;
            if args.json {
                let mut out = json!({"error": {"kind": e.kind(), "message": e.to_string()}});
                if let FetchError::EmptyKeySet { skipped, .. } = &e {
                    out["skipped"] = skipped_json(skipped);
                }
                if let Some(s) = &source {
                    out["source"] = source_json(s);
                }
                println!("{out}");
            } else {
                eprintln!("tollgate jwks: {e}");
                if let FetchError::EmptyKeySet { skipped, .. } = &e {
                    print_skipped(skipped);
                }
            }
            exit::CANNOT_CHECK
        }
    }
}

fn list(args: &Args) -> Result<(Source, Response, JwkSet), Failure> {
    let fetcher = Fetcher::new(FetchOptions::default());
    if let Some(issuer) = &args.issuer {
        let url = discovery_url(issuer);
        check_remote_url(&url).map_err(|e| Failure::Usage(e.to_string()))?;
        let rt = runtime().map_err(Failure::Usage)?;
        let doc = rt
            .block_on(fetcher.discovery(&url))
            .map_err(|e| Failure::Fetch(Box::new((e, None))))?;
        let source = Source {
            issuer: Some(issuer.clone()),
            discovery_url: Some(url),
            issuer_difference: compare_issuers(issuer, &doc.issuer),
            issuer_found: Some(doc.issuer),
            jwks: doc.jwks_uri,
        };
        return fetch(&rt, &fetcher, source);
    }
    let Some(jwks) = &args.jwks else {
        return Err(Failure::Usage(
            "give --issuer URL or --jwks URL|FILE".into(),
        ));
    };
    let source = Source {
        issuer: None,
        discovery_url: None,
        issuer_found: None,
        issuer_difference: None,
        jwks: jwks.clone(),
    };
    if tollgate::doctor::gather::Source::is_url(jwks) {
        check_remote_url(jwks).map_err(|e| Failure::Usage(e.to_string()))?;
        let rt = runtime().map_err(Failure::Usage)?;
        return fetch(&rt, &fetcher, source);
    }
    let bytes = read_file(jwks).map_err(Failure::Usage)?;
    let set = JwkSet::from_json(&bytes).map_err(|e| Failure::Usage(format!("{jwks}: {e}")))?;
    Ok((source, Response::default(), set))
}

fn fetch(
    rt: &tokio::runtime::Runtime,
    fetcher: &Fetcher,
    source: Source,
) -> Result<(Source, Response, JwkSet), Failure> {
    match rt.block_on(fetcher.jwks(&source.jwks, None)) {
        Ok(f) => {
            let response = Response {
                status: Some(f.status),
                cache_control: f.cache_control,
                etag: f.etag,
                max_age: f.max_age,
                fetched_at: Some(f.fetched_at),
                elapsed_ms: Some(f.elapsed.as_millis()),
            };
            Ok((source, response, f.set))
        }
        Err(e) => Err(Failure::Fetch(Box::new((e, Some(source))))),
    }
}

/// `2048 bits`, `P-256`, `Ed25519`, `256-bit secret`.
fn size_or_curve(key: &Jwk) -> String {
    match key.family() {
        KeyFamily::Rsa => format!("{} bits", key.size_bits()),
        KeyFamily::Ec(c) => c.as_str().to_string(),
        KeyFamily::Ed25519 => "Ed25519".to_string(),
        KeyFamily::Hmac => format!("{}-bit secret", key.size_bits()),
    }
}

/// What the key's certificate chain says: count, the first certificate's subject and
/// validity (when readable), its SHA-256, and the thumbprints the key publishes.
fn x5c_info(key: &Jwk) -> Value {
    let members = key.public_members();
    let chain = members.get("x5c").and_then(Value::as_array);
    let first = chain
        .and_then(|c| c.first())
        .and_then(Value::as_str)
        .and_then(|cert| std_base64_decode(cert).ok());
    let summary = first.as_deref().and_then(cert_summary);
    let now = tollgate::clock::rfc3339(tollgate::clock::unix_now());
    json!({
        "certificates": chain.map(|c| c.len()).unwrap_or(0),
        "parsed": summary.is_some(),
        "subject": summary.as_ref().map(|c| c.subject.clone()),
        "not_before": summary.as_ref().map(|c| c.not_before.clone()),
        "not_after": summary.as_ref().map(|c| c.not_after.clone()),
        "expired": summary.as_ref().map(|c| c.not_after < now),
        "first_sha256": first.map(|der| b64::encode(tollgate::sha256(&der))),
        "x5t": members.get("x5t"),
        "x5t#S256": members.get("x5t#S256"),
    })
}

/// The subject and validity of an X.509 certificate, for display.
#[derive(Debug, PartialEq)]
struct CertSummary {
    subject: String,
    not_before: String,
    not_after: String,
}

/// Reads the subject and validity of an X.509 certificate (RFC 5280) with the `x509-cert`
/// parser. Display only: the chain is not verified. `None` when the DER does not parse.
fn cert_summary(cert: &[u8]) -> Option<CertSummary> {
    use x509_cert::der::Decode;
    let cert = x509_cert::Certificate::from_der(cert).ok()?;
    let tbs = cert.tbs_certificate();
    // Attributes in certificate order (`CN=..., O=...`), each escaped per RFC 4514.
    let subject = tbs
        .subject()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let validity = tbs.validity();
    Some(CertSummary {
        subject,
        not_before: validity.not_before.to_string(),
        not_after: validity.not_after.to_string(),
    })
}

/// `x5c` holds standard base64 (RFC 7517 section 4.7), not base64url.
fn std_base64_decode(s: &str) -> Result<Vec<u8>, String> {
    let url: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            other => other,
        })
        .collect();
    b64::decode(&url).map_err(|e| e.to_string())
}

fn key_json(key: &Jwk) -> Value {
    let (size_bits, curve) = match key.family() {
        KeyFamily::Ec(c) => (Value::Null, json!(c.as_str())),
        KeyFamily::Ed25519 => (Value::Null, json!("Ed25519")),
        _ => (json!(key.size_bits()), Value::Null),
    };
    let has_x5c = key.public_members().contains_key("x5c");
    json!({
        "kid": key.kid(),
        "kty": key.kty(),
        "alg": key.alg().map(|a| a.as_str()),
        "use": key.key_use(),
        "size_bits": size_bits,
        "curve": curve,
        "algorithms": key.algorithms().map(|a| a.as_str()).collect::<Vec<_>>(),
        "thumbprint": key.thumbprint(),
        "x5c": if has_x5c { x5c_info(key) } else { Value::Null },
    })
}

fn skipped_json(skipped: &[SkippedKey]) -> Value {
    serde_json::to_value(skipped).unwrap_or(Value::Null)
}

fn source_json(s: &Source) -> Value {
    json!({
        "issuer": s.issuer,
        "discovery_url": s.discovery_url,
        "issuer_found": s.issuer_found,
        "issuer_difference": s.issuer_difference,
        "jwks": s.jwks,
    })
}

fn to_json(source: &Source, r: &Response, set: &JwkSet) -> Value {
    json!({
        "source": source_json(source),
        "response": {
            "status": r.status,
            "cache_control": r.cache_control,
            "etag": r.etag,
            "max_age": r.max_age,
            "cache_ttl_secs": r.fetched_at.map(|_| CacheOptions::default().ttl_for(r.max_age)),
            "fetched_at": r.fetched_at,
            "fetched_at_utc": r.fetched_at.map(tollgate::clock::rfc3339),
            "elapsed_ms": r.elapsed_ms,
        },
        "keys": set.keys().iter().map(|k| key_json(k)).collect::<Vec<_>>(),
        "skipped": skipped_json(set.skipped()),
    })
}

fn print_text(source: &Source, r: &Response, set: &JwkSet) {
    if let Some(issuer) = &source.issuer {
        println!("issuer:        {issuer}");
        if let Some(url) = &source.discovery_url {
            println!("discovery:     {url}");
        }
        if let (Some(found), Some(diff)) = (&source.issuer_found, &source.issuer_difference) {
            println!("WARNING:       the discovery document names issuer {found:?}, not {issuer:?} ({diff}); `tollgate verify --issuer` would refuse it");
        }
    }
    println!("jwks:          {}", source.jwks);
    if let Some(at) = r.fetched_at {
        println!(
            "fetched:       {} (HTTP {}, {} ms)",
            tollgate::clock::rfc3339(at),
            r.status.unwrap_or(0),
            r.elapsed_ms.unwrap_or(0)
        );
        println!(
            "cache-control: {}",
            r.cache_control.as_deref().unwrap_or("(none)")
        );
        println!("etag:          {}", r.etag.as_deref().unwrap_or("(none)"));
        println!(
            "cached for:    {} s by Tollgate ({})",
            CacheOptions::default().ttl_for(r.max_age),
            match r.max_age {
                Some(m) => format!("max-age {m} s, clamped to 5 min .. 24 h"),
                None => "no max-age: default 1 h".to_string(),
            }
        );
    }
    println!();
    println!("{} usable key(s):", set.len());
    for key in set.keys() {
        println!(
            "  kid {}",
            key.kid()
                .map(|k| format!("{k:?}"))
                .unwrap_or_else(|| "(none)".into())
        );
        println!(
            "    kty {}  alg {}  use {}  {}",
            key.kty(),
            key.alg()
                .map(|a| a.as_str())
                .unwrap_or("(any of its family)"),
            key.key_use().unwrap_or("(unset)"),
            size_or_curve(key)
        );
        println!("    thumbprint (RFC 7638, SHA-256): {}", key.thumbprint());
        if key.public_members().contains_key("x5c") {
            let info = x5c_info(key);
            println!("    x5c: {} certificate(s)", info["certificates"]);
            if info["parsed"] == true {
                println!(
                    "      subject {}; valid {} .. {}{}",
                    info["subject"].as_str().unwrap_or("?"),
                    info["not_before"].as_str().unwrap_or("?"),
                    info["not_after"].as_str().unwrap_or("?"),
                    if info["expired"] == true {
                        " (EXPIRED)"
                    } else {
                        ""
                    }
                );
            } else {
                println!("      the first certificate could not be read (not parsed)");
            }
            println!(
                "      SHA-256 {}; x5t {}",
                info["first_sha256"].as_str().unwrap_or("(not base64)"),
                info["x5t"].as_str().unwrap_or("(none)")
            );
        }
    }
    if !set.skipped().is_empty() {
        println!();
        print_skipped(set.skipped());
    }
}

fn print_skipped(skipped: &[SkippedKey]) {
    println!("{} skipped key(s):", skipped.len());
    for s in skipped {
        println!(
            "  #{} kid {} kty {}: {}",
            s.index,
            s.kid
                .as_deref()
                .map(|k| format!("{k:?}"))
                .unwrap_or_else(|| "(none)".into()),
            s.kty.as_deref().unwrap_or("?"),
            s.reason
        );
    }
}

/// Validates for `tollgate verify --issuer URL` without `--jwks`: each issuer's keys by OIDC
/// discovery, through the library's `Validator` (the same cache and checks the gateway uses).
/// `Err` is a usage error (a non-HTTPS issuer); `keys_unavailable` when the IdP cannot be
/// reached or names another issuer.
pub fn validate_by_discovery(
    issuers: &[String],
    policy: &tollgate::Policy,
    now: Option<i64>,
    token: &str,
) -> Result<Result<tollgate::Verified, ValidationError>, String> {
    let configs = issuers
        .iter()
        .map(|iss| {
            let mut policy = policy.clone();
            if !tollgate::claims::is_template(iss) {
                // `--tenant` restricts the templates only.
                policy.tenants.clear();
            }
            tollgate::IssuerConfig::discovery(iss.clone()).policy(policy)
        })
        .collect();
    let mut validator = tollgate::Validator::new(configs).map_err(|e| e.to_string())?;
    if let Some(now) = now {
        validator = validator.with_clock(std::sync::Arc::new(tollgate::FixedClock::new(now)));
    }
    let rt = runtime()?;
    Ok(rt.block_on(validator.validate(token)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `openssl req -x509 -newkey ec ... -subj "/CN=login.example.com/O=Example Corp" -days 365`
    const CERT: &str = "MIIBqTCCAU+gAwIBAgICMDkwCgYIKoZIzj0EAwIwMzEaMBgGA1UEAwwRbG9naW4uZXhhbXBsZS5jb20xFTATBgNVBAoMDEV4YW1wbGUgQ29ycDAeFw0yNjExMjMxMTA0NDNaFw0yNzExMjMxMTA0NDNaMDMxGjAYBgNVBAMMEWxvZ2luLmV4YW1wbGUuY29tMRUwEwYDVQQKDAxFeGFtcGxlIENvcnAwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASOdoH59ktWAYXvJBhsPjeYrLPl36QPKJ2AdKDUxr3RiaM/d/SAq24WPg+eZu3GrWdtL0zg1+2joaXEHPHYZZNho1MwUTAdBgNVHQ4EFgQUGVmMswQt/fd/8F5nfeX+556BnLIwHwYDVR0jBBgwFoAUGVmMswQt/fd/8F5nfeX+556BnLIwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiAibnkevdsNLPLMiMgRY0gjU4n3D71Q+VdMRUiYm9ufswIhAIBu7C6ihEqOxQkXEjhNsn5BZKdU8Lh1WSX0ZlqAT8dy";

    #[test]
    fn certificate_subject_and_validity() {
        let der = std_base64_decode(CERT).unwrap();
        assert_eq!(
            cert_summary(&der),
            Some(CertSummary {
                subject: "CN=login.example.com, O=Example Corp".into(),
                not_before: "2026-11-23T11:04:43Z".into(),
                not_after: "2027-11-23T11:04:43Z".into(),
            })
        );
        // openssl x509 -outform der | sha256sum: 93564cd5...
        assert_eq!(tollgate::sha256(&der)[..4], [0x93, 0x56, 0x4c, 0xd5]);
        // Every truncation and a garbage input are refused, never a panic.
        for n in 0..der.len() {
            assert_eq!(cert_summary(&der[..n]), None, "{n}");
        }
        assert_eq!(cert_summary(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
    }

    #[test]
    fn std_base64() {
        assert_eq!(std_base64_decode("+/8=").unwrap(), vec![0xfb, 0xff]);
    }
}
