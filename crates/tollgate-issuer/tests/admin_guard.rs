//! Finding 9 of issue 11: the unauthenticated `/admin/*` endpoints answer only a program that
//! means to call them, never a web page: `Content-Type: application/json` on POST, no foreign
//! `Origin`, and a `Host` that names this issuer (DNS rebinding). Requests are written by hand
//! over TCP so every header is exactly what a browser (or an attacker) would send.

mod common;

use std::time::Duration;

use common::bounded;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tollgate_issuer::{DevIssuer, IssuerOptions};

/// One raw HTTP/1.1 request; `host: None` sends no Host header. Returns status and body.
async fn raw(
    issuer: &DevIssuer,
    method: &str,
    path: &str,
    host: Option<&str>,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut req = format!("{method} {path} HTTP/1.1\r\n");
    if let Some(h) = host {
        req.push_str(&format!("Host: {h}\r\n"));
    }
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    req.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    let mut stream = TcpStream::connect(issuer.addr()).await.unwrap();
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the issuer answered in time")
        .unwrap();
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not HTTP: {text}"));
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    // `Connection: close` answers are not chunked by axum/hyper for fixed bodies; keep it
    // simple and tolerate a chunked body by taking the JSON object inside.
    let body = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) if a <= b => body[a..=b].to_string(),
        _ => body.to_string(),
    };
    (status, body)
}

fn own_host(issuer: &DevIssuer) -> String {
    issuer.addr().to_string()
}

const MINT: &str = r#"{"claims": {"sub": "x"}}"#;

async fn mint_with(
    issuer: &DevIssuer,
    host: Option<&str>,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Value) {
    let (status, body) = raw(issuer, "POST", "/admin/mint", host, headers, body).await;
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (status, json)
}

