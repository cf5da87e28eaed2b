//! What Tollgate knows about identity providers, as data: how to recognise each one from an
//! issuer, where its discovery document and keys live, and how to phrase a fix in its terms.
//!
//! To teach the doctor a new provider, add one [`ProviderSpec`] to [`PROVIDERS`]: issuer
//! patterns (`{name}` captures one part: within the host it stops at `.`, in the path at
//! `/`; `{host}` takes a whole host with port, `{scheme}` a scheme), URL templates, and fix
//! templates keyed by cause id. Templates use the captures (`{tenant}`, `{realm}`...), the
//! issuer (`{issuer}`, `{base}` without trailing `/`) and the values a cause supplies
//! (`{found_iss}`, `{expected_iss}`, `{aud}`, `{expected_aud}`, `{kid}`, `{client_id}`...);
//! captures of the token's issuer are also available as `found_<name>`, those of the
//! configured issuer as `expected_<name>`. A template naming a value that is not known is
//! not used (the generic fix is kept).

use std::collections::BTreeMap;

use super::causes::CauseId;
use crate::error::vocabulary;

vocabulary! {
    /// The id of each provider the doctor knows ([`PROVIDERS`], then [`GENERIC`]): a stable,
    /// reported string (`as_str`).
    pub enum ProviderId {
        /// Azure AD B2C.
        AzureB2c = "azure_b2c",
        /// Microsoft Entra ID (v2.0 tokens).
        EntraV2 = "entra_v2",
        /// Microsoft Entra ID (v1.0 tokens).
        EntraV1 = "entra_v1",
        /// Okta (custom authorization server).
        OktaCustom = "okta_custom",
        /// Okta (org authorization server).
        OktaOrg = "okta_org",
        /// Auth0.
        Auth0 = "auth0",
        /// Amazon Cognito user pool.
        Cognito = "cognito",
        /// Keycloak.
        Keycloak = "keycloak",
        /// Firebase Authentication (ID tokens).
        Firebase = "firebase",
        /// Firebase session cookie.
        FirebaseSession = "firebase_session",
        /// Firebase custom token (service account).
        FirebaseCustom = "firebase_custom",
        /// Google (Sign-In ID tokens).
        Google = "google",
        /// generic OpenID Connect issuer.
        Generic = "generic",
    }
}

impl ProviderId {
    /// Microsoft Entra ID, either token version.
    pub fn is_entra(self) -> bool {
        matches!(self, ProviderId::EntraV1 | ProviderId::EntraV2)
    }
}

/// One identity provider (or one token family of a provider).
#[derive(Debug)]
pub struct ProviderSpec {
    /// Stable id, e.g. `entra_v2`.
    pub id: ProviderId,
    /// A name for people.
    pub name: &'static str,
    /// Issuer patterns, most specific first.
    pub issuer_patterns: &'static [&'static str],
    /// The discovery document URL template (empty: none).
    pub discovery: &'static str,
    /// The JWKS URL template (empty: none).
    pub jwks: &'static str,
    /// Whether the provider's issuers end with `/`.
    pub trailing_slash: bool,
    /// What to know about its tokens, one sentence.
    pub notes: &'static str,
    /// Fix templates by cause id, in this provider's terms.
    pub fixes: &'static [(CauseId, &'static str)],
}

