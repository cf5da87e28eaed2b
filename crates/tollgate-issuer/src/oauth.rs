//! The token endpoint's rules (RFC 6749 section 4.4, client credentials): who the client is,
//! what it may ask for, and the standard error for everything else (RFC 6749 section 5.2,
//! RFC 8707 for `resource`).

use base64::Engine;
use serde_json::{json, Value};
use tollgate::text::form_decode;

use crate::options::Client;

/// A standard OAuth error response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    /// HTTP status: 400, or 401 for `invalid_client`.
    pub status: u16,
    /// The RFC 6749 `error` code (`invalid_request`, `invalid_client`, `unsupported_grant_type`,
    /// `invalid_scope`, `invalid_target`, ...).
    pub error: &'static str,
    /// `error_description`: what was wrong and how to fix it.
    pub description: String,
    /// Whether to answer `WWW-Authenticate: Basic` (the client tried HTTP Basic).
    pub basic_challenge: bool,
}

impl OAuthError {
    pub(crate) fn new(error: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError {
            status: 400,
            error,
            description: description.into(),
            basic_challenge: false,
        }
    }

    fn invalid_client(description: impl Into<String>, basic: bool) -> OAuthError {
        OAuthError {
            status: 401,
            error: "invalid_client",
            description: description.into(),
            basic_challenge: basic,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({"error": self.error, "error_description": self.description})
    }
}

/// What a successful request is granted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The authenticated client.
    pub client_id: String,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// The token's audiences (one or more).
    pub audiences: Vec<String>,
    /// The tenant requested with `tenant` (multi-tenant issuers only), checked to be a
    /// tenant id.
    pub tenant: Option<String>,
}

/// What the rules need to know about the issuer.
pub struct Registry<'a> {
    /// Registered clients.
    pub clients: &'a [Client],
    /// Every scope of the issuer.
    pub scopes: &'a [String],
    /// The issuer's audiences (the first is the default one; default tokens carry all).
    pub audiences: &'a [String],
    /// True when the issuer plays a multi-tenant provider (a `tenant` may be requested).
    pub multi_tenant: bool,
}

/// Parameters that may appear several times (RFC 8707 `resource`, and `audience` alike).
const REPEATABLE: [&str; 2] = ["resource", "audience"];

/// At most this many `audience`/`resource` values per request: 8, more than any real
/// client asks for, so a request cannot grow a token without bound.
const MAX_AUDIENCES: usize = 8;
/// The longest `audience`/`resource` value granted: 512 bytes, longer than any API URI.
const MAX_AUDIENCE_LEN: usize = 512;

/// Decides a client-credentials request: `authorization` is the `Authorization` header (if
/// any), `form` the decoded form parameters in order.
pub fn decide(
    registry: &Registry<'_>,
    authorization: Option<&str>,
    form: &[(String, String)],
) -> Result<Grant, OAuthError> {
    let client = authenticate(registry, authorization, form)?;
    let param = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    grant(registry, client, form, param)
}

/// The client a request authenticates as (HTTP Basic, or `client_id` and `client_secret`
/// in the form), after refusing repeated parameters: the rule of every endpoint that needs
/// a client (token, introspection RFC 7662, revocation RFC 7009).
pub fn authenticate<'r>(
    registry: &Registry<'r>,
    authorization: Option<&str>,
    form: &[(String, String)],
) -> Result<&'r Client, OAuthError> {
    for (i, (name, _)) in form.iter().enumerate() {
        if !REPEATABLE.contains(&name.as_str()) && form[..i].iter().any(|(n, _)| n == name) {
            return Err(OAuthError::new(
                "invalid_request",
                format!("the parameter {name:?} is given more than once (RFC 6749 section 3.2)"),
            ));
        }
    }
    let param = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let basic = match authorization {
        Some(h) => Some(parse_basic(h)?),
        None => None,
    };
    let form_client = param("client_id");
    let form_secret = param("client_secret");
    if let Some((basic_id, _)) = &basic {
        if form_secret.is_some() || form_client.is_some_and(|id| id != basic_id) {
            return Err(OAuthError::new(
                "invalid_request",
                "the client authenticated twice (HTTP Basic and client_id/client_secret in the body); use one method (RFC 6749 section 2.3)",
            ));
        }
    }
    let used_basic = basic.is_some();
    // Candidate (id, secret) pairs: RFC 6749 2.3.1 form-encodes Basic credentials, but most
    // clients (curl -u) send them raw, so both readings are tried.
    let candidates: Vec<(String, String)> = match (basic, form_client) {
        (Some(pair), _) => {
            let decoded = (form_decode(&pair.0).into_owned(), form_decode(&pair.1).into_owned());
            if decoded == pair {
                vec![pair]
            } else {
                vec![pair, decoded]
            }
        }
        (None, Some(id)) => vec![(id.to_string(), form_secret.unwrap_or_default().to_string())],
        (None, None) => {
            return Err(OAuthError::invalid_client(
                "no client authentication: send HTTP Basic (curl -u ID:SECRET) or client_id and client_secret in the form body",
                true,
            ))
        }
    };
    let client = candidates.iter().find_map(|(id, secret)| {
        registry
            .clients
            .iter()
            .find(|c| &c.id == id && secrets_equal(&c.secret, secret))
    });
    let Some(client) = client else {
        let id = &candidates[0].0;
        let known = candidates
            .iter()
            .any(|(id, _)| registry.clients.iter().any(|c| &c.id == id));
        let reason = if known {
            format!("wrong secret for client {id:?}")
        } else {
            format!("unknown client {id:?}")
        };
        return Err(OAuthError::invalid_client(reason, used_basic));
    };
    Ok(client)
}

