//! `tollgate serve`: `--check-config` (exit 0 and a summary, or exit 2 with file:line), and a
//! served gateway that answers, then exits cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A minimal HTTP/1.1 GET over a TCP stream: the status code, or None.
fn http_get(addr: &str, path: &str, headers: &[(&str, &str)]) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).ok()?;
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.split_whitespace().nth(1)?.parse().ok()
}

fn tollgate() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    c.env("NO_COLOR", "1").env_remove("RUST_LOG");
    c
}

const GOOD: &str = r#"
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"

[[issuer]]
issuer = "https://login.example.com/tenant/v2.0"
audiences = ["api://orders"]

[[route]]
path = "/public/"
anonymous = true

[[route]]
path = "/"
"#;

#[test]
fn check_config_accepts_a_good_file_and_summarizes_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");
    std::fs::write(&path, GOOD).unwrap();
    let out = tollgate()
        .args(["serve", "--check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("mode: forward-auth"), "{stdout}");
    assert!(
        stdout.contains("route: /public/ (any method): anonymous"),
        "{stdout}"
    );
    assert!(stdout.contains("configuration OK"), "{stdout}");
}

#[test]
fn check_config_names_the_file_and_line_of_a_mistake() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");
    std::fs::write(
        &path,
        GOOD.replace("path = \"/\"", "path = \"/\"\nscope = [\"x\"]"),
    )
    .unwrap();
    let out = tollgate()
        .args(["serve", "--check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:15:", path.display())),
        "{stderr}"
    );
    assert!(stderr.contains("unknown field `scope`"), "{stderr}");
    assert!(stderr.contains("did you mean `scopes`?"), "{stderr}");
}

#[test]
fn a_served_gateway_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    let key = tollgate::SigningKey::generate(tollgate::Algorithm::ES256, "k1").unwrap();
    std::fs::write(
        &jwks,
        serde_json::json!({"keys": [key.public_jwk()]}).to_string(),
    )
    .unwrap();
    let path = dir.path().join("gateway.toml");
    std::fs::write(
        &path,
        GOOD.replace(
            "audiences = [",
            &format!("jwks_file = \"{}\"\naudiences = [", jwks.display()),
        ),
    )
    .unwrap();
    let mut child = tollgate()
        .args(["serve", "--log-format", "json", "--config"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The startup log names the bound address.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut addr = None;
    let mut seen = String::new();
    while addr.is_none() && Instant::now() < deadline {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
            if v["message"] == "gateway listening" {
                addr = v["addr"].as_str().map(str::to_string);
            }
        }
    }
    let Some(addr) = addr else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("no startup log line:\n{seen}");
    };
    assert_eq!(
        http_get(
            &addr,
            "/verify",
            &[
                ("X-Forwarded-Method", "GET"),
                ("X-Forwarded-Uri", "/public/x")
            ]
        ),
        Some(200)
    );
    assert_eq!(
        http_get(
            &addr,
            "/verify",
            &[
                ("X-Forwarded-Method", "GET"),
                ("X-Forwarded-Uri", "/orders/1")
            ]
        ),
        Some(401)
    );
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(code) = child.try_wait().unwrap() {
            assert_eq!(code.code(), Some(0));
            break;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("the gateway did not stop within 20 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serve_dev_prints_commands_that_work() {
    let mut child = tollgate()
        .args(["serve", "--dev", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut text = String::new();
    while Instant::now() < deadline {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            break;
        }
        text.push_str(&line);
        if line.starts_with("curl") && line.contains("/keys") {
            break;
        }
    }
    let gateway = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("gateway"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|url| url.strip_prefix("http://"))
        .map(str::to_string);
    let valid = text
        .lines()
        .find_map(|l| l.strip_prefix("VALID='"))
        .map(|t| t.trim_end_matches('\'').to_string());
    let result = (|| {
        let gateway = gateway.ok_or("no gateway line")?;
        let valid = valid.ok_or("no VALID token line")?;
        let auth = format!("Bearer {valid}");
        let checks = [
            (
                http_get(&gateway, "/orders/42", &[("Authorization", &auth)]),
                200,
            ),
            (http_get(&gateway, "/orders/42", &[]), 401),
            (http_get(&gateway, "/public/hello", &[]), 200),
        ];
        for (got, want) in checks {
            if got != Some(want) {
                return Err(format!("expected {want}, got {got:?}"));
            }
        }
        Ok::<(), String>(())
    })();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let started = Instant::now();
    let exited = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if let Err(e) = result {
        panic!("{e}; the output was:\n{text}");
    }
    assert_eq!(exited.and_then(|s| s.code()), Some(0), "exit after SIGTERM");
}
