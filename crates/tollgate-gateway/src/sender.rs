//! What a request presents for sender-constrained tokens besides its headers: the public
//! URL the client sent it to (the DPoP `htu`) and the client certificate a TLS-terminating
//! proxy passed (RFC 8705). Both modes build it here, once, with the forward-auth reader of
//! forwarded headers; both are honoured from `trusted_proxies` only.

use http::{header, HeaderMap};
use tollgate::binding::{read_client_cert, request_origin, ClientCert};

use crate::config::Config;
use crate::forward_auth::forwarded;
use crate::request_policy::origin_form;

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

    /// The absolute URL of `target` (its query left out) for this sender: the path the
    /// routes matched (an absolute-form target read like the request policy reads it), never
    /// another one. `None` when the target has no path (DPoP is then refused).
    pub fn url_of(&self, target: &str) -> Option<String> {
        let path = origin_form(target).split(['?', '#']).next().unwrap_or("");
        let path = match path {
            "" => "/",
            p if p.starts_with('/') => p,
            _ => return None,
        };
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
            (Ok(Some(proto)), Ok(Some(host))) => return request_origin(proto, host),
            (Ok(None), Ok(None)) => {}
            _ => return None,
        }
    }
    if !reverse_proxy {
        return None;
    }
    let mut hosts = headers.get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(host), None) => request_origin("http", host.to_str().ok()?),
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
            return ClientCert::Absent(
 format!(
                "the request has no {} header (the client sent no certificate, or the proxy does not pass it)",
                settings.header
            ).into())
        }
        (Some(_), Some(_)) => {
            return ClientCert::Absent(
 format!(
                "the {} header appears more than once; the proxy must set it, not append",
                settings.header
            ).into())
        }
        (Some(v), None) => v,
    };
    if !trusted {
        return ClientCert::Absent(
            format!(
                "the {} header came from a peer outside trusted_proxies, so it is ignored",
                settings.header
            )
            .into(),
        );
    }
    let Ok(value) = value.to_str() else {
        return ClientCert::Absent(
            format!("the {} header is not visible ASCII", settings.header).into(),
        );
    };
    match read_client_cert(value, settings.format) {
        Ok(der) => ClientCert::Der(der),
        Err(why) => ClientCert::Absent(why.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(top: &str) -> Config {
        Config::from_toml_str(&format!(
            "{top}\n[[issuer]]\nissuer = \"https://idp.example/\"\njwks_uri = \"https://idp.example/jwks\"\naudiences = [\"a\"]\n[[route]]\npath = \"/\"\n"
        ))
        .unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, http::HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn a_host_that_is_not_an_authority_gives_no_url() {
        let c = config("");
        let url = |pairs: &[(&'static str, &'static str)], trusted| {
            Sender::of(&c, &headers(pairs), trusted, true).url_of("/admin")
        };
        assert_eq!(
            url(&[("host", "api.example:8080")], false).as_deref(),
            Some("http://api.example:8080/admin")
        );
        assert_eq!(
            url(&[("host", "[::1]:8080")], false).as_deref(),
            Some("http://[::1]:8080/admin")
        );
        // Each would make the compared URL another path or host than the request's.
        for host in [
            "api.example/orders/1#",
            "api.example/orders/1?",
            "api.example\\orders\\1#",
            "evil.example@api.example",
            "api.example#",
            "",
        ] {
            let h = HeaderMap::from_iter([(header::HOST, host.parse().unwrap())]);
            assert_eq!(
                Sender::of(&c, &h, false, true).url_of("/admin"),
                None,
                "{host:?}"
            );
        }
        // From a trusted proxy too, and the scheme is http or https.
        let fwd = |proto: &'static str, host: &'static str| {
            url(
                &[("x-forwarded-proto", proto), ("x-forwarded-host", host)],
                true,
            )
        };
        assert_eq!(
            fwd("HTTPS", "shop.example").as_deref(),
            Some("https://shop.example/admin")
        );
        assert_eq!(fwd("https", "shop.example/orders/1#"), None);
        assert_eq!(fwd("javascript", "shop.example"), None);
    }

    #[test]
    fn the_url_has_the_path_the_routes_match() {
        let sender = Sender {
            base_url: Some("https://shop.example".into()),
            ..Sender::default()
        };
        // An absolute-form target (a forwarded URI as the client wrote it) is its path,
        // as the rules read it, not the root.
        assert_eq!(
            sender.url_of("http://shop.example/admin?x=1").as_deref(),
            Some("https://shop.example/admin")
        );
        assert_eq!(
            sender.url_of("/orders/1?x").as_deref(),
            Some("https://shop.example/orders/1")
        );
        assert_eq!(sender.url_of("").as_deref(), Some("https://shop.example/"));
        assert_eq!(sender.url_of("*"), None);
        assert_eq!(sender.url_of("admin"), None);
    }
}
