//! OpenID Connect discovery (OpenID Connect Discovery 1.0, RFC 8414): where the discovery
//! document lives, and how a configured issuer compares with the one the document names.

use serde_json::Value;

/// A fetched discovery document.
#[derive(Clone, Debug, PartialEq)]
pub struct Discovery {
    /// The document's `issuer`.
    pub issuer: String,
    /// The document's `jwks_uri` (already checked: https, or http on loopback).
    pub jwks_uri: String,
    /// The whole document.
    pub raw: Value,
    /// Where it was fetched from.
    pub url: String,
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
