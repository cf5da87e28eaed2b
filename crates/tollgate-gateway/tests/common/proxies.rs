//! Running a real proxy (nginx, Caddy) in front of the gateway for the example tests:
//! finding the binary, a free port, a child process killed on drop.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `examples/<name>/<file>` of the repository.
pub fn example(name: &str, file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The binary `name` from PATH or the sbin directories. When it is missing: outside CI,
/// prints why the test is skipped and returns None; with `required_in_ci` and `CI=true`,
/// panics (CI installs it).
pub fn find_binary(name: &str, required_in_ci: bool) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin"].map(PathBuf::from));
    if let Some(found) = dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()) {
        return Some(found);
    }
    if required_in_ci && std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{name} is not installed, and CI=true: .ci/run installs it (apt-get install -y {name})"
        );
    }
    eprintln!(
        "SKIPPED: {name} is not installed; install it to run this test (apt-get update && apt-get install -y {name})"
    );
    None
}

/// A free loopback port (bound then released; the proxy binds it right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed (and reaped) when dropped; its output goes to a log file shown
/// when the test fails.
pub struct ChildGuard {
    pub child: Child,
    pub log: PathBuf,
}

impl ChildGuard {
    pub fn spawn(mut cmd: Command, log: PathBuf) -> ChildGuard {
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        ChildGuard { child, log }
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `port` accepts connections (at most 15 s), or panics with the output.
    pub async fn wait_for_port(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the proxy exited ({status}):\n{}", self.output());
            }
            if Instant::now() > deadline {
                panic!(
                    "the proxy did not listen on {port} within 15 s:\n{}",
                    self.output()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
