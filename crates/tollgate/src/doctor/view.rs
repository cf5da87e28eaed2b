//! What the report shows beside the diagnosis, so that a page (or any reader of the JSON
//! report) renders it without computing anything: the token in its parts, what each claim
//! means, the times against now and the leeway, the keys against the token, and the
//! network fetches made.
//!
//! Everything here is read from the token and the gathered [`Context`]; nothing is fetched.
//! The signature is never copied: its part is given by its length only.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::facts::Facts;
use super::{Context, Fetched, KeySource};
use crate::alg::Algorithm;
use crate::claims::TypPolicy;

/// One `.`-separated part of the token.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Part {
    /// `header`, `payload`, `signature` (JWS); `header`, `encrypted_key`, `iv`,
    /// `ciphertext`, `tag` (JWE); `part N` otherwise.
    pub name: &'static str,
    /// Its length in characters.
    pub chars: usize,
    /// Its text (base64url), for the header and the payload only; never the signature.
    pub text: Option<String>,
}

/// The most characters of a part's text copied into the report (the parts are bounded by
/// the policy's token size already; this keeps a report small for a pasted 1 MB string).
pub const MAX_PART_TEXT: usize = 16 * 1024;

/// The token's times against now and the leeway, for a timeline picture.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Timeline {
    /// `iat`, if a number.
    pub iat: Option<i64>,
    /// `nbf`, if a number.
    pub nbf: Option<i64>,
    /// `exp`, if a number.
    pub exp: Option<i64>,
    /// The API's "now".
    pub now: i64,
    /// The API's leeway in seconds: `exp + leeway` and `nbf - leeway` are the band's edges.
    pub leeway: u64,
}

/// One key of a set, against the token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyView {
    /// Its `kid`.
    pub kid: Option<String>,
    /// Its `kty`.
    pub kty: String,
    /// Its `alg`, if it names one.
    pub alg: Option<String>,
    /// Its RFC 7638 SHA-256 thumbprint.
    pub thumbprint: String,
    /// `match` (same kid and it fits the token's algorithm), `candidate` (fits the
    /// algorithm, other kid), `other` (cannot verify the token's algorithm).
    pub fit: &'static str,
    /// Why, for people.
    pub why: String,
}

/// One key set consulted, against the token.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeySetView {
    /// `api` (the keys the API holds), `live` (the issuer's published set), `app` (Entra's
    /// application-specific keys).
    pub role: &'static str,
    /// Where it came from (a URL or a file name).
    pub origin: String,
    /// The token's `kid`.
    pub token_kid: Option<String>,
    /// The usable keys, matches first, then candidates.
    pub keys: Vec<KeyView>,
    /// The keys that were skipped when the set was read, with the reasons.
    pub skipped: Vec<crate::jwk::SkippedKey>,
}

/// A network fetch made for the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FetchView {
    /// `discovery`, `api_keys`, `live_keys`, `app_keys`.
    pub what: &'static str,
    /// The URL.
    pub url: String,
    /// `ok` or the error.
    pub outcome: String,
}

/// What the API expects, as the report was made with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Expected {
    /// Accepted issuers.
    pub issuers: Vec<String>,
    /// Accepted audiences.
    pub audiences: Vec<String>,
    /// Allowed algorithms (empty: every asymmetric one).
    pub algorithms: Vec<String>,
    /// Leeway in seconds.
    pub leeway: u64,
    /// Required `typ` values (empty: any).
    pub typ: Vec<String>,
    /// Required claims.
    pub required_claims: Vec<String>,
}

impl Expected {
    /// The expectations of `policy`.
    pub fn of(policy: &crate::Policy) -> Expected {
        Expected {
            issuers: policy.issuers.clone(),
            audiences: policy.audiences.clone(),
            algorithms: policy
                .algorithms
                .iter()
                .map(|a| a.as_str().to_string())
                .collect(),
            leeway: policy.leeway,
            typ: match &policy.typ {
                TypPolicy::OneOf(t) => t.clone(),
                _ => Vec::new(),
            },
            required_claims: policy.required_claims.clone(),
        }
    }
}

