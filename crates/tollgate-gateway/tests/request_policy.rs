//! The strict request policy end to end, in both modes (reverse proxy and forward-auth),
//! with the findings of the security review as written and variations on each class:
//! method case, method overrides, path spellings other servers read differently, case
//! variants of routes, forwarded headers from untrusted peers, identity-header look-alikes.
//!
//! Raw requests go over a plain TCP socket, so what is sent is exactly what is written.

mod common;

use std::time::Duration;

use common::{Echo, LocalKeys, ANY_TOKEN, ISS, RULES, TEST_TIMEOUT};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tollgate_gateway::{Config, Gateway, RunningGateway};

/// The README's rules plus an admin route and a GET-only reports route; `extra` is added
/// at the top of the file.
fn config(keys: &LocalKeys, upstream: Option<&Echo>, extra: &str) -> Config {
    let upstream = upstream
        .map(|e| format!("upstream = \"{}\"\n", e.url()))
        .unwrap_or_default();
    let reports = "[[route]]\npath = \"/reports/\"\nmethods = [\"GET\"]\nroles = [\"auditor\"]\n";
    keys.config(
        &format!("{upstream}{extra}"),
        &format!("{RULES}{reports}{ANY_TOKEN}"),
    )
}

async fn start(config: Config) -> RunningGateway {
    Gateway::new(config).unwrap().serve().await.unwrap()
}

/// A response read off the wire: status, lower-cased headers, body.
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Raw {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
    fn code(&self) -> &str {
        self.header("x-tollgate-error")
    }
}

/// Sends `request` (the request line and headers, without the final empty line) with
/// `Connection: close`, and reads the whole answer.
async fn raw(addr: std::net::SocketAddr, request: &str) -> Raw {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let text = format!("{request}\r\nConnection: close\r\n\r\n");
    s.write_all(text.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .expect("the gateway answers and closes")
        .unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Raw {
        status,
        headers,
        body: body.to_string(),
    }
}

/// A raw request to the reverse proxy.
async fn send(gw: &RunningGateway, method: &str, target: &str, token: Option<&str>) -> Raw {
    let auth = token
        .map(|t| format!("\r\nAuthorization: Bearer {t}"))
        .unwrap_or_default();
    raw(
        gw.addr(),
        &format!("{method} {target} HTTP/1.1\r\nHost: api.example{auth}\r\nContent-Length: 0"),
    )
    .await
}

/// A forward-auth question with these headers.
async fn ask(gw: &RunningGateway, headers: &[(&str, &str)]) -> Raw {
    let mut req = "GET /verify HTTP/1.1\r\nHost: tollgate".to_string();
    for (k, v) in headers {
        req.push_str(&format!("\r\n{k}: {v}"));
    }
    raw(gw.addr(), &req).await
}

/// Finding 1: a method with lower-case letters is refused in the request line (both
/// protocols) and in the forwarded method, before any rule is looked at.
#[tokio::test]
async fn lower_case_methods_never_skip_method_rules() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let keys = LocalKeys::new();
        let echo = Echo::start().await;
        let gw = start(config(&keys, Some(&echo), "")).await;
        let read_only = keys.token(json!({}));

        // The review's requests, and other spellings of the same class.
        assert_eq!(send(&gw, "POST", "/orders/42", Some(&read_only)).await.status, 403);
        for m in ["post", "delete", "put", "patch", "Post", "pOST", "DeLeTe", "get", "m-search"] {
            let r = send(&gw, m, "/orders/42", Some(&read_only)).await;
            assert_eq!((r.status, r.code()), (400, "method_not_canonical"), "{m}: {}", r.body);
        }
        // Unusual upper-case methods are methods like any other.
        let r = send(&gw, "PROPFIND", "/x", Some(&read_only)).await;
        assert_eq!(r.status, 200, "{}", r.body);

        // HTTP/2 (h2c, prior knowledge): the :method pseudo-header follows the same rule.
        assert_eq!(h2(&gw, "POST", "/orders/42", &read_only).await, Ok((403, "insufficient_scope".into())));
        for m in ["post", "delete"] {
            match h2(&gw, m, "/orders/42", &read_only).await {
                Ok(answer) => assert_eq!(answer, (400, "method_not_canonical".into()), "{m}"),
                // A stack that refuses the frame itself never reaches the upstream either.
                Err(e) => assert!(!e.is_empty(), "{m}"),
            }
        }

        // Method overrides naming another method than the request's.
        let write = keys.token(json!({"scope": "orders.write"}));
        for h in ["X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"] {
            let r = raw(
                gw.addr(),
                &format!("POST /orders/1 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {write}\r\n{h}: DELETE\r\nContent-Length: 0"),
            )
            .await;
            assert_eq!((r.status, r.code()), (400, "method_override"), "{h}");
        }
        let r = send(&gw, "POST", "/orders/1?_method=DELETE", Some(&write)).await;
        assert_eq!((r.status, r.code()), (400, "method_override"));
        let r = send(&gw, "POST", "/orders/1?x=1", Some(&write)).await;
        assert_eq!(r.status, 200, "{}", r.body);

        // A GET rule covers HEAD (most frameworks run the GET handler for HEAD).
        let r = send(&gw, "HEAD", "/reports/q3", Some(&read_only)).await;
        assert_eq!((r.status, r.code()), (403, "insufficient_role"));
        let auditor = keys.token(json!({"roles": ["auditor"]}));
        assert_eq!(send(&gw, "HEAD", "/reports/q3", Some(&auditor)).await.status, 200);

        gw.shutdown().await;
        echo.stop().await;
    })
    .await
    .unwrap();
}

