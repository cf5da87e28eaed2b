//! The facts every check and cause rule reads, computed once from a [`Context`] (or from a
//! [`ValidationError`] plus header and claims).

use base64::Engine;
use serde_json::{Map, Value};

use super::providers::{self, ProviderId, Recognised};
use super::token::{self, Inspected, Shape};
use super::{Context, DiscoveryInfo, Fetched, KeySource, ProviderInfo, Settings, Verdict};
use crate::alg::Algorithm;
use crate::error::ValidationError;
use crate::jwk::{Jwk, SkippedKey};
use crate::jws;
use crate::validate;

/// What one key set says about the token.
#[derive(Clone, Debug)]
pub(crate) struct SetFacts {
    pub origin: String,
    pub kids: Vec<String>,
    pub usable: usize,
    pub skipped: Vec<SkippedKey>,
    /// A usable key has the token's kid.
    pub has_kid: bool,
    /// The key chosen for the token (by kid, or the only fit), described.
    pub key: Option<String>,
    /// Whether the signature verified with that key (None: no key chosen / not checked).
    pub verified: Option<bool>,
    /// Why no key was chosen.
    pub select_error: Option<ValidationError>,
}

/// The HMAC secrets versus the token.
#[derive(Clone, Debug)]
pub(crate) struct SecretFacts {
    pub verified: bool,
    /// A variant of a configured secret that verifies, described.
    pub variant: Option<&'static str>,
    /// The length of the first secret, and whether it ends with a newline.
    pub len: usize,
    pub trailing_newline: bool,
}

pub(crate) struct Facts<'a> {
    pub settings: &'a Settings,
    pub insp: Inspected,
    pub alg: Option<String>,
    pub kid: Option<String>,
    pub typ: Option<String>,
    pub iss: Option<String>,
    pub auds: Vec<String>,
    pub token_provider: Option<Recognised>,
    pub configured_provider: Option<Recognised>,
    /// The verdict of the real validation pipeline.
    pub core: Result<(), ValidationError>,
    /// Whether keys were available (a signature could be checked).
    pub keys_known: bool,
    pub api: Option<SetFacts>,
    pub live: Option<SetFacts>,
    pub app: Option<(String, SetFacts)>,
    pub secrets: Option<SecretFacts>,
    pub discovery: Option<DiscoveryInfo>,
    pub discovery_failed: Option<(String, String)>,
    pub discovery_skipped: Option<String>,
    pub jwks_failed: Option<(String, String)>,
    pub jwks_skipped: Option<String>,
    pub notes: Vec<String>,
    /// Built from an error only (no token, no keys).
    pub from_error: bool,
}

fn set_facts(
    src: &KeySource,
    decoded: Option<&jws::Decoded<'_>>,
    alg: Option<Algorithm>,
) -> SetFacts {
    let set = &src.set;
    let mut out = SetFacts {
        origin: src.origin.clone(),
        kids: set.kids(),
        usable: set.len(),
        skipped: set.skipped().to_vec(),
        has_kid: false,
        key: None,
        verified: None,
        select_error: None,
    };
    if let Some(d) = decoded {
        out.has_kid = d.header.kid.as_deref().is_some_and(|k| set.contains_kid(k));
        if let Some(alg) = alg {
            match validate::select_key(set, alg, &d.header) {
                Ok(key) => {
                    out.key = Some(match key.kid() {
                        Some(k) => format!("\"{k}\" ({})", key.describe()),
                        None => key.describe(),
                    });
                    out.verified = Some(key.verify(alg, d.signing_input, &d.signature));
                }
                Err(e) => out.select_error = Some(e),
            }
        }
    }
    out
}