/// The token's parts (never the signature's text).
pub(crate) fn parts(token: &str) -> Vec<Part> {
    let segments: Vec<&str> = token.split('.').collect();
    let names: &[&'static str] = match segments.len() {
        3 => &["header", "payload", "signature"],
        5 => &["header", "encrypted_key", "iv", "ciphertext", "tag"],
        _ => &[],
    };
    const OTHER: [&str; 8] = [
        "part 1", "part 2", "part 3", "part 4", "part 5", "part 6", "part 7", "part 8",
    ];
    segments
        .iter()
        .take(OTHER.len())
        .enumerate()
        .map(|(i, s)| {
            let name = names.get(i).copied().unwrap_or(OTHER[i]);
            let shown = name == "header" || (name == "payload" && segments.len() == 3);
            Part {
                name,
                chars: s.chars().count(),
                text: shown.then(|| s.chars().take(MAX_PART_TEXT).collect()),
            }
        })
        .collect()
}

/// The timeline of the facts' token.
pub(crate) fn timeline(f: &Facts<'_>) -> Timeline {
    Timeline {
        iat: f.time_claim("iat"),
        nbf: f.time_claim("nbf"),
        exp: f.time_claim("exp"),
        now: f.settings.now,
        leeway: f.settings.policy.leeway,
    }
}

/// Each key set of the context against the token.
pub(crate) fn key_sets(ctx: &Context, f: &Facts<'_>) -> Vec<KeySetView> {
    let alg: Option<Algorithm> = f.alg.as_deref().and_then(|a| a.parse().ok());
    let mut out = Vec::new();
    let mut add = |role, src: &KeySource| out.push(key_set(role, src, f.kid.as_deref(), alg));
    if let Some(src) = &ctx.api_keys {
        add("api", src);
    }
    if let Some(src) = ctx.live_keys.ok() {
        add("live", src);
    }
    if let Some((_, src)) = &ctx.app_keys {
        add("app", src);
    }
    out
}

fn key_set(
    role: &'static str,
    src: &KeySource,
    kid: Option<&str>,
    alg: Option<Algorithm>,
) -> KeySetView {
    let mut keys: Vec<KeyView> = src
        .set
        .keys()
        .iter()
        .map(|k| {
            let fits = alg.is_some_and(|a| k.fits(a));
            let same_kid = kid.is_some() && k.kid() == kid;
            let alg_name = alg.map_or("(unreadable)", Algorithm::as_str);
            let (fit, why) = match (same_kid, fits) {
                (true, true) => ("match", format!("same kid, can verify {alg_name}")),
                (true, false) => (
                    "other",
                    format!("same kid, but a {} key cannot verify {alg_name}", k.kty()),
                ),
                (false, true) => (
                    "candidate",
                    match kid {
                        Some(t) => format!(
                            "can verify {alg_name}, but its kid differs from the token's \"{}\"",
                            crate::text::cut(t)
                        ),
                        None => format!("can verify {alg_name} (the token names no kid)"),
                    },
                ),
                (false, false) => (
                    "other",
                    format!("a {} key cannot verify {alg_name}", k.describe()),
                ),
            };
            KeyView {
                kid: k.kid().map(str::to_string),
                kty: k.kty().to_string(),
                alg: k.alg().map(|a| a.as_str().to_string()),
                thumbprint: k.thumbprint().to_string(),
                fit,
                why,
            }
        })
        .collect();
    let rank = |k: &KeyView| match k.fit {
        "match" => 0,
        "candidate" => 1,
        _ => 2,
    };
    keys.sort_by_key(rank);
    KeySetView {
        role,
        origin: src.origin.clone(),
        token_kid: kid.map(str::to_string),
        keys,
        skipped: src.set.skipped().to_vec(),
    }
}

/// Whether the issuer's live set differs from the API's: `None` when both were not
/// available or they hold the same kids.
pub(crate) fn rotation(ctx: &Context) -> Option<String> {
    let api = ctx.api_keys.as_ref()?;
    let live = ctx.live_keys.ok()?;
    if api.origin == live.origin {
        return None;
    }
    let api_kids = api.set.kids();
    let live_kids = live.set.kids();
    let new: Vec<&String> = live_kids.iter().filter(|k| !api_kids.contains(k)).collect();
    let gone: Vec<&String> = api_kids.iter().filter(|k| !live_kids.contains(k)).collect();
    if new.is_empty() && gone.is_empty() {
        return None;
    }
    Some(format!(
        "the issuer's live set differs from the API's: published now but not held by the API {new:?}; held by the API but no longer published {gone:?}"
    ))
}

