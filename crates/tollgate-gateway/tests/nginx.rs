//! A real nginx, configured by `examples/nginx/nginx.conf`, in front of the gateway
//! configured by `examples/nginx/tollgate.toml` (forward-auth with `auth_request`).
//!
//! nginx runs from a temp dir on loopback ports, in the foreground, as a single process,
//! and is killed at the end. Without nginx the test is skipped, unless `CI=true`.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use common::proxies::{
    check_dpop, check_forward_auth, example, example_setup, find_binary, free_port, ChildGuard,
};
use common::{challenge, client, json_body, raw_status, Echo, LocalKeys, TEST_TIMEOUT};
use serde_json::json;
use tollgate_gateway::{Config, Gateway};

/// Runs nginx with `examples/nginx/nginx.conf` pointed at `gateway` and `api`, plus
/// `extra` inside its server block; waits until it listens.
fn start_nginx(
    nginx: &Path,
    gateway: SocketAddr,
    api: SocketAddr,
    extra: &str,
    without: &str,
) -> (tempfile::TempDir, ChildGuard, u16) {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().display().to_string();
    let port = free_port();
    let mut conf = example("nginx", "nginx.conf")
        .replace("server 127.0.0.1:8080;", &format!("server {gateway};"))
        .replace("server 127.0.0.1:3000;", &format!("server {api};"))
        .replace("listen 127.0.0.1:8000;", &format!("listen 127.0.0.1:{port};"))
        .replacen(
            "http {",
            &format!(
                "http {{\n    client_body_temp_path {tmp}/body;\n    proxy_temp_path {tmp}/proxy;\n    fastcgi_temp_path {tmp}/fastcgi;\n    uwsgi_temp_path {tmp}/uwsgi;\n    scgi_temp_path {tmp}/scgi;\n"
            ),
            1,
        );
    assert!(conf.contains(&format!("listen 127.0.0.1:{port};")));
    if !without.is_empty() {
        assert!(conf.contains(without), "the example has {without:?}");
        conf = conf.replace(without, "");
    }
    // the server block ends with the file's last two closing braces
    let end = conf.trim_end().rfind('}').unwrap();
    let server_end = conf[..end].rfind('}').unwrap();
    conf.insert_str(server_end, extra);
    let conf_path = dir.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();

    let mut cmd = Command::new(nginx);
    cmd.arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(&conf_path)
        .arg("-e")
        .arg("stderr")
        .arg("-g")
        .arg(format!(
            "daemon off; master_process off; pid {tmp}/nginx.pid; error_log stderr;"
        ));
    let proxy = ChildGuard::spawn(cmd, dir.path().join("nginx.log"));
    (dir, proxy, port)
}

#[tokio::test]
async fn nginx_auth_request_in_front_of_the_gateway() {
    let Some(nginx) = find_binary("nginx", true) else {
        return;
    };
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (keys, echo, config) = example_setup("nginx").await;
        assert!(
            config.upstream.is_none(),
            "the example is forward-auth only"
        );
        let gw = Gateway::new(config).unwrap().serve().await.unwrap();

        let (_dir, mut proxy, port) = start_nginx(&nginx, gw.addr(), echo.addr, "", "");
        proxy.wait_for_port(port).await;
        let base = format!("http://127.0.0.1:{port}");
        let (_, read_only) = check_forward_auth(&base, &keys, &proxy).await;
        check_dpop(&base, &keys, &proxy).await;
        let http = client();

        // Identity-header look-alikes never reach the API (nginx drops names with '_').
        let r = http
            .get(format!("{base}/public/logo.png"))
            .header("X_Auth_Subject", "admin")
            .header("X-Auth_Scope", "orders.write")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let seen = json_body(r).await;
        for name in ["x_auth_subject", "x-auth_scope"] {
            assert!(seen["headers"][name].is_null(), "{name}: {seen}");
        }

        // Lower-case methods: nginx refuses them itself.
        let answer = raw_status(
            port,
            &format!("post /orders/42 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {read_only}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");

        // Paths other servers read differently: tollgate refuses them (400), which nginx's
        // auth_request answers with 500; they never reach the API either way.
        for (method, path, token) in [
            ("GET", "/public/..;/orders/x", None),
            ("GET", "/public/..%3b/orders/x", None),
            ("GET", "/public/%252e%252e/orders/x", None),
            ("GET", "/PUBLIC/x", None),
            ("POST", "/Orders/1", Some(&read_only)),
            ("POST", "/orders;x/1", Some(&read_only)),
        ] {
            let mut req = http.request(method.parse().unwrap(), format!("{base}{path}"));
            if let Some(t) = token {
                req = req.header("Authorization", format!("Bearer {t}"));
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 500, "{method} {path}");
        }
        let m = common::metrics_text(&gw).await;
        for code in ["path_parameter", "encoded_percent", "case_variant"] {
            assert!(m.contains(&format!("code=\"{code}\"")), "{code}: {m}");
        }

        drop(proxy);
        gw.shutdown().await;
        echo.stop().await;
    })
    .await
    .unwrap();
}