/// The known providers. Order matters: the first matching pattern wins, so specific
/// patterns (B2C, Okta org) come before general ones (Okta custom domain, Keycloak).
pub const PROVIDERS: &[ProviderSpec] = &[
    ProviderSpec {
        id: ProviderId::AzureB2c,
        name: "Azure AD B2C",
        issuer_patterns: &[
            "https://{tenant}.b2clogin.com/{tenant_id}/v2.0/",
            "https://{tenant}.b2clogin.com/tfp/{tenant_id}/{policy}/v2.0/",
            "https://login.microsoftonline.com/tfp/{tenant_id}/{policy}/v2.0/",
        ],
        discovery: "https://{tenant}.b2clogin.com/{tenant}.onmicrosoft.com/{policy}/v2.0/.well-known/openid-configuration",
        jwks: "https://{tenant}.b2clogin.com/{tenant}.onmicrosoft.com/{policy}/discovery/v2.0/keys",
        trailing_slash: true,
        notes: "the user flow or custom policy (tfp/acr claim, B2C_1_... or B2C_1A_...) selects the signing keys; the metadata URL must name the same policy",
        fixes: &[
            (CauseId::B2cPolicyMismatch, "Point the API at the metadata of the policy that issued the token: https://{tenant}.b2clogin.com/{tenant}.onmicrosoft.com/{policy}/v2.0/.well-known/openid-configuration (or give every user flow the same token signing key container)."),
            (CauseId::IssuerNearMiss, "B2C issuers end with '/': set the issuer to exactly \"{found_iss}\"."),
        ],
    },
    ProviderSpec {
        id: ProviderId::EntraV2,
        name: "Microsoft Entra ID (v2.0 tokens)",
        issuer_patterns: &["https://login.microsoftonline.com/{tenant}/v2.0"],
        discovery: "https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration",
        jwks: "https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys",
        trailing_slash: false,
        notes: "v2.0 access tokens carry ver 2.0 and the API's client id in aud; all tenants share signing keys, so only the issuer tells tenants apart",
        fixes: &[
            (CauseId::TokenFromOtherIssuer, "The token was issued by tenant {found_tenant}, the API trusts tenant {expected_tenant}: have the client sign in with authority https://login.microsoftonline.com/{expected_tenant}, or if the API is multi-tenant, list each accepted tenant's issuer."),
            (CauseId::AudienceNearMiss, "Entra v2.0 tokens carry the client id in aud, v1.0 tokens the App ID URI: accept both (--audience {aud} --audience {expected_aud}) or set accessTokenAcceptedVersion to 2 in the API app registration's manifest."),
            (CauseId::AudienceOtherApi, "Expose an API on the app registration of this API and request a token for its scope (api://<api-client-id>/<scope>, or <api-client-id>/.default for app-only), not for {aud}."),
            (CauseId::KidUnknownToIssuer, "If the app registration has its own signing key (claims-mapping policy or custom signing certificate), its keys are only published with ?appid=: use https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration?appid=<client id> as the metadata URL."),
            (CauseId::IdTokenAsAccessToken, "Request an access token for the API's scope (api://<api-client-id>/<scope>) with MSAL acquireTokenSilent and send that, not the ID token."),
        ],
    },
    ProviderSpec {
        id: ProviderId::EntraV1,
        name: "Microsoft Entra ID (v1.0 tokens)",
        issuer_patterns: &["https://sts.windows.net/{tenant}/"],
        discovery: "https://login.microsoftonline.com/{tenant}/.well-known/openid-configuration",
        jwks: "https://login.microsoftonline.com/{tenant}/discovery/keys",
        trailing_slash: true,
        notes: "v1.0 access tokens carry ver 1.0, appid, and often the App ID URI (api://...) in aud; the API's manifest (accessTokenAcceptedVersion) decides the version, not the endpoint the client used",
        fixes: &[
            (CauseId::TokenFromOtherIssuer, "The token was issued by tenant {found_tenant}, the API trusts tenant {expected_tenant}: have the client sign in with authority https://login.microsoftonline.com/{expected_tenant}, or if the API is multi-tenant, list each accepted tenant's issuer."),
            (CauseId::AudienceNearMiss, "Entra v1.0 tokens carry the App ID URI in aud, v2.0 tokens the client id: accept both (--audience {aud} --audience {expected_aud}) or set accessTokenAcceptedVersion to 2 in the API app registration's manifest."),
            (CauseId::AudienceOtherApi, "Expose an API on the app registration of this API and request a token for its scope (api://<api-client-id>/<scope>), not for {aud}."),
            (CauseId::KidUnknownToIssuer, "If the app registration has its own signing key (claims-mapping policy or custom signing certificate), its keys are only published with ?appid=: use https://login.microsoftonline.com/{tenant}/.well-known/openid-configuration?appid=<client id> as the metadata URL."),
        ],
    },
    ProviderSpec {
        id: ProviderId::OktaCustom,
        name: "Okta (custom authorization server)",
        issuer_patterns: &[
            "https://{org}.okta.com/oauth2/{server}",
            "https://{org}.oktapreview.com/oauth2/{server}",
            "https://{org}.okta-emea.com/oauth2/{server}",
            "https://{host}/oauth2/{server}",
        ],
        discovery: "{issuer}/.well-known/openid-configuration",
        jwks: "{issuer}/v1/keys",
        trailing_slash: false,
        notes: "access tokens carry cid, uid, scp and jti AT....; the default server's audience is api://default",
        fixes: &[
            (CauseId::AudienceOtherApi, "Set the API's audience to the authorization server's Audience (Okta admin: Security > API > Authorization Servers > {server} > Settings), or request the token from the server whose audience is {expected_aud}."),
            (CauseId::AudienceNearMiss, "Copy the Audience of authorization server {server} verbatim (Security > API > Authorization Servers): the token says {aud}."),
            (CauseId::TokenFromOtherIssuer, "The token comes from authorization server {found_iss}; the API trusts {expected_iss}. Request tokens from the same authorization server (and the same org: okta.com vs oktapreview.com) the API is configured for."),
        ],
    },
    ProviderSpec {
        id: ProviderId::OktaOrg,
        name: "Okta (org authorization server)",
        issuer_patterns: &[
            "https://{org}.okta.com",
            "https://{org}.oktapreview.com",
            "https://{org}.okta-emea.com",
        ],
        discovery: "{issuer}/.well-known/openid-configuration",
        jwks: "{issuer}/oauth2/v1/keys",
        trailing_slash: false,
        notes: "the org authorization server's access tokens are for Okta's own APIs only: they cannot be validated by your API (treat them as opaque)",
        fixes: &[],
    },
    ProviderSpec {
        id: ProviderId::Auth0,
        name: "Auth0",
        issuer_patterns: &["https://{tenant}.{region}.auth0.com/", "https://{tenant}.auth0.com/"],
        discovery: "{issuer}.well-known/openid-configuration",
        jwks: "{issuer}.well-known/jwks.json",
        trailing_slash: true,
        notes: "issuers always end with '/'; without an audience parameter Auth0 issues an opaque (or JWE) access token meant only for /userinfo",
        fixes: &[
            (CauseId::SymmetricToken, "In the Auth0 dashboard set the signing algorithm to RS256: Applications > (your app) > Settings > Advanced Settings > OAuth > JSON Web Token Signature Algorithm, and for APIs: APIs > (your API) > Settings > Signing Algorithm. Then get a new token; the API verifies it with the tenant's JWKS."),
            (CauseId::IssuerNearMiss, "Auth0 issuers always end with '/': set the issuer to exactly \"{found_iss}\"."),
            (CauseId::AudienceOtherApi, "Request the token with audience=<your API identifier> (Auth0 dashboard: APIs > Identifier); the token is for {aud}."),
            (CauseId::OpaqueToken, "Request the access token with audience=<your API identifier> (SPA SDK: authorizationParams.audience) or set the tenant's Default Audience; without an audience Auth0 issues an opaque token only good for /userinfo."),
            (CauseId::EncryptedToken, "Request the access token with audience=<your API identifier>, or turn off JSON Web Encryption in APIs > (your API) > Settings: Auth0 encrypts tokens for APIs with JWE enabled."),
        ],
    },
    ProviderSpec {
        id: ProviderId::Cognito,
        name: "Amazon Cognito user pool",
        issuer_patterns: &["https://cognito-idp.{region}.amazonaws.com/{pool}"],
        discovery: "{issuer}/.well-known/openid-configuration",
        jwks: "{issuer}/.well-known/jwks.json",
        trailing_slash: false,
        notes: "access tokens carry token_use access and the app client id in client_id, never aud; ID tokens carry token_use id and aud",
        fixes: &[
            (CauseId::IdTokenAsAccessToken, "Send the access token (session.tokens.accessToken / AuthenticationResult.AccessToken, token_use access), not the ID token."),
            (CauseId::TokenFromOtherIssuer, "The token comes from user pool {found_pool} ({found_region}); the API trusts {expected_pool} ({expected_region}): use the same user pool on both sides."),
        ],
    },
    ProviderSpec {
        id: ProviderId::Keycloak,
        name: "Keycloak",
        issuer_patterns: &["{scheme}://{host}/auth/realms/{realm}", "{scheme}://{host}/realms/{realm}"],
        discovery: "{issuer}/.well-known/openid-configuration",
        jwks: "{issuer}/protocol/openid-connect/certs",
        trailing_slash: false,
        notes: "access tokens carry typ Bearer in the payload, azp, realm_access; their default audience is account; refresh tokens are HS* signed with the realm's HMAC key",
        fixes: &[
            (CauseId::IssuerHostMismatch, "Keycloak stamps the host the client used into iss: pin its public hostname (KC_HOSTNAME={found_host}, or --hostname) so every token carries one issuer, set the API's issuer to \"{found_iss}\", and fetch discovery/keys from the internal URL if the API cannot reach the public one."),
            (CauseId::TokenFromOtherIssuer, "The token comes from realm {found_realm}, the API trusts realm {expected_realm}: request the token from the realm the API is configured for."),
            (CauseId::DiscoveryUnreachable, "Check the realm URL: Keycloak 17+ serves realms at /realms/{realm} (no /auth prefix, unless started with --http-relative-path=/auth)."),
        ],
    },
    ProviderSpec {
        id: ProviderId::Firebase,
        name: "Firebase Authentication (ID tokens)",
        issuer_patterns: &["https://securetoken.google.com/{project}"],
        discovery: "https://securetoken.google.com/{project}/.well-known/openid-configuration",
        jwks: "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com",
        trailing_slash: false,
        notes: "ID tokens live one hour and carry aud = the project id; custom tokens, session cookies and Google sign-in tokens are different tokens",
        fixes: &[
            (CauseId::TokenExpired, "Firebase ID tokens live one hour: have the client call user.getIdToken() before each request (it refreshes the token when needed)."),
            (CauseId::TokenFromOtherIssuer, "The token comes from Firebase project {found_project}; the API trusts project {expected_project}: use one project's config on both sides."),
        ],
    },
    ProviderSpec {
        id: ProviderId::FirebaseSession,
        name: "Firebase session cookie",
        issuer_patterns: &["https://session.firebase.google.com/{project}"],
        discovery: "",
        jwks: "https://www.googleapis.com/identitytoolkit/v3/relyingparty/publicKeys",
        trailing_slash: false,
        notes: "session cookies are verified with verifySessionCookie() and their own keys, not as ID tokens",
        fixes: &[],
    },
    ProviderSpec {
        id: ProviderId::FirebaseCustom,
        name: "Firebase custom token (service account)",
        issuer_patterns: &["{account}@{project}.iam.gserviceaccount.com"],
        discovery: "",
        jwks: "",
        trailing_slash: false,
        notes: "a custom token is exchanged by the client with signInWithCustomToken(); it is never a bearer token for an API",
        fixes: &[],
    },
    ProviderSpec {
        id: ProviderId::Google,
        name: "Google (Sign-In ID tokens)",
        issuer_patterns: &["https://accounts.google.com", "accounts.google.com"],
        discovery: "https://accounts.google.com/.well-known/openid-configuration",
        jwks: "https://www.googleapis.com/oauth2/v3/certs",
        trailing_slash: false,
        notes: "Google ID tokens use both https://accounts.google.com and accounts.google.com as issuer; Google access tokens (ya29....) are opaque",
        fixes: &[
            (CauseId::IssuerNearMiss, "Google issues both \"https://accounts.google.com\" and \"accounts.google.com\": accept both issuers exactly."),
        ],
    },
];

