//! The token doctor: given a rejected (or suspect) token and everything already gathered
//! about the API's configuration and the issuer, say what is wrong, why, and the exact fix.
//!
//! The diagnosis is pure: no clock, no network. The caller (the `tollgate doctor` command,
//! the gateway, the tower layer) gathers a [`Context`] (the token, the API's [`Settings`],
//! the keys the API holds, the discovery document and live JWKS or why they could not be
//! fetched) and [`diagnose`] returns a [`Report`]: a checklist, the causes ranked most
//! likely first, the provider recognised from the issuer, and the decoded header and claims
//! (never the signature).
//!
//! Knowledge is data: providers live in [`providers::PROVIDERS`], causes (with their rank)
//! in [`causes::CAUSES`]. To explain the code of a [`ValidationError`] at run time (in logs),
//! use [`diagnose_error`] or [`explain`].
//!
//! ```
//! use serde_json::json;
//! use tollgate::doctor::{self, causes::CauseId, Context, KeySource, Settings};
//! use tollgate::{jws, Algorithm, JwkSet, Policy, SigningKey};
//!
//! let key = SigningKey::generate(Algorithm::ES256, "k1").unwrap();
//! let token = jws::sign(&json!({}), &json!({
//!     "iss": "https://acme.auth0.com/", "aud": "https://api.acme.com", "exp": 1_700_003_600
//! }), &key).unwrap();
//! let policy = Policy::new().issuer("https://acme.auth0.com").audience("https://api.acme.com");
//! let mut ctx = Context::new(&token, Settings::new(policy, 1_700_000_000));
//! ctx.api_keys = Some(KeySource::new("jwks.json", JwkSet::from_value(&json!({"keys": [key.public_jwk()]})).unwrap()));
//! let report = doctor::diagnose(&ctx);
//! assert!(!report.valid);
//! assert_eq!(report.code, Some("issuer_mismatch"));
//! assert_eq!(report.causes[0].id, CauseId::IssuerNearMiss.as_str());
//! assert!(report.causes[0].fix.contains("\"https://acme.auth0.com/\""));
//! ```

pub mod causes;
mod checks;
mod facts;
#[cfg(feature = "remote")]
pub mod gather;
pub mod input;
pub mod providers;
pub mod render;
pub mod stack;
pub mod time;
pub mod token;
pub mod view;

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::claims::Policy;
use crate::clock;
use crate::error::ValidationError;
use crate::jwk::{JwkSet, SkippedKey};
use crate::jws::Header;

pub use render::render;

/// The API's validation settings, as the doctor needs them.
#[derive(Clone)]
#[non_exhaustive]
pub struct Settings {
    /// Issuers, audiences, algorithms, leeway, `typ`: exactly what the API enforces.
    pub policy: Policy,
    /// "Now" for the API, in Unix seconds.
    pub now: i64,
    /// The HMAC secrets the API holds (raw bytes, exactly as configured).
    pub secrets: Vec<Vec<u8>>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("policy", &self.policy)
            .field("now", &self.now)
            .field(
                "secrets",
                &format!("{} secret(s), redacted", self.secrets.len()),
            )
            .finish()
    }
}

impl Settings {
    /// Settings for `policy` at time `now`, without HMAC secrets.
    pub fn new(policy: Policy, now: i64) -> Settings {
        Settings {
            policy,
            now,
            secrets: Vec::new(),
        }
    }
    /// Adds an HMAC secret.
    pub fn secret(mut self, bytes: impl Into<Vec<u8>>) -> Settings {
        self.secrets.push(bytes.into());
        self
    }
}

/// A key set and where it came from (a path or a URL).
#[derive(Clone, Debug)]
pub struct KeySource {
    /// The file path or URL.
    pub origin: String,
    /// The keys.
    pub set: JwkSet,
}

impl KeySource {
    /// A key set from `origin`.
    pub fn new(origin: impl Into<String>, set: JwkSet) -> KeySource {
        KeySource {
            origin: origin.into(),
            set,
        }
    }
}

