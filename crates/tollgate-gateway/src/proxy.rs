//! Reverse-proxy mode: the same decision as forward-auth, then the request is streamed to
//! the upstream with the identity headers (client-supplied copies removed first), and the
//! response streamed back.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::codes::GatewayCode;
use crate::forward_auth::refusal;
use crate::server::Shared;

/// The HTTP client to the upstream (connection pooling, streaming bodies).
pub(crate) type UpstreamClient = Client<HttpConnector, Body>;

/// A pooled client for the upstream.
pub(crate) fn client() -> UpstreamClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).build(connector)
}

/// Hop-by-hop headers (RFC 9110 section 7.6.1): they describe one connection, never the
/// request, and are not forwarded.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(listed.iter()) {
        headers.remove(name);
    }
    headers.remove(header::TRANSFER_ENCODING);
}

/// Headers that tell the upstream about the original client and request. A client outside
/// `trusted_proxies` cannot choose them: they are removed and set afresh from the
/// connection.
const FORWARDING_HEADERS: [&str; 9] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-server",
    "x-real-ip",
    "x-client-ip",
];

/// Headers that make some upstreams route by another path or method than the request's
/// (Symfony and IIS read `X-Original-URL` / `X-Rewrite-URL` as the path; forward-auth
/// headers mean nothing to an upstream): never forwarded, from any peer.
const REROUTING_HEADERS: [&str; 6] = [
    "x-original-url",
    "x-rewrite-url",
    "x-original-uri",
    "x-original-method",
    "x-forwarded-uri",
    "x-forwarded-method",
];

/// Sets `X-Forwarded-For/-Host/-Proto` for the upstream: extended from a trusted proxy,
/// started afresh (client copies removed) from anyone else.
fn set_forwarding_headers(
    headers: &mut HeaderMap,
    peer: SocketAddr,
    host: Option<HeaderValue>,
    trusted: bool,
) {
    for name in REROUTING_HEADERS {
        headers.remove(name);
    }
    let previous_for = if trusted {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        for name in FORWARDING_HEADERS {
            headers.remove(name);
        }
        String::new()
    };
    let forwarded_for = if previous_for.is_empty() {
        peer.ip().to_string()
    } else {
        format!("{previous_for}, {}", peer.ip())
    };
    if let Ok(v) = HeaderValue::from_str(&forwarded_for) {
        headers.insert("x-forwarded-for", v);
    }
    if let Some(host) = host {
        headers.entry("x-forwarded-host").or_insert(host);
    }
    headers
        .entry("x-forwarded-proto")
        .or_insert(HeaderValue::from_static("http"));
}

/// The upstream URI for a request target: the upstream's scheme and host, its path as a
/// prefix, then the original path and query unchanged.
fn upstream_uri(base: &Uri, target: &str) -> Option<Uri> {
    let prefix = base.path().trim_end_matches('/');
    let target = if target.starts_with('/') { target } else { "/" };
    Uri::builder()
        .scheme(base.scheme_str()?)
        .authority(base.authority()?.as_str())
        .path_and_query(format!("{prefix}{target}"))
        .build()
        .ok()
}