fn grant<'f>(
    registry: &Registry<'_>,
    client: &Client,
    form: &'f [(String, String)],
    param: impl Fn(&str) -> Option<&'f str>,
) -> Result<Grant, OAuthError> {
    match param("grant_type") {
        None => {
            return Err(OAuthError::new(
                "invalid_request",
                "the parameter grant_type is missing; send grant_type=client_credentials",
            ))
        }
        Some("client_credentials") => {}
        Some(other) => {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                format!("grant_type {other:?} is not supported here; this dev issuer supports client_credentials"),
            ))
        }
    }
    let allowed_scopes: &[String] = if client.scopes.is_empty() {
        registry.scopes
    } else {
        &client.scopes
    };
    let scopes: Vec<String> = match param("scope") {
        None => allowed_scopes.to_vec(),
        Some(requested) => {
            let mut granted = Vec::new();
            for s in requested.split(' ').filter(|s| !s.is_empty()) {
                if !allowed_scopes.iter().any(|a| a == s) {
                    return Err(OAuthError::new(
                        "invalid_scope",
                        format!(
                            "scope {s:?} is not allowed for client {:?}; allowed: {}",
                            client.id,
                            allowed_scopes.join(" ")
                        ),
                    ));
                }
                if !granted.iter().any(|g| g == s) {
                    granted.push(s.to_string());
                }
            }
            granted
        }
    };
    // A client registered with audiences gets only those; otherwise (the default client) a
    // dev issuer serves whatever APIs the developer is building: any audience requested is
    // granted, within sane bounds.
    let restricted = !client.audiences.is_empty();
    let allowed_audiences: Vec<&str> = if restricted {
        client.audiences.iter().map(String::as_str).collect()
    } else {
        registry.audiences.iter().map(String::as_str).collect()
    };
    let mut audiences: Vec<String> = Vec::new();
    for (_, requested) in form
        .iter()
        .filter(|(n, _)| REPEATABLE.contains(&n.as_str()))
    {
        if requested.is_empty()
            || requested.len() > MAX_AUDIENCE_LEN
            || requested.chars().any(char::is_control)
            || audiences.len() >= MAX_AUDIENCES
        {
            return Err(OAuthError::new(
                "invalid_target",
                format!(
                    "the audience/resource {} is not usable: at most {MAX_AUDIENCES} values of 1 to {MAX_AUDIENCE_LEN} bytes without control characters",
                    tollgate::text::cut_quoted(requested)
                ),
            ));
        }
        if restricted && !allowed_audiences.contains(&requested.as_str()) {
            return Err(OAuthError::new(
                "invalid_target",
                format!(
                    "the audience/resource {requested:?} is not available to client {:?}; allowed: {}",
                    client.id,
                    allowed_audiences.join(" ")
                ),
            ));
        }
        if !audiences.contains(requested) {
            audiences.push(requested.clone());
        }
    }
    if audiences.is_empty() {
        if restricted {
            audiences.push(allowed_audiences[0].to_string());
        } else {
            audiences.extend(allowed_audiences.iter().map(|a| a.to_string()));
        }
    }
    let tenant = match param("tenant") {
        None => None,
        Some(_) if !registry.multi_tenant => {
            return Err(OAuthError::new(
                "invalid_request",
                "this issuer has a single tenant; start it with --multi-tenant to choose a tenant per token",
            ))
        }
        Some(t) if !tollgate::claims::is_tenant_id(t) => {
            return Err(OAuthError::new(
                "invalid_request",
                format!(
                    "tenant {} is not a tenant id: a GUID in lower case (8-4-4-4-12 digits 0-9a-f)",
                    tollgate::text::cut_quoted(t)
                ),
            ))
        }
        Some(t) => Some(t.to_string()),
    };
    Ok(Grant {
        client_id: client.id.clone(),
        scopes,
        audiences,
        tenant,
    })
}

fn secrets_equal(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

/// Parses `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`
/// (RFC 6749 section 2.3.1).
fn parse_basic(header: &str) -> Result<(String, String), OAuthError> {
    let bad = |why: &str| {
        OAuthError::invalid_client(
            format!(
                "the Authorization header {why}; expected Basic base64(client_id:client_secret)"
            ),
            true,
        )
    };
    let (scheme, rest) = header
        .trim()
        .split_once(' ')
        .ok_or_else(|| bad("has no credentials"))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad(&format!("uses the {scheme:?} scheme")));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .map_err(|_| bad("is not valid base64"))?;
    let text = String::from_utf8(decoded).map_err(|_| bad("is not UTF-8"))?;
    let (id, secret) = text.split_once(':').ok_or_else(|| bad("has no ':'"))?;
    Ok((id.to_string(), secret.to_string()))
}