/// Something the caller tried (or not) to fetch.
#[derive(Clone, Debug, Default)]
pub enum Fetched<T> {
    /// Not attempted, and why (e.g. "--offline", "no issuer configured").
    NotTried(String),
    /// Not attempted, no reason given.
    #[default]
    Unknown,
    /// Fetched.
    Ok(T),
    /// The fetch failed.
    Failed {
        /// The URL.
        url: String,
        /// What went wrong, for people.
        error: String,
    },
}

impl<T> Fetched<T> {
    /// The value, if fetched.
    pub fn ok(&self) -> Option<&T> {
        match self {
            Fetched::Ok(v) => Some(v),
            _ => None,
        }
    }
}

/// What the discovery document said.
#[derive(Clone, Debug, Default)]
pub struct DiscoveryInfo {
    /// Where it was read from (URL or file).
    pub url: String,
    /// Its `issuer`.
    pub issuer: Option<String>,
    /// Its `jwks_uri`.
    pub jwks_uri: Option<String>,
}

/// Everything gathered for one diagnosis. `Debug` never shows the token.
#[derive(Clone)]
pub struct Context {
    /// The token (already normalised, see [`input::normalize`]).
    pub token: String,
    /// The API's settings.
    pub settings: Settings,
    /// The keys the API holds (a JWKS file or URL it is configured with), if any.
    pub api_keys: Option<KeySource>,
    /// The issuer's discovery document.
    pub discovery: Fetched<DiscoveryInfo>,
    /// The issuer's live JWKS (from the discovery document's `jwks_uri`).
    pub live_keys: Fetched<KeySource>,
    /// Set when the live JWKS was fetched but holds no usable key (`live_keys` is then
    /// `Failed`): the keys that were skipped, with the reasons.
    pub live_unusable: Option<Vec<SkippedKey>>,
    /// Entra only: the application-specific keys (`jwks_uri?appid=<app>`), and the app id.
    pub app_keys: Option<(String, KeySource)>,
    /// Notes for the report (how the input was read, where the issuer came from...).
    pub notes: Vec<String>,
    /// The request the token came with, for sender-constrained tokens (DPoP, RFC 9449):
    /// when set (or when the token is DPoP-bound), a valid token is also checked against it
    /// (feature `remote`).
    #[cfg(feature = "remote")]
    pub dpop: Option<DpopRequest>,
    /// What the issuer's introspection endpoint said, when the API introspects this token
    /// (an opaque token, or a JWT with `introspect_jwts`): then the verdict is the API's.
    pub introspection: Option<IntrospectionFinding>,
}

/// The request a DPoP-bound token came with, as the doctor is told it.
#[cfg(feature = "remote")]
#[derive(Clone, Debug, Default)]
pub struct DpopRequest {
    /// `Authorization: Bearer` or `DPoP`.
    pub scheme: crate::binding::AuthScheme,
    /// The `DPoP` header values.
    pub proofs: Vec<String>,
    /// The request's method.
    pub method: String,
    /// The URL the server sees (behind a proxy: the public URL it is configured with).
    pub url: Option<String>,
    /// Proofs the server already accepted (a proof among them is a replay).
    pub seen: Vec<String>,
    /// How the server checks proofs.
    pub options: crate::dpop::DpopOptions,
    /// The client certificate the request came with (certificate-bound tokens).
    pub client_cert: crate::binding::ClientCert,
}

#[cfg(feature = "remote")]
impl DpopRequest {
    /// Checks what this request presents for a valid token (`token`, its `claims`) at
    /// `now`, without a replay cache: every check of [`crate::binding::check_binding_now`],
    /// then the proofs the server already accepted ([`DpopRequest::seen`]). `Ok(Some(proof))`:
    /// the proof passed and only its `jti` remains to be recorded.
    pub fn check(
        &self,
        token: &str,
        claims: &crate::Claims,
        now: i64,
    ) -> Result<Option<crate::dpop::CheckedProof>, ValidationError> {
        let request = crate::binding::RequestContext::new(
            self.scheme,
            token,
            self.method.as_str(),
            self.url.clone(),
        )
        .dpop_proofs(self.proofs.iter().map(String::as_str).collect())
        .client_cert(self.client_cert.clone());
        let issuer = claims.issuer().unwrap_or_default();
        match crate::binding::check_binding_now(claims, &request, issuer, &self.options, now)? {
            Some(checked)
                if self
                    .seen
                    .iter()
                    .filter_map(|p| crate::dpop::replay_key_of(p))
                    .any(|k| k == checked.replay_key()) =>
            {
                Err(ValidationError::DpopReplayed { jti: checked.jti })
            }
            other => Ok(other),
        }
    }
}

