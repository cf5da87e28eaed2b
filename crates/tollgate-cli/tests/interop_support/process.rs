//! Bounded child processes: one-shot commands with a deadline, and long-running peers
//! (servers) behind a guard that stops them on drop.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What a finished command printed.
pub struct Output {
    /// Exit code (`-1` when killed by a signal).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Stdout parsed as JSON, or else its last line (`Null` when neither is JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .ok()
            .or_else(|| {
                let line = self.stdout.lines().rev().find(|l| !l.trim().is_empty())?;
                serde_json::from_str(line).ok()
            })
            .unwrap_or(serde_json::Value::Null)
    }

    /// A short description for failure messages (stderr trimmed to its end).
    pub fn describe(&self) -> String {
        let err = self.stderr.trim();
        let err = &err[err.len().saturating_sub(800)..];
        format!(
            "exit {}; stdout: {}; stderr: {}",
            self.code,
            self.stdout.trim(),
            err
        )
    }
}

fn exit_code(status: ExitStatus) -> i32 {
    status.code().unwrap_or(-1)
}

fn drain(mut r: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Runs `cmd` to completion, killing it after `limit`. Stdin is closed.
pub fn run(cmd: &mut Command, limit: Duration) -> Result<Output, String> {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    let out = drain(child.stdout.take().expect("piped stdout"));
    let err = drain(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                let stderr = err.join().unwrap_or_default();
                return Err(format!(
                    "{what} did not finish within {limit:?} and was killed; stderr: {}",
                    stderr.trim()
                ));
            }
            Err(e) => return Err(format!("waiting for {what}: {e}")),
        }
    };
    Ok(Output {
        code: exit_code(status),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// A long-running peer (a server) started under `timeout`, in its own process group.
///
/// Bounded twice: `timeout` ends it after `limit` even if this test process dies, and
/// dropping the guard stops the whole group (SIGTERM, then SIGKILL).
pub struct Server {
    name: String,
    child: Child,
    lines: Receiver<String>,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `program args` (in `dir` when given), bounded to `limit`.
    pub fn start(
        name: &str,
        program: &Path,
        args: &[String],
        dir: Option<&Path>,
        limit: Duration,
    ) -> Result<Server, String> {
        let mut cmd = Command::new("timeout");
        cmd.arg("--kill-after=5")
            .arg(format!("{}", limit.as_secs().max(1)))
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if let Some(dir) = dir {
            cmd.current_dir(dir);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name} ({}): {e}", program.display()))?;
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let out_log = Arc::clone(&log);
        let err_tx = tx.clone();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                out_log.lock().unwrap().push_str(&format!("out: {line}\n"));
                let _ = tx.send(line);
            }
        });
        let err_log = Arc::clone(&log);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                err_log.lock().unwrap().push_str(&format!("err: {line}\n"));
                let _ = err_tx.send(line);
            }
        });
        Ok(Server {
            name: name.to_string(),
            child,
            lines,
            log,
        })
    }

    /// Waits for a line (stdout or stderr) containing `needle` and returns it.
    pub fn wait_for(&mut self, needle: &str, limit: Duration) -> Result<String, String> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return Ok(line),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "{} printed no line with {needle:?} within {limit:?}; output:\n{}",
                        self.name,
                        self.log()
                    ))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    // Let the stderr reader catch up before reporting.
                    thread::sleep(Duration::from_millis(100));
                    return Err(format!(
                        "{} exited before printing {needle:?}; output:\n{}",
                        self.name,
                        self.log()
                    ));
                }
            }
        }
    }

    /// True while it has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Everything it printed so far (stdout and stderr, tagged).
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Stops it (the whole process group) and waits for it.
    ///
    /// Signals go to the group only while its leader (`timeout`) is not yet reaped, so the
    /// group id cannot have been reused by an unrelated process.
    pub fn stop(&mut self) {
        let group = format!("-{}", self.child.id());
        let signal = |sig: &str| {
            let _ = Command::new("kill")
                .args([sig, "--", &group])
                .stderr(Stdio::null())
                .status();
        };
        if let Ok(None) = self.child.try_wait() {
            signal("-TERM");
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                thread::sleep(Duration::from_millis(20));
            }
            signal("-KILL");
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A free loopback port (for peers that must know their URL before listening).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