/// Finding 3: an nginx configuration that forgets `X-Original-Method` cannot let writes
/// through as reads: every request is refused (tollgate 400, nginx 500) until the line is
/// added, and the log and metrics name the missing header.
#[tokio::test]
async fn nginx_without_the_original_method_lets_nothing_through() {
    let Some(nginx) = find_binary("nginx", true) else {
        return;
    };
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (keys, echo, config) = example_setup("nginx").await;
        let gw = Gateway::new(config).unwrap().serve().await.unwrap();
        let (_dir, mut proxy, port) = start_nginx(
            &nginx,
            gw.addr(),
            echo.addr,
            "",
            "proxy_set_header X-Original-Method $request_method;",
        );
        proxy.wait_for_port(port).await;
        let base = format!("http://127.0.0.1:{port}");
        let read_only = keys.token(json!({}));
        for method in ["POST", "PUT", "PATCH", "DELETE", "GET"] {
            let r = client()
                .request(method.parse().unwrap(), format!("{base}/orders/42"))
                .header("Authorization", format!("Bearer {read_only}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 500, "{method}: {}", proxy.output());
        }
        assert_eq!(gw.gateway().metrics().count("missing_original_method"), 5);
        drop(proxy);
        gw.shutdown().await;
        echo.stop().await;
    })
    .await
    .unwrap();
}

/// What the nginx example's comments say about "cannot verify now": nginx turns the default
/// 503 into 500, and a location that asks `/verify?unavailable_status=401` passes 401 on.
#[tokio::test]
async fn nginx_and_cannot_verify_now() {
    let Some(nginx) = find_binary("nginx", true) else {
        return;
    };
    tokio::time::timeout(TEST_TIMEOUT, async {
        let keys = LocalKeys::new();
        let echo = Echo::start().await;
        // The issuer's JWKS is on a port where nothing listens.
        let dead = free_port();
        let toml = example("nginx", "tollgate.toml")
            .replace(
                &format!("issuer = \"{}\"", common::ISS),
                &format!(
                    "issuer = \"{}\"\njwks_uri = \"http://127.0.0.1:{dead}/jwks\"",
                    common::ISS
                ),
            )
            .replace("127.0.0.1:8080", "127.0.0.1:0")
            .replace("127.0.0.1:9090", "127.0.0.1:0")
            + "\n";
        let mut config = Config::from_toml_str(&toml).unwrap();
        config.issuers[0].cache.max_wait = std::time::Duration::from_secs(1);
        let gw = Gateway::new(config).unwrap().serve().await.unwrap();
        let strict = r#"
        location /strict/ {
            auth_request /_tollgate_verify_401;
            proxy_pass http://api;
        }
        location = /_tollgate_verify_401 {
            internal;
            proxy_pass http://tollgate/verify?unavailable_status=401;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Original-URI $request_uri;
        }
"#;
        let (_dir, mut proxy, port) = start_nginx(&nginx, gw.addr(), echo.addr, strict, "");
        proxy.wait_for_port(port).await;
        let token = format!("Bearer {}", keys.token(json!({})));
        let r = client()
            .get(format!("http://127.0.0.1:{port}/orders/1"))
            .header("Authorization", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 500, "nginx turns the gateway's 503 into 500");
        let r = client()
            .get(format!("http://127.0.0.1:{port}/strict/1"))
            .header("Authorization", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{}", proxy.output());
        assert!(
            challenge(&r).contains("keys_unavailable: "),
            "{}",
            challenge(&r)
        );
        drop(proxy);
        gw.shutdown().await;
        echo.stop().await;
    })
    .await
    .unwrap();
}
