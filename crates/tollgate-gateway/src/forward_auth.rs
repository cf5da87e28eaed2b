//! Forward-auth (`/verify`): a proxy (nginx `auth_request`, Traefik ForwardAuth, Caddy
//! `forward_auth`) asks whether a request may pass, naming the original method and URI in
//! headers; the answer is 200 with the identity headers, or 401/403/503 with an RFC 6750
//! challenge.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use tollgate::text::cut;

use crate::decision::{Decider, Decision};
use crate::request_policy::{Refused, Violation};
use crate::server::Shared;

/// The headers proxies use for the original method: Traefik and Caddy, then nginx.
const METHOD_HEADERS: [&str; 2] = ["x-forwarded-method", "x-original-method"];
/// The headers proxies use for the original URI: Traefik and Caddy, then nginx.
const URI_HEADERS: [&str; 2] = ["x-forwarded-uri", "x-original-uri"];

/// Reads one of `names`; present in several with different values, or repeated, is an
/// error: a client could have added one that the proxy did not overwrite.
pub(crate) fn forwarded<'h>(
    headers: &'h HeaderMap,
    names: &[&str],
) -> Result<Option<&'h str>, Refused> {
    let conflict = |d: String| Refused::new(Violation::ConflictingForwardedHeaders, d);
    let mut found: Option<(&str, &str)> = None;
    for name in names {
        let mut values = headers.get_all(*name).iter();
        let Some(v) = values.next() else { continue };
        if values.next().is_some() {
            return Err(conflict(format!(
                "{name} appears more than once; configure the proxy to set it (not append)"
            )));
        }
        let v = v.to_str().map_err(|_| {
            Refused::new(
                Violation::ForbiddenCharacter,
                format!("{name} is not visible ASCII"),
            )
        })?;
        match found {
            Some((other, prev)) if prev != v => {
                return Err(conflict(format!(
                    "{other} ({:?}) and {name} ({:?}) disagree; a client may have sent one itself; configure the proxy to set both, or to clear the one it does not use",
                    cut(prev),
                    cut(v)
                )))
            }
            Some(_) => {}
            None => found = Some((name, v)),
        }
    }
    Ok(found.map(|(_, v)| v))
}