fn secret_variants(secret: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    let trimmed: Vec<u8> = {
        let s = secret;
        let end = s
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(0, |i| i + 1);
        let start = s
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(end);
        s[start..end].to_vec()
    };
    if trimmed != secret {
        out.push((
            "with the trailing newline/whitespace removed",
            trimmed.clone(),
        ));
    }
    let engines: [(&'static str, &base64::engine::GeneralPurpose); 4] = [
        ("base64-decoded", &base64::engine::general_purpose::STANDARD),
        (
            "base64-decoded",
            &base64::engine::general_purpose::STANDARD_NO_PAD,
        ),
        (
            "base64url-decoded",
            &base64::engine::general_purpose::URL_SAFE,
        ),
        (
            "base64url-decoded",
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ),
    ];
    for (name, engine) in engines {
        if let Ok(bytes) = engine.decode(&trimmed) {
            if !bytes.is_empty() {
                out.push((name, bytes));
            }
        }
    }
    out.push((
        "base64-encoded",
        base64::engine::general_purpose::STANDARD
            .encode(&trimmed)
            .into_bytes(),
    ));
    out
}

fn hmac_verifies(secret: &[u8], alg: Algorithm, d: &jws::Decoded<'_>) -> bool {
    Jwk::from_secret(secret, &[alg]).is_ok_and(|k| k.verify(alg, d.signing_input, &d.signature))
}

impl<'a> Facts<'a> {
    fn empty(settings: &'a Settings, insp: Inspected) -> Facts<'a> {
        let header_str = |n: &str| insp.header_str(n).map(str::to_string);
        let alg = header_str("alg");
        let kid = header_str("kid");
        let typ = header_str("typ");
        let iss = insp.claim_str("iss").map(str::to_string).or_else(|| {
            (insp.shape == Shape::Jwe)
                .then(|| header_str("iss"))
                .flatten()
        });
        let auds = insp.audiences();
        let token_provider = iss.as_deref().map(providers::recognise);
        let configured_provider = settings
            .policy
            .issuers
            .first()
            .map(|i| providers::recognise(i.trim()));
        Facts {
            settings,
            alg,
            kid,
            typ,
            iss,
            auds,
            token_provider,
            configured_provider,
            insp,
            core: Ok(()),
            keys_known: false,
            api: None,
            live: None,
            app: None,
            secrets: None,
            discovery: None,
            discovery_failed: None,
            discovery_skipped: None,
            jwks_failed: None,
            jwks_skipped: None,
            notes: Vec::new(),
            from_error: false,
        }
    }

    pub fn gather(ctx: &'a Context) -> Facts<'a> {
        let settings = &ctx.settings;
        let policy = &settings.policy;
        let mut f = Facts::empty(settings, token::inspect(&ctx.token));
        f.notes = ctx.notes.clone();
        match &ctx.discovery {
            Fetched::Ok(d) => f.discovery = Some(d.clone()),
            Fetched::Failed { url, error } => {
                f.discovery_failed = Some((url.clone(), error.clone()))
            }
            Fetched::NotTried(why) => f.discovery_skipped = Some(why.clone()),
            Fetched::Unknown => {}
        }
        match &ctx.live_keys {
            Fetched::Failed { url, .. } if ctx.live_unusable.is_some() => {
                f.live = Some(SetFacts {
                    origin: url.clone(),
                    kids: Vec::new(),
                    usable: 0,
                    skipped: ctx.live_unusable.clone().unwrap_or_default(),
                    has_kid: false,
                    key: None,
                    verified: None,
                    select_error: None,
                });
            }
            Fetched::Failed { url, error } => f.jwks_failed = Some((url.clone(), error.clone())),
            Fetched::NotTried(why) => f.jwks_skipped = Some(why.clone()),
            _ => {}
        }

        let decoded = jws::decode(&ctx.token, policy.max_token_size);
        let d = decoded.as_ref().ok();
        let alg: Option<Algorithm> = d.and_then(|d| d.header.alg.parse().ok());
        f.api = ctx.api_keys.as_ref().map(|s| set_facts(s, d, alg));
        if let Some(live) = ctx.live_keys.ok() {
            f.live = Some(set_facts(live, d, alg));
        }
        f.app = ctx
            .app_keys
            .as_ref()
            .map(|(app, s)| (app.clone(), set_facts(s, d, alg)));

        if let (Some(d), Some(alg)) = (d, alg) {
            if alg.is_symmetric() && !settings.secrets.is_empty() {
                let first = &settings.secrets[0];
                let verified = settings.secrets.iter().any(|s| hmac_verifies(s, alg, d));
                let variant = if verified {
                    None
                } else {
                    settings.secrets.iter().find_map(|s| {
                        secret_variants(s)
                            .into_iter()
                            .find(|(_, v)| hmac_verifies(v, alg, d))
                            .map(|(name, _)| name)
                    })
                };
                f.secrets = Some(SecretFacts {
                    verified,
                    variant,
                    len: first.len(),
                    trailing_newline: first.ends_with(b"\n"),
                });
            }
        }

        // The real pipeline, on the keys the API would use.
        let source = ctx.api_keys.as_ref().or(ctx.live_keys.ok());
        let mut set = source.map(|s| s.set.clone()).unwrap_or_default();
        for secret in &settings.secrets {
            if let Ok(k) = Jwk::from_secret(secret, &policy.algorithms) {
                set.push(k);
            }
        }
        f.keys_known = source.is_some() || !settings.secrets.is_empty();
        let extreme = extreme_time_claim(&f);
        f.core = match (decoded, extreme) {
            (Err(e), _) => Err(e),
            // Guard: the policy's millisecond check computes `abs()` of the claim, which
            // overflows for i64::MIN in debug builds; such a claim is refused here instead.
            (Ok(_), Some(e)) => Err(e),
            (Ok(d), None) if f.keys_known => {
                match validate::verify_decoded(&d, &set, policy, settings.now) {
                    Ok(_) => Ok(()),
                    Err(e) if e.is_unavailable() => Err(claims_error(&d, settings).unwrap_or(e)),
                    Err(e) => Err(e),
                }
            }
            (Ok(d), None) => Err(claims_error(&d, settings).unwrap_or_else(|| {
                ValidationError::KeysUnavailable {
                    issuer: f.iss.clone(),
                    reason: no_keys_reason(ctx),
                }
            })),
        };
        f
    }

    pub fn from_error(
        err: &ValidationError,
        header: Option<&Map<String, Value>>,
        claims: Option<&Map<String, Value>>,
        settings: &'a Settings,
    ) -> Facts<'a> {
        let shape = match err {
            ValidationError::Encrypted { .. } => Shape::Jwe,
            ValidationError::Unsecured { .. } => Shape::Unsigned,
            ValidationError::Malformed { reason, .. } if reason.contains("no '.'") => Shape::Opaque,
            ValidationError::Malformed { .. } => Shape::Malformed,
            _ => Shape::Jws,
        };
        let insp = Inspected {
            shape,
            segments: 3,
            len: 0,
            header: header.cloned(),
            claims: claims.cloned(),
            known_format: None,
            problem: match err {
                ValidationError::Malformed { part, reason } => {
                    Some(format!("the {} {reason}", part.as_str()))
                }
                _ => None,
            },
        };
        let mut f = Facts::empty(settings, insp);
        f.core = Err(err.clone());
        f.from_error = true;
        f
    }

    pub fn with_shape(
        mut self,
        shape: Shape,
        segments: usize,
        len: usize,
        problem: Option<String>,
    ) -> Facts<'a> {
        self.insp.shape = shape;
        self.insp.segments = segments;
        self.insp.len = len;
        if problem.is_some() {
            self.insp.problem = problem;
        }
        self
    }

    pub fn verdict(&self) -> Verdict {
        match &self.core {
            Ok(()) => Verdict::Valid,
            Err(e) if e.is_unavailable() => Verdict::CannotCheck,
            Err(_) => Verdict::Invalid,
        }
    }

    pub fn alg_enum(&self) -> Option<Algorithm> {
        self.alg.as_deref()?.parse().ok()
    }

    pub fn is_hmac(&self) -> bool {
        self.alg_enum().is_some_and(Algorithm::is_symmetric)
    }

    pub fn expected_iss(&self) -> Option<&str> {
        self.settings.policy.issuers.first().map(String::as_str)
    }

    /// Issuers are configured and the token's is not one of them.
    pub fn iss_mismatch(&self) -> bool {
        let issuers = &self.settings.policy.issuers;
        self.insp.claims.is_some()
            && !issuers.is_empty()
            && !self
                .iss
                .as_ref()
                .is_some_and(|i| issuers.iter().any(|e| crate::claims::issuer_accepts(e, i)))
    }

    /// Audiences are configured and no `aud` value is one of them.
    pub fn aud_mismatch(&self) -> bool {
        let expected = &self.settings.policy.audiences;
        self.insp.claims.is_some()
            && !expected.is_empty()
            && !self.auds.iter().any(|a| expected.contains(a))
    }

    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.insp.claim_str(name)
    }

    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.insp.claim(name)
    }

    pub fn header_has(&self, name: &str) -> bool {
        self.insp
            .header
            .as_ref()
            .is_some_and(|h| h.contains_key(name))
    }

    pub fn time_claim(&self, name: &str) -> Option<i64> {
        self.claim(name).and_then(crate::claims::numeric_date)
    }

    pub fn token_provider_id(&self) -> Option<ProviderId> {
        self.token_provider.as_ref().map(|p| p.spec.id)
    }

    pub fn configured_provider_id(&self) -> Option<ProviderId> {
        self.configured_provider.as_ref().map(|p| p.spec.id)
    }

    /// The key set the API validates with: its own, else the live one.
    pub fn validation_set(&self) -> Option<&SetFacts> {
        self.api.as_ref().or(self.live.as_ref())
    }

    pub fn provider_info(&self) -> ProviderInfo {
        let (rec, source) = match (&self.token_provider, &self.configured_provider) {
            (Some(t), _) => (Some(t), "token"),
            (None, Some(c)) => (Some(c), "configuration"),
            (None, None) => (None, "token"),
        };
        match rec {
            Some(r) => ProviderInfo {
                id: r.spec.id.as_str(),
                name: r.spec.name,
                issuer: Some(r.issuer.clone()),
                source,
                discovery_url: r.discovery_url(),
                jwks_url: r.jwks_url(),
                notes: r.spec.notes,
                captures: r.captures.clone(),
            },
            None => ProviderInfo {
                id: providers::GENERIC.id.as_str(),
                name: "unknown (no issuer)",
                issuer: None,
                source,
                discovery_url: None,
                jwks_url: None,
                notes: "",
                captures: Default::default(),
            },
        }
    }
}

