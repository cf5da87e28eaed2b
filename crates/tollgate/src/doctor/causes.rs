//! The causes the doctor recognises, as a table: each has a stable id, a title, and a rule
//! that looks at the facts gathered about the token and, when it applies, returns the
//! evidence and the fix. The table order is the ranking: earlier causes explain later
//! symptoms (a token from another issuer also has an unknown kid; a Graph token also fails
//! its signature), so the first cause that applies is the most likely one, and a cause's
//! `supersedes` list drops the symptoms it explains.
//!
//! Fixes are phrased generically here and replaced by the provider's own phrasing when the
//! provider table ([`super::providers`]) has a template for the cause.

use std::collections::BTreeMap;

use super::checks::{id_token_signals, quote_list, MAX_PLAUSIBLE_SECONDS};
use super::facts::Facts;
use super::providers::{self, ProviderId, Recognised};
use super::time;
use super::token::Shape;
use super::Cause;
use crate::alg::Algorithm;
use crate::claims::issuer::{self, url_parts};
use crate::error::vocabulary;
use crate::error::ValidationError;
use crate::text::capitalise;

vocabulary! {
    /// The id of each cause the doctor knows: a stable, logged string (`as_str`). The
    /// declaration order is the ranking of [`CAUSES`].
    pub enum CauseId {
        /// The token is encrypted (JWE); an API validates signed tokens.
        EncryptedToken = "encrypted_token",
        /// The token is not a JWT at all (an opaque or reference token).
        OpaqueToken = "opaque_token",
        /// The token is damaged: truncated, joined or re-encoded.
        MalformedToken = "malformed_token",
        /// The token is unsigned (alg none).
        UnsignedToken = "unsigned_token",
        /// A refresh token was sent instead of the access token.
        RefreshTokenAsAccessToken = "refresh_token_as_access_token",
        /// An Okta org authorization server access token, which only Okta can validate.
        OktaOrgAuthorizationServer = "okta_org_authorization_server",
        /// A Microsoft Graph token: not meant for this API.
        AzureGraphToken = "azure_graph_token",
        /// A Firebase custom token, session cookie or Google token sent to a Firebase ID token verifier.
        FirebaseWrongToken = "firebase_wrong_token",
        /// An ID token was sent instead of an access token.
        IdTokenAsAccessToken = "id_token_as_access_token",
        /// A Cognito access token: it carries client_id, never aud.
        CognitoAccessTokenNoAud = "cognito_access_token_no_aud",
        /// The discovery document names another issuer than the one configured.
        DiscoveryIssuerMismatch = "discovery_issuer_mismatch",
        /// The API is configured with Entra's `common`/`organizations`/`consumers` as a
        /// literal issuer, which no token ever carries.
        EntraCommonIssuer = "entra_common_issuer",
        /// The key that verified the token is published for another issuer (a
        /// personal-account key for an organisation's token).
        KeyIssuerMismatch = "key_issuer_mismatch",
        /// A personal Microsoft account's token sent to an API for work and school accounts.
        PersonalAccountToOrganizationsApi = "personal_account_to_organizations_api",
        /// The token's tenant is not one the API accepts.
        TenantNotAllowed = "tenant_not_allowed",
        /// The token's iss is a tenant of a `{tenantid}` template but it has no tid.
        TenantMissing = "tenant_missing",
        /// An Entra ID v1.0 token where v2.0 is expected, or the reverse.
        AzureV1V2Mismatch = "azure_v1_v2_mismatch",
        /// An Azure AD B2C token from another user flow/policy than the configured metadata.
        B2cPolicyMismatch = "b2c_policy_mismatch",
        /// The same issuer path on another host (internal vs public name).
        IssuerHostMismatch = "issuer_host_mismatch",
        /// The issuer differs only by a trailing slash, scheme, case or whitespace.
        IssuerNearMiss = "issuer_near_miss",
        /// The token comes from another issuer (tenant, environment, realm).
        TokenFromOtherIssuer = "token_from_other_issuer",
        /// The discovery document could not be fetched.
        DiscoveryUnreachable = "discovery_unreachable",
        /// The JWKS could not be fetched.
        JwksUnreachable = "jwks_unreachable",
        /// The key set has no usable signing key.
        JwksNoUsableKeys = "jwks_no_usable_keys",
        /// An HS* (shared-secret) token where the API expects public-key signatures.
        SymmetricToken = "symmetric_token",
        /// The token's algorithm is not in the API's allow-list.
        AlgorithmNotAllowed = "algorithm_not_allowed",
        /// Signed with an Entra application-specific key (keys?appid=).
        EntraAppSpecificKeys = "entra_app_specific_keys",
        /// The issuer rotated its keys; the API holds an old key set.
        KeysRotated = "keys_rotated",
        /// The token's kid is in no key the issuer publishes.
        KidUnknownToIssuer = "kid_unknown_to_issuer",
        /// The HMAC secret differs between issuer and API.
        HmacSecretMismatch = "hmac_secret_mismatch",
        /// The key was found but the signature does not verify.
        SignatureMismatch = "signature_mismatch",
        /// Exp/nbf/iat are in milliseconds instead of seconds.
        TimeClaimsInMilliseconds = "time_claims_in_milliseconds",
        /// The token has expired.
        TokenExpired = "token_expired",
        /// The issuer's and the API's clocks disagree.
        ClockSkew = "clock_skew",
        /// A Keycloak token without the API's audience (no audience mapper).
        KeycloakMissingAudience = "keycloak_missing_audience",
        /// The audience differs only by api://, a trailing slash, case or whitespace.
        AudienceNearMiss = "audience_near_miss",
        /// The token was issued for another API.
        AudienceOtherApi = "audience_other_api",
        /// The token's typ header is not accepted.
        TypNotAccepted = "typ_not_accepted",
        /// A DPoP-bound token came without a DPoP proof.
        DpopProofMissing = "dpop_proof_missing",
        /// A DPoP-bound token was sent as a plain Bearer token.
        DpopBoundTokenAsBearer = "dpop_bound_token_as_bearer",
        /// The proof names the URL the client used; a proxy changed scheme, host or port.
        DpopUrlRewrittenByProxy = "dpop_url_rewritten_by_proxy",
        /// The proof was made for another URL (path).
        DpopProofForOtherUrl = "dpop_proof_for_other_url",
        /// The proof was made for another HTTP method.
        DpopProofForOtherMethod = "dpop_proof_for_other_method",
        /// The proof was made for another access token (ath).
        DpopProofForOtherToken = "dpop_proof_for_other_token",
        /// The proof key is not the key the token is bound to (cnf.jkt).
        DpopKeyMismatch = "dpop_key_mismatch",
        /// The proof's iat is outside the window: an old proof or a clock difference.
        DpopProofClock = "dpop_proof_clock",
        /// The proof was already used (a replay, or a client reusing proofs).
        DpopProofReplayed = "dpop_proof_replayed",
        /// The proof itself is not acceptable (typ, alg, jwk, claims).
        DpopProofInvalid = "dpop_proof_invalid",
    }
}

/// One cause the doctor knows.
pub struct CauseSpec {
    /// Stable id.
    pub id: CauseId,
    /// What it means, one line (for docs and `--help`).
    pub title: &'static str,
    /// Causes this one explains: when it applies, they are not listed (a Graph token also
    /// fails its signature; a token from another issuer also has an unknown kid).
    pub supersedes: &'static [CauseId],
    rule: fn(&Facts<'_>) -> Option<Found>,
}

impl std::fmt::Debug for CauseSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CauseSpec").field("id", &self.id).finish()
    }
}

