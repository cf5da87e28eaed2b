//! `tollgate dpop`: make a DPoP proof (RFC 9449) for one request and print it, so a
//! DPoP-bound token can be used from curl:
//!
//! ```text
//! curl -H "Authorization: DPoP $TOKEN" \
//!      -H "DPoP: $(tollgate dpop --key k.pem --method GET --url https://api/orders --token "$TOKEN")" \
//!      https://api/orders
//! ```

use std::path::{Path, PathBuf};

use tollgate::{Algorithm, SigningKey};
use tollgate_issuer::keyfile;

use crate::exit;
use crate::input::read_file;

/// Arguments of `tollgate dpop`.
#[derive(clap::Args)]
pub struct Args {
    /// The client's private key (PEM or private JWK). With `--new`, created (ES256) when the
    /// file does not exist.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Create the key file (ES256, PKCS#8 PEM, mode 0600) if it does not exist.
    #[arg(long)]
    pub new: bool,
    /// The request's method (`htm`), exactly as sent.
    #[arg(long, value_name = "METHOD", default_value = "GET")]
    pub method: String,
    /// The request's URL as the client sends it (`htu`; the query is left out).
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// The access token the proof goes with (`ath`); omit it for a token request.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Print the key's RFC 7638 thumbprint (the `cnf.jkt` of tokens bound to it) instead.
    #[arg(long)]
    pub thumbprint: bool,
}

/// Reads a private key file (PEM or private JWK).
pub fn load_key(path: &Path) -> Result<SigningKey, String> {
    let bytes = read_file(&path.display().to_string())?;
    keyfile::load_private_key(&bytes, None, None).map_err(|e| format!("{}: {e}", path.display()))
}

fn create_key(path: &Path) -> Result<(), String> {
    let key = SigningKey::generate(Algorithm::ES256, "").map_err(|e| e.to_string())?;
    let pem = key.to_pem().map_err(|e| e.to_string())?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    options
        .open(path)
        .and_then(|mut f| f.write_all(pem.as_bytes()))
        .map_err(|e| format!("cannot create {}: {e}", path.display()))
}

fn proof(args: &Args) -> Result<String, String> {
    if args.new && !args.key.exists() {
        create_key(&args.key)?;
    }
    let key = load_key(&args.key)?;
    if key.alg().is_symmetric() {
        return Err(
            "a DPoP key is an asymmetric key (EC, RSA, Ed25519), not a shared secret".into(),
        );
    }
    if args.thumbprint {
        return tollgate::jwk::thumbprint_of(&key.public_jwk()).map_err(|e| e.to_string());
    }
    tollgate::dpop::normalize_htu(&args.url).map_err(|e| format!("--url {:?}: {e}", args.url))?;
    let token = args.token.as_deref().map(tollgate::jws::strip_bearer);
    let token = token.map(|t| t.strip_prefix("DPoP ").unwrap_or(t).trim());
    tollgate::dpop::make_proof(
        &key,
        &args.method,
        &args.url,
        token,
        tollgate::clock::unix_now(),
    )
    .map_err(|e| e.to_string())
}

/// Runs the command.
pub fn run(args: Args) -> u8 {
    match proof(&args) {
        Ok(text) => {
            println!("{text}");
            exit::OK
        }
        Err(e) => {
            eprintln!("tollgate dpop: {e}");
            exit::USAGE
        }
    }
}
