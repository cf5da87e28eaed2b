//! Gathering what a diagnosis needs (feature `remote`): the keys the API holds, the
//! issuer's discovery document, its live key set and, for Microsoft Entra, the
//! application's own keys. The result is a [`Context`] for [`super::diagnose`]; a CLI, a web
//! page or the gateway call the same function.
//!
//! Network rule: only what the caller configured is fetched (the issuers, the discovery
//! document, the key set, and the `jwks_uri` of a configured discovery document), through
//! the library's [`Fetcher`] (https, or http on loopback; bounded timeouts and sizes). A URL
//! named inside the token is never fetched, with one exception: with no issuer, discovery
//! document or key set configured, the token's own `iss` is used for discovery if it is
//! HTTPS, and a note says so. With `offline`, nothing is fetched.

use std::fmt;

use super::{Context, DiscoveryInfo, Fetched, KeySource, Settings};
use crate::introspection::IntrospectionOptions;
use crate::jwk::{JwkSet, SkippedKey};
use crate::keys::{check_remote_url, discovery_url, Discovery, FetchError, FetchOptions, Fetcher};
use serde_json::Value;

/// Where a discovery document or a key set comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A URL to fetch (https, or http on loopback).
    Url(String),
    /// A file the caller has read: its name (for messages) and its bytes.
    File {
        /// The file name.
        name: String,
        /// Its contents.
        bytes: Vec<u8>,
    },
}

impl Source {
    /// True when `arg` is an `http://` or `https://` URL (any letter case, leading spaces
    /// ignored), so a command line argument can be either a URL or a file name.
    pub fn is_url(arg: &str) -> bool {
        let l = arg.trim_start().to_ascii_lowercase();
        l.starts_with("https://") || l.starts_with("http://")
    }
}

/// What the API is configured with, and what may be fetched.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// The issuers the API trusts; the first one's discovery document is fetched unless
    /// [`Sources::discovery`] is given.
    pub issuers: Vec<String>,
    /// The discovery document, when given explicitly.
    pub discovery: Option<Source>,
    /// The key set the API holds.
    pub jwks: Option<Source>,
    /// Fetch nothing: only files are read.
    pub offline: bool,
    /// HTTP limits of the fetches (the library's defaults unless changed).
    pub fetch: FetchOptions,
    /// Token introspection at the first issuer (RFC 7662), when the API uses it: an opaque
    /// token (or, with `introspect_jwts`, a JWT) is introspected and the report shows the
    /// answer. Nothing is introspected offline.
    pub introspection: Option<IntrospectionOptions>,
}

/// The inputs cannot be used as given (a usage problem, not a diagnosis): for example a
/// URL in offline mode, or a file that is not a key set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatherError(pub String);

impl fmt::Display for GatherError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GatherError {}