/// What a rule found.
pub(crate) struct Found {
    summary: String,
    evidence: String,
    fix: String,
    vars: Vec<(&'static str, String)>,
}

fn found(
    summary: impl Into<String>,
    evidence: impl Into<String>,
    fix: impl Into<String>,
) -> Option<Found> {
    Some(Found {
        summary: summary.into(),
        evidence: evidence.into(),
        fix: fix.into(),
        vars: Vec::new(),
    })
}

impl Found {
    fn var(mut self, name: &'static str, value: impl Into<String>) -> Found {
        self.vars.push((name, value.into()));
        self
    }
}

macro_rules! cause {
    ($id:ident, $title:literal, $rule:expr) => {
        cause!($id, $title, $rule, [])
    };
    ($id:ident, $title:literal, $rule:expr, [$($sup:ident),*]) => {
        CauseSpec {
            id: CauseId::$id,
            title: $title,
            supersedes: &[$(CauseId::$sup),*],
            rule: $rule,
        }
    };
}

/// Every cause, most fundamental first (this order is the ranking).
pub const CAUSES: &[CauseSpec] = &[
    cause!(EncryptedToken, "the token is encrypted (JWE); an API validates signed tokens", encrypted_token),
    cause!(OpaqueToken, "the token is not a JWT at all (an opaque or reference token)", opaque_token),
    cause!(MalformedToken, "the token is damaged: truncated, joined or re-encoded", malformed_token),
    cause!(UnsignedToken, "the token is unsigned (alg none)", unsigned_token),
    cause!(RefreshTokenAsAccessToken, "a refresh token was sent instead of the access token", refresh_token, [SymmetricToken, KidUnknownToIssuer, AudienceOtherApi, HmacSecretMismatch, AlgorithmNotAllowed]),
    cause!(OktaOrgAuthorizationServer, "an Okta org authorization server access token, which only Okta can validate", okta_org, [TokenFromOtherIssuer, KidUnknownToIssuer, AudienceOtherApi, TypNotAccepted]),
    cause!(AzureGraphToken, "a Microsoft Graph token: not meant for this API", azure_graph_token, [SignatureMismatch, AudienceOtherApi, TokenFromOtherIssuer]),
    cause!(FirebaseWrongToken, "a Firebase custom token, session cookie or Google token sent to a Firebase ID token verifier", firebase_wrong_token, [TokenFromOtherIssuer, KidUnknownToIssuer, AudienceOtherApi, SymmetricToken]),
    cause!(IdTokenAsAccessToken, "an ID token was sent instead of an access token", id_token, [AudienceOtherApi, TypNotAccepted]),
    cause!(CognitoAccessTokenNoAud, "a Cognito access token: it carries client_id, never aud", cognito_no_aud, [AudienceOtherApi]),
    cause!(DiscoveryIssuerMismatch, "the discovery document names another issuer than the one configured", discovery_issuer_mismatch, [TokenFromOtherIssuer, IssuerNearMiss, EntraCommonIssuer]),
    cause!(EntraCommonIssuer, "the API is configured with Entra's common/organizations/consumers as a literal issuer, which no token carries", entra_common_issuer, [TokenFromOtherIssuer, AzureV1V2Mismatch, IssuerHostMismatch, KidUnknownToIssuer, PersonalAccountToOrganizationsApi]),
    cause!(KeyIssuerMismatch, "the key that verified the token is published for another issuer (a personal-account key for an organisation's token)", key_issuer_mismatch),
    cause!(PersonalAccountToOrganizationsApi, "a personal Microsoft account's token sent to an API for work and school accounts", personal_account_to_organizations_api, [TenantNotAllowed, TokenFromOtherIssuer]),
    cause!(TenantNotAllowed, "the token's tenant is not one the API accepts", tenant_not_allowed),
    cause!(TenantMissing, "the token's iss is a tenant of a {tenantid} template but it has no tid", tenant_missing),
    cause!(AzureV1V2Mismatch, "an Entra ID v1.0 token where v2.0 is expected, or the reverse", azure_v1_v2, [TokenFromOtherIssuer, AudienceOtherApi]),
    cause!(B2cPolicyMismatch, "an Azure AD B2C token from another user flow/policy than the configured metadata", b2c_policy_mismatch, [KidUnknownToIssuer]),
    cause!(IssuerHostMismatch, "the same issuer path on another host (internal vs public name)", issuer_host_mismatch, [TokenFromOtherIssuer]),
    cause!(IssuerNearMiss, "the issuer differs only by a trailing slash, scheme, case or whitespace", issuer_near_miss),
    cause!(TokenFromOtherIssuer, "the token comes from another issuer (tenant, environment, realm)", token_from_other_issuer, [KidUnknownToIssuer, SignatureMismatch]),
    cause!(DiscoveryUnreachable, "the discovery document could not be fetched", discovery_unreachable, [JwksUnreachable]),
    cause!(JwksUnreachable, "the JWKS could not be fetched", jwks_unreachable),
    cause!(JwksNoUsableKeys, "the key set has no usable signing key", jwks_no_usable_keys),
    cause!(SymmetricToken, "an HS* (shared-secret) token where the API expects public-key signatures", symmetric_token),
    cause!(AlgorithmNotAllowed, "the token's algorithm is not in the API's allow-list", algorithm_not_allowed),
    cause!(EntraAppSpecificKeys, "signed with an Entra application-specific key (keys?appid=)", entra_app_specific_keys, [KidUnknownToIssuer]),
    cause!(KeysRotated, "the issuer rotated its keys; the API holds an old key set", keys_rotated),
    cause!(KidUnknownToIssuer, "the token's kid is in no key the issuer publishes", kid_unknown_to_issuer),
    cause!(HmacSecretMismatch, "the HMAC secret differs between issuer and API", hmac_secret_mismatch),
    cause!(SignatureMismatch, "the key was found but the signature does not verify", signature_mismatch),
    cause!(TimeClaimsInMilliseconds, "exp/nbf/iat are in milliseconds instead of seconds", time_claims_in_ms, [TokenExpired, ClockSkew]),
    cause!(TokenExpired, "the token has expired", token_expired),
    cause!(ClockSkew, "the issuer's and the API's clocks disagree", clock_skew),
    cause!(KeycloakMissingAudience, "a Keycloak token without the API's audience (no audience mapper)", keycloak_missing_audience, [AudienceOtherApi]),
    cause!(AudienceNearMiss, "the audience differs only by api://, a trailing slash, case or whitespace", audience_near_miss, [AudienceOtherApi]),
    cause!(AudienceOtherApi, "the token was issued for another API", audience_other_api),
    cause!(TypNotAccepted, "the token's typ header is not accepted", typ_not_accepted),
    cause!(DpopProofMissing, "a DPoP-bound token came without a DPoP proof", |f| dpop(f, CauseId::DpopProofMissing)),
    cause!(DpopBoundTokenAsBearer, "a DPoP-bound token was sent as a plain Bearer token", |f| dpop(f, CauseId::DpopBoundTokenAsBearer)),
    cause!(DpopUrlRewrittenByProxy, "the proof names the URL the client used; a proxy changed scheme, host or port", |f| dpop(f, CauseId::DpopUrlRewrittenByProxy), [DpopProofForOtherUrl]),
    cause!(DpopProofForOtherUrl, "the proof was made for another URL", |f| dpop(f, CauseId::DpopProofForOtherUrl)),
    cause!(DpopProofForOtherMethod, "the proof was made for another HTTP method", |f| dpop(f, CauseId::DpopProofForOtherMethod)),
    cause!(DpopProofForOtherToken, "the proof was made for another access token (ath)", |f| dpop(f, CauseId::DpopProofForOtherToken)),
    cause!(DpopKeyMismatch, "the proof key is not the key the token is bound to (cnf.jkt)", |f| dpop(f, CauseId::DpopKeyMismatch)),
    cause!(DpopProofClock, "the proof's iat is outside the window: an old proof or a clock difference", |f| dpop(f, CauseId::DpopProofClock)),
    cause!(DpopProofReplayed, "the proof was already used (a replay, or a client reusing proofs)", |f| dpop(f, CauseId::DpopProofReplayed)),
    cause!(DpopProofInvalid, "the proof itself is not acceptable (typ, alg, jwk, claims)", |f| dpop(f, CauseId::DpopProofInvalid)),
];

/// Finds the causes that apply, most likely first. When no rule applies to a failure, the
/// failure's own code, message and fix are returned.
pub(crate) fn find(f: &Facts<'_>) -> Vec<Cause> {
    let mut out = Vec::new();
    let mut superseded: Vec<CauseId> = Vec::new();
    for spec in CAUSES {
        if superseded.contains(&spec.id) {
            continue;
        }
        if let Some(found) = (spec.rule)(f) {
            out.push(finish(f, spec.id, found));
            superseded.extend(spec.supersedes);
        }
    }
    if out.is_empty() {
        if let Err(e) = &f.core {
            out.push(Cause {
                id: e.code(),
                summary: format!("{}.", capitalise(&e.to_string())),
                evidence: e.details().to_string(),
                fix: format!("{}.", capitalise(e.fix())),
            });
        }
    }
    out
}

fn base_vars(f: &Facts<'_>) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v {
            vars.insert(k.to_string(), v.to_string());
        }
    };
    put("found_iss", f.iss.as_deref());
    put("expected_iss", f.expected_iss());
    put("aud", f.auds.first().map(String::as_str));
    put(
        "expected_aud",
        f.settings.policy.audiences.first().map(String::as_str),
    );
    put("kid", f.kid.as_deref());
    put("alg", f.alg.as_deref());
    put("typ", f.typ.as_deref());
    put("client_id", client_id(f));
    if let Some(p) = &f.token_provider {
        for (k, v) in &p.captures {
            vars.insert(format!("found_{k}"), v.clone());
        }
    }
    if let Some(p) = &f.configured_provider {
        for (k, v) in &p.captures {
            vars.insert(format!("expected_{k}"), v.clone());
        }
    }
    vars
}

fn finish(f: &Facts<'_>, id: CauseId, found: Found) -> Cause {
    let mut vars = base_vars(f);
    for (k, v) in &found.vars {
        vars.insert(k.to_string(), v.clone());
    }
    let mut fix = found.fix;
    let providers: [Option<&Recognised>; 2] =
        [f.token_provider.as_ref(), f.configured_provider.as_ref()];
    'outer: for p in providers.into_iter().flatten() {
        for (cause, template) in p.spec.fixes {
            if *cause == id {
                if let Some(text) = p.fill(template, &vars) {
                    fix = text;
                    break 'outer;
                }
            }
        }
    }
    Cause {
        id: id.as_str(),
        summary: found.summary,
        evidence: found.evidence,
        fix,
    }
}

fn client_id<'f>(f: &'f Facts<'_>) -> Option<&'f str> {
    ["client_id", "azp", "appid", "cid"]
        .iter()
        .find_map(|c| f.claim_str(c))
}

// ---- the shape of the token -------------------------------------------------------------

/// `Some` when the token has this shape: the guard of the rules about the token's shape.
/// The token has this shape, and was not judged by introspection (an opaque token the
/// issuer's introspection refused is not "not a JWT": the answer is the cause).
fn shape(f: &Facts<'_>, shape: Shape) -> Option<()> {
    let introspected = matches!(
        f.core,
        Err(ValidationError::TokenInactive { .. }
            | ValidationError::IntrospectionUnavailable { .. }
            | ValidationError::IntrospectionMalformed { .. })
    );
    (f.insp.shape == shape && !introspected).then_some(())
}

fn encrypted_token(f: &Facts<'_>) -> Option<Found> {
    shape(f, Shape::Jwe)?;
    let alg = f.insp.header_str("alg").unwrap_or("?");
    let enc = f.insp.header_str("enc").unwrap_or("?");
    let mut evidence = format!("5 segments; the JWE header has alg \"{alg}\" and enc \"{enc}\"");
    if let Some(iss) = &f.iss {
        evidence.push_str(&format!(" and iss \"{iss}\""));
    }
    let mut fix = String::from(
        "Turn off token encryption for this API at the identity provider, or decrypt the token before validating it where it is meant to be read.",
    );
    if alg == "dir" {
        evidence.push_str(" (direct encryption with a key only the identity provider holds)");
        fix = providers::DIRECT_JWE_FIX.into();
    }
    found(
        "The token is encrypted (JWE); an API can only validate signed tokens (JWS).",
        evidence,
        fix,
    )
}

