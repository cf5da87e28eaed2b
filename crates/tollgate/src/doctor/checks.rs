//! The numbered checklist: each check looks at one aspect on its own, so the report shows
//! every problem, not only the first one the validation pipeline stops at.

use serde_json::Value;

use super::facts::Facts;
use super::time;
use super::token::Shape;
use super::{Check, Status};
use crate::claims::TypPolicy;
use crate::error::ValidationError;

pub(crate) use crate::claims::MAX_PLAUSIBLE_SECONDS;

fn check(
    id: &'static str,
    title: &'static str,
    status: Status,
    summary: impl Into<String>,
) -> Check {
    Check {
        id,
        title,
        status,
        summary: summary.into(),
    }
}

pub(crate) fn run(f: &Facts<'_>) -> Vec<Check> {
    vec![
        format(f),
        header(f),
        issuer(f),
        discovery(f),
        keys(f),
        signature(f),
        lifetime(f),
        audience(f),
        token_type(f),
    ]
}

pub(crate) fn quote_list(items: &[String]) -> String {
    if items.is_empty() {
        return "(none)".into();
    }
    items
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn format(f: &Facts<'_>) -> Check {
    const T: &str = "format";
    let i = &f.insp;
    if let Err(ValidationError::TokenTooLarge { limit, found }) = &f.core {
        return check(
            "format",
            T,
            Status::Fail,
            format!("{found} bytes, over the limit of {limit}"),
        );
    }
    match i.shape {
        Shape::Jws | Shape::Unsigned => check(
            "format",
            T,
            Status::Pass,
            format!("a JWT: {} segments, {} bytes", i.segments, i.len),
        ),
        Shape::Jwe => check(
            "format",
            T,
            Status::Fail,
            format!(
                "an encrypted JWT (JWE, 5 segments): alg {}, enc {}",
                i.header_str("alg").unwrap_or("?"),
                i.header_str("enc").unwrap_or("?")
            ),
        ),
        Shape::Opaque => check(
            "format",
            T,
            Status::Fail,
            format!(
                "not a JWT: {} characters, {}",
                i.len,
                i.problem.as_deref().unwrap_or("no JWT structure")
            ),
        ),
        Shape::Malformed => check(
            "format",
            T,
            Status::Fail,
            format!(
                "a damaged JWT: {}",
                i.problem.as_deref().unwrap_or("it cannot be read")
            ),
        ),
    }
}

fn header(f: &Facts<'_>) -> Check {
    const T: &str = "header";
    let Some(alg) = f.alg.as_deref() else {
        return check("header", T, Status::Skip, "no readable header");
    };
    let mut desc = format!("alg {alg}");
    if let Some(kid) = &f.kid {
        desc.push_str(&format!(", kid \"{kid}\""));
    } else {
        desc.push_str(", no kid");
    }
    if let Some(typ) = &f.typ {
        desc.push_str(&format!(", typ \"{typ}\""));
    }
    if f.insp.shape == Shape::Jwe {
        return check(
            "header",
            T,
            Status::Fail,
            format!("{desc}: a JWE header, not a signature header"),
        );
    }
    if f.insp.shape == Shape::Unsigned {
        return check(
            "header",
            T,
            Status::Fail,
            format!("{desc}: the token is unsigned"),
        );
    }
    if let Err(ValidationError::CritUnsupported { names }) = &f.core {
        return check(
            "header",
            T,
            Status::Fail,
            format!(
                "{desc}; crit names unsupported extensions: {}",
                quote_list(names)
            ),
        );
    }
    let policy = &f.settings.policy;
    if let Err(e) = policy.check_alg(alg) {
        let allowed = policy
            .algorithms
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let why = if f.is_hmac() && f.settings.secrets.is_empty() {
            "a shared-secret (HMAC) token; the API has no secret"
        } else {
            "not allowed"
        };
        let _ = e;
        return check(
            "header",
            T,
            Status::Fail,
            format!("{desc}: {why} (allowed: {allowed})"),
        );
    }
    if f.header_has("nonce") {
        return check(
            "header",
            T,
            Status::Warn,
            format!("{desc}; a nonce in the header (a Microsoft Graph token)"),
        );
    }
    check("header", T, Status::Pass, desc)
}

fn issuer(f: &Facts<'_>) -> Check {
    const T: &str = "issuer and provider";
    let provider = f
        .token_provider
        .as_ref()
        .map(|p| format!(" ({})", p.spec.name))
        .unwrap_or_default();
    let expected = &f.settings.policy.issuers;
    match &f.iss {
        None if f.insp.claims.is_none() => check("issuer", T, Status::Skip, "no readable claims"),
        None if expected.is_empty() => check(
            "issuer",
            T,
            Status::Warn,
            "the token has no iss and no issuer is configured",
        ),
        None => check(
            "issuer",
            T,
            Status::Fail,
            format!("the token has no iss; expected {}", quote_list(expected)),
        ),
        Some(iss) if expected.is_empty() => check(
            "issuer",
            T,
            Status::Warn,
            format!("\"{iss}\"{provider}: not checked, no issuer configured (use --issuer)"),
        ),
        Some(iss) if expected.contains(iss) => {
            check("issuer", T, Status::Pass, format!("\"{iss}\"{provider}"))
        }
        Some(iss) => check(
            "issuer",
            T,
            Status::Fail,
            format!(
                "found \"{iss}\"{provider}, expected {}",
                quote_list(expected)
            ),
        ),
    }
}

fn discovery(f: &Facts<'_>) -> Check {
    const T: &str = "discovery";
    if let Some((url, error)) = &f.discovery_failed {
        return check("discovery", T, Status::Fail, format!("{url}: {error}"));
    }
    if let Some(d) = &f.discovery {
        let doc_iss = d.issuer.as_deref().unwrap_or("(none)");
        if let Some(expected) = f.expected_iss() {
            if d.issuer.as_deref() != Some(expected) {
                return check(
                    "discovery",
                    T,
                    Status::Fail,
                    format!(
                        "{} says issuer \"{doc_iss}\", configured \"{expected}\"",
                        d.url
                    ),
                );
            }
        }
        return check(
            "discovery",
            T,
            Status::Pass,
            format!(
                "{}: issuer \"{doc_iss}\", jwks_uri {}",
                d.url,
                d.jwks_uri.as_deref().unwrap_or("(none)")
            ),
        );
    }
    let why = f.discovery_skipped.as_deref().unwrap_or(if f.from_error {
        "not available"
    } else {
        "not fetched (no --issuer or --discovery)"
    });
    check("discovery", T, Status::Skip, why.to_string())
}

fn keys(f: &Facts<'_>) -> Check {
    const T: &str = "keys";
    if f.is_hmac() && !f.settings.secrets.is_empty() {
        let n = f.settings.secrets.len();
        return check(
            "keys",
            T,
            Status::Pass,
            format!(
                "{n} HMAC secret(s) configured for {}",
                f.alg.as_deref().unwrap_or("")
            ),
        );
    }
    let Some(set) = f.validation_set() else {
        if let Some((url, error)) = &f.jwks_failed {
            return check("keys", T, Status::Fail, format!("{url}: {error}"));
        }
        if let Err(ValidationError::KidNotFound {
            kid, known_kids, ..
        }) = &f.core
        {
            return check(
                "keys",
                T,
                Status::Fail,
                format!(
                    "kid \"{kid}\" not found; keys held: {}",
                    quote_list(known_kids)
                ),
            );
        }
        let why = f
            .jwks_skipped
            .as_deref()
            .unwrap_or("no keys given or fetched (use --jwks or --issuer)");
        return check("keys", T, Status::Skip, why.to_string());
    };
    if set.usable == 0 {
        return check(
            "keys",
            T,
            Status::Fail,
            format!(
                "{}: no usable key ({} skipped)",
                set.origin,
                set.skipped.len()
            ),
        );
    }
    let skipped = if set.skipped.is_empty() {
        String::new()
    } else {
        format!("; {} key(s) skipped", set.skipped.len())
    };
    let live_note = match (&f.api, &f.live) {
        (Some(_), Some(live)) if live.has_kid => " (the issuer's live JWKS has it)",
        (Some(_), Some(_)) => " (nor does the issuer's live JWKS)",
        _ => "",
    };
    match &f.kid {
        Some(kid) if set.has_kid => check(
            "keys",
            T,
            if skipped.is_empty() {
                Status::Pass
            } else {
                Status::Warn
            },
            format!(
                "kid \"{kid}\" found in {} ({} key(s){skipped})",
                set.origin, set.usable
            ),
        ),
        Some(kid) => check(
            "keys",
            T,
            Status::Fail,
            format!(
                "kid \"{kid}\" is not in {}{live_note}; known kids: {}",
                set.origin,
                quote_list(&set.kids)
            ),
        ),
        None => match (&set.key, &set.select_error) {
            (Some(k), _) => check(
                "keys",
                T,
                Status::Warn,
                format!("no kid; the only key that fits is {k} in {}", set.origin),
            ),
            (None, Some(e)) => check("keys", T, Status::Fail, format!("no kid: {e}")),
            (None, None) => check("keys", T, Status::Skip, "no kid and no readable algorithm"),
        },
    }
}

fn signature(f: &Facts<'_>) -> Check {
    const T: &str = "signature";
    let alg = f.alg.as_deref().unwrap_or("?");
    if matches!(f.insp.shape, Shape::Unsigned) {
        return check("signature", T, Status::Fail, "no signature (alg none)");
    }
    if !matches!(f.insp.shape, Shape::Jws) {
        return check("signature", T, Status::Skip, "not a signed JWT");
    }
    if let Some(s) = &f.secrets {
        return if s.verified {
            check(
                "signature",
                T,
                Status::Pass,
                format!("{alg} verified with the configured secret"),
            )
        } else {
            check(
                "signature",
                T,
                Status::Fail,
                format!(
                    "{alg} does not verify with the configured secret ({} bytes)",
                    s.len
                ),
            )
        };
    }
    if let Err(ValidationError::SignatureInvalid { kid, .. }) = &f.core {
        if f.validation_set().is_none() {
            return check(
                "signature",
                T,
                Status::Fail,
                format!(
                    "{alg} does not verify with key {}",
                    kid.as_deref().unwrap_or("(no kid)")
                ),
            );
        }
    }
    match f.validation_set() {
        Some(set) => match (set.verified, &set.key) {
            (Some(true), Some(k)) => check(
                "signature",
                T,
                Status::Pass,
                format!("{alg} verified with key {k}"),
            ),
            (Some(false), Some(k)) => check(
                "signature",
                T,
                Status::Fail,
                format!("{alg} does not verify with key {k}"),
            ),
            _ => check("signature", T, Status::Skip, "no key to check it with"),
        },
        None => check("signature", T, Status::Skip, "no key to check it with"),
    }
}

fn lifetime(f: &Facts<'_>) -> Check {
    const T: &str = "lifetime and clocks";
    let Some(claims) = &f.insp.claims else {
        return check("lifetime", T, Status::Skip, "no readable claims");
    };
    let now = f.settings.now;
    let leeway = f.settings.policy.leeway as i64;
    for name in ["exp", "nbf", "iat"] {
        match claims.get(name) {
            None => {}
            Some(Value::Number(_)) => {
                let t = f.time_claim(name).unwrap_or(0);
                if t.unsigned_abs() > MAX_PLAUSIBLE_SECONDS as u64 {
                    return check(
                        "lifetime",
                        T,
                        Status::Fail,
                        format!(
                            "{name} {t} is in milliseconds ({} as milliseconds)",
                            time::date(t / 1000)
                        ),
                    );
                }
            }
            Some(other) => {
                return check(
                    "lifetime",
                    T,
                    Status::Fail,
                    format!(
                        "{name} is {}, not a number of seconds",
                        crate::json::preview(other, 40)
                    ),
                )
            }
        }
    }
    let exp = f.time_claim("exp");
    let nbf = f.time_claim("nbf");
    let iat = f.time_claim("iat");
    if let Some(exp) = exp {
        if now >= exp.saturating_add(leeway) {
            return check(
                "lifetime",
                T,
                Status::Fail,
                format!(
                    "expired {} ago (exp {}, now {}, leeway {leeway} s)",
                    time::span(now - exp),
                    time::date(exp),
                    time::date(now)
                ),
            );
        }
    } else if f.settings.policy.require_exp {
        return check(
            "lifetime",
            T,
            Status::Fail,
            "no exp claim; the API requires one",
        );
    }
    let early = [
        (nbf, "nbf", "not valid for another ", ""),
        (iat, "iat", "issued ", " in the future"),
    ];
    for (t, name, before, after) in early {
        if let Some(t) = t.filter(|&t| t > now.saturating_add(leeway)) {
            return check(
                "lifetime",
                T,
                Status::Fail,
                format!(
                    "{before}{}{after} ({name} {}, this clock {}, leeway {leeway} s)",
                    time::span(t - now),
                    time::date(t),
                    time::date(now)
                ),
            );
        }
    }
    let mut parts = Vec::new();
    match exp {
        Some(exp) if exp <= now => parts.push(format!(
            "expired {} ago, within the leeway of {leeway} s",
            time::span(now - exp)
        )),
        Some(exp) => parts.push(format!("expires {}", time::relative(exp, now))),
        None => parts.push("no exp".into()),
    }
    if let Some(iat) = iat {
        parts.push(format!("issued {}", time::relative(iat, now)));
    }
    if let (Some(exp), Some(iat)) = (exp, iat) {
        parts.push(format!("lifetime {}", time::span(exp - iat)));
    }
    check("lifetime", T, Status::Pass, parts.join(", "))
}

fn audience(f: &Facts<'_>) -> Check {
    const T: &str = "audience";
    if f.insp.claims.is_none() {
        return check("audience", T, Status::Skip, "no readable claims");
    }
    let expected = &f.settings.policy.audiences;
    let found = if f.auds.is_empty() {
        "no aud".to_string()
    } else {
        quote_list(&f.auds)
    };
    if expected.is_empty() {
        return check(
            "audience",
            T,
            Status::Warn,
            format!("{found}: not checked, no audience configured (use --audience)"),
        );
    }
    if f.aud_mismatch() {
        return check(
            "audience",
            T,
            Status::Fail,
            format!("found {found}, expected {}", quote_list(expected)),
        );
    }
    check("audience", T, Status::Pass, found)
}

/// What kind of token this looks like, and why: ("access token", "") etc.
pub(crate) fn token_kind(f: &Facts<'_>) -> (&'static str, String) {
    let payload_typ = f.claim_str("typ").unwrap_or("");
    if payload_typ.eq_ignore_ascii_case("refresh") || payload_typ.eq_ignore_ascii_case("offline") {
        return ("a refresh token", format!("payload typ \"{payload_typ}\""));
    }
    if let Some(sig) = id_token_signals(f).first() {
        return ("an ID token", sig.clone());
    }
    if f.typ
        .as_deref()
        .is_some_and(|t| t.to_ascii_lowercase().contains("at+jwt"))
    {
        return (
            "an access token",
            format!("typ \"{}\"", f.typ.as_deref().unwrap_or("")),
        );
    }
    ("an access token", String::new())
}

/// Signs that the token is an ID token (strongest first).
pub(crate) fn id_token_signals(f: &Facts<'_>) -> Vec<String> {
    let mut out = Vec::new();
    if f.claim_str("token_use") == Some("id") {
        out.push("token_use is \"id\"".to_string());
    }
    if f.claim_str("typ")
        .is_some_and(|t| t.eq_ignore_ascii_case("id"))
    {
        out.push("payload typ is \"ID\" (a Keycloak ID token)".to_string());
    }
    if f.typ.as_deref().is_some_and(|t| {
        t.eq_ignore_ascii_case("id+jwt") || t.eq_ignore_ascii_case("application/id+jwt")
    }) {
        out.push("header typ is \"id+jwt\"".to_string());
    }
    if f.claim_str("jti").is_some_and(|j| j.starts_with("ID.")) {
        out.push("jti starts with \"ID.\" (an Okta ID token)".to_string());
    }
    if f.claim("nonce").is_some() {
        out.push("a nonce claim (only ID tokens carry one)".to_string());
    }
    for h in ["at_hash", "c_hash"] {
        if f.claim(h).is_some() {
            out.push(format!("an {h} claim (only ID tokens carry one)"));
        }
    }
    out
}

fn token_type(f: &Facts<'_>) -> Check {
    const T: &str = "token type";
    if f.insp.header.is_none() {
        return check("type", T, Status::Skip, "no readable header");
    }
    let typ = f
        .typ
        .as_deref()
        .map(|t| format!("typ \"{t}\""))
        .unwrap_or_else(|| "no typ".into());
    let (kind, why) = token_kind(f);
    let kind_text = if why.is_empty() {
        kind.to_string()
    } else {
        format!("{kind} ({why})")
    };
    let header = crate::jws::Header::new(
        f.alg.clone().unwrap_or_default(),
        f.kid.clone(),
        f.typ.clone(),
        f.insp.header.clone().unwrap_or_default(),
    );
    if let Err(e) = f.settings.policy.check_typ(&header) {
        let expected = match &e {
            ValidationError::TypeMismatch { expected, .. } => expected.clone(),
            other => other.to_string(),
        };
        return check(
            "type",
            T,
            Status::Fail,
            format!("{typ}, {kind_text}; the API accepts {expected}"),
        );
    }
    let status = if kind == "an access token" {
        Status::Pass
    } else {
        Status::Warn
    };
    let accepted = match &f.settings.policy.typ {
        TypPolicy::Any => " (any typ accepted)",
        _ => "",
    };
    check("type", T, status, format!("{typ}{accepted}, {kind_text}"))
}