/// One HTTP/2 request with prior knowledge (h2c): the status and `X-Tollgate-Error`.
async fn h2(
    gw: &RunningGateway,
    method: &str,
    path: &str,
    token: &str,
) -> Result<(u16, String), String> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let stream = TcpStream::connect(gw.addr()).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = http::Request::builder()
        .method(http::Method::from_bytes(method.as_bytes()).unwrap())
        .uri(format!("http://{}{path}", gw.addr()))
        .header("authorization", format!("Bearer {token}"))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(10), sender.send_request(req))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    assert_eq!(resp.version(), http::Version::HTTP_2);
    let code = resp
        .headers()
        .get("x-tollgate-error")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    Ok((resp.status().as_u16(), code))
}

/// Finding 4: paths other servers read differently, in the reverse proxy; every one of the
/// review's strings and variations, anonymous and with a token lacking the role.
#[tokio::test]
async fn paths_read_differently_elsewhere_are_refused() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let keys = LocalKeys::new();
        let echo = Echo::start().await;
        let gw = start(config(&keys, Some(&echo), "")).await;
        let read_only = keys.token(json!({}));

        let cases: &[(&str, &str, bool, &str)] = &[
            // (method, target, with token, expected code)
            ("GET", "/public/..;/orders/x", false, "path_parameter"),
            ("GET", "/public/..%3b/orders/x", false, "path_parameter"),
            ("GET", "/public/..%3B/orders/x", false, "path_parameter"),
            (
                "GET",
                "/public/%252e%252e/orders/x",
                false,
                "encoded_percent",
            ),
            (
                "GET",
                "/public/%252E%252E/admin/x",
                false,
                "encoded_percent",
            ),
            ("GET", "/public/%2e%2e/admin/x", false, "encoded_separator"),
            ("GET", "/public%2f..%2fadmin/x", false, "encoded_separator"),
            ("GET", "/public/..%5cadmin/x", false, "encoded_separator"),
            ("GET", "/public/../admin/x", false, "dot_segment"),
            ("GET", "/public/./x", false, "dot_segment"),
            ("GET", "/PUBLIC/x", false, "case_variant"),
            ("GET", "//public/x", false, "empty_segment"),
            ("GET", "/public\\..\\admin", false, "forbidden_character"),
            ("GET", "/public/%00/x", false, "forbidden_character"),
            ("GET", "/public/%zz", false, "bad_percent_encoding"),
            ("GET", "/admin;/x", true, "path_parameter"),
            ("GET", "/admin;jsessionid=1/x", true, "path_parameter"),
            ("GET", "/admin%3b/x", true, "path_parameter"),
            ("GET", "/admin%3B/x", true, "path_parameter"),
            ("GET", "/ADMIN/x", true, "case_variant"),
            ("GET", "/Admin/x", true, "case_variant"),
            ("GET", "/aDmIn", true, "case_variant"),
            ("GET", "/%41dmin/x", true, "case_variant"),
            ("GET", "/admin//x", true, "empty_segment"),
            ("GET", "/admin./x", true, "trailing_dot_or_space"),
            ("GET", "/admin%20/x", true, "trailing_dot_or_space"),
            ("GET", "/public./x", false, "trailing_dot_or_space"),
            ("GET", "//admin/x", true, "empty_segment"),
            ("POST", "/Orders/1", true, "case_variant"),
            ("POST", "/ORDERS/1", true, "case_variant"),
            ("POST", "/orders;x/1", true, "path_parameter"),
            ("POST", "/orders%3Bx/1", true, "path_parameter"),
            ("DELETE", "/orders/1;", true, "path_parameter"),
        ];
        for (method, target, with_token, code) in cases {
            let token = with_token.then_some(read_only.as_str());
            let r = send(&gw, method, target, token).await;
            assert_eq!(
                (r.status, r.code()),
                (400, *code),
                "{method} {target}: {}",
                r.body
            );
            let body: Value = serde_json::from_str(&r.body).unwrap();
            assert_eq!(body["error"], "invalid_request");
            assert!(!body["error_description"].as_str().unwrap().is_empty());
        }
        // A case variant names the route it resembles and the setting.
        let r = send(&gw, "GET", "/ADMIN/x", Some(&read_only)).await;
        assert!(
            r.body.contains("\\\"/admin/\\\"") && r.body.contains("case_insensitive_paths"),
            "{}",
            r.body
        );
        // Percent-decoded to the route itself: the route's rule applies.
        let r = send(&gw, "GET", "/%61dmin/x", Some(&read_only)).await;
        assert_eq!((r.status, r.code()), (403, "insufficient_role"));
        // Ordinary paths still work, with their query untouched.
        let r = send(&gw, "GET", "/public/logo.png?a=;&b=%25", None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let seen: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(seen["path"], "/public/logo.png?a=;&b=%25");
        let r = send(&gw, "GET", "/other/Mixed-Case/%C3%A9", Some(&read_only)).await;
        assert_eq!(r.status, 200, "{}", r.body);

        // Every refusal is counted under its code.
        let m = common::metrics_text(&gw).await;
        for code in [
            "path_parameter",
            "encoded_percent",
            "case_variant",
            "empty_segment",
        ] {
            assert!(m.contains(&format!("code=\"{code}\"")), "{code}: {m}");
        }
        gw.shutdown().await;
        echo.stop().await;
    })
    .await
    .unwrap();
}