fn opaque_token(f: &Facts<'_>) -> Option<Found> {
    shape(f, Shape::Opaque)?;
    let prefix = if f.insp.len > 0 {
        format!("{} characters", f.insp.len)
    } else {
        "the value".into()
    };
    let (evidence, fix) = match f.from_error {
        false => match f.insp.known_format {
            Some((p, who, why)) => (
                format!("{prefix} starting with \"{p}\": a {who} token, not a JWT"),
                format!("{}.", capitalise(why)),
            ),
            None => (
                format!("{prefix} with no JWT structure ({})", f.insp.problem.as_deref().unwrap_or("no '.'")),
                "Request a JWT access token for this API: set the audience/resource/scope of this API when asking for the token (Auth0 issues an opaque token, only good for /userinfo, when no audience is requested; Okta, Entra and Auth0 refresh tokens, Google ya29. access tokens and IdentityServer reference tokens are opaque too), or validate it by introspection (RFC 7662) at its issuer.".to_string(),
            ),
        },
        true => (
            format!("{prefix} has no JWT structure"),
            "Request a JWT access token for this API (set its audience/resource/scope), or validate opaque tokens by introspection at their issuer.".to_string(),
        ),
    };
    let fix = format!("{fix} {}", introspection_fix(f, false));
    found(
        "The token is not a JWT: it is an opaque (reference) token that only its issuer can read.",
        evidence,
        fix,
    )
}

/// The configuration that validates the configured issuer's opaque tokens by token
/// introspection (RFC 7662), with the endpoint of the recognised provider; or why the
/// provider has none. `jwts`: the tokens are JWTs only the issuer can check (Okta org
/// authorization server), so `introspect_jwts` is needed too.
fn introspection_fix(f: &Facts<'_>, jwts: bool) -> String {
    let issuer = f
        .settings
        .policy
        .issuers
        .first()
        .map(String::as_str)
        .or(f.iss.as_deref())
        .unwrap_or("");
    let base = issuer.trim_end_matches('/');
    let provider = f
        .configured_provider_id()
        .filter(|p| *p != ProviderId::Generic)
        .or(f.token_provider_id());
    let endpoint = match provider {
        Some(ProviderId::OktaOrg) => Some(format!("{base}/oauth2/v1/introspect")),
        Some(ProviderId::OktaCustom) => Some(format!("{base}/v1/introspect")),
        Some(ProviderId::Keycloak) => {
            Some(format!("{base}/protocol/openid-connect/token/introspect"))
        }
        Some(ProviderId::Auth0) => {
            return "Auth0 has no introspection endpoint for its opaque access tokens (they are only good for /userinfo): request a JWT by giving this API's audience.".into()
        }
        Some(p) if p.is_entra() || p == ProviderId::AzureB2c => {
            return "Microsoft Entra ID has no introspection endpoint: a token your API cannot read is meant for Microsoft Graph; request one for this API's scope (api://<app id>/.default).".into()
        }
        Some(ProviderId::Google) => {
            return "Google access tokens (ya29.) have no RFC 7662 introspection; use ID tokens or Google's tokeninfo endpoint.".into()
        }
        _ => None,
    };
    let endpoint_line = match &endpoint {
        Some(url) => format!("endpoint = \"{url}\", "),
        None => String::new(),
    };
    let endpoint_note = match &endpoint {
        Some(_) => "",
        None => " (without `endpoint`, the discovery document's introspection_endpoint is used)",
    };
    let jwt_line = if jwts { ", introspect_jwts = true" } else { "" };
    format!(
        "To validate them by token introspection (RFC 7662) at the issuer, configure it: in tollgate serve, under this [[issuer]], [issuer.introspection] {endpoint_line}client_id = \"<this API's client id>\", client_secret_file = \"/etc/tollgate/introspection-secret\"{jwt_line}{endpoint_note}; with tollgate verify/doctor, --introspection-client-id ID --introspection-secret-file FILE{}{}.",
        endpoint
            .as_deref()
            .map(|u| format!(" --introspection-endpoint {u}"))
            .unwrap_or_default(),
        if jwts { " --introspect-jwts" } else { "" },
    )
}

fn malformed_token(f: &Facts<'_>) -> Option<Found> {
    shape(f, Shape::Malformed)?;
    found(
        "The token cannot be read as a JWT: the copy is damaged.",
        f.insp.problem.clone().unwrap_or_else(|| "it cannot be decoded".into()),
        "Send the whole token exactly as issued: one copy, not truncated, not URL-encoded or JSON-quoted twice, three base64url parts separated by dots.",
    )
}

fn unsigned_token(f: &Facts<'_>) -> Option<Found> {
    shape(f, Shape::Unsigned)?;
    let alg = f.alg.as_deref().unwrap_or("none");
    if f.token_provider_id() == Some(ProviderId::Firebase) {
        return found(
            "The token is unsigned: a Firebase Auth emulator token reached a verifier that checks signatures.",
            format!("alg \"{alg}\", iss \"{}\" (the Firebase emulator signs nothing)", f.iss.as_deref().unwrap_or("")),
            "In development, set FIREBASE_AUTH_EMULATOR_HOST on the backend so the Admin SDK accepts emulator tokens; never accept alg none in production.",
        );
    }
    found(
        "The token is unsigned (alg none): anyone could have written it.",
        format!("alg \"{alg}\", no signature"),
        "Configure the issuer to sign its tokens (RS256/ES256); a test issuer or library set to alg none produced this. Never accept alg none.",
    )
}

// ---- the wrong kind of token -------------------------------------------------------------

fn refresh_token(f: &Facts<'_>) -> Option<Found> {
    let typ = f.claim_str("typ")?;
    if !(typ.eq_ignore_ascii_case("refresh") || typ.eq_ignore_ascii_case("offline")) {
        return None;
    }
    let mut evidence = format!("the payload typ is \"{typ}\"");
    if f.token_provider_id() == Some(ProviderId::Keycloak) {
        evidence.push_str(" (a Keycloak refresh token)");
    }
    if f.is_hmac() {
        evidence.push_str(&format!(
            ", signed with {} and kid {} (the realm's HMAC key, never published in the JWKS)",
            f.alg.as_deref().unwrap_or(""),
            f.kid
                .as_deref()
                .map(|k| format!("\"{k}\""))
                .unwrap_or_else(|| "(none)".into())
        ));
    }
    found(
        "A refresh token was sent instead of the access token.",
        evidence,
        "Send the access_token from the token response, not the refresh_token; the refresh token is only for the token endpoint (grant_type=refresh_token).",
    )
}

fn okta_org(f: &Facts<'_>) -> Option<Found> {
    let internal_typ = f
        .typ
        .as_deref()
        .is_some_and(|t| t.to_ascii_lowercase().contains("okta-internal"));
    let org = f.token_provider_id() == Some(ProviderId::OktaOrg);
    if !(org || internal_typ) || !id_token_signals(f).is_empty() {
        return None;
    }
    let iss = f.iss.as_deref().unwrap_or("");
    let mut evidence = Vec::new();
    if org {
        evidence.push(format!(
            "iss \"{iss}\" has no /oauth2/<server> path: it is the org authorization server"
        ));
    }
    if internal_typ {
        evidence.push(format!("header typ \"{}\"", f.typ.as_deref().unwrap_or("")));
    }
    if let (Some(kid), Some(set)) = (&f.kid, f.validation_set()) {
        if !set.has_kid {
            evidence.push(format!("kid \"{kid}\" is in no published key"));
        }
    }
    let base = iss.trim_end_matches('/');
    found(
        "This is an access token from the Okta org authorization server: it is meant for Okta's own APIs and your API cannot validate it.",
        evidence.join("; "),
        format!("Use a custom authorization server for your API: request tokens from {base}/oauth2/default (audience api://default) or your own server (Security > API > Authorization Servers), and set the API's issuer to that server (e.g. {base}/oauth2/default). Org server access tokens can only be checked by Okta (/oauth2/v1/userinfo, /oauth2/v1/introspect). {}", introspection_fix(f, true)),
    )
}

fn azure_graph_token(f: &Facts<'_>) -> Option<Found> {
    let graph_aud = f
        .auds
        .iter()
        .find(|a| providers::GRAPH_AUDIENCES.contains(&a.as_str()));
    let nonce = f.header_has("nonce");
    let entra = f.token_provider_id().is_some_and(ProviderId::is_entra);
    if graph_aud.is_none() && !(nonce && entra) {
        return None;
    }
    let mut evidence = Vec::new();
    if let Some(a) = graph_aud {
        let name = providers::FOREIGN_AUDIENCES
            .iter()
            .find(|(x, _)| x == a)
            .map_or("Microsoft Graph", |(_, n)| n);
        evidence.push(format!("aud \"{a}\" is {name}"));
    }
    if nonce {
        evidence.push("the header carries a nonce: Graph tokens are signed over a transformed nonce, so only Graph can verify them".into());
    }
    if let Some(scp) = f.claim_str("scp") {
        evidence.push(format!("scp \"{scp}\""));
    }
    found(
        "This is a Microsoft Graph access token: it is not meant for your API, and its signature cannot be verified outside Graph.",
        evidence.join("; "),
        "Expose an API on your API's app registration (Expose an API > Add a scope) and have the client request api://<your-api-client-id>/<scope> (or <api-client-id>/.default for app-only): call Graph with Graph tokens, and your API with its own.",
    )
}

