//! A real Caddy, configured by `examples/caddy/Caddyfile`, in front of the gateway
//! configured by `examples/caddy/tollgate.toml` (`forward_auth`).
//!
//! Caddy runs from a temp dir (admin API off, no HTTPS) on loopback ports and is killed at
//! the end. Without Caddy the test is skipped with a message (CI installs it when it can).

mod common;

use std::process::Command;

use common::proxies::{
    check_dpop, check_forward_auth, example, example_setup, find_binary, free_port, ChildGuard,
};
use common::{client, error_code, json_body, raw_status, TEST_TIMEOUT};
use tollgate_gateway::Gateway;

#[tokio::test]
async fn caddy_forward_auth_in_front_of_the_gateway() {
    let Some(caddy) = find_binary("caddy", false) else {
        return;
    };
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (keys, echo, config) = example_setup("caddy").await;
        let gw = Gateway::new(config).unwrap().serve().await.unwrap();

        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let conf = example("caddy", "Caddyfile")
            .replace(
                "forward_auth 127.0.0.1:8080",
                &format!("forward_auth {}", gw.addr()),
            )
            .replace(
                "reverse_proxy 127.0.0.1:3000",
                &format!("reverse_proxy {}", echo.addr),
            )
            .replace("http://127.0.0.1:8000", &format!("http://127.0.0.1:{port}"));
        assert!(conf.contains(&format!("http://127.0.0.1:{port}")));
        let conf_path = dir.path().join("Caddyfile");
        std::fs::write(&conf_path, conf).unwrap();

        let mut cmd = Command::new(&caddy);
        cmd.arg("run")
            .arg("--config")
            .arg(&conf_path)
            .arg("--adapter")
            .arg("caddyfile")
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_CONFIG_HOME", dir.path().join("config"));
        let mut proxy = ChildGuard::spawn(cmd, dir.path().join("caddy.log"));
        proxy.wait_for_port(port).await;
        let base = format!("http://127.0.0.1:{port}");
        let (good, read_only) = check_forward_auth(&base, &keys, &proxy).await;
        check_dpop(&base, &keys, &proxy).await;
        let http = client();

        // Identity-header look-alikes: Caddy strips X-Auth-* and X_Auth_* (the example's
        // request_header lines); a mixed spelling reaches /verify, which refuses it.
        let r = http
            .get(format!("{base}/public/logo.png"))
            .header("X_Auth_Subject", "admin")
            .header("x_auth_scope", "orders.write")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let seen = json_body(r).await;
        for name in ["x_auth_subject", "x_auth_scope"] {
            assert!(seen["headers"][name].is_null(), "{name}: {seen}");
        }
        let r = http
            .get(format!("{base}/public/logo.png"))
            .header("X-Auth_Subject", "admin")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(error_code(&r), "identity_header_in_request");

        // A Connection header naming the identity headers cannot make Caddy drop them.
        let r = http
            .get(format!("{base}/orders/42"))
            .header("Authorization", format!("Bearer {good}"))
            .header("Connection", "X-Auth-Subject, X-Auth-Scope")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let seen = json_body(r).await;
        assert_eq!(seen["headers"]["x-auth-subject"], "alice", "{seen}");

        // Lower-case methods (Caddy passes them on as sent): refused, never judged as reads.
        for m in ["post", "delete", "Patch"] {
            let answer = raw_status(
                port,
                &format!("{m} /orders/42 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {read_only}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
            )
            .await;
            assert!(answer.starts_with("HTTP/1.1 400"), "{m}: {answer}");
            assert!(answer.contains("method_not_canonical"), "{m}: {answer}");
        }

        // Paths other servers read differently, as the review sent them through Caddy.
        for (method, path, token, code) in [
            ("GET", "/public/..;/orders/x", None, "path_parameter"),
            ("GET", "/public/..%3b/orders/x", None, "path_parameter"),
            ("GET", "/public/%252e%252e/orders/x", None, "encoded_percent"),
            ("POST", "/Orders/1", Some(&read_only), "case_variant"),
            ("POST", "/orders;x/1", Some(&read_only), "path_parameter"),
            ("GET", "/PUBLIC/x", None, "case_variant"),
        ] {
            let auth = token
                .map(|t| format!("Authorization: Bearer {t}\r\n"))
                .unwrap_or_default();
            let answer = raw_status(
                port,
                &format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"),
            )
            .await;
            assert!(answer.starts_with("HTTP/1.1 400"), "{method} {path}: {answer}");
            assert!(answer.contains(code), "{method} {path}: {answer}");
        }

        drop(proxy);
        gw.shutdown().await;
        echo.stop().await;
    })
    .await
    .unwrap();
}