/// What token introspection (RFC 7662) said about the token, as the API would judge it.
#[derive(Clone, Debug)]
pub struct IntrospectionFinding {
    /// The answer, for the report.
    pub report: IntrospectionReport,
    /// The API's verdict on the token (introspection, then its policy): `Ok` when accepted.
    pub outcome: Result<(), ValidationError>,
}

/// The introspection part of a [`Report`]: the answer (active or not, the token's client,
/// scopes, expiry) or why there is none. Never the client secret or the token.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct IntrospectionReport {
    /// The configured issuer whose endpoint was asked.
    pub issuer: String,
    /// The endpoint (configured, or found by discovery), when known.
    pub endpoint: Option<String>,
    /// The answer's `active`; `None` when there was no usable answer.
    pub active: Option<bool>,
    /// The token's `client_id`, per the answer.
    pub client_id: Option<String>,
    /// The token's `scope`, per the answer.
    pub scope: Option<String>,
    /// The token's `sub`, per the answer.
    pub sub: Option<String>,
    /// The token's `exp`, per the answer.
    pub exp: Option<i64>,
    /// Seconds from "now" to `exp` (negative: expired).
    pub expires_in: Option<i64>,
    /// Why there is no usable answer (unreachable, refused, malformed).
    pub error: Option<String>,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("token", &format!("({} bytes, redacted)", self.token.len()))
            .field("settings", &self.settings)
            .field("api_keys", &self.api_keys.as_ref().map(|k| &k.origin))
            .field("discovery", &self.discovery)
            .field("live_keys", &self.live_keys.ok().map(|k| &k.origin))
            .field("notes", &self.notes)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context with only the token and settings: nothing fetched, no keys.
    pub fn new(token: &str, settings: Settings) -> Context {
        Context {
            token: token.to_string(),
            settings,
            api_keys: None,
            discovery: Fetched::Unknown,
            live_keys: Fetched::Unknown,
            live_unusable: None,
            app_keys: None,
            notes: Vec::new(),
            #[cfg(feature = "remote")]
            dpop: None,
            introspection: None,
        }
    }
}

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Passed.
    Pass,
    /// Failed: the token is rejected because of this.
    Fail,
    /// Passed or not checked, but worth a look.
    Warn,
    /// Not checked (missing input).
    Skip,
}

impl Status {
    /// The word shown in the checklist.
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "passed",
            Status::Fail => "FAILED",
            Status::Warn => "warning",
            Status::Skip => "skipped",
        }
    }
}

/// One line of the checklist.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// Stable id: `format`, `header`, `issuer`, `discovery`, `keys`, `signature`,
    /// `lifetime`, `audience`, `type`.
    pub id: &'static str,
    /// A title for people.
    #[serde(skip)]
    pub title: &'static str,
    /// The outcome.
    pub status: Status,
    /// One line of evidence: expected vs found, known kids, seconds of skew...
    pub summary: String,
}

/// A likely cause of the rejection.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cause {
    /// Stable id, one of [`causes::CAUSES`] (or an error code when nothing more specific
    /// applies).
    pub id: &'static str,
    /// What is wrong, one sentence.
    pub summary: String,
    /// The values that show it.
    pub evidence: String,
    /// What to change: which setting, which value.
    pub fix: String,
}

/// The most characters of each part (summary, evidence, fix) of a [`Cause`]'s one-line
/// `Display`: room for the longest provider-specific fix, while a part that quotes a 12 KB
/// token value is cut with its size. The fields themselves stay whole (the doctor's report
/// shows them).
pub const MAX_LOG_PART_CHARS: usize = 600;

impl fmt::Display for Cause {
    /// One line for logs: `id: summary (evidence) fix: ...`, each part cut to
    /// [`MAX_LOG_PART_CHARS`] with control characters escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let part = |s: &str| crate::text::cut_text_to(s, MAX_LOG_PART_CHARS).to_string();
        write!(
            f,
            "{}: {} ({}) fix: {}",
            self.id,
            part(&self.summary),
            part(&self.evidence),
            part(&self.fix)
        )
    }
}