/// The reverse-proxy handler: every request on the gateway listener.
pub(crate) async fn proxy(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let Some(base) = shared.config.upstream.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let decider = &shared.decider;
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let trusted = shared.config.trusts(peer.ip());
    let sender = crate::sender::Sender::of(&shared.config, req.headers(), trusted, true);
    let decision = decider
        .decide_from(req.method(), &target, req.headers(), &sender)
        .await;
    if !decision.allowed() {
        return refusal(&decision);
    }
    let Some(uri) = upstream_uri(base, &target) else {
        return StatusCode::BAD_REQUEST.into_response();
    };

    let (mut parts, body) = req.into_parts();
    let original_host = parts.headers.get(header::HOST).cloned();
    strip_hop_by_hop(&mut parts.headers);
    // Client copies of the identity headers, in any spelling (`X_Auth_Subject` reads as
    // `X-Auth-Subject` to upstreams behind CGI-style header mapping), are removed.
    let spoofed: Vec<HeaderName> = parts
        .headers
        .keys()
        .filter(|k| decider.is_identity_spelling(k.as_str()))
        .cloned()
        .collect();
    for name in spoofed {
        parts.headers.remove(name);
    }
    if let Some(identity) = &decision.identity {
        for (name, value) in &identity.headers {
            parts.headers.insert(name.clone(), value.clone());
        }
    }
    parts.headers.remove(header::HOST);
    if let (false, Some(cert)) = (trusted, &shared.config.client_cert) {
        // Only a trusted proxy may tell the upstream which certificate the client holds.
        parts.headers.remove(&cert.header);
    }
    set_forwarding_headers(&mut parts.headers, peer, original_host, trusted);
    parts.uri = uri;
    parts.version = http::Version::HTTP_11;
    let upstream_req = Request::from_parts(parts, body);

    match tokio::time::timeout(
        shared.config.upstream_timeout,
        shared.client.request(upstream_req),
    )
    .await
    {
        Ok(Ok(resp)) => {
            let (mut parts, body) = resp.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            Response::from_parts(parts, Body::new(body))
        }
        Ok(Err(e)) => {
            shared.metrics.upstream_error();
            tracing::warn!(target: "tollgate::proxy", error = %e, upstream = %base, "the upstream did not answer");
            upstream_failure(StatusCode::BAD_GATEWAY, GatewayCode::UpstreamUnavailable)
        }
        Err(_) => {
            shared.metrics.upstream_error();
            tracing::warn!(target: "tollgate::proxy", upstream = %base, timeout_secs = shared.config.upstream_timeout.as_secs(), "the upstream timed out");
            upstream_failure(StatusCode::GATEWAY_TIMEOUT, GatewayCode::UpstreamTimeout)
        }
    }
}

fn upstream_failure(status: StatusCode, code: GatewayCode) -> Response {
    let code = code.as_str();
    let body = serde_json::json!({"error": code, "code": code});
    let mut r = (status, Body::from(body.to_string())).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_uris_keep_the_target() {
        let base: Uri = "http://127.0.0.1:3000".parse().unwrap();
        assert_eq!(
            upstream_uri(&base, "/a/b?c=1").unwrap().to_string(),
            "http://127.0.0.1:3000/a/b?c=1"
        );
        let base: Uri = "http://127.0.0.1:3000/api/".parse().unwrap();
        assert_eq!(
            upstream_uri(&base, "/a").unwrap().to_string(),
            "http://127.0.0.1:3000/api/a"
        );
    }

    #[test]
    fn forwarding_headers_are_trusted_from_trusted_proxies_only() {
        let peer: SocketAddr = "192.0.2.7:5000".parse().unwrap();
        let client_headers = || {
            let mut h = HeaderMap::new();
            h.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
            h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
            h.insert(
                "x-forwarded-host",
                HeaderValue::from_static("admin.internal"),
            );
            h.insert(
                "forwarded",
                HeaderValue::from_static("for=10.0.0.1;proto=https"),
            );
            h.insert("x-real-ip", HeaderValue::from_static("10.0.0.1"));
            h.insert("x-original-url", HeaderValue::from_static("/admin/x"));
            h.insert("x-rewrite-url", HeaderValue::from_static("/admin/x"));
            h
        };
        let host = Some(HeaderValue::from_static("api.example"));

        let mut h = client_headers();
        set_forwarding_headers(&mut h, peer, host.clone(), false);
        assert_eq!(h["x-forwarded-for"], "192.0.2.7");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "api.example");
        for gone in ["forwarded", "x-real-ip", "x-original-url", "x-rewrite-url"] {
            assert!(!h.contains_key(gone), "{gone}");
        }

        let mut h = client_headers();
        set_forwarding_headers(&mut h, peer, host, true);
        assert_eq!(h["x-forwarded-for"], "10.0.0.1, 192.0.2.7");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "admin.internal");
        assert!(h.contains_key("forwarded"));
        assert!(!h.contains_key("x-original-url"));
    }

    #[test]
    fn hop_by_hop_headers_are_dropped() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("close, x-secret"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        h.insert("upgrade", HeaderValue::from_static("websocket"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }
}