fn firebase_wrong_token(f: &Facts<'_>) -> Option<Found> {
    let firebase_api = f.configured_provider_id() == Some(ProviderId::Firebase);
    if !firebase_api {
        return None;
    }
    let iss = f.iss.as_deref().unwrap_or("");
    let project = f
        .configured_provider
        .as_ref()
        .and_then(|p| p.get("project"))
        .unwrap_or("<project>")
        .to_string();
    let custom = f.token_provider_id() == Some(ProviderId::FirebaseCustom)
        || f.auds
            .iter()
            .any(|a| a.contains("identitytoolkit.googleapis.com"));
    if custom {
        return found(
            "A Firebase custom token was sent instead of a Firebase ID token.",
            format!(
                "iss \"{iss}\" is a service account and aud is Firebase's token exchange endpoint{}",
                if f.kid.is_none() { "; no kid" } else { "" }
            ),
            "Custom tokens are for the client only: it must call signInWithCustomToken(customToken), then send user.getIdToken() to the API.",
        );
    }
    if f.token_provider_id() == Some(ProviderId::FirebaseSession) {
        return found(
            "A Firebase session cookie was sent to an ID token verifier.",
            format!("iss \"{iss}\" is the session cookie issuer; session cookies are signed with other keys"),
            format!("Verify session cookies with verifySessionCookie() (issuer https://session.firebase.google.com/{project}, keys https://www.googleapis.com/identitytoolkit/v3/relyingparty/publicKeys), or send the ID token (user.getIdToken()) as the bearer token."),
        );
    }
    if f.token_provider_id() == Some(ProviderId::Google) {
        return found(
            "A Google ID token was sent instead of a Firebase ID token.",
            format!("iss \"{iss}\" and aud {} are Google's, not Firebase project {project}'s", quote_list(&f.auds)),
            "Send firebase.auth().currentUser.getIdToken(), not the Google credential's idToken; for service-to-service calls verify Google OIDC tokens against https://accounts.google.com instead of Firebase.",
        );
    }
    None
}

fn id_token(f: &Facts<'_>) -> Option<Found> {
    let signals = id_token_signals(f);
    if signals.is_empty() {
        return None;
    }
    let mut evidence = signals.join("; ");
    if let Some(aud) = f.auds.first() {
        if f.aud_mismatch() {
            evidence.push_str(&format!("; aud \"{aud}\" is the client application's id"));
        }
    }
    if f.claim("scp").is_none() && f.claim("scope").is_none() {
        evidence.push_str("; no scope");
    }
    found(
        "An ID token was sent instead of an access token: ID tokens are for the client application, not for APIs.",
        evidence,
        "Send the access token from the token response (access_token), requested for this API's audience/scope; accept ID tokens only if this API is itself the client and checks aud = its client id.",
    )
}

fn cognito_no_aud(f: &Facts<'_>) -> Option<Found> {
    if f.token_provider_id() != Some(ProviderId::Cognito)
        || f.claim_str("token_use") != Some("access")
        || !f.auds.is_empty()
    {
        return None;
    }
    if f.settings.policy.audiences.is_empty() {
        return None;
    }
    let cid = f.claim_str("client_id").unwrap_or("?");
    found(
        "A Cognito access token has no aud claim: Cognito puts the app client id in client_id instead.",
        format!(
            "token_use \"access\", client_id \"{cid}\", no aud; the API requires aud {}",
            quote_list(&f.settings.policy.audiences)
        ),
        format!("For this Cognito issuer, do not require aud: check client_id = \"{cid}\" and token_use = access instead (aws-jwt-verify: CognitoJwtVerifier.create({{ userPoolId, tokenUse: \"access\", clientId: \"{cid}\" }}); API Gateway JWT authorizers accept client_id as the audience)."),
    )
}

// ---- the issuer ---------------------------------------------------------------------------

fn discovery_issuer_mismatch(f: &Facts<'_>) -> Option<Found> {
    let d = f.discovery.as_ref()?;
    let doc = d.issuer.as_deref()?;
    let expected = f.expected_iss()?;
    if doc == expected {
        return None;
    }
    let evidence = format!("the discovery document at {} says issuer \"{doc}\"; the API is configured with \"{expected}\"", d.url);
    if doc.contains("{tenantid}") || doc.contains("{tenant}") {
        let tid = f.claim_str("tid").unwrap_or("<tenant id>");
        let v2 = doc.contains("/v2.0");
        let issuer = if v2 {
            format!("https://login.microsoftonline.com/{tid}/v2.0")
        } else {
            format!("https://sts.windows.net/{tid}/")
        };
        return found(
            "The configured discovery document is the multi-tenant (common/organizations) one: its issuer is a template, never a real token issuer.",
            format!("{evidence} (a template with {{tenantid}}); the token's tenant (tid) is {tid}"),
            format!("Use the tenant-specific authority: issuer \"{issuer}\" and its metadata https://login.microsoftonline.com/{tid}{}/.well-known/openid-configuration. For a multi-tenant API, configure the template itself as the issuer (\"{doc}\", keeping this discovery URL) with tenants = [\"{tid}\", ...]: Tollgate then checks iss against tid and the allowed tenants.", if v2 { "/v2.0" } else { "" }),
        );
    }
    found(
        "The discovery document names another issuer than the one the API is configured with.",
        evidence,
        format!("Set the API's issuer to exactly \"{doc}\" (the discovery document is authoritative and OIDC requires an exact match), or fix the discovery URL if it points at the wrong issuer."),
    )
}

// ---- multi-tenant issuers (Entra ID common / organizations) ------------------------------

/// Entra's personal Microsoft account tenant (the `consumers` tenant).
const PERSONAL_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// The multi-tenant template a configured Entra issuer stands for, when it is one: v2 or v1.
fn entra_template(issuer: &str) -> Option<&'static str> {
    if issuer.starts_with("https://sts.windows.net/") {
        Some("https://sts.windows.net/{tenantid}/")
    } else if issuer.ends_with("/v2.0") {
        Some("https://login.microsoftonline.com/{tenantid}/v2.0")
    } else {
        None
    }
}

fn entra_common_issuer(f: &Facts<'_>) -> Option<Found> {
    if !f.iss_mismatch() {
        return None;
    }
    let (configured, endpoint) = f.settings.policy.issuers.iter().find_map(|i| {
        let p = url_parts(i)?;
        if !p.host.eq_ignore_ascii_case("login.microsoftonline.com") {
            return None;
        }
        let first = p.path.trim_start_matches('/').split('/').next()?;
        ["common", "organizations", "consumers"]
            .into_iter()
            .find(|e| first.eq_ignore_ascii_case(e))
            .map(|e| (i, e))
    })?;
    let template =
        entra_template(configured).unwrap_or("https://login.microsoftonline.com/{tenantid}/v2.0");
    let tid = f.claim_str("tid").unwrap_or("<tenant id>");
    let evidence = match f.iss.as_deref() {
        Some(iss) => format!("the API accepts issuer \"{configured}\"; the token's iss is \"{iss}\" (tid {tid}). \"{endpoint}\" is a sign-in endpoint, not a tenant: Entra always puts the signing tenant in iss"),
        None => format!("the API accepts issuer \"{configured}\"; \"{endpoint}\" is a sign-in endpoint, not a tenant, and never appears in a token's iss"),
    };
    let accounts = if endpoint == "consumers" {
        "personal Microsoft accounts".to_string()
    } else {
        format!("the tenants you serve (tenants = [\"{tid}\", ...]; the token's tid is {tid})")
    };
    found(
        format!("The API is configured with Entra's \"{endpoint}\" endpoint as its issuer; no token ever carries that issuer."),
        evidence,
        format!("For a multi-tenant API, configure the issuer template \"{template}\" with discovery_url \"https://login.microsoftonline.com/{endpoint}/v2.0/.well-known/openid-configuration\" and restrict it to {accounts}. For a single-tenant API, use the tenant's own issuer \"{}\".", template.replace("{tenantid}", tid)),
    )
}

fn key_issuer_mismatch(f: &Facts<'_>) -> Option<Found> {
    let Err(ValidationError::KeyIssuerMismatch {
        kid,
        key_issuer,
        found: iss,
    }) = &f.core
    else {
        return None;
    };
    let iss = iss.as_deref().unwrap_or("(absent)");
    let kid = kid.as_deref().unwrap_or("(none)");
    let personal = key_issuer.contains(PERSONAL_TENANT);
    let summary = if personal {
        "The token claims an organisation's issuer but was signed with a personal-account (consumers) key: a forged or misrouted token."
    } else {
        "The key that verified the token is published for another issuer than the token's iss."
    };
    found(
        summary,
        format!("key {kid} is published with issuer \"{key_issuer}\"; the token's iss is \"{iss}\" (tid {})", f.claim_str("tid").unwrap_or("absent")),
        "Keep refusing it: Entra publishes the personal-account keys and the organisation keys in one common key set, and only the key's issuer tells them apart. If the token is genuine, the client signed in at the wrong authority: use https://login.microsoftonline.com/<tenant-id> or https://login.microsoftonline.com/organizations, not /consumers.",
    )
}

fn personal_account_to_organizations_api(f: &Facts<'_>) -> Option<Found> {
    if f.claim_str("tid") != Some(PERSONAL_TENANT) {
        return None;
    }
    let refused =
        matches!(f.core, Err(ValidationError::TenantNotAllowed { .. })) || f.iss_mismatch();
    if !refused {
        return None;
    }
    found(
        "A personal Microsoft account's token was sent to an API that accepts work and school accounts only.",
        format!("the token's tid is {PERSONAL_TENANT}, Entra's tenant of personal Microsoft accounts (outlook.com, hotmail.com, live.com); the API accepts {}", accepted_tenants(f)),
        "If the API is for organisations only, set the app registration's supported account types to \"Accounts in any organizational directory\" (signInAudience AzureADMultipleOrgs) and have clients sign in at https://login.microsoftonline.com/organizations. To serve personal accounts too, add tenant 9188040d-6c67-4c5b-b112-36a304b66dad to tenants (and use the common endpoint).",
    )
}

