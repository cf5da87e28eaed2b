//! A real nginx, configured by `examples/nginx/nginx.conf`, in front of the gateway
//! configured by `examples/nginx/tollgate.toml` (forward-auth with `auth_request`).
//!
//! nginx runs from a temp dir on loopback ports, in the foreground, as a single process,
//! and is killed at the end. Without nginx the test is skipped, unless `CI=true`.

mod common;

use std::process::Command;

use common::proxies::{example, find_binary, free_port, ChildGuard};
use common::{challenge, client, json_body, Echo, LocalKeys, TEST_TIMEOUT};
use serde_json::json;
use tollgate_gateway::{Config, Gateway};

#[tokio::test]
async fn nginx_auth_request_in_front_of_the_gateway() {
    let Some(nginx) = find_binary("nginx", true) else {
        return;
    };
    tokio::time::timeout(TEST_TIMEOUT, async {
        let keys = LocalKeys::new();
        let echo = Echo::start().await;
        let config = Config::from_toml_str(&keys.adapt(&example("nginx", "tollgate.toml"))).unwrap();
        assert!(config.upstream.is_none(), "the example is forward-auth only");
        let gw = Gateway::new(config).unwrap().serve().await.unwrap();

        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().display().to_string();
        let port = free_port();
        let conf = example("nginx", "nginx.conf")
            .replace("server 127.0.0.1:8080;", &format!("server {};", gw.addr()))
            .replace("server 127.0.0.1:3000;", &format!("server {};", echo.addr))
            .replace("listen 127.0.0.1:8000;", &format!("listen 127.0.0.1:{port};"))
            .replacen(
                "http {",
                &format!(
                    "http {{\n    client_body_temp_path {tmp}/body;\n    proxy_temp_path {tmp}/proxy;\n    fastcgi_temp_path {tmp}/fastcgi;\n    uwsgi_temp_path {tmp}/uwsgi;\n    scgi_temp_path {tmp}/scgi;\n"
                ),
                1,
            );
        assert!(conf.contains(&format!("listen 127.0.0.1:{port};")));
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();

        let mut cmd = Command::new(&nginx);
        cmd.arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg("stderr")
            .arg("-g")
            .arg(format!("daemon off; master_process off; pid {tmp}/nginx.pid; error_log stderr;"));
        let mut proxy = ChildGuard::spawn(cmd, dir.path().join("nginx.log"));
        proxy.wait_for_port(port).await;
        let base = format!("http://127.0.0.1:{port}");
        let http = client();

        // A valid token reaches the upstream with the identity headers; a forged one is replaced.
        let good = keys.token(json!({"scope": "orders.read orders.write"}));
        let r = http
            .post(format!("{base}/orders/42?x=1"))
            .header("Authorization", format!("Bearer {good}"))
            .header("X-Auth-Subject", "mallory")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", proxy.output());
        let seen = json_body(r).await;
        assert_eq!(seen["path"], "/orders/42?x=1");
        assert_eq!(seen["headers"]["x-auth-subject"], "alice");
        assert_eq!(seen["headers"]["x-auth-scope"], "orders.read orders.write");

        // A bad token: 401 with the RFC 6750 challenge.
        let expired = keys.token(json!({"exp": 1000}));
        let r = http
            .get(format!("{base}/orders/42"))
            .header("Authorization", format!("Bearer {expired}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let c = challenge(&r);
        assert!(c.contains("error=\"invalid_token\"") && c.contains("expired:"), "{c}");

        // No token: 401 with a challenge.
        let r = http.get(format!("{base}/orders/42")).send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert!(challenge(&r).starts_with("Bearer"), "{}", challenge(&r));

        // A valid token without the route's scope: 403, with the challenge copied by the config.
        let read_only = keys.token(json!({}));
        let r = http
            .delete(format!("{base}/orders/42"))
            .header("Authorization", format!("Bearer {read_only}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let c = challenge(&r);
        assert!(c.contains("insufficient_scope") && c.contains("scope=\"orders.write\""), "{c}");

        // Anonymous route: passes without a token, and a forged identity header is removed.
        let r = http
            .get(format!("{base}/public/logo.png"))
            .header("X-Auth-Subject", "mallory")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let seen = json_body(r).await;
        let forged = &seen["headers"]["x-auth-subject"];
        assert!(forged.is_null() || forged == "", "{seen}");

        // A client's own X-Forwarded-Uri cannot make a private URI look public.
        let r = http
            .delete(format!("{base}/orders/42"))
            .header("X-Forwarded-Uri", "/public/x")
            .header("X-Forwarded-Method", "GET")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);

        drop(proxy);
        gw.shutdown().await;
        echo.stop().await;
    })
    .await
    .unwrap();
}
