//! `tollgate serve`: `--check-config` (exit 0 and a summary, or exit 2 with file:line), and a
//! served gateway that answers, then exits cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    let status = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            "X-Forwarded-Uri: /public/x",
        ])
        .arg(format!("http://{addr}/verify"))
        .output();
    if let Ok(out) = status {
        assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
    }
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