/// The provider recognised from an issuer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProviderInfo {
    /// Stable id (`entra_v2`, `okta_custom`, `keycloak`, `generic`...).
    pub id: &'static str,
    /// Name for people.
    pub name: &'static str,
    /// The issuer it was recognised from.
    pub issuer: Option<String>,
    /// Where that issuer came from: `token` or `configuration`.
    pub source: &'static str,
    /// The discovery document URL in this provider's format.
    pub discovery_url: Option<String>,
    /// The JWKS URL in this provider's format.
    pub jwks_url: Option<String>,
    /// What to know about this provider's tokens.
    pub notes: &'static str,
    /// Parts of the issuer (tenant, realm, pool...).
    pub captures: std::collections::BTreeMap<String, String>,
}

/// The verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The token passes every check.
    Valid,
    /// The token is rejected.
    Invalid,
    /// The token could not be checked (no keys available): not a verdict on the token.
    CannotCheck,
}

/// The doctor's report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// True when the token passes.
    pub valid: bool,
    /// The stable error code the API would answer with (None when valid).
    pub code: Option<&'static str>,
    /// Valid, invalid, or could not be checked.
    pub verdict: Verdict,
    /// The API's own one-sentence message for that error.
    pub message: Option<String>,
    /// The checklist, in order.
    pub checks: Vec<Check>,
    /// Causes, most likely first.
    pub causes: Vec<Cause>,
    /// The provider of the token's issuer (or of the configured issuer).
    pub provider: ProviderInfo,
    /// The decoded header.
    pub header: Option<Map<String, Value>>,
    /// The decoded claims.
    pub claims: Option<Map<String, Value>>,
    /// Notes about the input and what was fetched.
    pub notes: Vec<String>,
    /// What token introspection said, when the API introspects this token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub introspection: Option<IntrospectionReport>,
    /// The time the report was made for (Unix seconds).
    pub now: i64,
    /// What the API expects (issuers, audiences, algorithms, leeway, `typ`).
    pub expected: view::Expected,
    /// The token in its parts; the signature by its length only.
    pub parts: Vec<view::Part>,
    /// What each header member present means (registered and providers' own).
    pub header_meanings: std::collections::BTreeMap<String, String>,
    /// What each claim present means (registered and providers' own).
    pub claim_meanings: std::collections::BTreeMap<String, String>,
    /// `iat`, `nbf`, `exp`, now and the leeway, for a timeline.
    pub timeline: view::Timeline,
    /// Each key set consulted, against the token's `kid` and `alg`.
    pub keys: Vec<view::KeySetView>,
    /// Whether the issuer's live key set differs from the API's (rotation), and how.
    pub rotation: Option<String>,
    /// The network fetches made for this report (files are not listed).
    pub fetches: Vec<view::FetchView>,
}

/// Diagnoses a token in its context.
pub fn diagnose(ctx: &Context) -> Report {
    let f = facts::Facts::gather(ctx);
    let checks = checks::run(&f);
    let verdict = f.verdict();
    let causes = if verdict == Verdict::Valid {
        Vec::new()
    } else {
        causes::find(&f)
    };
    let mut report = report_of(&f, checks, causes);
    report.parts = view::parts(&ctx.token);
    report.keys = view::key_sets(ctx, &f);
    report.rotation = view::rotation(ctx);
    report.fetches = view::fetches(ctx);
    match &ctx.introspection {
        Some(found) => with_introspection(
            report,
            found,
            matches!(f.insp.shape, token::Shape::Opaque | token::Shape::Malformed),
        ),
        None => report,
    }
}

fn report_of(f: &facts::Facts<'_>, checks: Vec<Check>, causes: Vec<Cause>) -> Report {
    let verdict = f.verdict();
    Report {
        valid: verdict == Verdict::Valid,
        code: f.core.as_ref().err().map(ValidationError::code),
        verdict,
        message: f.core.as_ref().err().map(ToString::to_string),
        checks,
        causes,
        provider: f.provider_info(),
        header: f.insp.header.clone(),
        claims: f.insp.claims.clone(),
        notes: f.notes.clone(),
        now: f.settings.now,
        introspection: None,
        expected: view::Expected::of(&f.settings.policy),
        parts: Vec::new(),
        header_meanings: view::meanings(f.insp.header.as_ref(), true),
        claim_meanings: view::meanings(f.insp.claims.as_ref(), false),
        timeline: view::timeline(f),
        keys: Vec::new(),
        rotation: None,
        fetches: Vec::new(),
    }
}