/// Reads the files, fetches what `sources` allow and builds the context for diagnosing
/// `token` (already normalised, see [`super::input::normalize`]) under `settings`. When no
/// issuer is configured, the policy's issuer is taken from the discovery document (and a
/// note says so).
pub async fn gather(
    token: &str,
    mut settings: Settings,
    sources: &Sources,
) -> Result<Context, GatherError> {
    let mut net = Net::new(sources.offline, &sources.fetch);
    let mut notes = Vec::new();
    if sources.offline {
        for (what, source) in [
            ("the key set", &sources.jwks),
            ("the discovery document", &sources.discovery),
        ] {
            if let Some(Source::Url(url)) = source {
                return Err(GatherError(format!(
                    "{what} {url} is a URL but offline mode forbids fetching; give a file"
                )));
            }
        }
    }
    let token_iss = super::token::inspect(token)
        .claim_str("iss")
        .map(str::to_string);

    // The keys the API holds.
    let mut api_keys_failure: Option<JwksFailure> = None;
    let api_keys = match &sources.jwks {
        None => None,
        Some(Source::Url(url)) => match net.jwks(url).await {
            Ok(src) => Some(src),
            Err(e) => {
                api_keys_failure = Some(e);
                None
            }
        },
        Some(Source::File { name, bytes }) => {
            let set = JwkSet::from_json(bytes).map_err(|e| GatherError(format!("{name}: {e}")))?;
            Some(KeySource::new(name.clone(), set))
        }
    };

    // The discovery document: given, the first issuer's, or the token's own HTTPS iss.
    let discovery_source: Result<Source, String> = match (&sources.discovery, sources.issuers.first()) {
        (Some(d), _) => Ok(d.clone()),
        (None, Some(iss)) if crate::claims::is_template(iss) => Err(format!(
            "the issuer \"{iss}\" is a {{tenantid}} template, which has no discovery document of its own; give --discovery (e.g. https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration) or --jwks"
        )),
        (None, Some(iss)) => Ok(Source::Url(discovery_url(iss))),
        (None, None) if sources.jwks.is_none() => match &token_iss {
            Some(iss) if iss.to_ascii_lowercase().starts_with("https://") && !sources.offline => {
                notes.push(format!(
                    "no --issuer given: discovery uses the token's own iss \"{iss}\" (HTTPS); the issuer is not checked against any configuration"
                ));
                Ok(Source::Url(discovery_url(iss)))
            }
            Some(iss) if !sources.offline => Err(format!(
                "the token's iss \"{iss}\" is not HTTPS, so it is not fetched; give --issuer, --discovery or --jwks"
            )),
            _ => Err("no --issuer, --discovery or --jwks given".into()),
        },
        (None, None) => Err("no --issuer or --discovery given".into()),
    };
    let discovery: Fetched<DiscoveryInfo> = match discovery_source {
        Err(why) => Fetched::NotTried(why),
        Ok(Source::File { name, bytes }) => Fetched::Ok(discovery_file(&name, &bytes)?),
        Ok(Source::Url(_)) if sources.offline => Fetched::NotTried("--offline".into()),
        Ok(Source::Url(url)) => match net.discovery(&url).await {
            Ok(d) => Fetched::Ok(d),
            Err(error) => Fetched::Failed { url, error },
        },
    };
    if sources.issuers.is_empty() {
        if let Some(iss) = discovery.ok().and_then(|d| d.issuer.clone()) {
            notes.push(format!(
                "the expected issuer \"{iss}\" is taken from the discovery document"
            ));
            settings.policy = settings.policy.issuer(iss);
        }
    }

    // The issuer's live keys.
    let mut live_unusable = None;
    let live_keys: Fetched<KeySource> = match discovery.ok().and_then(|d| d.jwks_uri.clone()) {
        Some(_) if sources.offline => Fetched::NotTried("--offline".into()),
        Some(url) => match net.jwks(&url).await {
            Ok(src) => Fetched::Ok(src),
            Err(e) => {
                live_unusable = e.unusable;
                Fetched::Failed {
                    url,
                    error: e.error,
                }
            }
        },
        None => match (&sources.jwks, &api_keys, api_keys_failure) {
            (Some(Source::Url(_)), Some(src), _) => Fetched::Ok(src.clone()),
            (Some(Source::Url(url)), None, Some(e)) => {
                live_unusable = e.unusable;
                Fetched::Failed {
                    url: url.clone(),
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
    let app_keys = match (&live_keys, sources.issuers.first()) {
        (Fetched::Ok(live), Some(configured)) if !sources.offline => {
            match super::app_keys_url(token, configured, live) {
                Some((appid, url)) => net.jwks(&url).await.ok().map(|src| (appid, src)),
                None => None,
            }
        }
        _ => None,
    };

    let introspection = match &sources.introspection {
        Some(options) if !sources.offline => {
            introspect(token, &settings, sources, options, &mut notes).await
        }
        Some(_) => {
            notes.push("--offline: the token is not introspected".into());
            None
        }
        None => None,
    };

    let mut ctx = Context::new(token, settings);
    ctx.introspection = introspection;
    ctx.api_keys = api_keys;
    ctx.discovery = discovery;
    ctx.live_keys = live_keys;
    ctx.live_unusable = live_unusable;
    ctx.app_keys = app_keys;
    ctx.notes = notes;
    Ok(ctx)
}

/// A discovery document from a file, read by the library's [`Discovery`] parser. A key set
/// given by mistake is named as such.
fn discovery_file(name: &str, bytes: &[u8]) -> Result<DiscoveryInfo, GatherError> {
    let looks_like_jwks = crate::json::parse_value(bytes)
        .ok()
        .and_then(|v| {
            v.as_object()
                .map(|o| o.contains_key("keys") && !o.contains_key("issuer"))
        })
        .unwrap_or(false);
    if looks_like_jwks {
        return Err(GatherError(format!(
            "{name}: this is a JWKS, not a discovery document (use --jwks)"
        )));
    }
    let doc = Discovery::from_json(name, bytes).map_err(|e| GatherError(e.to_string()))?;
    Ok(info(doc))
}

fn info(doc: Discovery) -> DiscoveryInfo {
    DiscoveryInfo {
        url: doc.url,
        issuer: Some(doc.issuer),
        jwks_uri: Some(doc.jwks_uri),
    }
}

/// Why a key set could not be used: the message, and the skipped keys when the set was
/// fetched but holds no usable key.
struct JwksFailure {
    error: String,
    unusable: Option<Vec<SkippedKey>>,
}

/// The fetcher, created on first use; refuses everything offline.
struct Net<'a> {
    offline: bool,
    options: &'a FetchOptions,
    fetcher: Option<Fetcher>,
}

impl<'a> Net<'a> {
    fn new(offline: bool, options: &'a FetchOptions) -> Net<'a> {
        Net {
            offline,
            options,
            fetcher: None,
        }
    }

    fn get(&mut self) -> Result<&Fetcher, String> {
        if self.offline {
            return Err("--offline".into());
        }
        Ok(self
            .fetcher
            .get_or_insert_with(|| Fetcher::new(self.options.clone())))
    }

    async fn discovery(&mut self, url: &str) -> Result<DiscoveryInfo, String> {
        check_remote_url(url).map_err(|e| e.to_string())?;
        let doc = self
            .get()?
            .discovery(url)
            .await
            .map_err(|e| e.to_string())?;
        Ok(info(doc))
    }

    async fn jwks(&mut self, url: &str) -> Result<KeySource, JwksFailure> {
        let fail = |error: String| JwksFailure {
            error,
            unusable: None,
        };
        check_remote_url(url).map_err(|e| fail(e.to_string()))?;
        let fetcher = self.get().map_err(fail)?;
        match fetcher.jwks(url, None).await {
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

/// Judges `token` as an API with introspection at the first issuer would (the library's
/// [`Validator`](crate::Validator), on the settings' clock), and reads the answer back from
/// its cache for the report. `None` when this token would not be introspected.
async fn introspect(
    token: &str,
    settings: &Settings,
    sources: &Sources,
    options: &IntrospectionOptions,
    notes: &mut Vec<String>,
) -> Option<super::IntrospectionFinding> {
    let jwt = crate::jws::decode(token, usize::MAX).is_ok();
    if jwt && !options.introspect_jwts {
        return None;
    }
    let Some(issuer) = settings.policy.issuers.first() else {
        notes.push(
            "introspection needs the issuer (--issuer): the token is not introspected".into(),
        );
        return None;
    };
    let config = match &sources.discovery {
        Some(Source::Url(url)) => crate::IssuerConfig::discovery_url(issuer.clone(), url.clone()),
        _ => crate::IssuerConfig::discovery(issuer.clone()),
    };
    let config = config
        .policy(settings.policy.clone())
        .introspection(options.clone());
    let validator = match crate::Validator::new(vec![config]) {
        Ok(v) => v.with_clock(std::sync::Arc::new(crate::FixedClock::new(settings.now))),
        Err(e) => {
            notes.push(format!("the token is not introspected: {e}"));
            return None;
        }
    };
    let outcome = validator.validate(token).await.map(|_| ());
    let (issuer, answer) = validator.introspection_answer(token).await?;
    let endpoint = validator
        .status()
        .into_iter()
        .find_map(|s| s.introspection)
        .and_then(|s| s.endpoint);
    let mut report = super::IntrospectionReport {
        issuer,
        endpoint,
        ..Default::default()
    };
    match answer {
        Ok(Some(claims)) => {
            let text = |n: &str| claims.get(n).and_then(Value::as_str).map(str::to_string);
            report.active = Some(true);
            report.client_id = text("client_id");
            report.scope = text("scope");
            report.sub = text("sub");
            report.exp = claims.get("exp").and_then(crate::claims::numeric_date);
            report.expires_in = report.exp.map(|e| e - settings.now);
        }
        Ok(None) => report.active = Some(false),
        Err(e) => report.error = Some(e.to_string()),
    }
    Some(super::IntrospectionFinding { report, outcome })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::Policy;

    fn file(name: &str, json: serde_json::Value) -> Source {
        Source::File {
            name: name.into(),
            bytes: json.to_string().into_bytes(),
        }
    }

    fn run(sources: &Sources) -> Result<Context, GatherError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let token = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIn0.c2ln";
        rt.block_on(gather(token, Settings::new(Policy::new(), 0), sources))
    }

    #[test]
    fn offline_reads_files_and_fetches_nothing() {
        let sources = Sources {
            discovery: Some(file(
                "disco.json",
                serde_json::json!({"issuer": "https://idp.example", "jwks_uri": "https://idp.example/keys"}),
            )),
            jwks: Some(file("keys.json", serde_json::json!({"keys": []}))),
            offline: true,
            ..Sources::default()
        };
        let ctx = run(&sources).unwrap();
        assert_eq!(
            ctx.discovery.ok().and_then(|d| d.issuer.clone()).as_deref(),
            Some("https://idp.example")
        );
        assert_eq!(ctx.settings.policy.issuers, vec!["https://idp.example"]);
        assert!(matches!(ctx.live_keys, Fetched::NotTried(ref why) if why == "--offline"));
        assert_eq!(ctx.api_keys.map(|k| k.origin).as_deref(), Some("keys.json"));
        assert!(ctx
            .notes
            .iter()
            .any(|n| n.contains("taken from the discovery document")));
    }

    /// A `{tenantid}` template is never turned into a discovery URL (it would hold the
    /// placeholder): nothing is fetched and the note says what to give instead.
    #[test]
    fn templates_have_no_derived_discovery() {
        let sources = Sources {
            issuers: vec!["https://login.microsoftonline.com/{tenantid}/v2.0".into()],
            ..Sources::default()
        };
        let ctx = run(&sources).unwrap();
        assert!(
            matches!(ctx.discovery, Fetched::NotTried(ref why) if why.contains("--discovery")),
            "{:?}",
            ctx.discovery
        );
    }

    #[test]
    fn usage_problems_are_errors() {
        let offline_url = Sources {
            jwks: Some(Source::Url("https://idp.example/keys".into())),
            offline: true,
            ..Sources::default()
        };
        assert!(run(&offline_url).unwrap_err().0.contains("offline"));
        let jwks_as_discovery = Sources {
            discovery: Some(file("keys.json", serde_json::json!({"keys": []}))),
            offline: true,
            ..Sources::default()
        };
        assert!(run(&jwks_as_discovery)
            .unwrap_err()
            .0
            .contains("use --jwks"));
        assert!(Source::is_url(" HTTPS://idp.example"));
        assert!(!Source::is_url("keys.json"));
    }
}
