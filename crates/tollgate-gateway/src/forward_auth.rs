//! Forward-auth (`/verify`): a proxy (nginx `auth_request`, Traefik ForwardAuth, Caddy
//! `forward_auth`) asks whether a request may pass, naming the original method and URI in
//! headers; the answer is 200 with the identity headers, or 401/403/503 with an RFC 6750
//! challenge.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::decision::Decision;
use crate::server::Shared;

/// The headers proxies use for the original method: Traefik and Caddy, then nginx.
const METHOD_HEADERS: [&str; 2] = ["x-forwarded-method", "x-original-method"];
/// The headers proxies use for the original URI: Traefik and Caddy, then nginx.
const URI_HEADERS: [&str; 2] = ["x-forwarded-uri", "x-original-uri"];

/// Reads one of `names`; present in several with different values, or repeated, is an
/// error: a client could have added one that the proxy did not overwrite.
fn forwarded<'h>(headers: &'h HeaderMap, names: &[&str]) -> Result<Option<&'h str>, String> {
    let mut found: Option<(&str, &str)> = None;
    for name in names {
        let mut values = headers.get_all(*name).iter();
        let Some(v) = values.next() else { continue };
        if values.next().is_some() {
            return Err(format!(
                "{name} appears more than once; configure the proxy to set it (not append)"
            ));
        }
        let v = v.to_str().map_err(|_| format!("{name} is not ASCII"))?;
        match found {
            Some((other, prev)) if prev != v => {
                return Err(format!(
                    "{other} ({prev:?}) and {name} ({v:?}) disagree; a client may have sent one itself; configure the proxy to set both, or to clear the one it does not use"
                ))
            }
            Some(_) => {}
            None => found = Some((name, v)),
        }
    }
    Ok(found.map(|(_, v)| v))
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
pub(crate) async fn verify(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let decider = &shared.decider;
    let headers = req.headers();
    let method = match forwarded(headers, &METHOD_HEADERS) {
        Ok(Some(m)) => match Method::from_bytes(m.trim().as_bytes()) {
            Ok(m) => m,
            Err(_) => {
                let d = decider.bad_request(
                    req.method(),
                    format!("the forwarded method {m:?} is not an HTTP method"),
                );
                return refusal(&d);
            }
        },
        Ok(None) => req.method().clone(),
        Err(e) => return refusal(&decider.bad_request(req.method(), e)),
    };
    let uri = match forwarded(headers, &URI_HEADERS) {
        Ok(Some(u)) => u.to_string(),
        Ok(None) => {
            let d = decider.bad_request(
                &method,
                "the forward-auth request names no original URI; configure the proxy to send X-Forwarded-Uri (Traefik, Caddy do) or X-Original-URI (nginx: proxy_set_header X-Original-URI $request_uri)".into(),
            );
            return refusal(&d);
        }
        Err(e) => return refusal(&decider.bad_request(&method, e)),
    };
    let mut decision = decider.decide(&method, &uri, headers).await;
    if let (Some(status), Some(err)) = (unavailable_override(req.uri()), &decision.error) {
        if err.is_unavailable() {
            decision.refusal = Some(
                decider
                    .challenges()
                    .clone()
                    .unavailable_status(status)
                    .error(err),
            );
        }
    }
    if !decision.allowed() {
        return refusal(&decision);
    }
    // Every identity header is in a 200 answer, empty when there is no identity (anonymous
    // route) or no such claim: proxies that copy headers (Traefik, Caddy) then overwrite a
    // client's own copy instead of letting it through or inventing a value.
    let mut response = StatusCode::OK.into_response();
    let h = response.headers_mut();
    for name in decider.identity_header_names() {
        h.insert(name.clone(), HeaderValue::from_static(""));
    }
    if let Some(identity) = &decision.identity {
        for (name, value) in &identity.headers {
            h.insert(name.clone(), value.clone());
        }
    }
    response
}

/// The response for a refused request: the library's challenge (status,
/// `WWW-Authenticate`, `Retry-After`, `X-Tollgate-Error`, JSON body) as HTTP.
pub(crate) fn refusal(d: &Decision) -> Response {
    let Some(c) = &d.refusal else {
        return StatusCode::OK.into_response();
    };
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
            .contains("disagree"));
        h.remove("x-forwarded-uri");
        h.append("x-original-uri", HeaderValue::from_static("/b"));
        assert!(forwarded(&h, &URI_HEADERS)
            .unwrap_err()
            .contains("more than once"));
    }
}