/// The report of a rejection the API already made, from the error, the header and the
/// claims it kept (the gateway's recent refusals keep no signature, so nothing can be
/// verified again): the checks read from the error, the causes of [`diagnose_error`].
///
/// ```
/// use serde_json::json;
/// use tollgate::doctor::{report_of_error, Settings};
/// use tollgate::{Policy, ValidationError};
/// let claims = json!({"iss": "https://idp.example/", "exp": 1_699_999_000});
/// let settings = Settings::new(Policy::new().issuer("https://idp.example/"), 1_700_000_000);
/// let err = ValidationError::Expired { exp: 1_699_999_000, now: 1_700_000_000, leeway: 60 };
/// let report = report_of_error(&err, json!({"alg": "ES256"}).as_object(), claims.as_object(), &settings);
/// assert_eq!(report.code, Some("expired"));
/// assert_eq!(report.causes[0].id, "token_expired");
/// assert_eq!(report.timeline.exp, Some(1_699_999_000));
/// ```
pub fn report_of_error(
    err: &ValidationError,
    header: Option<&Map<String, Value>>,
    claims: Option<&Map<String, Value>>,
    settings: &Settings,
) -> Report {
    let f = facts::Facts::from_error(err, header, claims, settings);
    let checks = checks::run(&f);
    let causes = causes::find(&f);
    report_of(&f, checks, causes)
}

/// The report when the API introspects the token: its verdict is the API's (introspection,
/// then the policy on the answer's claims); for an opaque token the JWT checks give way to
/// one `introspection` check, and a refusal's cause is the introspection's.
fn with_introspection(mut report: Report, found: &IntrospectionFinding, opaque: bool) -> Report {
    let r = &found.report;
    let summary = match (r.active, &r.error) {
        (Some(true), _) => {
            let mut parts = vec![format!(
                "active at {}",
                r.endpoint.as_deref().unwrap_or("the endpoint")
            )];
            if let Some(c) = &r.client_id {
                parts.push(format!("client {c}"));
            }
            if let Some(s) = &r.scope {
                parts.push(format!("scopes \"{s}\""));
            }
            match r.expires_in {
                Some(n) if n >= 0 => parts.push(format!("expires in {}", clock::span(n))),
                Some(n) => parts.push(format!("expired {} ago", clock::span(-n))),
                None => parts.push("no exp".into()),
            }
            parts.join(", ")
        }
        (Some(false), _) => format!(
            "not active: {} says the token is revoked, expired or unknown",
            r.endpoint.as_deref().unwrap_or("the endpoint")
        ),
        (None, Some(e)) => e.clone(),
        (None, None) => "no answer".into(),
    };
    let status = match (&found.outcome, r.active) {
        (Ok(()), _) => Status::Pass,
        (Err(_), Some(true)) => Status::Warn,
        (Err(_), _) => Status::Fail,
    };
    if opaque {
        report.checks.retain(|c| c.id == "format");
        for c in &mut report.checks {
            c.status = Status::Pass;
            c.summary = "an opaque (reference) token: judged by introspection at its issuer".into();
        }
    }
    report.checks.push(Check {
        id: "introspection",
        title: "Token introspection (RFC 7662)",
        status,
        summary: summary.clone(),
    });
    match &found.outcome {
        Ok(()) => {
            report.valid = true;
            report.code = None;
            report.verdict = Verdict::Valid;
            report.message = None;
            report.causes.clear();
        }
        Err(e) => {
            report.valid = false;
            report.code = Some(e.code());
            report.verdict = if e.is_unavailable() {
                Verdict::CannotCheck
            } else {
                Verdict::Invalid
            };
            report.message = Some(e.to_string());
            if opaque || r.active != Some(true) || report.causes.is_empty() {
                report.causes = vec![Cause {
                    id: e.code(),
                    summary: e.cause().to_string(),
                    evidence: format!("{e}; introspection: {summary}"),
                    fix: e.fix().to_string(),
                }];
            }
        }
    }
    report.introspection = Some(found.report.clone());
    report
}

