//! Who may call the unauthenticated `/admin/*` endpoints: a program that means to, never a
//! web page the developer happens to have open.
//!
//! A page on any site can send a browser to `http://127.0.0.1:<port>/admin/mint` with a
//! "simple" request (`text/plain`, a form) that needs no CORS preflight, or rebind its own
//! DNS name to 127.0.0.1 and then read the answers. So every admin request must:
//!
//! - name this issuer in `Host` (the bound `ip:port`, `localhost:port`, or the issuer URL's
//!   `host:port`): a rebound DNS name arrives with the attacker's name in `Host`;
//! - carry no `Origin`, or the issuer's own origin (`http://` + one of those hosts, or the
//!   issuer URL's `scheme://host:port`): a cross-site fetch always carries its page's origin;
//! - when it is not a `GET`/`HEAD`, say `Content-Type: application/json` (parameters such as
//!   `; charset=utf-8` allowed, media type case-insensitive): a JSON body cannot be sent
//!   cross-origin without a preflight, which the issuer never grants.
//!
//! Refusals are JSON (`error`, `error_description`, `fix`) naming what was expected and found.
//!
//! The same rules guard every local page and API Tollgate serves without authentication:
//! the gateway's doctor page (`/doctor` on its admin listener, `tollgate doctor --web`)
//! uses this guard, not a copy.

use std::net::SocketAddr;

use axum::http::{header, HeaderMap, Method, Uri};
use serde_json::{json, Value};
use tollgate::text::cut_quoted;

/// An admin request refused: the status and the JSON body to answer with.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The HTTP status: 400, 403 or 415.
    pub status: u16,
    /// `{"error", "error_description", "fix"}`.
    pub body: Value,
}

fn refusal(status: u16, error: &str, description: String, fix: &str) -> Refusal {
    Refusal {
        status,
        body: json!({"error": error, "error_description": description, "fix": fix}),
    }
}

/// A host and port, lower-case host (IPv6 in brackets, as in `Host`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Authority {
    host: String,
    port: u16,
}

