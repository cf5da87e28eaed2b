//! The peer implementations under `interop/`: installed once per test run by
//! `interop/setup.sh`, then driven as scripts.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Once, OnceLock};
use std::time::Duration;

use serde_json::Value;

use super::process::{self, Output, Server};

/// How long `interop/setup.sh` may take (a cold `npm ci` plus a venv with `cryptography`
/// from PyPI on a slow runner; a warm run takes well under a second).
const SETUP_LIMIT: Duration = Duration::from_secs(600);

/// How long one peer script (sign, verify, thumbprint) may take.
pub const SCRIPT_LIMIT: Duration = Duration::from_secs(60);

/// The installed peers.
pub struct Peers {
    /// `interop/` in this checkout.
    pub dir: PathBuf,
    /// The venv's Python.
    pub python: PathBuf,
}

/// True when running in CI (`CI=true`), where a missing peer fails the run.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}

fn setup() -> Result<Peers, String> {
    let dir = interop_dir()
        .canonicalize()
        .map_err(|e| format!("interop/ not found next to the workspace: {e}"))?;
    let out = process::run(Command::new("bash").arg(dir.join("setup.sh")), SETUP_LIMIT)?;
    if out.code != 0 {
        return Err(format!("interop/setup.sh failed: {}", out.describe()));
    }
    Ok(Peers {
        python: dir.join(".venv/bin/python"),
        dir,
    })
}

/// The peers, installed on first use.
///
/// When they cannot be installed: with `CI=true` this panics (the run fails, it never
/// skips silently); elsewhere it prints why and returns `None`, and the caller returns.
pub fn peers() -> Option<&'static Peers> {
    static PEERS: OnceLock<Result<Peers, String>> = OnceLock::new();
    match PEERS.get_or_init(setup) {
        Ok(p) => Some(p),
        Err(e) if in_ci() => panic!("interop peers could not be installed (CI=true): {e}"),
        Err(e) => {
            static SAID: Once = Once::new();
            SAID.call_once(|| {
                // Straight to stderr, not `eprintln!`: the test harness would capture that
                // and a skipped suite would pass without a word.
                let _ = writeln!(
                    std::io::stderr(),
                    "\n*** interop suite SKIPPED: the peers could not be installed ***\n\
                     {e}\n\
                     Needs node + npm (registry access) and python3 with venv (PyPI access).\n\
                     Run `bash interop/setup.sh` to see the problem; with CI=true this fails the run.\n"
                );
            });
            None
        }
    }
}

impl Peers {
    fn node(&self, script: &str, args: &[&str]) -> Result<Output, String> {
        process::run(
            Command::new("node").arg(self.dir.join(script)).args(args),
            SCRIPT_LIMIT,
        )
    }

    fn py(&self, script: &str, args: &[&str]) -> Result<Output, String> {
        process::run(
            Command::new(&self.python)
                .arg(self.dir.join(script))
                .args(args),
            SCRIPT_LIMIT,
        )
    }

    /// Runs one library's signer and returns its output document.
    pub fn sign(&self, library: Library, out: &Path) -> Value {
        let path = out.to_str().expect("utf-8 temp path");
        let result = match library {
            Library::Jose => self.node("sign_node.mjs", &[path]),
            Library::PyJwt => self.py("sign_pyjwt.py", &[path]),
            Library::Jwcrypto => self.py("sign_jwcrypto.py", &[path]),
        };
        let output = result.unwrap_or_else(|e| panic!("{library:?} signer: {e}"));
        assert_eq!(
            output.code,
            0,
            "{library:?} signer failed: {}",
            output.describe()
        );
        let text = std::fs::read_to_string(out).expect("signer output");
        serde_json::from_str(&text).expect("signer output is JSON")
    }

    /// Verifies `token` against the JWKS at `jwks_url` with a remote-JWKS verifier.
    pub fn verify(
        &self,
        verifier: Verifier,
        jwks_url: &str,
        token: &str,
        iss: &str,
        aud: &str,
    ) -> Result<Output, String> {
        let args = [jwks_url, token, iss, aud];
        match verifier {
            Verifier::Jose => self.node("verify_node.mjs", &args),
            Verifier::PyJwt => self.py("verify_pyjwt.py", &args),
        }
    }

    /// jose's RFC 7638 thumbprints of the keys in a JWKS file, by kid.
    pub fn thumbprints(&self, jwks_file: &Path) -> Value {
        let out = self
            .node("thumbprint_node.mjs", &[jwks_file.to_str().expect("utf-8")])
            .unwrap_or_else(|e| panic!("thumbprint_node.mjs: {e}"));
        assert_eq!(out.code, 0, "thumbprint_node.mjs: {}", out.describe());
        out.json()
    }

    /// DPoP proofs made by panva's `dpop` package with the key in `key_file` (created for
    /// `alg` when missing), one per `(htm, htu, token)`: `(jkt, proofs)`.
    pub fn dpop_proofs(
        &self,
        key_file: &Path,
        alg: &str,
        requests: &[(&str, &str, Option<&str>)],
    ) -> (String, Vec<String>) {
        let list: Vec<Value> = requests
            .iter()
            .map(|(htm, htu, token)| serde_json::json!({"htm": htm, "htu": htu, "token": token}))
            .collect();
        let out = self
            .node(
                "dpop_proof.mjs",
                &[
                    key_file.to_str().expect("utf-8"),
                    alg,
                    &Value::Array(list).to_string(),
                ],
            )
            .unwrap_or_else(|e| panic!("dpop_proof.mjs: {e}"));
        assert_eq!(out.code, 0, "dpop_proof.mjs: {}", out.describe());
        let doc = out.json();
        let proofs = doc["proofs"]
            .as_array()
            .expect("proofs")
            .iter()
            .map(|p| p.as_str().expect("proof").to_string())
            .collect();
        (doc["jkt"].as_str().expect("jkt").to_string(), proofs)
    }

    /// The OpenID provider on `127.0.0.1:port`, signing with the key in `key_file`.
    pub fn oidc_provider(&self, port: u16, key_file: &Path) -> Result<Server, String> {
        self.oidc_provider_with(port, key_file, "jwt")
    }

    /// [`Peers::oidc_provider`] issuing `format` access tokens: `jwt`, or `opaque` (with
    /// introspection and revocation on).
    pub fn oidc_provider_with(
        &self,
        port: u16,
        key_file: &Path,
        format: &str,
    ) -> Result<Server, String> {
        let mut server = Server::start(
            "oidc-provider",
            Path::new("node"),
            &[
                self.dir.join("oidc_provider.mjs").display().to_string(),
                port.to_string(),
                key_file.display().to_string(),
                format.to_string(),
            ],
            None,
            Duration::from_secs(180),
        )?;
        server.wait_for("READY", Duration::from_secs(60))?;
        Ok(server)
    }

    /// A package's installed version, read from its `package.json`.
    pub fn node_version(&self, package: &str) -> String {
        let path = self
            .dir
            .join("node_modules")
            .join(package)
            .join("package.json");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        serde_json::from_str::<Value>(&text).unwrap_or_default()["version"]
            .as_str()
            .unwrap_or("?")
            .to_string()
    }
}

/// The signing libraries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Library {
    Jose,
    PyJwt,
    Jwcrypto,
}

impl Library {
    pub const ALL: [Library; 3] = [Library::Jose, Library::PyJwt, Library::Jwcrypto];
}

/// The remote-JWKS verifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verifier {
    Jose,
    PyJwt,
}

impl Verifier {
    pub const ALL: [Verifier; 2] = [Verifier::Jose, Verifier::PyJwt];
}