/// The causes of a [`ValidationError`] the API already produced, from the token's header
/// and claims (when they could be read) and the API's settings; most likely first. No keys
/// are consulted, so key causes are named from the error itself.
///
/// ```
/// use serde_json::json;
/// use tollgate::doctor::{causes::CauseId, diagnose_error, Settings};
/// use tollgate::{Policy, ValidationError};
/// let claims = json!({"iss": "https://sts.windows.net/0b3c9a51-2b5a-4d9c-9c9a-5f5d1c0e7a11/", "ver": "1.0"});
/// let settings = Settings::new(
///     Policy::new().issuer("https://login.microsoftonline.com/0b3c9a51-2b5a-4d9c-9c9a-5f5d1c0e7a11/v2.0"),
///     1_700_000_000,
/// );
/// let err = ValidationError::IssuerMismatch {
///     expected: settings.policy.issuers.clone(),
///     found: Some(claims["iss"].as_str().unwrap().into()),
/// };
/// let causes = diagnose_error(&err, None, claims.as_object(), &settings);
/// assert_eq!(causes[0].id, CauseId::AzureV1V2Mismatch.as_str());
/// ```
pub fn diagnose_error(
    err: &ValidationError,
    header: Option<&Header>,
    claims: Option<&Map<String, Value>>,
    settings: &Settings,
) -> Vec<Cause> {
    let f = facts::Facts::from_error(err, header.map(|h| h.raw()), claims, settings);
    causes::find(&f)
}

/// Like [`diagnose_error`], reading the header and claims from the token itself (leniently,
/// without verifying anything). The token is not kept or logged.
pub fn explain(err: &ValidationError, token: &str, settings: &Settings) -> Vec<Cause> {
    let insp = token::inspect(crate::jws::strip_bearer(token));
    let f = facts::Facts::from_error(err, insp.header.as_ref(), insp.claims.as_ref(), settings)
        .with_shape(insp.shape, insp.segments, insp.len, insp.problem);
    causes::find(&f)
}

/// Entra only: the URL of the application-specific keys worth fetching for this token
/// (`<jwks_uri>?appid=<app>`), with the app id: when the configured issuer is Entra, the
/// token's kid is not among the tenant's live keys, and its audience names an application
/// (a client id GUID, or `api://<GUID>`). The URL is derived from the configured issuer's
/// `jwks_uri`, never from the token.
///
/// ```
/// use serde_json::json;
/// use tollgate::doctor::{app_keys_url, KeySource};
/// use tollgate::{jws, Algorithm, JwkSet, SigningKey};
/// let app_key = SigningKey::generate(Algorithm::RS256, "app-cert").unwrap();
/// let app = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
/// let token = jws::sign(&json!({}), &json!({"aud": app}), &app_key).unwrap();
/// let tid = "4a8f6c1e-93b2-4d7a-b0e5-2c61f9d8a3b7";
/// let live = KeySource::new(format!("https://login.microsoftonline.com/{tid}/discovery/v2.0/keys"), JwkSet::new());
/// let (appid, url) = app_keys_url(&token, &format!("https://login.microsoftonline.com/{tid}/v2.0"), &live).unwrap();
/// assert_eq!(appid, app);
/// assert!(url.ends_with(&format!("/discovery/v2.0/keys?appid={app}")));
/// assert_eq!(app_keys_url(&token, "https://idp.example.com", &live), None);
/// ```
pub fn app_keys_url(
    token: &str,
    configured_issuer: &str,
    live: &KeySource,
) -> Option<(String, String)> {
    if !providers::recognise(configured_issuer.trim())
        .spec
        .id
        .is_entra()
    {
        return None;
    }
    let insp = token::inspect(token);
    let kid = insp.header_str("kid")?;
    if live.set.contains_kid(kid) {
        return None;
    }
    let appid = insp
        .audiences()
        .into_iter()
        .map(|a| a.trim_start_matches("api://").to_string())
        .find(|a| a.len() == 36 && a.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))?;
    let sep = if live.origin.contains('?') { '&' } else { '?' };
    Some((appid.clone(), format!("{}{sep}appid={appid}", live.origin)))
}