/// The fix for a JWE with alg `dir` (direct encryption with a key only the identity provider
/// holds), whoever issued it: Auth0 is the usual source, and its advice is the one that helps.
pub(crate) const DIRECT_JWE_FIX: &str = "Request the access token with this API's audience (Auth0: audience=<API identifier>): without one, Auth0 returns a token encrypted for itself (alg dir) that only its /userinfo endpoint can read.";

/// The generic provider used when no pattern matches.
pub const GENERIC: ProviderSpec = ProviderSpec {
    id: ProviderId::Generic,
    name: "generic OpenID Connect issuer",
    issuer_patterns: &[],
    discovery: "{base}/.well-known/openid-configuration",
    jwks: "",
    trailing_slash: false,
    notes: "the jwks_uri comes from the discovery document",
    fixes: &[],
};

/// A provider recognised from an issuer, with the parts its pattern captured.
#[derive(Clone, Debug)]
pub struct Recognised {
    /// The matching spec ([`GENERIC`] when none matched).
    pub spec: &'static ProviderSpec,
    /// The issuer it was recognised from.
    pub issuer: String,
    /// The captured parts (`tenant`, `realm`, `host`...).
    pub captures: BTreeMap<String, String>,
}

impl Recognised {
    /// The provider's discovery document URL for this issuer, when it has a known format.
    pub fn discovery_url(&self) -> Option<String> {
        self.fill(self.spec.discovery, &BTreeMap::new())
    }
    /// The provider's JWKS URL for this issuer, when it has a known format.
    pub fn jwks_url(&self) -> Option<String> {
        self.fill(self.spec.jwks, &BTreeMap::new())
    }
    /// A capture by name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.captures.get(name).map(String::as_str)
    }
    /// Fills a template with this issuer's captures and `extra`; `None` if a name is unknown
    /// or the template is empty.
    pub fn fill(&self, template: &str, extra: &BTreeMap<String, String>) -> Option<String> {
        if template.is_empty() {
            return None;
        }
        let mut vars = self.captures.clone();
        vars.insert("issuer".into(), self.issuer.clone());
        vars.insert("base".into(), self.issuer.trim_end_matches('/').to_string());
        for (k, v) in extra {
            vars.entry(k.clone()).or_insert_with(|| v.clone());
        }
        fill_template(template, &vars)
    }
}