fn accepted_tenants(f: &Facts<'_>) -> String {
    let tenants = &f.settings.policy.tenants;
    if tenants.is_empty() {
        format!("issuer {}", quote_list(&f.settings.policy.issuers))
    } else {
        format!("tenants {}", quote_list(tenants))
    }
}

fn tenant_not_allowed(f: &Facts<'_>) -> Option<Found> {
    let Err(ValidationError::TenantNotAllowed { tenant, .. }) = &f.core else {
        return None;
    };
    found(
        format!("The token comes from tenant {tenant}, which this API does not accept."),
        format!("the token's tid is {tenant}; the API accepts {}", accepted_tenants(f)),
        format!("If this customer's organisation should use the API, add \"{tenant}\" to the issuer's tenants (its Directory (tenant) ID, shown in the customer's Entra admin center > Overview) and have their admin grant consent to your app. Otherwise the refusal is right: the API's app registration lets any organisation sign in, and tenants is what keeps them out."),
    )
}

fn tenant_missing(f: &Facts<'_>) -> Option<Found> {
    let Err(ValidationError::TenantMissing { issuer }) = &f.core else {
        return None;
    };
    found(
        "The token's iss names a tenant of a {tenantid} issuer, but the token has no tid claim to confirm it.",
        format!("iss \"{issuer}\"; no tid claim (Entra ID puts tid in every access and ID token)"),
        "Send an access token issued by Entra ID for this API (request it with scope api://<client-id>/.default); a token without tid is not one. If the issuer is not multi-tenant, configure its literal issuer instead of a {tenantid} template.",
    )
}

fn azure_v1_v2(f: &Facts<'_>) -> Option<Found> {
    let token = f.token_provider.as_ref()?;
    let conf = f.configured_provider.as_ref()?;
    if !f.iss_mismatch() {
        return None;
    }
    let (t, c) = (token.spec.id, conf.spec.id);
    if !(t.is_entra() && c.is_entra() && t != c) {
        return None;
    }
    let tid = token.get("tenant").unwrap_or("<tenant>");
    let ctid = conf.get("tenant").unwrap_or("<tenant>");
    let ver = f
        .claim_str("ver")
        .map(|v| format!(", ver \"{v}\""))
        .unwrap_or_default();
    let (tv, cv) = if t == ProviderId::EntraV1 {
        ("v1.0", "v2.0")
    } else {
        ("v2.0", "v1.0")
    };
    let mut evidence = format!(
        "the token is an Entra ID {tv} token (iss \"{}\"{ver}); the API expects {cv} tokens (issuer \"{}\")",
        token.issuer, conf.issuer
    );
    if tid != ctid {
        evidence.push_str(&format!("; the tenants differ too ({tid} vs {ctid})"));
    }
    let both = format!("--issuer https://sts.windows.net/{ctid}/ --issuer https://login.microsoftonline.com/{ctid}/v2.0");
    let fix = if t == ProviderId::EntraV1 {
        format!("The API's app registration decides the token version, not the endpoint the client used: set \"accessTokenAcceptedVersion\": 2 in its manifest (Entra admin center > App registrations > your API > Manifest) and get a new token (iss becomes https://login.microsoftonline.com/{ctid}/v2.0, aud the client id). Or accept both versions: {both}, and both audiences (api://<client-id> and <client-id>).")
    } else {
        format!("Configure the v2.0 issuer https://login.microsoftonline.com/{ctid}/v2.0 (v2.0 tokens carry the client id in aud), or accept both versions: {both}.")
    };
    found(
        format!("The token is an Entra ID {tv} token but the API is configured for {cv} tokens."),
        evidence,
        fix,
    )
}

fn b2c_policy(s: &str) -> Option<String> {
    s.split(['/', '?', '&', '='])
        .find(|seg| seg.to_ascii_lowercase().starts_with("b2c_1"))
        .map(str::to_string)
}

fn b2c_policy_mismatch(f: &Facts<'_>) -> Option<Found> {
    let token_policy = ["tfp", "acr"].iter().find_map(|c| {
        f.claim_str(c)
            .filter(|v| v.to_ascii_lowercase().starts_with("b2c_1"))
    })?;
    let mut places: Vec<String> = Vec::new();
    if let Some(d) = &f.discovery {
        places.push(d.url.clone());
        places.extend(d.jwks_uri.clone());
    }
    if let Some((url, _)) = &f.discovery_failed {
        places.push(url.clone());
    }
    places.extend(f.live.as_ref().map(|s| s.origin.clone()));
    places.extend(f.api.as_ref().map(|s| s.origin.clone()));
    places.extend(f.settings.policy.issuers.iter().cloned());
    let (place, configured) = places
        .iter()
        .find_map(|p| b2c_policy(p).map(|pol| (p.clone(), pol)))?;
    if configured.eq_ignore_ascii_case(token_policy) {
        return None;
    }
    let claim = if f.claim_str("tfp").is_some() {
        "tfp"
    } else {
        "acr"
    };
    let mut evidence = format!("the token was issued by policy \"{token_policy}\" ({claim}); the API's metadata is for \"{configured}\" ({place})");
    if let (Some(kid), Some(set)) = (&f.kid, f.validation_set()) {
        if !set.has_kid {
            evidence.push_str(&format!("; kid \"{kid}\" is not among that policy's keys"));
        }
    }
    Some(
        Found {
            summary: "The token comes from another B2C user flow/policy than the one whose metadata and keys the API uses.".into(),
            evidence,
            fix: format!("Point the API at the metadata of policy {token_policy} (replace {configured} by {token_policy} in the metadata URL), or give every user flow the same token signing key container."),
            vars: Vec::new(),
        }
        .var("policy", token_policy),
    )
}

/// The token issuer and the configured issuer that share a path but not a host.
fn host_mismatch(f: &Facts<'_>) -> Option<(String, String)> {
    if !f.iss_mismatch() {
        return None;
    }
    let iss = f.iss.as_deref()?;
    let t = url_parts(iss.trim())?;
    f.settings.policy.issuers.iter().find_map(|e| {
        let c = url_parts(e.trim())?;
        (t.path.trim_end_matches('/') == c.path.trim_end_matches('/')
            && !t.path.trim_matches('/').is_empty()
            && !t.host.eq_ignore_ascii_case(c.host))
        .then(|| (t.host.to_string(), c.host.to_string()))
    })
}

fn issuer_host_mismatch(f: &Facts<'_>) -> Option<Found> {
    let (found_host, expected_host) = host_mismatch(f)?;
    let path = url_parts(f.iss.as_deref()?)?.path.to_string();
    let scheme_note = match (
        url_parts(f.iss.as_deref()?),
        f.expected_iss().and_then(url_parts),
    ) {
        (Some(a), Some(b)) if a.scheme != b.scheme => {
            format!(" and the scheme {} vs {}", a.scheme, b.scheme)
        }
        _ => String::new(),
    };
    Some(
        Found {
            summary: "The token's issuer is the same identity provider under another host name (internal vs public).".into(),
            evidence: format!("the token's issuer host is \"{found_host}\", the API expects \"{expected_host}\"{scheme_note} (same path {path})"),
            fix: format!("The identity provider stamps the host the client used into iss. Use one public host name for the identity provider everywhere (set its fixed hostname; behind a proxy forward X-Forwarded-Host/Proto), and set the API's issuer to exactly \"{}\"; the API can still fetch keys from the internal URL (--jwks).", f.iss.as_deref().unwrap_or("")),
            vars: Vec::new(),
        }
        .var("found_host", found_host),
    )
}

/// The configured issuer the token's issuer nearly equals, and how they differ.
fn near_miss(f: &Facts<'_>) -> Option<(String, Vec<&'static str>)> {
    if !f.iss_mismatch() {
        return None;
    }
    let iss = f.iss.as_deref()?;
    f.settings
        .policy
        .issuers
        .iter()
        .find_map(|e| Some((e.clone(), issuer::near_miss(e, iss)?)))
}

fn issuer_near_miss(f: &Facts<'_>) -> Option<Found> {
    let (expected, how) = near_miss(f)?;
    let iss = f.iss.as_deref()?;
    let how = if how.is_empty() {
        "spelling".to_string()
    } else {
        how.join(" and ")
    };
    found(
        format!("The configured issuer differs from the token's only by {how}: issuers are compared exactly."),
        format!("found \"{iss}\", expected \"{expected}\""),
        format!("Set the API's issuer to exactly \"{iss}\" (copy it from the issuer's discovery document)."),
    )
}

