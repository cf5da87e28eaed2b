//! OpenID Connect discovery (OpenID Connect Discovery 1.0, RFC 8414): where the discovery
//! document lives, and how a configured issuer compares with the one the document names.

use serde_json::Value;

use super::fetch::{parse_json, FetchError, Fetched};
use super::remote_url::parse_remote_url;
use crate::json;

/// A discovery document, fetched or read from a file.
#[derive(Clone, Debug, PartialEq)]
pub struct Discovery {
    /// The document's `issuer`.
    pub issuer: String,
    /// The document's `jwks_uri` (already checked: https, or http on loopback).
    pub jwks_uri: String,
    /// The whole document.
    pub raw: Value,
    /// Where it was fetched from (or the file it was read from).
    pub url: String,
}

impl Discovery {
    /// Parses a discovery document read from `url` (a URL or a file name, for messages):
    /// a JSON object with string `issuer` and `jwks_uri`; `jwks_uri` must pass
    /// [`check_remote_url`](super::check_remote_url). The issuer is not compared here.
    ///
    /// ```
    /// use tollgate::keys::Discovery;
    /// let doc = br#"{"issuer": "https://idp.example", "jwks_uri": "https://idp.example/keys"}"#;
    /// let d = Discovery::from_json("disco.json", doc).unwrap();
    /// assert_eq!(d.jwks_uri, "https://idp.example/keys");
    /// assert!(Discovery::from_json("disco.json", br#"{"issuer": "x"}"#).is_err());
    /// ```
    pub fn from_json(url: &str, body: &[u8]) -> Result<Discovery, FetchError> {
        let w = Fetched::Discovery;
        let raw = parse_json(w, url, body)?;
        let obj = raw.as_object().ok_or_else(|| FetchError::Json {
            what: w,
            url: url.to_string(),
            reason: format!("expected a JSON object, found {}", json::kind(&raw)),
        })?;
        let string = |name: &str| -> Result<String, FetchError> {
            match obj.get(name) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => Err(FetchError::Json {
                    what: w,
                    url: url.to_string(),
                    reason: format!(
                        "member {name:?} must be a string, found {}",
                        json::kind(other)
                    ),
                }),
                None => Err(FetchError::Json {
                    what: w,
                    url: url.to_string(),
                    reason: format!("member {name:?} is missing"),
                }),
            }
        };
        let issuer = string("issuer")?;
        let jwks_uri = string("jwks_uri")?;
        parse_remote_url(&jwks_uri).map_err(|e| match e {
            FetchError::InsecureUrl { reason, .. } => FetchError::Json {
                what: w,
                url: url.to_string(),
                reason: format!("its jwks_uri {jwks_uri:?} cannot be used: {reason}"),
            },
            other => other,
        })?;
        Ok(Discovery {
            issuer,
            jwks_uri,
            raw,
            url: url.to_string(),
        })
    }
}

/// The discovery URL of an issuer: `{issuer without trailing /}/.well-known/openid-configuration`.
///
/// ```
/// use tollgate::keys::discovery_url;
/// assert_eq!(
///     discovery_url("https://login.example.com/tenant/"),
///     "https://login.example.com/tenant/.well-known/openid-configuration"
/// );
/// ```
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim().trim_end_matches('/')
    )
}

/// Compares a configured issuer with the one a discovery document (or a token) names.
/// `None` when they are equal exactly; otherwise the difference in words, naming the usual
/// causes: whitespace, a trailing slash, the scheme, letter case, Azure's `{tenantid}`
/// template, the host, the path.
///
/// ```
/// use tollgate::keys::compare_issuers;
/// assert_eq!(compare_issuers("https://idp.example.com", "https://idp.example.com"), None);
/// let diff = compare_issuers("https://idp.example.com", "https://idp.example.com/").unwrap();
/// assert!(diff.contains("trailing slash"));
/// ```
pub fn compare_issuers(configured: &str, found: &str) -> Option<String> {
    if configured == found {
        return None;
    }
    if configured.trim() != configured || found.trim() != found {
        let which = if configured.trim() != configured {
            "the configured issuer"
        } else {
            "the issuer found"
        };
        let rest = compare_issuers(configured.trim(), found.trim())
            .map(|d| format!("; also {d}"))
            .unwrap_or_default();
        return Some(format!(
            "whitespace: {which} has leading or trailing whitespace{rest}"
        ));
    }
    if found.to_ascii_lowercase().contains("{tenantid}") {
        return Some(format!(
            "Azure template: {found:?} contains the literal placeholder {{tenantid}}, which the \
             multi-tenant \"common\"/\"organizations\" endpoints publish; configure your tenant's \
             own issuer (https://login.microsoftonline.com/<tenant-id>/v2.0) or its discovery URL"
        ));
    }
    if configured.trim_end_matches('/') == found.trim_end_matches('/') {
        return Some(if configured.ends_with('/') {
            "trailing slash: the configured issuer ends with \"/\", the issuer found does not"
                .to_string()
        } else {
            "trailing slash: the issuer found ends with \"/\", the configured issuer does not"
                .to_string()
        });
    }
    let (cs, crest) = split_scheme(configured);
    let (fs, frest) = split_scheme(found);
    if !cs.eq_ignore_ascii_case(fs) && crest == frest {
        return Some(format!(
            "scheme: configured {cs:?}, found {fs:?}; the rest is equal"
        ));
    }
    if configured.eq_ignore_ascii_case(found) {
        return Some(
            "letter case: the two differ only in upper/lower case, and issuers are compared exactly"
                .to_string(),
        );
    }
    if configured
        .trim_end_matches('/')
        .eq_ignore_ascii_case(found.trim_end_matches('/'))
    {
        return Some("letter case and trailing slash differ".to_string());
    }
    let (ch, cpath) = split_host(crest);
    let (fh, fpath) = split_host(frest);
    if !ch.eq_ignore_ascii_case(fh) {
        return Some(format!("host: configured {ch:?}, found {fh:?}"));
    }
    if !cs.eq_ignore_ascii_case(fs) {
        return Some(format!(
            "scheme: configured {cs:?}, found {fs:?}; the paths also differ ({cpath:?} vs {fpath:?})"
        ));
    }
    Some(format!("path: configured {cpath:?}, found {fpath:?}"))
}

fn split_scheme(s: &str) -> (&str, &str) {
    match s.find("://") {
        Some(i) => (&s[..i], &s[i + 3..]),
        None => ("", s),
    }
}

fn split_host(rest: &str) -> (&str, &str) {
    match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_are_named() {
        let d = |a, b| compare_issuers(a, b).unwrap();
        assert!(d("https://a.example/", "https://a.example").contains("trailing slash"));
        assert!(d("http://a.example", "https://a.example").starts_with("scheme"));
        assert!(d("https://A.example/T", "https://a.example/t").starts_with("letter case"));
        assert!(d(" https://a.example", "https://a.example").starts_with("whitespace"));
        assert!(d(
            "https://login.microsoftonline.com/0000/v2.0",
            "https://login.microsoftonline.com/{tenantid}/v2.0"
        )
        .starts_with("Azure"));
        assert!(d("https://a.example", "https://b.example").starts_with("host"));
        assert!(d("https://a.example/x", "https://a.example/y").starts_with("path"));
        assert_eq!(compare_issuers("x", "x"), None);
    }
}