/// A time claim so far out of range (i64::MIN after clamping) that it is refused before the
/// policy sees it.
fn extreme_time_claim(f: &Facts<'_>) -> Option<ValidationError> {
    ["exp", "nbf", "iat"].iter().find_map(|name| {
        (f.time_claim(name) == Some(i64::MIN)).then(|| ValidationError::InvalidClaim {
            claim: name.to_string(),
            expected: "a NumericDate in seconds".into(),
            found: f
                .claim(name)
                .map(|v| crate::json::preview(v, 40))
                .unwrap_or_default(),
        })
    })
}

/// The first failure of the checks that need no key (alg, typ, claims).
fn claims_error(d: &jws::Decoded<'_>, settings: &Settings) -> Option<ValidationError> {
    let policy = &settings.policy;
    if let Err(e) = policy.check_alg(&d.header.alg) {
        return Some(e);
    }
    let claims = match d.claims() {
        Ok(c) => c,
        Err(e) => return Some(e),
    };
    policy
        .check_typ(&d.header)
        .and_then(|_| policy.check_claims(&claims, settings.now))
        .err()
}

fn no_keys_reason(ctx: &Context) -> String {
    match (&ctx.discovery, &ctx.live_keys) {
        (_, Fetched::Failed { url, error }) => {
            format!("the JWKS at {url} could not be fetched: {error}")
        }
        (Fetched::Failed { url, error }, _) => {
            format!("the discovery document at {url} could not be fetched: {error}")
        }
        (_, Fetched::NotTried(why)) | (Fetched::NotTried(why), _) => {
            format!("no keys were given and none were fetched ({why})")
        }
        _ => "no keys were given (use --jwks, --issuer or --secret-file)".into(),
    }
}
