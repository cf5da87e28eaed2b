//! Why a dev issuer could not start.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Why [`DevIssuer::start`](crate::DevIssuer::start) (or loading a state directory) failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum IssuerError {
    /// The listen address could not be bound (in use, or not an address of this machine).
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A signing key could not be generated or loaded.
    Key(String),
    /// The state directory could not be read or written, or holds something unexpected.
    State {
        /// The file or directory concerned.
        path: PathBuf,
        /// What went wrong and how to fix it.
        reason: String,
    },
    /// The options contradict each other (e.g. an HMAC algorithm for the published keys).
    Config(String),
}

impl fmt::Display for IssuerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IssuerError::Bind { addr, source } => write!(
                f,
                "cannot listen on {addr}: {source}; choose another address with --listen (port 0 picks a free port)"
            ),
            IssuerError::Key(reason) => write!(f, "signing key: {reason}"),
            IssuerError::State { path, reason } => {
                write!(f, "state directory {}: {reason}", path.display())
            }
            IssuerError::Config(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for IssuerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            IssuerError::Bind { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<tollgate::KeyError> for IssuerError {
    fn from(e: tollgate::KeyError) -> IssuerError {
        IssuerError::Key(e.to_string())
    }
}