fn token_from_other_issuer(f: &Facts<'_>) -> Option<Found> {
    if !f.iss_mismatch() || near_miss(f).is_some() || host_mismatch(f).is_some() {
        return None;
    }
    let iss = f.iss.as_deref()?;
    let expected = quote_list(&f.settings.policy.issuers);
    let mut evidence = format!("iss \"{iss}\" is not the configured issuer {expected}");
    if let (Some(t), Some(c)) = (&f.token_provider, &f.configured_provider) {
        if t.spec.id == c.spec.id {
            let diffs: Vec<String> = t
                .captures
                .iter()
                .filter(|(k, v)| c.captures.get(*k).is_some_and(|cv| cv != *v))
                .map(|(k, v)| format!("{k} \"{v}\" vs \"{}\"", c.captures[k]))
                .collect();
            if !diffs.is_empty() {
                evidence.push_str(&format!(
                    " (same provider, {}: {})",
                    t.spec.name,
                    diffs.join(", ")
                ));
            }
            if t.spec.id.is_entra() {
                evidence.push_str(
                    "; Entra tenants share signing keys, so only the issuer tells them apart",
                );
            }
        } else {
            evidence.push_str(&format!(
                " (the token is from {}, the API trusts {})",
                t.spec.name, c.spec.name
            ));
        }
    }
    let env = |s: &str| {
        [
            "staging", "stage", "dev", "test", "preview", "qa", "sandbox",
        ]
        .iter()
        .any(|w| s.to_ascii_lowercase().contains(w))
    };
    if env(iss) != f.expected_iss().is_some_and(env) {
        evidence.push_str("; one looks like a test/staging environment and the other does not");
    }
    if let (Some(kid), Some(set)) = (&f.kid, f.validation_set()) {
        if !set.has_kid {
            evidence.push_str(&format!(
                "; its kid \"{kid}\" is not among the configured issuer's keys"
            ));
        }
    }
    found(
        "The token comes from another issuer than the one the API trusts (another tenant, environment or realm).",
        evidence,
        format!("Get the token from the issuer the API trusts (the client and the API must use the same tenant/environment), or, if the API must accept both, add \"{iss}\" as another issuer with its own keys."),
    )
}

// ---- metadata and keys --------------------------------------------------------------------

fn discovery_unreachable(f: &Facts<'_>) -> Option<Found> {
    let (url, error) = f.discovery_failed.as_ref()?;
    found(
        "The issuer's discovery document could not be fetched, so the API has no keys to verify tokens with.",
        format!("GET {url}: {error}"),
        "Check the issuer URL (discovery lives at <issuer>/.well-known/openid-configuration and the issuer must equal the token's iss), that this server can reach it (DNS, egress, proxy, TLS trust), and that it is HTTPS (http only on loopback).",
    )
}

fn jwks_unreachable(f: &Facts<'_>) -> Option<Found> {
    let (url, error) = f.jwks_failed.as_ref()?;
    found(
        "The issuer's key set (JWKS) could not be fetched, so the API has no keys to verify tokens with.",
        format!("GET {url}: {error}"),
        "Check the jwks_uri in the discovery document (or --jwks), that this server can reach it (DNS, egress, proxy, TLS trust), and that it serves a JSON key set, not a login page.",
    )
}

fn jwks_no_usable_keys(f: &Facts<'_>) -> Option<Found> {
    let set = [f.api.as_ref(), f.live.as_ref()]
        .into_iter()
        .flatten()
        .find(|s| s.usable == 0)?;
    let evidence = if set.skipped.is_empty() {
        format!("the key set at {} is empty", set.origin)
    } else {
        let why: Vec<String> = set
            .skipped
            .iter()
            .map(|s| {
                format!(
                    "{}: {}",
                    s.kid
                        .as_deref()
                        .map(|k| format!("kid \"{k}\""))
                        .unwrap_or_else(|| format!("key #{}", s.index)),
                    s.reason
                )
            })
            .collect();
        format!(
            "every key at {} was skipped: {}",
            set.origin,
            why.join("; ")
        )
    };
    found(
        "The key set has no usable signing key.",
        evidence,
        "Publish signing keys in the JWKS (use \"sig\", a kid and alg; RSA of at least 2048 bits, EC P-256/384/521 or Ed25519) and check that the JWKS URL serves the key set, not an encryption key set or a login page.",
    )
}

fn symmetric_token(f: &Facts<'_>) -> Option<Found> {
    if !f.is_hmac() || !f.settings.secrets.is_empty() {
        return None;
    }
    let alg = f.alg.as_deref().unwrap_or("");
    let allowed = f
        .settings
        .policy
        .algorithms
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let kid = if f.kid.is_none() {
        ", no kid (the \"kid is required\" error)"
    } else {
        ""
    };
    found(
        "The token is signed with a shared secret (HMAC) but the API verifies public-key signatures: the identity provider application is set to HS256.",
        format!("alg {alg}{kid}; the API accepts {allowed} and holds no shared secret"),
        "Set the identity provider's signing algorithm for this application/API to RS256 and get a new token, so the API verifies it with the issuer's public keys. Accept HS* only deliberately, with the shared secret (--secret-file).",
    )
}

fn algorithm_not_allowed(f: &Facts<'_>) -> Option<Found> {
    let alg = f.alg.as_deref()?;
    if f.insp.shape != Shape::Jws || f.is_hmac() {
        return None;
    }
    if f.settings.policy.check_alg(alg).is_ok() {
        return None;
    }
    let allowed = f
        .settings
        .policy
        .algorithms
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    match alg.parse::<Algorithm>() {
        Ok(a) => {
            let key = f
                .live
                .as_ref()
                .or(f.api.as_ref())
                .filter(|s| s.has_kid)
                .and_then(|s| s.key.clone())
                .map(|k| format!("; the issuer's key {k} is published for it"))
                .unwrap_or_default();
            found(
                format!("The token is signed with {a}, which the API does not allow."),
                format!("alg {a}; allowed: {allowed}{key}"),
                format!("If the issuer legitimately signs with {a}, allow it: --alg {a} (in config: algorithms = [\"{}\", \"{a}\"]); otherwise the token comes from another issuer or was forged.", f.settings.policy.algorithms.first().map_or("RS256", |x| x.as_str())),
            )
        }
        Err(_) => found(
            format!("The token's algorithm \"{alg}\" is not a JWS algorithm Tollgate knows."),
            format!("alg \"{alg}\"; allowed: {allowed}"),
            "Sign tokens with a standard algorithm (RS256, PS256, ES256, EdDSA...).",
        ),
    }
}

fn entra_app_specific_keys(f: &Facts<'_>) -> Option<Found> {
    let (appid, app) = f.app.as_ref()?;
    if !app.has_kid
        || f.api.as_ref().is_some_and(|s| s.has_kid)
        || f.live.as_ref().is_some_and(|s| s.has_kid)
    {
        return None;
    }
    let kid = f.kid.as_deref()?;
    let tenant = f
        .token_provider
        .as_ref()
        .and_then(|p| p.get("tenant"))
        .or_else(|| f.claim_str("tid"))
        .unwrap_or("<tenant>");
    let general = f
        .live
        .as_ref()
        .or(f.api.as_ref())
        .map(|s| s.origin.clone())
        .unwrap_or_else(|| "the tenant's keys".into());
    let v2 = if f.token_provider_id() == Some(ProviderId::EntraV1) {
        ""
    } else {
        "/v2.0"
    };
    found(
        "The token is signed with a key published only for this application (an app-specific signing key), not with the tenant's keys.",
        format!("kid \"{kid}\" is not in {general} but is in {} (keys for application {appid})", app.origin),
        format!("The app registration has its own signing key (claims-mapping policy or custom signing certificate): use the app-specific metadata https://login.microsoftonline.com/{tenant}{v2}/.well-known/openid-configuration?appid={appid} (its jwks_uri carries ?appid={appid})."),
    )
}

fn keys_rotated(f: &Facts<'_>) -> Option<Found> {
    let api = f.api.as_ref()?;
    let live = f.live.as_ref()?;
    let kid = f.kid.as_deref()?;
    if api.has_kid || !live.has_kid {
        return None;
    }
    found(
        "The issuer has rotated its signing keys and the API still holds the old key set.",
        format!("kid \"{kid}\" is not among the keys the API holds ({}: {}) but is in the issuer's live JWKS ({})", api.origin, quote_list(&api.kids), live.origin),
        "Fetch keys from the issuer's jwks_uri and refresh them when an unknown kid arrives (Tollgate's remote key cache does this), instead of a copied JWKS file or hard-coded keys; until then, replace the API's key set with the live one.",
    )
}

fn kid_unknown_to_issuer(f: &Facts<'_>) -> Option<Found> {
    let kid = f.kid.as_deref()?;
    if f.app.as_ref().is_some_and(|(_, s)| s.has_kid) {
        return None;
    }
    let (set, note) = match (&f.live, &f.api) {
        (Some(live), _) if !live.has_kid => (live, ""),
        (None, Some(api)) if !api.has_kid => (api, " (the issuer's live JWKS was not checked: give --issuer to tell a rotation apart)"),
        (Some(_), _) | (None, Some(_)) => return None,
        (None, None) => {
            return match &f.core {
                Err(ValidationError::KidNotFound { known_kids, .. }) => found(
                    "The token's kid is in no key the API holds for this issuer.",
                    format!("kid \"{kid}\"; keys held: {}", quote_list(known_kids)),
                    "Check the token's issuer and environment; if the issuer just rotated its keys, the API refreshes them on an unknown kid (remote keys) or needs the new key set.",
                ),
                _ => None,
            }
        }
    };
    if set.usable == 0 {
        return None;
    }
    found(
        "The token's kid is in no key the issuer publishes: it was signed by another issuer (or environment) using the same iss, or forged.",
        format!("kid \"{kid}\" is not in {} (kids: {}){note}", set.origin, quote_list(&set.kids)),
        "Get a token from the issuer whose keys these are: check which environment (tenant, realm, staging/production) the client signs in to, and that the API's issuer/JWKS point at the same one.",
    )
}