/// Refuses a forward-auth request that could smuggle identity past the proxy: a spelling of
/// an identity header (`X_Auth_Subject`, which CGI-style upstreams read as
/// `X-Auth-Subject`; or the header itself, which only Tollgate may set), or a `Connection`
/// header naming an identity header or `Authorization` (the proxy would drop them as
/// hop-by-hop on the way to the upstream).
fn check_identity_headers(decider: &Decider, headers: &HeaderMap) -> Result<(), Refused> {
    for name in headers.keys() {
        if decider.is_identity_spelling(name.as_str()) {
            return Err(Refused::new(
                Violation::IdentityHeaderInRequest,
                format!(
                    "the request carries {:?}, a spelling of an identity header that only Tollgate sets; remove it at the client, and have the proxy strip it (see the gateway README)",
                    cut(name.as_str())
                ),
            ));
        }
    }
    for value in headers.get_all(header::CONNECTION) {
        let text = String::from_utf8_lossy(value.as_bytes());
        for token in text.split(',').map(str::trim) {
            if token.eq_ignore_ascii_case("authorization") || decider.is_identity_spelling(token) {
                return Err(Refused::new(
                    Violation::ConnectionNamesProtectedHeader,
                    format!(
                        "the Connection header names {:?}; a proxy would drop that header before the upstream sees it; remove it from Connection",
                        cut(token)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The statuses a proxy may ask for "cannot verify now" (`/verify?unavailable_status=401`):
/// each proxy in front of one gateway can get the answer it handles (nginx `auth_request`
/// turns anything but 2xx/401/403 into 500).
const UNAVAILABLE_STATUSES: [u16; 6] = [401, 403, 500, 502, 503, 504];

/// The `unavailable_status` query parameter of the forward-auth request, if valid.
fn unavailable_override(uri: &http::Uri) -> Option<u16> {
    uri.query()?
        .split('&')
        .filter_map(|kv| kv.strip_prefix("unavailable_status="))
        .filter_map(|v| v.parse().ok())
        .find(|s| UNAVAILABLE_STATUSES.contains(s))
}

/// The `/verify` handler (any method: proxies use GET, or the original method).
pub(crate) async fn verify(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let decider = &shared.decider;
    let headers = req.headers();
    let (method, uri) = match original_request(&shared, peer, &req) {
        Ok(found) => found,
        Err(refused) => {
            let target = req.uri().path();
            return refusal(&decider.refuse_request(req.method(), target, refused));
        }
    };
    // The peer is trusted here (`original_request` refused the others).
    let sender = crate::sender::Sender::of(&shared.config, headers, true, false);
    let mut decision = decider.decide_from(&method, uri, headers, &sender).await;
    if let (Some(status), Some(err)) = (unavailable_override(req.uri()), &decision.error) {
        if err.is_unavailable() {
            decision.refusal = Some(std::sync::Arc::new(
                decider
                    .challenges()
                    .clone()
                    .unavailable_status(status)
                    .error(err),
            ));
        }
    }
    if !decision.allowed() {
        return refusal(&decision);
    }
    // Every identity header is in a 200 answer (the last value mapped to it), empty when
    // there is no identity (anonymous route) or no such claim: proxies that copy headers
    // (Traefik, Caddy) then overwrite a client's own copy instead of letting it through or
    // inventing a value.
    let mut response = StatusCode::OK.into_response();
    let h = response.headers_mut();
    let values = decision
        .identity
        .as_ref()
        .map_or(&[][..], |i| &i.headers[..]);
    for name in decider.identity_header_names() {
        let value = values
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map_or_else(|| HeaderValue::from_static(""), |(_, v)| v.clone());
        h.insert(name.clone(), value);
    }
    response
}

/// The original method and URI a trusted proxy names, or why the request cannot be judged.
fn original_request<'r>(
    shared: &Shared,
    peer: SocketAddr,
    req: &'r Request,
) -> Result<(Method, &'r str), Refused> {
    let headers = req.headers();
    let config = &shared.config;
    if !config.trusts(peer.ip()) {
        return Err(Refused::new(
            Violation::UntrustedForwarder,
            format!(
                "forward-auth requests are answered only for trusted proxies, and {} is not one; add the proxy's address to trusted_proxies (default: loopback only), e.g. trusted_proxies = [\"{}\"]",
                peer.ip(),
                peer.ip()
            ),
        ));
    }
    check_identity_headers(&shared.decider, headers)?;
    let method = match forwarded(headers, &METHOD_HEADERS)? {
        Some(m) => Method::from_bytes(m.trim().as_bytes()).map_err(|_| {
            Refused::new(
                Violation::MethodNotCanonical,
                format!("the forwarded method {:?} is not an HTTP method", cut(m)),
            )
        })?,
        None if shared.decider.routes().depends_on_method() => {
            return Err(Refused::new(
                Violation::MissingOriginalMethod,
                "the forward-auth request names no original method, and some routes apply to some methods only; configure the proxy to send X-Forwarded-Method (Traefik, Caddy do) or X-Original-Method (nginx: proxy_set_header X-Original-Method $request_method;)",
            ));
        }
        // A proof's htm is the client's method: the subrequest's own (GET for nginx
        // auth_request) would let a proof made for a read pass for a write.
        None if is_dpop(headers) => {
            return Err(Refused::new(
                Violation::MissingOriginalMethod,
                "the forward-auth request names no original method, and its token comes with the DPoP scheme, whose proof names the client's method; configure the proxy to send X-Forwarded-Method (Traefik, Caddy do) or X-Original-Method (nginx: proxy_set_header X-Original-Method $request_method;)",
            ));
        }
        None => req.method().clone(),
    };
    let uri = forwarded(headers, &URI_HEADERS)?.ok_or_else(|| {
        Refused::new(
            Violation::MissingOriginalUri,
            "the forward-auth request names no original URI; configure the proxy to send X-Forwarded-Uri (Traefik, Caddy do) or X-Original-URI (nginx: proxy_set_header X-Original-URI $request_uri;)",
        )
    })?;
    Ok((method, uri))
}

/// True when the request's token comes as `Authorization: DPoP`.
fn is_dpop(headers: &HeaderMap) -> bool {
    matches!(
        crate::decision::credentials(headers),
        Ok((tollgate::binding::AuthScheme::Dpop, _))
    )
}

/// The response for a refused request: the library's challenge (status,
/// `WWW-Authenticate`, `Retry-After`, `X-Tollgate-Error`, JSON body) as HTTP.
pub(crate) fn refusal(d: &Decision) -> Response {
    let Some(c) = &d.refusal else {
        return StatusCode::OK.into_response();
    };
    if let Some(p) = d
        .prepared
        .as_ref()
        .filter(|p| std::sync::Arc::ptr_eq(&p.challenge, c))
    {
        return p.response();
    }
    let status = StatusCode::from_u16(c.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut response = (status, Body::from(c.body_text())).into_response();
    let h = response.headers_mut();
    for (name, value) in c.headers() {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unavailable_status_may_be_asked_per_proxy() {
        let uri = |s: &str| s.parse::<http::Uri>().unwrap();
        assert_eq!(
            unavailable_override(&uri("/verify?unavailable_status=401")),
            Some(401)
        );
        assert_eq!(
            unavailable_override(&uri("/verify?a=1&unavailable_status=500")),
            Some(500)
        );
        assert_eq!(
            unavailable_override(&uri("/verify?unavailable_status=200")),
            None
        );
        assert_eq!(unavailable_override(&uri("/verify")), None);
    }

    #[test]
    fn forwarded_headers_must_agree() {
        let mut h = HeaderMap::new();
        assert_eq!(forwarded(&h, &URI_HEADERS), Ok(None));
        h.insert("x-original-uri", HeaderValue::from_static("/a"));
        assert_eq!(forwarded(&h, &URI_HEADERS), Ok(Some("/a")));
        h.insert("x-forwarded-uri", HeaderValue::from_static("/a"));
        assert_eq!(forwarded(&h, &URI_HEADERS), Ok(Some("/a")));
        h.insert("x-forwarded-uri", HeaderValue::from_static("/public/"));
        assert!(forwarded(&h, &URI_HEADERS)
            .unwrap_err()
            .description
            .contains("disagree"));
        h.remove("x-forwarded-uri");
        h.append("x-original-uri", HeaderValue::from_static("/b"));
        let e = forwarded(&h, &URI_HEADERS).unwrap_err();
        assert_eq!(e.violation, Violation::ConflictingForwardedHeaders);
        assert!(e.description.contains("more than once"));
    }
}