/// Decodes an `application/x-www-form-urlencoded` body into its parameters, in order.
///
/// ```
/// let p = tollgate_issuer::oauth::parse_form(b"grant_type=client_credentials&scope=read+write");
/// assert_eq!(p[1], ("scope".to_string(), "read write".to_string()));
/// ```
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                form_decode(name).into_owned(),
                form_decode(value).into_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(s: &str) -> Vec<(String, String)> {
        parse_form(s.as_bytes())
    }

    fn basic(id: &str, secret: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        )
    }

    #[test]
    fn basic_credentials_raw_or_form_encoded() {
        let clients = [Client::new("a b", "p+q")];
        let scopes = ["read".to_string()];
        let r = Registry {
            clients: &clients,
            scopes: &scopes,
            audiences: &["api".to_string()],
            multi_tenant: false,
        };
        let cc = form("grant_type=client_credentials");
        // Raw (curl -u) and RFC 6749 2.3.1 form-encoded both authenticate.
        assert!(decide(&r, Some(&basic("a b", "p+q")), &cc).is_ok());
        assert!(decide(&r, Some(&basic("a+b", "p%2Bq")), &cc).is_ok());
        let e = decide(&r, Some("Bearer x"), &cc).unwrap_err();
        assert_eq!((e.status, e.error), (401, "invalid_client"));
        assert!(e.basic_challenge);
        let e = decide(&r, Some("Basic !!!"), &cc).unwrap_err();
        assert_eq!(e.error, "invalid_client");
    }

    #[test]
    fn grant_defaults_and_duplicates() {
        let clients = [Client::default()];
        let scopes = ["read".to_string(), "write".to_string()];
        let r = Registry {
            clients: &clients,
            scopes: &scopes,
            audiences: &["api://default".to_string(), "api://second".to_string()],
            multi_tenant: false,
        };
        let auth = basic("dev", "dev-secret");
        let g = decide(&r, Some(&auth), &form("grant_type=client_credentials")).unwrap();
        assert_eq!(g.scopes, ["read", "write"]);
        assert_eq!(g.audiences, ["api://default", "api://second"]);
        // An audience the issuer was not told about is granted (dev mode), within bounds.
        let g = decide(
            &r,
            Some(&auth),
            &form("grant_type=client_credentials&resource=api://new&audience=api://new"),
        )
        .unwrap();
        assert_eq!(g.audiences, ["api://new"]);
        for bad in [
            "resource=".to_string(),
            format!("resource={}", "a".repeat(513)),
            "resource=a%0Ab".to_string(),
            (0..9)
                .map(|i| format!("audience=a{i}"))
                .collect::<Vec<_>>()
                .join("&"),
        ] {
            let e = decide(
                &r,
                Some(&auth),
                &form(&format!("grant_type=client_credentials&{bad}")),
            )
            .unwrap_err();
            assert_eq!(e.error, "invalid_target", "{bad}");
        }
        // A tenant only on a multi-tenant issuer, and only a tenant id.
        let tenant = "grant_type=client_credentials&tenant=72f988bf-86f1-41af-91ab-2d7cd011db47";
        assert_eq!(
            decide(&r, Some(&auth), &form(tenant)).unwrap_err().error,
            "invalid_request"
        );
        let multi = Registry {
            multi_tenant: true,
            ..r
        };
        let g = decide(&multi, Some(&auth), &form(tenant)).unwrap();
        assert_eq!(
            g.tenant.as_deref(),
            Some("72f988bf-86f1-41af-91ab-2d7cd011db47")
        );
        for bad in [
            "x/../evil",
            "72F988BF-86F1-41AF-91AB-2D7CD011DB47",
            "common",
            "a%3Fb",
        ] {
            let e = decide(
                &multi,
                Some(&auth),
                &form(&format!("grant_type=client_credentials&tenant={bad}")),
            )
            .unwrap_err();
            assert_eq!(e.error, "invalid_request", "{bad}");
        }
        let g = decide(
            &r,
            Some(&auth),
            &form("grant_type=client_credentials&scope=write+write"),
        )
        .unwrap();
        assert_eq!(g.scopes, ["write"]);
        let e = decide(
            &r,
            Some(&auth),
            &form("grant_type=client_credentials&grant_type=client_credentials"),
        )
        .unwrap_err();
        assert_eq!(e.error, "invalid_request");
    }

    #[test]
    fn form_decoding_is_lenient_about_bad_escapes() {
        assert_eq!(form_decode("a%2"), "a%2");
        assert_eq!(form_decode("%zz%41"), "%zzA");
        assert_eq!(parse_form(b"a&b=&=c"), form("a=&b=&=c"));
    }
}
