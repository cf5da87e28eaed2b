//! Helpers shared by the gateway's integration tests: an echo upstream, token minting with
//! a local key, and a reqwest client.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::Request;
use axum::Router;
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Every test gives up after this long: no test may hang CI.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// An upstream that answers every request with JSON: method, path (with query), headers.
pub struct Echo {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Echo {
    pub async fn start() -> Echo {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().fallback(|req: Request| async move {
            let mut headers = Map::new();
            for (k, v) in req.headers() {
                headers.insert(
                    k.as_str().to_string(),
                    Value::from(v.to_str().unwrap_or("?")),
                );
            }
            let path = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            let method = req.method().to_string();
            let body = axum::body::to_bytes(req.into_body(), 64 << 20)
                .await
                .unwrap_or_default();
            let shown = if body.len() <= 1024 {
                String::from_utf8_lossy(&body).into_owned()
            } else {
                String::new()
            };
            axum::Json(json!({"method": method, "path": path, "headers": headers,
                "body": shown, "body_len": body.len(),
                "body_sha256": tollgate::b64::encode(tollgate::sha256(&body))}))
        });
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Echo {
            addr,
            stop: Some(tx),
            task,
        }
    }
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .no_proxy()
        .build()
        .unwrap()
}

/// The `WWW-Authenticate` header of a response, or "".
pub fn challenge(r: &reqwest::Response) -> String {
    r.headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// The `X-Tollgate-Error` header of a response, or "".
pub fn error_code(r: &reqwest::Response) -> String {
    r.headers()
        .get("x-tollgate-error")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// Sends `request` as written (request line, headers, the empty line) to a loopback port
/// and returns the whole answer as text (the request should say `Connection: close`).
pub async fn raw_status(port: u16, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// The admin listener's `/metrics` text.
pub async fn metrics_text(gw: &tollgate_gateway::RunningGateway) -> String {
    admin_text(gw, "/metrics").await
}

/// The text of an admin listener's page (`/metrics`, `/keys`).
pub async fn admin_text(gw: &tollgate_gateway::RunningGateway, path: &str) -> String {
    client()
        .get(format!("{}{path}", gw.admin_url().unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The JSON body of a response.
pub async fn json_body(r: reqwest::Response) -> Value {
    let text = r.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

pub mod proxies;

/// The issuer of the examples and the issue's minimal configuration.
pub const ISS: &str = "https://login.example.com/tenant/v2.0";

/// The README's rules with an admin route, before the catch-all: `/public/` anonymous,
/// writes to `/orders/` need `orders.write`, `/admin/` needs the `admin` role.
pub const RULES: &str = r#"
[[route]]
path = "/public/"
anonymous = true

[[route]]
path = "/orders/"
methods = ["POST", "PUT", "PATCH", "DELETE"]
scopes = ["orders.write"]

[[route]]
path = "/admin/"
roles = ["admin"]
"#;

/// The catch-all route (any valid token) and the README's identity headers.
pub const ANY_TOKEN: &str = r#"
[[route]]
path = "/"            # any valid token

[headers]
X-Auth-Subject = "sub"
X-Auth-Scope = "scope"
"#;

/// A local signing key standing in for the issuer: its JWKS in a file, tokens minted here.
pub struct LocalKeys {
    pub key: tollgate::SigningKey,
    pub dir: tempfile::TempDir,
}

impl LocalKeys {
    pub fn new() -> LocalKeys {
        let key = tollgate::SigningKey::generate(tollgate::Algorithm::ES256, "k1").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("jwks.json"),
            json!({"keys": [key.public_jwk()]}).to_string(),
        )
        .unwrap();
        LocalKeys { key, dir }
    }

    pub fn jwks_path(&self) -> String {
        self.dir.path().join("jwks.json").display().to_string()
    }

    /// A configuration file's text with keys from the JWKS file instead of discovery, and
    /// ephemeral loopback ports.
    pub fn adapt(&self, toml_text: &str) -> String {
        toml_text
            .replace(
                &format!("issuer = \"{ISS}\""),
                &format!("issuer = \"{ISS}\"\njwks_file = \"{}\"", self.jwks_path()),
            )
            .replace("listen = \"127.0.0.1:8080\"", "listen = \"127.0.0.1:0\"")
            .replace(
                "admin_listen = \"127.0.0.1:9090\"",
                "admin_listen = \"127.0.0.1:0\"",
            )
    }

    /// A gateway configuration on ephemeral loopback ports with keys from the JWKS file:
    /// `top` (top-level options, e.g. `upstream = "..."`), the issuer ISS for
    /// `api://orders`, then `rules` (routes and headers).
    pub fn config(&self, top: &str, rules: &str) -> tollgate_gateway::Config {
        let src = format!(
            "listen = \"127.0.0.1:8080\"\nadmin_listen = \"127.0.0.1:9090\"\n{top}\n[[issuer]]\nissuer = \"{ISS}\"\naudiences = [\"api://orders\"]\n{rules}"
        );
        tollgate_gateway::Config::from_toml_str(&self.adapt(&src)).unwrap()
    }

    /// A token for ISS / api://orders, sub alice, scope orders.read, valid 10 min; members
    /// of `claims` replace (null removes) the defaults.
    pub fn token(&self, claims: Value) -> String {
        let mut base = json!({"iss": ISS, "aud": "api://orders", "sub": "alice",
            "scope": "orders.read", "exp": tollgate::clock::unix_now() + 600});
        for (k, v) in claims.as_object().unwrap() {
            if v.is_null() {
                base.as_object_mut().unwrap().remove(k);
            } else {
                base[k] = v.clone();
            }
        }
        tollgate::jws::sign(&json!({"typ": "at+jwt", "kid": "k1"}), &base, &self.key).unwrap()
    }
}
