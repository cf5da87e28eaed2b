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

pub use crate::claims::issuer::compare_issuers;