/// `case_insensitive_paths = true`: rules match ignoring case, as the upstream does.
#[tokio::test]
async fn a_case_insensitive_upstream_gets_case_insensitive_rules() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let keys = LocalKeys::new();
        let echo = Echo::start().await;
        let gw = start(config(
            &keys,
            Some(&echo),
            "case_insensitive_paths = true\n",
        ))
        .await;
        let read_only = keys.token(json!({}));
        for target in ["/ADMIN/x", "/Admin/x", "/aDmIn"] {
            let r = send(&gw, "GET", target, Some(&read_only)).await;
            assert_eq!((r.status, r.code()), (403, "insufficient_role"), "{target}");
        }
        let r = send(&gw, "POST", "/Orders/1", Some(&read_only)).await;
        assert_eq!((r.status, r.code()), (403, "insufficient_scope"));
        assert_eq!(send(&gw, "GET", "/PUBLIC/x", None).await.status, 200);
        // The other rules of the policy still hold.
        let r = send(&gw, "GET", "/ADMIN;/x", Some(&read_only)).await;
        assert_eq!(r.code(), "path_parameter");
        gw.shutdown().await;
        echo.stop().await;
    })
    .await
    .unwrap();
}

/// Findings 3, 4 and 6 in forward-auth: what the proxy names is held to the same policy,
/// and the forwarded request itself must be complete and unforged.
#[tokio::test]
async fn forward_auth_holds_the_forwarded_request_to_the_policy() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let keys = LocalKeys::new();
        let gw = start(config(&keys, None, "")).await;
        let read_only = keys.token(json!({}));
        let bearer = format!("Bearer {read_only}");

        // Finding 3: no original method while rules depend on it.
        let r = ask(
            &gw,
            &[("X-Original-URI", "/orders/42"), ("Authorization", &bearer)],
        )
        .await;
        assert_eq!((r.status, r.code()), (400, "missing_original_method"));
        assert!(
            r.body.contains("X-Original-Method")
                && r.body
                    .contains("proxy_set_header X-Original-Method $request_method"),
            "{}",
            r.body
        );
        let r = ask(&gw, &[("X-Original-Method", "POST")]).await;
        assert_eq!((r.status, r.code()), (400, "missing_original_uri"));
        assert!(
            r.body.contains("X-Forwarded-Uri") && r.body.contains("X-Original-URI"),
            "{}",
            r.body
        );

        // Finding 1 in the forwarded method.
        for m in ["post", "Delete", "pUT"] {
            let r = ask(
                &gw,
                &[
                    ("X-Forwarded-Method", m),
                    ("X-Forwarded-Uri", "/orders/42"),
                    ("Authorization", &bearer),
                ],
            )
            .await;
            assert_eq!((r.status, r.code()), (400, "method_not_canonical"), "{m}");
        }
        // Not a method at all: empty, two methods, a comma list, non-ASCII.
        for m in ["", "POST GET", "POST,GET", "PO\u{d6}ST"] {
            let r = ask(
                &gw,
                &[
                    ("X-Forwarded-Method", m),
                    ("X-Forwarded-Uri", "/orders/42"),
                    ("Authorization", &bearer),
                ],
            )
            .await;
            assert_eq!(r.status, 400, "{m:?}: {}", r.body);
        }
        // Twice, or both names disagreeing: a client may have added one.
        for pair in [
            [
                ("X-Forwarded-Method", "GET"),
                ("X-Forwarded-Method", "DELETE"),
            ],
            [
                ("X-Forwarded-Method", "GET"),
                ("X-Original-Method", "DELETE"),
            ],
        ] {
            let mut headers = pair.to_vec();
            headers.push(("X-Forwarded-Uri", "/orders/42"));
            headers.push(("Authorization", &bearer));
            let r = ask(&gw, &headers).await;
            assert_eq!(
                (r.status, r.code()),
                (400, "conflicting_forwarded_headers"),
                "{pair:?}"
            );
        }
        let r = ask(
            &gw,
            &[
                ("X-Forwarded-Method", "POST"),
                ("X-Forwarded-Uri", "/orders/42"),
                ("Authorization", &bearer),
            ],
        )
        .await;
        assert_eq!((r.status, r.code()), (403, "insufficient_scope"));

        // Finding 4: the URI as the proxy names it, '#' included.
        for (uri, code) in [
            ("/public/#/../../orders/x", "fragment_in_uri"),
            ("/public/..;/orders/x", "path_parameter"),
            ("/public/%252e%252e/orders/x", "encoded_percent"),
            ("/ADMIN/x", "case_variant"),
        ] {
            let r = ask(
                &gw,
                &[("X-Forwarded-Method", "GET"), ("X-Forwarded-Uri", uri)],
            )
            .await;
            assert_eq!((r.status, r.code()), (400, code), "{uri}");
        }

        // Finding 6: spellings of identity headers, and Connection naming protected headers.
        for (name, value) in [
            ("X_Auth_Subject", "admin"),
            ("x_auth_scope", "orders.write"),
            ("X-Auth_Subject", "admin"),
            ("X_AUTH-SCOPE", "orders.write"),
            ("X-Auth-Subject", "admin"),
            ("X-AUTH-SUBJECT", "admin"),
        ] {
            let r = ask(
                &gw,
                &[
                    ("X-Forwarded-Method", "GET"),
                    ("X-Forwarded-Uri", "/public/x"),
                    (name, value),
                ],
            )
            .await;
            assert_eq!(
                (r.status, r.code()),
                (400, "identity_header_in_request"),
                "{name}"
            );
        }
        for value in [
            "X-Auth-Subject, X-Auth-Scope",
            "x_auth_scope",
            "close, Authorization",
        ] {
            let r = ask(
                &gw,
                &[
                    ("X-Forwarded-Method", "GET"),
                    ("X-Forwarded-Uri", "/public/x"),
                    ("Connection", value),
                ],
            )
            .await;
            assert_eq!(
                (r.status, r.code()),
                (400, "connection_names_protected_header"),
                "{value}"
            );
        }
        let r = ask(
            &gw,
            &[
                ("X-Forwarded-Method", "GET"),
                ("X-Forwarded-Uri", "/public/x"),
                ("X-Auth-Other", "x"),
            ],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);

        gw.shutdown().await;
    })
    .await
    .unwrap();
}

