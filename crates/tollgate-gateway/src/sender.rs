//! What a request presents for sender-constrained tokens besides its headers: the public
//! URL the client sent it to (the DPoP `htu`) and the client certificate a TLS-terminating
//! proxy passed (RFC 8705). Both modes build it here, once, with the forward-auth reader of
//! forwarded headers; both are honoured from `trusted_proxies` only.

use http::{header, HeaderMap};
use tollgate::binding::{read_client_cert, ClientCert};

use crate::config::Config;
use crate::forward_auth::forwarded;

/// The headers proxies use for the original scheme: Traefik and Caddy, then nginx.
pub(crate) const PROTO_HEADERS: [&str; 2] = ["x-forwarded-proto", "x-original-proto"];
/// The headers proxies use for the original host: Traefik and Caddy, then nginx.
pub(crate) const HOST_HEADERS: [&str; 2] = ["x-forwarded-host", "x-original-host"];

/// What the sender presents: see the module documentation.
#[derive(Clone, Debug, Default)]
pub struct Sender {
    /// `scheme://host[:port]` as the client used it; `None` when it cannot be told (DPoP is
    /// then refused, naming `public_url`).
    pub base_url: Option<String>,
    /// The client certificate, or why there is none.
    pub client_cert: ClientCert,
}

impl Sender {
    /// The sender of a request from a peer (`trusted`: in `trusted_proxies`), in
    /// reverse-proxy (`reverse_proxy`: the gateway is the server the client called) or
    /// forward-auth mode.
    ///
    /// The base URL: `public_url` when configured; else a trusted proxy's
    /// `X-Forwarded-Proto` + `X-Forwarded-Host` (or `X-Original-*`); else, in reverse-proxy
    /// mode, `http://` + `Host`.
    pub fn of(config: &Config, headers: &HeaderMap, trusted: bool, reverse_proxy: bool) -> Sender {
        Sender {
            base_url: base_url(config, headers, trusted, reverse_proxy),
            client_cert: client_cert(config, headers, trusted),
        }
    }

    /// The absolute URL of `target` (its query left out) for this sender.
    pub fn url_of(&self, target: &str) -> Option<String> {
        let path = target.split(['?', '#']).next().unwrap_or("/");
        let path = if path.starts_with('/') { path } else { "/" };
        self.base_url.as_ref().map(|b| format!("{b}{path}"))
    }
}

fn base_url(
    config: &Config,
    headers: &HeaderMap,
    trusted: bool,
    reverse_proxy: bool,
) -> Option<String> {
    if let Some(url) = &config.public_url {
        return Some(url.clone());
    }
    if trusted {
        // Conflicting or repeated forwarded headers mean no answer: DPoP is refused.
        let proto = forwarded(headers, &PROTO_HEADERS);
        let host = forwarded(headers, &HOST_HEADERS);
        match (proto, host) {
            (Ok(Some(proto)), Ok(Some(host))) => {
                return Some(format!("{}://{}", proto.trim(), host.trim()))
            }
            (Ok(None), Ok(None)) => {}
            _ => return None,
        }
    }
    if !reverse_proxy {
        return None;
    }
    let mut hosts = headers.get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(host), None) => host.to_str().ok().map(|h| format!("http://{}", h.trim())),
        _ => None,
    }
}

fn client_cert(config: &Config, headers: &HeaderMap, trusted: bool) -> ClientCert {
    let Some(settings) = &config.client_cert else {
        return ClientCert::Absent(
            "the gateway reads no client certificate: set [client_cert] header to the header the TLS-terminating proxy sets".into(),
        );
    };
    let mut values = headers.get_all(&settings.header).iter();
    let value = match (values.next(), values.next()) {
        (None, _) => {
            return ClientCert::Absent(format!(
                "the request has no {} header (the client sent no certificate, or the proxy does not pass it)",
                settings.header
            ))
        }
        (Some(_), Some(_)) => {
            return ClientCert::Absent(format!(
                "the {} header appears more than once; the proxy must set it, not append",
                settings.header
            ))
        }
        (Some(v), None) => v,
    };
    if !trusted {
        return ClientCert::Absent(format!(
            "the {} header came from a peer outside trusted_proxies, so it is ignored",
            settings.header
        ));
    }
    let Ok(value) = value.to_str() else {
        return ClientCert::Absent(format!(
            "the {} header is not visible ASCII",
            settings.header
        ));
    };
    match read_client_cert(value, settings.format) {
        Ok(der) => ClientCert::Der(der),
        Err(why) => ClientCert::Absent(why),
    }
}