/// The network fetches made for the context (files are not fetches).
pub(crate) fn fetches(ctx: &Context) -> Vec<FetchView> {
    let is_url = |s: &str| {
        let l = s.to_ascii_lowercase();
        l.starts_with("https://") || l.starts_with("http://")
    };
    let mut out: Vec<FetchView> = Vec::new();
    let mut push = |what, url: &str, outcome: String| {
        if is_url(url) && !out.iter().any(|f| f.url == url && f.what == what) {
            out.push(FetchView {
                what,
                url: url.to_string(),
                outcome,
            });
        }
    };
    if let Some(src) = &ctx.api_keys {
        push("api_keys", &src.origin, "ok".into());
    }
    match &ctx.discovery {
        Fetched::Ok(d) => push("discovery", &d.url, "ok".into()),
        Fetched::Failed { url, error } => push("discovery", url, error.clone()),
        _ => {}
    }
    match &ctx.live_keys {
        Fetched::Ok(src) => push("live_keys", &src.origin, "ok".into()),
        Fetched::Failed { url, error } => push("live_keys", url, error.clone()),
        _ => {}
    }
    if let Some((_, src)) = &ctx.app_keys {
        push("app_keys", &src.origin, "ok".into());
    }
    out
}

/// What each member present in `members` means (see [`meaning`]).
pub(crate) fn meanings(
    members: Option<&Map<String, Value>>,
    header: bool,
) -> BTreeMap<String, String> {
    members
        .into_iter()
        .flat_map(|m| m.keys())
        .filter_map(|name| Some((name.clone(), meaning(name, header)?.to_string())))
        .collect()
}

/// What a header member (`header`) or a claim means, when it is a registered one or one of
/// the major providers' own.
///
/// ```
/// use tollgate::doctor::view::meaning;
/// assert!(meaning("tid", false).unwrap().contains("tenant"));
/// assert!(meaning("kid", true).unwrap().contains("key"));
/// assert_eq!(meaning("x-custom", false), None);
/// ```
pub fn meaning(name: &str, header: bool) -> Option<&'static str> {
    let table: &[(&str, &str)] = if header {
        HEADER_MEANINGS
    } else {
        CLAIM_MEANINGS
    };
    table.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
}

const HEADER_MEANINGS: &[(&str, &str)] = &[
    (
        "alg",
        "Signature algorithm (RFC 7515): the API must allow it and hold a key of its family.",
    ),
    (
        "kid",
        "Key id: which key of the issuer's JWKS signed the token.",
    ),
    (
        "typ",
        "Token type: at+jwt for RFC 9068 access tokens; JWT or absent otherwise.",
    ),
    (
        "cty",
        "Content type: JWT when the payload is itself a token (nested).",
    ),
    (
        "x5t",
        "SHA-1 thumbprint of the signing certificate (Entra also sends it as kid).",
    ),
    ("x5t#S256", "SHA-256 thumbprint of the signing certificate."),
    (
        "jku",
        "A key set URL named by the token: never fetched (the API's own keys decide).",
    ),
    (
        "x5u",
        "A certificate URL named by the token: never fetched.",
    ),
    (
        "jwk",
        "A key embedded in the token: never trusted (anyone can embed one).",
    ),
    (
        "crit",
        "Extensions the verifier must understand, or reject the token.",
    ),
    (
        "enc",
        "Content encryption (JWE): the token is encrypted, not only signed.",
    ),
    (
        "nonce",
        "Entra Graph tokens carry a nonce in the header: only Graph can verify them.",
    ),
];