/// Replaces every `{name}` in `template`; `None` when a name has no value.
pub fn fill_template(template: &str, vars: &BTreeMap<String, String>) -> Option<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find('}')?;
        let name = &after[..end];
        out.push_str(vars.get(name)?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Recognises the provider of an issuer (generic when no pattern matches).
///
/// ```
/// use tollgate::doctor::providers::{recognise, ProviderId};
/// let p = recognise("https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/");
/// assert_eq!(p.spec.id, ProviderId::EntraV1);
/// assert_eq!(p.get("tenant"), Some("72f988bf-86f1-41af-91ab-2d7cd011db47"));
/// assert_eq!(recognise("https://idp.example.com").spec.id, ProviderId::Generic);
/// ```
pub fn recognise(issuer: &str) -> Recognised {
    for spec in PROVIDERS {
        for pattern in spec.issuer_patterns {
            if let Some(captures) = match_pattern(pattern, issuer) {
                return Recognised {
                    spec,
                    issuer: issuer.to_string(),
                    captures,
                };
            }
        }
    }
    Recognised {
        spec: &GENERIC,
        issuer: issuer.to_string(),
        captures: BTreeMap::new(),
    }
}

/// The spec with this id.
pub fn by_id(id: ProviderId) -> &'static ProviderSpec {
    PROVIDERS.iter().find(|p| p.id == id).unwrap_or(&GENERIC)
}