fn hmac_secret_mismatch(f: &Facts<'_>) -> Option<Found> {
    if !f.is_hmac() {
        return None;
    }
    let alg = f.alg.as_deref().unwrap_or("");
    match &f.secrets {
        Some(s) if !s.verified => {
            let nl = if s.trailing_newline { ", ending with a newline" } else { "" };
            let mut evidence = format!("the {alg} signature does not verify with the configured secret ({} bytes{nl})", s.len);
            let fix = match s.variant {
                Some(v) => {
                    evidence.push_str(&format!("; it verifies with the secret {v}"));
                    match v {
                        "with the trailing newline/whitespace removed" => "Remove the trailing newline from the secret (printf '%s' \"$SECRET\" > secret-file, or trim it when loading) so the API uses the same bytes as the issuer.".to_string(),
                        "base64-decoded" | "base64url-decoded" => format!("The issuer uses the {v} secret bytes: give the API the decoded bytes (or make both sides use the text as is)."),
                        _ => "The issuer uses the secret's base64 text as the key: give the API the same text bytes (or make both sides use the raw bytes).".to_string(),
                    }
                }
                None => "The issuer and the API use different secrets: use the same secret bytes on both sides (check the environment's configuration; decide raw vs base64 explicitly), or better, switch to asymmetric keys and a JWKS.".to_string(),
            };
            found("The HMAC secret the API holds is not the one the token was signed with.", evidence, fix)
        }
        None if f.from_error && matches!(f.core, Err(ValidationError::SignatureInvalid { .. })) => found(
            "The HMAC secret the API holds is not the one the token was signed with.",
            format!("the {alg} signature does not verify with the configured secret"),
            "Use the same secret bytes on issuer and API (watch for trailing newlines and raw vs base64 secrets); run `tollgate doctor --secret-file` to try the usual variants.",
        ),
        _ => None,
    }
}

fn signature_mismatch(f: &Facts<'_>) -> Option<Found> {
    if f.is_hmac() {
        return None;
    }
    let alg = f.alg.as_deref().unwrap_or("");
    match f.validation_set() {
        Some(set) => {
            if set.verified != Some(false) {
                return None;
            }
            let key = set.key.clone().unwrap_or_default();
            found(
                "The key was found but the signature does not verify: the token was altered, or another key is published under the same kid.",
                format!("key {key} from {} fits {alg}, but the signature does not verify", set.origin),
                "Get a fresh, unmodified token (no edits to header or payload), and check that the API's keys come from the issuer that signed it: environments that reuse kid names (staging vs production) publish different keys under the same kid.",
            )
        }
        None => match &f.core {
            Err(ValidationError::SignatureInvalid { kid, .. }) => found(
                "The key was found but the signature does not verify: the token was altered, or another key is published under the same kid.",
                format!("the {alg} signature does not verify with key {}", kid.as_deref().map(|k| format!("\"{k}\"")).unwrap_or_else(|| "(no kid)".into())),
                "Get a fresh, unmodified token, and check that the API's keys come from the issuer that signed it.",
            ),
            _ => None,
        },
    }
}

// ---- time ---------------------------------------------------------------------------------

fn time_claims_in_ms(f: &Facts<'_>) -> Option<Found> {
    let (name, t) = ["exp", "nbf", "iat"].iter().find_map(|n| {
        f.time_claim(n)
            .filter(|t| t.unsigned_abs() > MAX_PLAUSIBLE_SECONDS as u64)
            .map(|t| (*n, t))
    })?;
    found(
        "The token's times are in milliseconds; JWT times (NumericDate) are seconds.",
        format!("{name} is {t}: as seconds that is the year {}; as milliseconds it is {}", 1970 + t / 31_556_952, time::date(t / 1000)),
        "Issue exp, nbf and iat in seconds since the epoch (RFC 7519): divide by 1000 at the issuer (JavaScript: Math.floor(Date.now() / 1000)).",
    )
}

/// How far past `exp` the token is, beyond the leeway (seconds), if expired.
fn expired_by(f: &Facts<'_>) -> Option<i64> {
    let exp = f
        .time_claim("exp")
        .filter(|t| t.unsigned_abs() <= MAX_PLAUSIBLE_SECONDS as u64)?;
    let now = f.settings.now;
    (now >= exp.saturating_add(f.settings.policy.leeway as i64)).then_some(now - exp)
}

/// Expired by at most this: perhaps the clocks, not the token (5 minutes).
const JUST_EXPIRED: i64 = 300;

fn token_expired(f: &Facts<'_>) -> Option<Found> {
    let past = expired_by(f)?;
    let exp = f.time_claim("exp")?;
    let now = f.settings.now;
    let mut evidence = format!(
        "exp {} was {} ago (now {}, leeway {} s)",
        time::date(exp),
        time::span(past),
        time::date(now),
        f.settings.policy.leeway
    );
    if let Some(iat) = f.time_claim("iat") {
        evidence.push_str(&format!(
            "; the token lived {} (iat {})",
            time::span(exp - iat),
            time::date(iat)
        ));
    }
    found(
        format!("The token expired {} ago.", time::span(past)),
        evidence,
        "Get a new token: the client must refresh before expiry (refresh-token grant, MSAL acquireTokenSilent, getIdToken()) and retry once on 401.",
    )
}

fn clock_skew(f: &Facts<'_>) -> Option<Found> {
    let now = f.settings.now;
    let leeway = f.settings.policy.leeway as i64;
    let fix = format!("Synchronise both clocks with NTP (chrony or systemd-timesyncd; WSL2 and Docker Desktop drift after sleep: restart them), and keep a small leeway (--leeway, now {leeway} s).");
    for (name, what) in [("nbf", "not-before (nbf)"), ("iat", "issued-at (iat)")] {
        if let Some(t) = f
            .time_claim(name)
            .filter(|t| t.unsigned_abs() <= MAX_PLAUSIBLE_SECONDS as u64)
        {
            if t > now.saturating_add(leeway) {
                let ahead = time::span(t - now);
                return found(
                    format!("The issuer's clock is {ahead} ahead of this server's (or this server's clock is behind)."),
                    format!("the token's {what} time {} is {ahead} after this server's clock ({}), beyond the leeway of {leeway} s", time::date(t), time::date(now)),
                    fix,
                );
            }
        }
    }
    let past = expired_by(f)?;
    if past > JUST_EXPIRED {
        return None;
    }
    found(
        format!(
            "If the client obtained this token moments ago, this server's clock is about {} fast.",
            time::span(past)
        ),
        format!(
            "exp passed only {} ago (leeway {leeway} s)",
            time::span(past)
        ),
        fix,
    )
}

// ---- audience and type ----------------------------------------------------------------------

fn keycloak_missing_audience(f: &Facts<'_>) -> Option<Found> {
    if f.token_provider_id() != Some(ProviderId::Keycloak) || !f.aud_mismatch() {
        return None;
    }
    let default_aud = |a: &str| {
        a == "account" || a == "realm-management" || a == "broker" || a.ends_with("-realm")
    };
    if !f.auds.iter().all(|a| default_aud(a)) {
        return None;
    }
    let azp = f.claim_str("azp").unwrap_or("<client>");
    let expected = f
        .settings
        .policy
        .audiences
        .first()
        .cloned()
        .unwrap_or_default();
    let found_aud = if f.auds.is_empty() {
        "no aud".to_string()
    } else {
        format!("aud {}", quote_list(&f.auds))
    };
    found(
        "The Keycloak token does not name this API as its audience: Keycloak only adds audiences through a mapper.",
        format!("{found_aud} (Keycloak's default), azp \"{azp}\"; the API expects {}", quote_list(&f.settings.policy.audiences)),
        format!("In Keycloak add an Audience mapper: Clients > {azp} > Client scopes > {azp}-dedicated > Add mapper > By configuration > Audience, with Included Client Audience \"{expected}\" and Add to access token on (or put it in a shared client scope); then get a new token."),
    )
}

fn normalize_aud(s: &str) -> String {
    let s = s.trim().to_ascii_lowercase();
    let s = s.strip_prefix("api://").unwrap_or(&s);
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    s.trim_end_matches('/').to_string()
}

fn audience_near_miss(f: &Facts<'_>) -> Option<Found> {
    if !f.aud_mismatch() {
        return None;
    }
    for a in &f.auds {
        for e in &f.settings.policy.audiences {
            if normalize_aud(a) == normalize_aud(e) {
                let mut how = Vec::new();
                if a.trim() != a || e.trim() != e {
                    how.push("whitespace");
                }
                if a.to_ascii_lowercase().starts_with("api://")
                    != e.to_ascii_lowercase().starts_with("api://")
                {
                    how.push("the api:// prefix (App ID URI vs client id)");
                }
                if a.ends_with('/') != e.ends_with('/') {
                    how.push("a trailing '/'");
                }
                if a.contains("://") != e.contains("://") && how.is_empty() {
                    how.push("the scheme");
                }
                if how.is_empty() {
                    how.push("letter case");
                }
                return Some(
                    Found {
                        summary: format!("The audience differs from the configured one only by {}.", how.join(" and ")),
                        evidence: format!("aud \"{a}\", expected \"{e}\""),
                        fix: format!("Accept the audience exactly as the token spells it (--audience \"{a}\"), or request the token for \"{e}\"."),
                        vars: Vec::new(),
                    }
                    .var("aud", a.clone())
                    .var("expected_aud", e.clone()),
                );
            }
        }
    }
    None
}

fn audience_other_api(f: &Facts<'_>) -> Option<Found> {
    if !f.aud_mismatch() {
        return None;
    }
    let expected = quote_list(&f.settings.policy.audiences);
    if f.auds.is_empty() {
        return found(
            "The token has no audience, so nothing says it was issued for this API.",
            format!("no aud; the API expects {expected}"),
            "Request the token for this API (its audience/resource/scope parameter) so the identity provider puts the API's identifier in aud.",
        );
    }
    let mut evidence = format!("aud {}; the API expects {expected}", quote_list(&f.auds));
    for a in &f.auds {
        if let Some((_, name)) = providers::FOREIGN_AUDIENCES.iter().find(|(x, _)| x == a) {
            evidence.push_str(&format!("; \"{a}\" is {name}"));
        }
        if a.ends_with("/api/v2/") && f.token_provider_id() == Some(ProviderId::Auth0) {
            evidence.push_str(&format!("; \"{a}\" is the Auth0 Management API"));
        }
        if a.ends_with("/userinfo") {
            evidence.push_str(&format!("; \"{a}\" is the userinfo endpoint"));
        }
        if a == "api://default" {
            evidence.push_str(
                "; \"api://default\" is the audience of Okta's default authorization server",
            );
        }
    }
    if let Some(gty) = f.claim_str("gty") {
        evidence.push_str(&format!("; gty \"{gty}\" (a machine-to-machine token)"));
    }
    found(
        "The token was issued for another API.",
        evidence,
        format!("Request a token for this API (audience/resource/scope = {expected}); never widen the accepted audiences to another API's tokens."),
    )
}