#[tokio::test]
async fn only_json_posts_are_accepted() {
    bounded(async {
        let issuer = DevIssuer::start(IssuerOptions::default()).await.unwrap();
        let host = own_host(&issuer);
        let host = Some(host.as_str());

        let (status, body) =
            mint_with(&issuer, host, &[("Content-Type", "application/json")], MINT).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["token"].is_string());

        // What a web page can send without a CORS preflight.
        for ct in [
            "text/plain",
            "text/plain;charset=UTF-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ] {
            let (status, body) = mint_with(&issuer, host, &[("Content-Type", ct)], MINT).await;
            assert_eq!(status, 415, "{ct}: {body}");
            assert_eq!(body["error"], "unsupported_media_type");
            let d = body["error_description"].as_str().unwrap();
            assert!(d.contains("application/json") && d.contains(ct), "{d}");
            assert!(body["fix"]
                .as_str()
                .unwrap()
                .contains("Content-Type: application/json"));
        }
        let (status, _) = mint_with(&issuer, host, &[], MINT).await;
        assert_eq!(status, 415, "no Content-Type");

        // Spelling variants.
        for ok in [
            "APPLICATION/JSON; charset=utf-8",
            "Application/Json",
            "application/json ; charset=\"utf-8\"",
        ] {
            let (status, body) = mint_with(&issuer, host, &[("Content-Type", ok)], MINT).await;
            assert_eq!(status, 200, "{ok}: {body}");
        }
        for bad in [
            "application/json-seq",
            "application/jsonx",
            "application/json+x",
            "json",
        ] {
            let (status, _) = mint_with(&issuer, host, &[("Content-Type", bad)], MINT).await;
            assert_eq!(status, 415, "{bad}");
        }
        let (status, body) = mint_with(
            &issuer,
            host,
            &[
                ("Content-Type", "application/json"),
                ("Content-Type", "text/plain"),
            ],
            MINT,
        )
        .await;
        assert_eq!(status, 415, "duplicate Content-Type: {body}");

        // Every POST admin endpoint, rotate (no body) included.
        for path in ["/admin/rotate", "/admin/fault"] {
            let (status, _) = raw(
                &issuer,
                "POST",
                path,
                host,
                &[("Content-Type", "text/plain")],
                r#"{"fault": "none"}"#,
            )
            .await;
            assert_eq!(status, 415, "{path}");
        }
        let kid = issuer.current_kid();
        let (status, _) = raw(
            &issuer,
            "POST",
            "/admin/rotate",
            host,
            &[("Content-Type", "application/json")],
            "",
        )
        .await;
        assert_eq!(status, 200);
        assert_ne!(issuer.current_kid(), kid);
        issuer.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn foreign_origins_are_refused() {
    bounded(async {
        let issuer = DevIssuer::start(IssuerOptions::default()).await.unwrap();
        let host = own_host(&issuer);
        let json = ("Content-Type", "application/json");
        let own = format!("http://{host}");
        let localhost = format!("http://localhost:{}", issuer.addr().port());
        for origin in [own.as_str(), localhost.as_str()] {
            let (status, body) =
                mint_with(&issuer, Some(&host), &[json, ("Origin", origin)], MINT).await;
            assert_eq!(status, 200, "{origin}: {body}");
        }
        for origin in [
            "https://evil.example",
            "null",
            "http://127.0.0.1:1",
            "https://evil.example:443/page",
        ] {
            let (status, body) =
                mint_with(&issuer, Some(&host), &[json, ("Origin", origin)], MINT).await;
            assert_eq!(status, 403, "{origin}: {body}");
            assert_eq!(body["error"], "forbidden_origin");
            let d = body["error_description"].as_str().unwrap();
            assert!(d.contains(origin) && d.contains(&own), "{d}");
        }
        // GET admin endpoints are checked too.
        let (status, _) = raw(
            &issuer,
            "GET",
            "/admin/state",
            Some(&host),
            &[("Origin", "https://evil.example")],
            "",
        )
        .await;
        assert_eq!(status, 403);
        let (status, body) = raw(&issuer, "GET", "/admin/state", Some(&host), &[], "").await;
        assert_eq!(status, 200, "{body}");
        issuer.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn foreign_hosts_are_refused() {
    bounded(async {
        let issuer = DevIssuer::start(IssuerOptions::default()).await.unwrap();
        let port = issuer.addr().port();
        let json = ("Content-Type", "application/json");
        let localhost = format!("localhost:{port}");
        let (status, body) = mint_with(&issuer, Some(&localhost), &[json], MINT).await;
        assert_eq!(status, 200, "{body}");
        let rebound = format!("evil.example:{port}");
        for host in ["evil.example", rebound.as_str(), "127.0.0.1:1"] {
            let (status, body) = mint_with(&issuer, Some(host), &[json], MINT).await;
            assert_eq!(status, 403, "{host}: {body}");
            assert_eq!(body["error"], "forbidden_host");
            let d = body["error_description"].as_str().unwrap();
            assert!(
                d.contains(host) && d.contains(&issuer.addr().to_string()),
                "{d}"
            );
            let (status, _) = raw(&issuer, "GET", "/admin/state", Some(host), &[], "").await;
            assert_eq!(status, 403, "GET with Host {host}");
        }
        // HTTP/1.1 without Host: refused by the issuer (or by the HTTP layer), never served.
        let (status, body) = raw(&issuer, "POST", "/admin/mint", None, &[json], MINT).await;
        assert_eq!(status, 400, "{body}");
        // The public endpoints are unchanged.
        let (status, _) = raw(&issuer, "GET", "/jwks", Some("evil.example"), &[], "").await;
        assert_eq!(status, 200);
        issuer.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn the_issuer_url_host_is_accepted() {
    bounded(async {
        let opts = IssuerOptions {
            issuer: Some("https://idp.dev.example/realms/dev".into()),
            ..IssuerOptions::default()
        };
        let issuer = DevIssuer::start(opts).await.unwrap();
        let json = ("Content-Type", "application/json");
        for host in ["idp.dev.example", "idp.dev.example:443"] {
            let (status, body) = mint_with(
                &issuer,
                Some(host),
                &[json, ("Origin", "https://idp.dev.example")],
                MINT,
            )
            .await;
            assert_eq!(status, 200, "{host}: {body}");
        }
        let (status, _) = mint_with(&issuer, Some("idp.dev.example:80"), &[json], MINT).await;
        assert_eq!(status, 403);
        issuer.shutdown().await;
    })
    .await;
}