impl Authority {
    fn show(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// `host[:port]` as in a `Host` header or a URL, with `default_port` when there is none;
/// `None` when it is not that (user info, a path, an empty host, a bad port).
fn parse_authority(text: &str, default_port: u16) -> Option<Authority> {
    if text.is_empty() || text.contains(['@', '/', '?', '#', ' ', ',']) {
        return None;
    }
    let (host, port) = if text.starts_with('[') {
        let end = text.find(']')?;
        let (host, rest) = text.split_at(end + 1);
        match rest {
            "" => (host, None),
            _ => (host, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    if host.is_empty() || host == "[]" {
        return None;
    }
    let port = match port {
        None => default_port,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
        Some(_) => return None,
    };
    Some(Authority {
        host: host.to_ascii_lowercase(),
        port,
    })
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// `scheme://host[:port]` (an `Origin`, or the start of a URL) as (scheme, authority), with
/// `rest` what follows the authority.
fn parse_origin(text: &str) -> Option<(String, Authority, &str)> {
    let (scheme, rest) = text.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = parse_authority(&rest[..end], default_port(&scheme)?)?;
    Some((scheme, authority, &rest[end..]))
}

/// The hosts and origins an admin request may name.
#[derive(Debug, Clone)]
pub struct AdminGuard {
    /// Reached over plain HTTP: the bound address, its loopback form, `localhost`.
    listen: Vec<Authority>,
    /// The issuer URL's scheme and authority, when it parses.
    issuer: Option<(String, Authority)>,
}

impl AdminGuard {
    /// The guard of an issuer bound to `addr` whose issuer URL is `issuer_url`.
    pub fn new(addr: SocketAddr, issuer_url: &str) -> AdminGuard {
        let port = addr.port();
        let ip = addr.ip();
        let mut listen = Vec::new();
        let mut add = |host: String| {
            let a = Authority {
                host: host.to_ascii_lowercase(),
                port,
            };
            if !listen.contains(&a) {
                listen.push(a);
            }
        };
        if ip.is_unspecified() {
            // `base_url`: an unspecified bind address is reached through loopback.
            add(if ip.is_ipv4() { "127.0.0.1" } else { "[::1]" }.into());
        } else if ip.is_ipv4() {
            add(ip.to_string());
        } else {
            add(format!("[{ip}]"));
        }
        add("localhost".into());
        let issuer = parse_origin(issuer_url).map(|(scheme, authority, _)| (scheme, authority));
        AdminGuard { listen, issuer }
    }

    /// The hosts accepted, for messages.
    fn hosts(&self) -> String {
        let mut all: Vec<String> = self.listen.iter().map(Authority::show).collect();
        if let Some((_, a)) = &self.issuer {
            if !self.listen.contains(a) {
                all.push(a.show());
            }
        }
        all.join(", ")
    }

    /// The origins accepted, for messages.
    fn origins(&self) -> String {
        let mut all: Vec<String> = self
            .listen
            .iter()
            .map(|a| format!("http://{}", a.show()))
            .collect();
        if let Some((scheme, a)) = &self.issuer {
            let own = format!("{scheme}://{}", a.show());
            if !all.contains(&own) {
                all.push(own);
            }
        }
        all.join(", ")
    }

    fn host_ok(&self, value: &str) -> bool {
        // A `Host` has no scheme: a missing port is 80 for the plain-HTTP listen address,
        // and the issuer URL's own default port (443 behind a TLS proxy) for its host.
        let listen = parse_authority(value, 80).is_some_and(|a| self.listen.contains(&a));
        let issuer = self.issuer.as_ref().is_some_and(|(scheme, own)| {
            default_port(scheme)
                .and_then(|d| parse_authority(value, d))
                .is_some_and(|a| &a == own)
        });
        listen || issuer
    }

    fn origin_ok(&self, value: &str) -> bool {
        let Some((scheme, authority, rest)) = parse_origin(value) else {
            return false;
        };
        if !rest.is_empty() {
            return false;
        }
        (scheme == "http" && self.listen.contains(&authority))
            || self
                .issuer
                .as_ref()
                .is_some_and(|(s, a)| *s == scheme && *a == authority)
    }

    /// Checks one admin request; `Err` is the answer to send instead.
    pub fn check(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<(), Refusal> {
        self.check_host(uri, headers)?;
        self.check_origin(headers)?;
        if method != Method::GET && method != Method::HEAD {
            check_content_type(headers)?;
        }
        Ok(())
    }

    fn check_host(&self, uri: &Uri, headers: &HeaderMap) -> Result<(), Refusal> {
        let fix = "call the admin endpoints at the issuer's own address (http://127.0.0.1:<port> or http://localhost:<port>, as printed at start), not through another name";
        let hosts: Vec<_> = headers.get_all(header::HOST).iter().collect();
        let mut names: Vec<String> = Vec::new();
        match hosts.as_slice() {
            [] => {}
            [one] => match one.to_str() {
                Ok(v) => names.push(v.trim().to_string()),
                Err(_) => {
                    return Err(refusal(
                        400,
                        "invalid_host",
                        "the Host header is not ASCII".into(),
                        fix,
                    ))
                }
            },
            _ => {
                return Err(refusal(
                    400,
                    "invalid_host",
                    format!(
                    "the request has {} Host headers; an admin request has exactly one, naming {}",
                    hosts.len(),
                    self.hosts()
                ),
                    fix,
                ))
            }
        }
        // HTTP/2 (`:authority`) and absolute-form requests name the host in the URI.
        if let Some(a) = uri.authority() {
            names.push(a.as_str().to_string());
        }
        if names.is_empty() {
            return Err(refusal(
                400,
                "invalid_host",
                format!(
                    "the request has no Host header; an admin request must name the issuer: one of {}",
                    self.hosts()
                ),
                fix,
            ));
        }
        match names.iter().find(|n| !self.host_ok(n)) {
            None => Ok(()),
            Some(bad) => Err(refusal(
                403,
                "forbidden_host",
                format!(
                    "the admin endpoints answer only requests for this issuer (Host {}); found Host {}",
                    self.hosts(),
                    cut_quoted(bad)
                ),
                fix,
            )),
        }
    }

    fn check_origin(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let origins: Vec<_> = headers.get_all(header::ORIGIN).iter().collect();
        let value = match origins.as_slice() {
            [] => return Ok(()),
            [one] => one.to_str().unwrap_or("(not ASCII)").trim(),
            _ => "(several Origin headers)",
        };
        if self.origin_ok(value) {
            return Ok(());
        }
        Err(refusal(
            403,
            "forbidden_origin",
            format!(
                "the admin endpoints refuse requests from web pages of other origins: expected no Origin or one of {}, found Origin {}",
                self.origins(),
                cut_quoted(value)
            ),
            "call the admin endpoints from a program (curl, a test, tollgate CLI), not from a web page; a browser sends the page's Origin",
        ))
    }
}

/// A POST to an admin endpoint carries exactly one `Content-Type` whose media type is
/// `application/json` (case-insensitive; parameters allowed).
fn check_content_type(headers: &HeaderMap) -> Result<(), Refusal> {
    let fix = "send the body as JSON with the header Content-Type: application/json (curl: -H 'Content-Type: application/json' -d '{...}'; an empty body is {})";
    let values: Vec<_> = headers.get_all(header::CONTENT_TYPE).iter().collect();
    let found = match values.as_slice() {
        [] => "no Content-Type".to_string(),
        [one] => {
            let text = one.to_str().unwrap_or("");
            let media = text.split(';').next().unwrap_or("").trim();
            if media.eq_ignore_ascii_case("application/json") {
                return Ok(());
            }
            format!("Content-Type {}", cut_quoted(text))
        }
        several => format!("{} Content-Type headers", several.len()),
    };
    Err(refusal(
        415,
        "unsupported_media_type",
        format!(
            "an admin request must be JSON: expected Content-Type: application/json, found {found}"
        ),
        fix,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn guard() -> AdminGuard {
        AdminGuard::new("127.0.0.1:7002".parse().unwrap(), "http://127.0.0.1:7002")
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    fn post(g: &AdminGuard, pairs: &[(&'static str, &str)]) -> Result<(), u16> {
        g.check(
            &Method::POST,
            &Uri::from_static("/admin/mint"),
            &headers(pairs),
        )
        .map_err(|r| r.status)
    }

    const JSON: (&str, &str) = ("content-type", "application/json");

    #[test]
    fn hosts() {
        let g = guard();
        for ok in ["127.0.0.1:7002", "localhost:7002", "LOCALHOST:7002"] {
            assert_eq!(post(&g, &[("host", ok), JSON]), Ok(()), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:7002",
            "127.0.0.1:7003",
            "127.0.0.1",
            "127.0.0.1:7002@evil",
            "[::1]:7002",
        ] {
            assert_eq!(post(&g, &[("host", bad), JSON]), Err(403), "{bad}");
        }
        assert_eq!(post(&g, &[JSON]), Err(400));
        assert_eq!(
            post(
                &g,
                &[("host", "127.0.0.1:7002"), ("host", "127.0.0.1:7002"), JSON]
            ),
            Err(400)
        );
    }

    #[test]
    fn issuer_url_host_and_default_ports() {
        let g = AdminGuard::new(
            "0.0.0.0:80".parse().unwrap(),
            "https://IdP.example/realms/dev",
        );
        for ok in [
            "127.0.0.1",
            "127.0.0.1:80",
            "localhost",
            "idp.example",
            "idp.example:443",
        ] {
            assert_eq!(post(&g, &[("host", ok), JSON]), Ok(()), "{ok}");
        }
        for bad in ["idp.example:80", "0.0.0.0:80", "other.example"] {
            assert_eq!(post(&g, &[("host", bad), JSON]), Err(403), "{bad}");
        }
        let h = |o| post(&g, &[("host", "localhost"), ("origin", o), JSON]);
        assert_eq!(h("https://idp.example"), Ok(()));
        assert_eq!(h("http://localhost"), Ok(()));
        assert_eq!(h("http://idp.example"), Err(403));
        let v6 = AdminGuard::new("[::1]:9000".parse().unwrap(), "http://[::1]:9000");
        assert_eq!(post(&v6, &[("host", "[::1]:9000"), JSON]), Ok(()));
        assert_eq!(post(&v6, &[("host", "[::2]:9000"), JSON]), Err(403));
    }

    #[test]
    fn origins() {
        let g = guard();
        let with = |o| post(&g, &[("host", "127.0.0.1:7002"), ("origin", o), JSON]);
        assert_eq!(with("http://127.0.0.1:7002"), Ok(()));
        assert_eq!(with("http://localhost:7002"), Ok(()));
        for bad in [
            "https://evil.example",
            "null",
            "http://127.0.0.1:7003",
            "https://127.0.0.1:7002",
            "http://127.0.0.1:7002/x",
            "",
        ] {
            assert_eq!(with(bad), Err(403), "{bad}");
        }
    }

    #[test]
    fn content_types() {
        let g = guard();
        let with = |pairs: &[(&'static str, &str)]| {
            let mut all = vec![("host", "127.0.0.1:7002")];
            all.extend_from_slice(pairs);
            post(&g, &all)
        };
        for ok in [
            "application/json",
            "APPLICATION/JSON; charset=utf-8",
            " application/json ;charset=UTF-8",
        ] {
            assert_eq!(with(&[("content-type", ok)]), Ok(()), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/json-seq",
            "application/jsonx",
            "application/json+x",
            "",
        ] {
            assert_eq!(with(&[("content-type", bad)]), Err(415), "{bad}");
        }
        assert_eq!(with(&[]), Err(415));
        assert_eq!(with(&[JSON, JSON]), Err(415));
        // GET needs Host and Origin checks only.
        let get = |pairs: &[(&'static str, &str)]| {
            g.check(
                &Method::GET,
                &Uri::from_static("/admin/state"),
                &headers(pairs),
            )
            .map_err(|r| r.status)
        };
        assert_eq!(get(&[("host", "127.0.0.1:7002")]), Ok(()));
        assert_eq!(get(&[("host", "evil.example")]), Err(403));
        assert_eq!(
            get(&[
                ("host", "127.0.0.1:7002"),
                ("origin", "https://evil.example")
            ]),
            Err(403)
        );
    }

    #[test]
    fn refusals_say_what_was_expected_and_found() {
        let g = guard();
        let r = g
            .check(
                &Method::POST,
                &Uri::from_static("/admin/mint"),
                &headers(&[("host", "127.0.0.1:7002"), ("content-type", "text/plain")]),
            )
            .unwrap_err();
        let d = r.body["error_description"].as_str().unwrap();
        assert!(
            d.contains("application/json") && d.contains("\"text/plain\""),
            "{d}"
        );
        assert!(r.body["fix"]
            .as_str()
            .unwrap()
            .contains("Content-Type: application/json"));
        let long = "e".repeat(5000);
        let r = g
            .check(
                &Method::GET,
                &Uri::from_static("/admin/state"),
                &headers(&[("host", &long)]),
            )
            .unwrap_err();
        let d = r.body["error_description"].as_str().unwrap();
        assert!(d.contains("(5000 bytes)") && d.len() < 400, "{d}");
    }
}