fn typ_not_accepted(f: &Facts<'_>) -> Option<Found> {
    let header = crate::jws::Header::new(
        f.alg.clone()?,
        f.kid.clone(),
        f.typ.clone(),
        f.insp.header.clone()?,
    );
    let err = f.settings.policy.check_typ(&header).err()?;
    let ValidationError::TypeMismatch {
        expected,
        found: typ,
    } = &err
    else {
        return found(
            "The token's typ header is not a string.",
            err.to_string(),
            "Issue a string typ (at+jwt for access tokens).",
        );
    };
    let typ_text = typ
        .as_deref()
        .map(|t| format!("typ \"{t}\""))
        .unwrap_or_else(|| "no typ".into());
    let wants_at = expected.to_ascii_lowercase().contains("at+jwt");
    let fix = if wants_at {
        format!("The API requires RFC 9068 access tokens (typ at+jwt): have the issuer emit them (Duende/IdentityServer: AccessTokenJwtType \"at+jwt\"; Auth0: the RFC 9068 token profile for the API), or accept {typ_text} deliberately (--require-typ).")
    } else {
        "Accept this typ (--require-typ) if the token is an access token from a trusted issuer, or send the token kind the API expects.".to_string()
    };
    found(
        "The token's type (typ header) is not one the API accepts.",
        format!("{typ_text}; the API accepts {expected}"),
        fix,
    )
}

// ---- sender-constrained tokens (DPoP, RFC 9449) ------------------------------------------

/// `scheme://host[:port]` (lower-cased) and the path of a URL, query and fragment left out.
fn origin_and_path(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let scheme = scheme.to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    let host = match (scheme.as_str(), host.rsplit_once(':')) {
        ("https", Some((h, "443"))) | ("http", Some((h, "80"))) => h.to_string(),
        _ => host,
    };
    Some((format!("{scheme}://{host}"), path.to_string()))
}

/// The DPoP causes, one match: the refusal (from the gateway, or the doctor's own check of
/// the request it was given) and the cause asked about.
fn dpop(f: &Facts<'_>, id: CauseId) -> Option<Found> {
    use CauseId as C;
    use ValidationError as E;
    let Err(err) = &f.core else { return None };
    match (id, err) {
        (C::DpopProofMissing, E::DpopProofMissing { reason }) => found(
            "The token is DPoP-bound (or came with the DPoP scheme) and no DPoP proof came with it.",
            format!("{reason}; the token's cnf.jkt binds it to a key only the client holds"),
            "Send a fresh proof with every request in the DPoP header (tollgate dpop makes one for curl), and check that every proxy on the way passes the DPoP header through.",
        ),
        (C::DpopBoundTokenAsBearer, E::BoundTokenAsBearer { jkt }) => found(
            "A DPoP-bound token was sent as a plain Bearer token.",
            format!("Authorization: Bearer, and the token's cnf.jkt is \"{jkt}\""),
            "Send it as Authorization: DPoP <token> with a DPoP proof header; a bound token is never accepted as Bearer (if the client did not mean to use DPoP, someone else may hold its token).",
        ),
        (C::DpopUrlRewrittenByProxy, E::DpopUrlMismatch { expected, found: htu }) => {
            let (want_origin, want_path) = origin_and_path(expected)?;
            let (got_origin, got_path) = origin_and_path(htu)?;
            (want_path == got_path && want_origin != got_origin).then_some(())?;
            found(
                format!("The proof was made for {got_origin}, the URL the client used, and the API sees {want_origin}: a proxy in front changed the scheme, host or port."),
                format!("htu \"{htu}\"; the request as the API sees it: \"{expected}\""),
                format!("Tell the gateway the URL clients use: public_url = \"{got_origin}\" (tollgate serve), JwtLayer::public_url (tower), or have the proxy forward X-Forwarded-Proto and X-Forwarded-Host from a trusted_proxies address."),
            )
            .map(|x| x.var("public_url", got_origin))
        }
        (C::DpopProofForOtherUrl, E::DpopUrlMismatch { expected, found: htu }) => found(
            "The proof was made for another URL than the request's.",
            format!("htu \"{htu}\"; the request: \"{expected}\" (compared without query and fragment, scheme and host ignoring case, default ports dropped)"),
            "Make a new proof for each request with htu set to the exact URL requested (without its query).",
        ),
        (C::DpopProofForOtherMethod, E::DpopMethodMismatch { expected, found: htm }) => found(
            "The proof was made for another HTTP method.",
            format!("htm \"{htm}\"; the request is {expected} (htm is compared exactly, case included)"),
            "Make a new proof for each request with htm set to the request's method.",
        ),
        (C::DpopProofForOtherToken, E::DpopAthMismatch { expected, found: ath }) => found(
            "The proof was made for another access token.",
            match ath {
                Some(ath) => format!("ath \"{ath}\"; this token's hash is \"{expected}\""),
                None => format!("the proof has no ath; this token's hash is \"{expected}\""),
            },
            "Make the proof for the token it is sent with (ath = base64url(SHA-256(access token))); after refreshing a token, make new proofs.",
        ),
        (C::DpopKeyMismatch, E::DpopKeyMismatch { expected, found: jkt }) => found(
            "The proof is signed by another key than the one the token is bound to.",
            match expected {
                Some(e) => format!("proof key thumbprint \"{jkt}\"; the token's cnf.jkt \"{e}\""),
                None => format!("the token has no cnf.jkt (it is not DPoP-bound); proof key thumbprint \"{jkt}\""),
            },
            "Sign proofs with the key the token was requested with (the key of the proof sent to the token endpoint); a client that makes a new key must get a new token.",
        ),
        (C::DpopProofClock, E::DpopProofTime { iat, now, window, leeway }) => {
            let (summary, fix) = if iat > now {
                ("The proof claims to be made in the future: the client's clock runs ahead of the server's.", "Synchronise the client's clock with NTP (or raise dpop_leeway a little).")
            } else {
                ("The proof is older than the window: it was stored and reused, or the client's clock runs behind.", "Make a new proof for each request, right before sending it, and synchronise the clocks with NTP.")
            };
            found(
                summary,
                format!("iat {iat}, now {now}: {} s apart; accepted: up to {window} s old, {leeway} s of leeway", (now - iat).abs()),
                fix,
            )
        }
        (C::DpopProofReplayed, E::DpopReplayed { jti }) => found(
            "The same proof was sent twice.",
            format!("jti \"{jti}\" was already used with this key"),
            "Make a new proof (new jti) for every request, retries included; if the client did not resend it, someone replayed a captured request.",
        ),
        (C::DpopProofInvalid, E::DpopProofInvalid { reason }) => found(
            "The DPoP proof itself cannot be accepted.",
            reason.clone(),
            "Make proofs with typ dpop+jwt, an asymmetric algorithm the API accepts, the public key (only) in jwk, and jti, htm, htu, iat (plus ath with a token); a maintained DPoP library does this.",
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ids are a public, logged vocabulary: pinned here, spelled out, on purpose.
    #[test]
    fn cause_ids_are_pinned() {
        assert_eq!(
            CauseId::STRS,
            [
                "encrypted_token",
                "opaque_token",
                "malformed_token",
                "unsigned_token",
                "refresh_token_as_access_token",
                "okta_org_authorization_server",
                "azure_graph_token",
                "firebase_wrong_token",
                "id_token_as_access_token",
                "cognito_access_token_no_aud",
                "discovery_issuer_mismatch",
                "entra_common_issuer",
                "key_issuer_mismatch",
                "personal_account_to_organizations_api",
                "tenant_not_allowed",
                "tenant_missing",
                "azure_v1_v2_mismatch",
                "b2c_policy_mismatch",
                "issuer_host_mismatch",
                "issuer_near_miss",
                "token_from_other_issuer",
                "discovery_unreachable",
                "jwks_unreachable",
                "jwks_no_usable_keys",
                "symmetric_token",
                "algorithm_not_allowed",
                "entra_app_specific_keys",
                "keys_rotated",
                "kid_unknown_to_issuer",
                "hmac_secret_mismatch",
                "signature_mismatch",
                "time_claims_in_milliseconds",
                "token_expired",
                "clock_skew",
                "keycloak_missing_audience",
                "audience_near_miss",
                "audience_other_api",
                "typ_not_accepted",
                "dpop_proof_missing",
                "dpop_bound_token_as_bearer",
                "dpop_url_rewritten_by_proxy",
                "dpop_proof_for_other_url",
                "dpop_proof_for_other_method",
                "dpop_proof_for_other_token",
                "dpop_key_mismatch",
                "dpop_proof_clock",
                "dpop_proof_replayed",
                "dpop_proof_invalid",
            ]
        );
    }

    #[test]
    fn ids_are_unique() {
        // Every id has one place in the ranking, in the order the ids are declared.
        let ids: Vec<CauseId> = CAUSES.iter().map(|c| c.id).collect();
        assert_eq!(ids, CauseId::ALL);
    }

    #[test]
    fn normalisers() {
        assert_eq!(normalize_aud("api://abc/"), "abc");
        assert_eq!(b2c_policy("https://x.b2clogin.com/x.onmicrosoft.com/B2C_1_signin/v2.0/.well-known/openid-configuration").as_deref(), Some("B2C_1_signin"));
    }
}