/// Without method rules, a proxy that does not name the method is judged by the request's
/// own method (nginx's GET subrequest is then harmless).
#[tokio::test]
async fn the_original_method_is_needed_only_when_rules_use_it() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let keys = LocalKeys::new();
        let src = format!(
            "listen = \"127.0.0.1:8080\"\nadmin_listen = \"\"\n[[issuer]]\nissuer = \"{ISS}\"\naudiences = [\"api://orders\"]\n[[route]]\npath = \"/public/\"\nanonymous = true\n[[route]]\npath = \"/\"\n"
        );
        let gw = start(Config::from_toml_str(&keys.adapt(&src)).unwrap()).await;
        let r = ask(&gw, &[("X-Original-URI", "/public/x")]).await;
        assert_eq!(r.status, 200, "{}", r.body);
        gw.shutdown().await;
    })
    .await
    .unwrap();
}

/// Finding 7: forwarded headers count only from `trusted_proxies`.
#[tokio::test]
async fn forwarded_headers_are_honoured_from_trusted_proxies_only() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let keys = LocalKeys::new();
        let echo = Echo::start().await;
        let token = keys.token(json!({}));
        let spoofed = format!(
            "GET /x HTTP/1.1\r\nHost: api.example\r\nAuthorization: Bearer {token}\r\nX-Forwarded-For: 10.9.9.9\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: admin.internal\r\nForwarded: for=10.9.9.9;proto=https\r\nX-Real-IP: 10.9.9.9\r\nX-Original-URL: /admin/x\r\nX-Rewrite-URL: /admin/x\r\nContent-Length: 0"
        );

        // The default trusts loopback: the chain is extended, the proxy's values kept.
        let gw = start(config(&keys, Some(&echo), "")).await;
        let r = raw(gw.addr(), &spoofed).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let seen: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(seen["headers"]["x-forwarded-for"], "10.9.9.9, 127.0.0.1");
        assert_eq!(seen["headers"]["x-forwarded-proto"], "https");
        assert!(seen["headers"]["x-original-url"].is_null(), "{seen}");
        assert!(seen["headers"]["x-rewrite-url"].is_null(), "{seen}");
        gw.shutdown().await;

        // A client outside trusted_proxies: its forwarding headers are replaced.
        let gw = start(config(&keys, Some(&echo), "trusted_proxies = [\"10.0.0.0/8\"]\n")).await;
        let r = raw(gw.addr(), &spoofed).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let seen: Value = serde_json::from_str(&r.body).unwrap();
        let h = &seen["headers"];
        assert_eq!(h["x-forwarded-for"], "127.0.0.1");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "api.example");
        for gone in ["forwarded", "x-real-ip", "x-original-url", "x-rewrite-url"] {
            assert!(h[gone].is_null(), "{gone}: {seen}");
        }
        gw.shutdown().await;

        // Forward-auth answers only trusted proxies, and says which setting to change.
        let gw = start(config(&keys, None, "trusted_proxies = [\"10.0.0.0/8\", \"192.0.2.1\"]\n")).await;
        let r = ask(&gw, &[("X-Forwarded-Method", "GET"), ("X-Forwarded-Uri", "/public/x")]).await;
        assert_eq!((r.status, r.code()), (400, "untrusted_forwarder"));
        assert!(r.body.contains("trusted_proxies") && r.body.contains("127.0.0.1"), "{}", r.body);
        gw.shutdown().await;
        echo.stop().await;

        // A bad entry is refused at startup with its line.
        let keys2 = LocalKeys::new();
        let src = keys2.adapt(&format!(
            "trusted_proxies = [\"10.0.0.0/33\"]\n[[issuer]]\nissuer = \"{ISS}\"\naudiences = [\"a\"]\n[[route]]\npath = \"/\"\n"
        ));
        let e = Config::from_toml_str(&src).unwrap_err();
        assert!(e.to_string().contains("10.0.0.0/33"), "{e}");
    })
    .await
    .unwrap();
}

/// Every code of the policy is in the gateway README's request policy table.
#[test]
fn the_readme_documents_every_refusal() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for v in tollgate_gateway::request_policy::Violation::ALL {
        assert!(
            readme.contains(&format!("| `{}` |", v.as_str())),
            "the gateway README's request policy table has no row for {v}"
        );
    }
}
