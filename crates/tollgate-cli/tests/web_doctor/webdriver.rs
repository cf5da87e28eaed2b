//! A small W3C WebDriver client over HTTP (reqwest), enough to drive Debian's chromium
//! through chromedriver: a session, navigation, elements (find, clear, type, click, read),
//! scripts, window size and screenshots.
//!
//! chromedriver is started by [`Driver::start`] on a free loopback port, bounded in time by
//! the interop suite's [`Server`] (its own process group, stopped by its PID); the browser
//! gets a fresh `--user-data-dir`, runs headless, and `--no-sandbox` when running as root.
//! Dropping the session deletes it (the browser exits) before chromedriver is stopped.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use crate::interop_support::process::{free_port, Server};

/// How long chromedriver may live: the whole browser suite, with room on a loaded runner.
const DRIVER_LIMIT: Duration = Duration::from_secs(600);
/// How long one WebDriver command may take (page loads on a loaded 2-core machine).
const COMMAND_LIMIT: Duration = Duration::from_secs(90);
/// The element key of the W3C protocol.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The WebDriver key code of Tab.
pub const TAB: &str = "\u{E004}";
/// The WebDriver key code of Enter.
pub const ENTER: &str = "\u{E007}";

/// chromedriver, running.
pub struct Driver {
    server: Server,
    port: u16,
}

impl Driver {
    /// Starts `/usr/bin/chromedriver` (or `CHROMEDRIVER`) on a free port.
    pub fn start() -> Driver {
        let program = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let port = free_port();
        let mut server = Server::start(
            "chromedriver",
            Path::new(&program),
            &[format!("--port={port}"), "--allowed-ips=127.0.0.1".into()],
            None,
            DRIVER_LIMIT,
        )
        .expect("chromedriver starts (apt-get install chromium-driver)");
        server
            .wait_for("started successfully", Duration::from_secs(60))
            .expect("chromedriver is ready");
        Driver { server, port }
    }

    /// A new headless chromium session with a fresh profile in `profile`.
    pub async fn session(&self, profile: &Path) -> Session {
        let root = std::fs::read_to_string("/proc/self/status")
            .map(|s| {
                s.lines()
                    .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
            })
            .unwrap_or(false);
        let mut args = vec![
            "--headless=new".to_string(),
            format!("--user-data-dir={}", profile.display()),
            "--window-size=1280,1000".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--disable-extensions".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--lang=en-US".into(),
        ];
        if root {
            args.push("--no-sandbox".into());
        }
        let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let client = reqwest::Client::builder()
            .timeout(COMMAND_LIMIT)
            .build()
            .expect("client");
        let base = format!("http://127.0.0.1:{}", self.port);
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": {"pageLoad": 90_000, "script": 60_000, "implicit": 0},
            "goog:chromeOptions": {"binary": binary, "args": args}
        }}});
        let v = send(
            &client,
            reqwest::Method::POST,
            &format!("{base}/session"),
            Some(caps),
        )
        .await
        .unwrap_or_else(|e| panic!("new session: {e}\nchromedriver: {}", self.server.log()));
        let id = v["sessionId"].as_str().expect("sessionId").to_string();
        Session {
            client,
            url: format!("{base}/session/{id}"),
            port: self.port,
            id,
        }
    }
}

async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let mut req = client.request(method, url);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let r = req.send().await.map_err(|e| e.to_string())?;
    let status = r.status();
    let bytes = r.bytes().await.map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}: {}", v["value"]));
    }
    Ok(v["value"].clone())
}

/// One browser session.
pub struct Session {
    client: reqwest::Client,
    url: String,
    port: u16,
    id: String,
}

/// An element of the page.
pub struct Element<'s> {
    session: &'s Session,
    id: String,
}

impl Session {
    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        send(&self.client, method, &format!("{}{path}", self.url), body)
            .await
            .unwrap_or_else(|e| panic!("webdriver {path}: {e}"))
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    /// The element matching the CSS `selector` (panics when none).
    pub async fn find(&self, selector: &str) -> Element<'_> {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": selector})),
            )
            .await;
        Element {
            session: self,
            id: v[ELEMENT].as_str().expect("element id").to_string(),
        }
    }

    /// Empties the field matching `selector` and types `text` into it (as a user pasting it).
    pub async fn fill(&self, selector: &str, text: &str) {
        let field = self.find(selector).await;
        field.clear().await;
        if !text.is_empty() {
            field.type_text(text).await;
        }
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns its value.
    pub async fn script(&self, script: &str, args: Value) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Waits until `script` returns something truthy, and returns it.
    pub async fn wait_for(&self, script: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let v = self.script(script, json!([])).await;
            let truthy = !matches!(&v, Value::Null | Value::Bool(false)) && v.as_str() != Some("");
            if truthy {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "the page never satisfied {script:?} within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Presses and releases one key (a WebDriver key code such as [`TAB`] or [`ENTER`]) on
    /// whatever has the focus, as a keyboard user does.
    pub async fn press(&self, key: &str) {
        let actions = json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": key},
            {"type": "keyUp", "value": key},
        ]}]});
        self.cmd(reqwest::Method::POST, "/actions", Some(actions))
            .await;
    }

    /// Sets the window's outer size.
    pub async fn resize(&self, width: u32, height: u32) {
        self.cmd(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// Writes a PNG screenshot of the viewport to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("base64 screenshot"))
            .expect("screenshot is base64");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot dir");
        }
        std::fs::write(path, png).expect("screenshot written");
    }
}

impl Element<'_> {
    /// Empties a field.
    pub async fn clear(&self) -> &Self {
        self.session
            .cmd(
                reqwest::Method::POST,
                &format!("/element/{}/clear", self.id),
                Some(json!({})),
            )
            .await;
        self
    }

    /// Types `text` into it, as a user pasting it.
    pub async fn type_text(&self, text: &str) -> &Self {
        self.session
            .cmd(
                reqwest::Method::POST,
                &format!("/element/{}/value", self.id),
                Some(json!({"text": text})),
            )
            .await;
        self
    }

    /// Clicks it.
    pub async fn click(&self) {
        self.session
            .cmd(
                reqwest::Method::POST,
                &format!("/element/{}/click", self.id),
                Some(json!({})),
            )
            .await;
    }

    /// Its rendered text.
    pub async fn text(&self) -> String {
        let v = self
            .session
            .cmd(
                reqwest::Method::GET,
                &format!("/element/{}/text", self.id),
                None,
            )
            .await;
        v.as_str().unwrap_or_default().to_string()
    }
}

impl Drop for Session {
    /// Deletes the session (the browser exits), synchronously: a plain HTTP DELETE.
    fn drop(&mut self) {
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        let request = format!(
            "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            self.id, self.port
        );
        if s.write_all(request.as_bytes()).is_ok() {
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        }
    }
}