enum Piece<'p> {
    Lit(&'p str),
    Var { name: &'p str, in_host: bool },
}

fn pieces(pattern: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = pattern;
    let mut consumed = String::new();
    while let Some(start) = rest.find('{') {
        if start > 0 {
            out.push(Piece::Lit(&rest[..start]));
            consumed.push_str(&rest[..start]);
        }
        let after = &rest[start + 1..];
        let end = after.find('}').unwrap_or(after.len());
        let in_host = match consumed.find("://") {
            Some(i) => !consumed[i + 3..].contains('/'),
            None => !consumed.contains('/'),
        };
        out.push(Piece::Var {
            name: &after[..end],
            in_host,
        });
        consumed.push('x');
        rest = after.get(end + 1..).unwrap_or("");
    }
    if !rest.is_empty() {
        out.push(Piece::Lit(rest));
    }
    out
}

fn allowed(name: &str, in_host: bool, c: char) -> bool {
    match name {
        "host" => c != '/',
        "scheme" => c.is_ascii_alphabetic(),
        _ if in_host => c != '/' && c != '.',
        _ => c != '/',
    }
}

fn match_pattern(pattern: &str, input: &str) -> Option<BTreeMap<String, String>> {
    let ps = pieces(pattern);
    let mut caps = BTreeMap::new();
    match_from(&ps, input, &mut caps).then_some(caps)
}

fn match_from(ps: &[Piece<'_>], input: &str, caps: &mut BTreeMap<String, String>) -> bool {
    match ps.first() {
        None => input.is_empty(),
        Some(Piece::Lit(lit)) => {
            input.len() >= lit.len()
                && input.is_char_boundary(lit.len())
                && input[..lit.len()].eq_ignore_ascii_case(lit)
                && match_from(&ps[1..], &input[lit.len()..], caps)
        }
        Some(Piece::Var { name, in_host }) => {
            let max = input
                .char_indices()
                .find(|(_, c)| !allowed(name, *in_host, *c))
                .map(|(i, _)| i)
                .unwrap_or(input.len());
            // Longest first, backtracking to shorter captures.
            let mut ends: Vec<usize> = input[..max]
                .char_indices()
                .map(|(i, c)| i + c.len_utf8())
                .collect();
            ends.reverse();
            for end in ends {
                if match_from(&ps[1..], &input[end..], caps) {
                    caps.insert(name.to_string(), input[..end].to_string());
                    return true;
                }
            }
            false
        }
    }
}

/// Well-known audiences of APIs that are not yours: (audience, what it is).
pub const FOREIGN_AUDIENCES: &[(&str, &str)] = &[
    ("https://graph.microsoft.com", "Microsoft Graph"),
    ("00000003-0000-0000-c000-000000000000", "Microsoft Graph"),
    ("https://graph.windows.net", "Azure AD Graph (retired)"),
    (
        "00000002-0000-0000-c000-000000000000",
        "Azure AD Graph (retired)",
    ),
    ("https://management.azure.com/", "Azure Resource Manager"),
    (
        "https://management.core.windows.net/",
        "Azure Service Management",
    ),
    ("https://vault.azure.net", "Azure Key Vault"),
    ("https://storage.azure.com/", "Azure Storage"),
    (
        "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit",
        "Firebase's token exchange (a custom token)",
    ),
];

/// Audiences that belong to Microsoft Graph (a Graph token is not meant for your API).
pub const GRAPH_AUDIENCES: &[&str] = &[
    "https://graph.microsoft.com",
    "https://graph.microsoft.com/",
    "00000003-0000-0000-c000-000000000000",
    "https://graph.windows.net",
    "https://graph.windows.net/",
    "00000002-0000-0000-c000-000000000000",
];

/// Opaque (non-JWT) token formats: (prefix, who issues it, why it is not a JWT).
pub const OPAQUE_FORMATS: &[(&str, &str, &str)] = &[
    ("ya29.", "Google OAuth", "Google access tokens are opaque; only Google can check them (tokeninfo/userinfo). Send a Google ID token, or validate remotely"),
    ("1//", "Google OAuth", "this is a Google refresh token; it is never sent to an API"),
    ("EwA", "Microsoft personal accounts (MSA)", "access tokens for personal Microsoft accounts and first-party resources are opaque (encrypted) and only Microsoft can read them; request a token for your own API's scope"),
    ("ghp_", "GitHub", "GitHub personal access tokens are opaque API keys"),
    ("gho_", "GitHub", "GitHub OAuth tokens are opaque"),
    ("xox", "Slack", "Slack tokens are opaque"),
    ("v2.local.", "PASETO", "a PASETO local (encrypted) token, not a JWT"),
    ("v4.public.", "PASETO", "a PASETO public token, not a JWT"),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The ids are a public, reported vocabulary: pinned here, spelled out, on purpose; and
    /// each has exactly one spec.
    #[test]
    fn provider_ids_are_pinned() {
        assert_eq!(
            ProviderId::STRS,
            [
                "azure_b2c",
                "entra_v2",
                "entra_v1",
                "okta_custom",
                "okta_org",
                "auth0",
                "cognito",
                "keycloak",
                "firebase",
                "firebase_session",
                "firebase_custom",
                "google",
                "generic",
            ]
        );
        let mut specs: Vec<ProviderId> = PROVIDERS.iter().map(|p| p.id).collect();
        specs.push(GENERIC.id);
        assert_eq!(specs, ProviderId::ALL);
    }

    #[test]
    fn recognises_the_main_providers() {
        let cases = [
            (
                "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
                ProviderId::EntraV2,
            ),
            (
                "https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/",
                ProviderId::EntraV1,
            ),
            (
                "https://contoso.b2clogin.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0/",
                ProviderId::AzureB2c,
            ),
            (
                "https://dev-123.okta.com/oauth2/default",
                ProviderId::OktaCustom,
            ),
            (
                "https://login.example.com/oauth2/aus1abc",
                ProviderId::OktaCustom,
            ),
            ("https://dev-123.okta.com", ProviderId::OktaOrg),
            ("https://acme.auth0.com/", ProviderId::Auth0),
            ("https://acme.eu.auth0.com/", ProviderId::Auth0),
            (
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf",
                ProviderId::Cognito,
            ),
            ("http://localhost:8080/realms/shop", ProviderId::Keycloak),
            (
                "https://sso.example.com/auth/realms/shop",
                ProviderId::Keycloak,
            ),
            ("https://accounts.google.com", ProviderId::Google),
            ("accounts.google.com", ProviderId::Google),
            (
                "https://securetoken.google.com/my-proj",
                ProviderId::Firebase,
            ),
            (
                "https://session.firebase.google.com/my-proj",
                ProviderId::FirebaseSession,
            ),
            (
                "firebase-adminsdk-x1@my-proj.iam.gserviceaccount.com",
                ProviderId::FirebaseCustom,
            ),
            ("https://idp.example.com/", ProviderId::Generic),
        ];
        for (iss, id) in cases {
            assert_eq!(recognise(iss).spec.id, id, "{iss}");
        }
        let a = recognise("https://acme.eu.auth0.com/");
        assert_eq!(a.get("tenant"), Some("acme"));
        assert_eq!(a.get("region"), Some("eu"));
        let k = recognise("http://localhost:8080/realms/shop");
        assert_eq!(k.get("host"), Some("localhost:8080"));
        assert_eq!(k.get("realm"), Some("shop"));
        assert_eq!(
            k.jwks_url().unwrap(),
            "http://localhost:8080/realms/shop/protocol/openid-connect/certs"
        );
        assert_eq!(
            recognise("https://acme.auth0.com/")
                .discovery_url()
                .unwrap(),
            "https://acme.auth0.com/.well-known/openid-configuration"
        );
    }

    #[test]
    fn templates_need_every_value() {
        let mut vars = BTreeMap::new();
        vars.insert("a".to_string(), "1".to_string());
        assert_eq!(fill_template("x{a}y", &vars).as_deref(), Some("x1y"));
        assert_eq!(fill_template("x{b}y", &vars), None);
    }
}