const CLAIM_MEANINGS: &[(&str, &str)] = &[
    ("iss", "Issuer: who made the token; must equal a configured issuer exactly."),
    ("sub", "Subject: the user or client the token is about."),
    ("aud", "Audience: the API(s) the token is for; one must equal a configured audience."),
    ("exp", "Expires at (Unix seconds): refused after exp + leeway."),
    ("nbf", "Not before (Unix seconds): refused before nbf - leeway."),
    ("iat", "Issued at (Unix seconds)."),
    ("jti", "Token id: unique per token (replay detection)."),
    ("scope", "Granted scopes, space-separated (RFC 8693 / RFC 9068; Okta, Auth0, Keycloak, Cognito)."),
    ("client_id", "The OAuth client the token was issued to (RFC 9068; Cognito access tokens carry it instead of aud)."),
    ("azp", "Authorized party: the client that asked for the token (Entra v2, Auth0, Keycloak)."),
    ("auth_time", "When the user authenticated (Unix seconds)."),
    ("nonce", "Replay protection of an ID token: its presence says this is an ID token, not an access token."),
    ("at_hash", "Hash of the access token: found in ID tokens."),
    ("c_hash", "Hash of the authorization code: found in ID tokens."),
    ("acr", "Authentication context class: how strongly the user authenticated."),
    ("amr", "Authentication methods used (pwd, mfa, ...)."),
    ("name", "The user's display name."),
    ("email", "The user's email address."),
    ("preferred_username", "The user's login name (Entra, Keycloak)."),
    ("gty", "Auth0 grant type (client-credentials, refresh_token, ...)."),
    ("tid", "Entra: the tenant (directory) id that issued the token; another tenant means another issuer."),
    ("oid", "Entra: the object id of the user or service principal, stable across applications."),
    ("scp", "Entra / Okta: delegated scopes granted to the client (space-separated in Entra, a list in Okta)."),
    ("roles", "Entra: application roles granted (app permissions for client-credentials tokens)."),
    ("ver", "Entra / Okta: token version; Entra 1.0 tokens come from sts.windows.net, 2.0 from login.microsoftonline.com/.../v2.0."),
    ("appid", "Entra v1: the client application id (v2 uses azp)."),
    ("appidacr", "Entra v1: how the client authenticated (0 public, 1 secret, 2 certificate)."),
    ("azpacr", "Entra v2: how the client authenticated (0 public, 1 secret, 2 certificate)."),
    ("idp", "Entra / Cognito: the identity provider that authenticated the subject."),
    ("upn", "Entra: the user principal name."),
    ("cid", "Okta: the client id the token was issued to."),
    ("uid", "Okta: the user's Okta id."),
    ("permissions", "Auth0: the API permissions granted (RBAC with 'Add Permissions in the Access Token')."),
    ("token_use", "Cognito: access or id; an API accepts access tokens."),
    ("username", "Cognito: the user's name in the user pool."),
    ("cognito:groups", "Cognito: the user pool groups of the user."),
    ("realm_access", "Keycloak: the realm roles of the user (realm_access.roles)."),
    ("resource_access", "Keycloak: the client roles of the user, per client."),
    ("typ", "Keycloak: Bearer for access tokens, ID for ID tokens, Refresh for refresh tokens."),
    ("sid", "Session id at the identity provider."),
    ("tfp", "Azure AD B2C: the user flow (policy) that issued the token."),
    ("cnf", "Confirmation: the key the token is bound to (DPoP jkt, mTLS x5t#S256)."),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_never_carry_the_signature_and_are_bounded() {
        let p = parts("aGVhZA.cGF5bG9hZA.U0lHTkFUVVJF");
        assert_eq!(
            p.iter().map(|p| p.name).collect::<Vec<_>>(),
            ["header", "payload", "signature"]
        );
        assert_eq!(p[2].text, None);
        assert_eq!(p[2].chars, 12);
        assert_eq!(p[0].text.as_deref(), Some("aGVhZA"));
        // JWE: only the protected header is shown.
        let jwe = parts("h.k.iv.ct.tag");
        assert_eq!(jwe[3].name, "ciphertext");
        assert!(jwe.iter().skip(1).all(|p| p.text.is_none()));
        // Any other count: generic names, none shown, at most eight.
        let many = parts(&"x.".repeat(100));
        assert_eq!(many.len(), 8);
        assert!(many
            .iter()
            .all(|p| p.text.is_none() && p.name.starts_with("part ")));
        // A huge header is cut.
        let huge = format!("{}.p.s", "h".repeat(MAX_PART_TEXT * 2));
        let h = &parts(&huge)[0];
        assert_eq!(h.chars, MAX_PART_TEXT * 2);
        assert_eq!(h.text.as_ref().unwrap().len(), MAX_PART_TEXT);
        assert_eq!(parts("").len(), 1);
    }

    #[test]
    fn meanings_cover_the_providers_claims() {
        for claim in [
            "iss",
            "sub",
            "aud",
            "exp",
            "nbf",
            "iat",
            "jti",
            "tid",
            "oid",
            "scp",
            "roles",
            "ver",
            "azp",
            "appid",
            "cid",
            "uid",
            "permissions",
            "token_use",
            "client_id",
            "realm_access",
        ] {
            assert!(meaning(claim, false).is_some(), "{claim}");
        }
        assert_eq!(meaning("tid", true), None);
        let claims = serde_json::json!({"tid": "t", "custom": 1});
        let m = meanings(claims.as_object(), false);
        assert_eq!(m.len(), 1);
        assert!(m["tid"].contains("Entra"));
    }
}
