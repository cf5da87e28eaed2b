//! `tollgate`: the command-line front of the Tollgate library. This binary only parses
//! arguments and prints; every decision is made in the library crates.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod decode;
mod doctor;
mod dpop;
mod input;
mod issuer;
mod jwks;
mod mint;
mod policy;
mod serve;
mod verify;

/// The process allocator: mimalloc, also in place of `malloc` for the C code linked in
/// (aws-lc's RSA arithmetic allocates per signature check). A token the gateway checks the
/// signature of costs about 5 % less than with the system allocator (BENCHMARKS.md, "Gateway
/// load: issue 17").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Validate JWT bearer tokens, and when one is rejected, say exactly why.
#[derive(Parser)]
#[command(name = "tollgate", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Validate a token against keys and a policy (exit 0 valid, 1 invalid, 2 usage, 3 cannot check now).
    Verify(verify::Args),
    /// List the keys of a JWKS (from an issuer's discovery, a URL or a file).
    Jwks(jwks::Args),
    /// Diagnose a rejected token: name the cause and the fix.
    Doctor(doctor::Args),
    /// Show a token's header and claims with readable times (no verification, no network).
    Decode(decode::Args),
    /// Run the gateway (forward-auth and reverse proxy), or `--dev` for a complete local demo.
    Serve(serve::Args),
    /// Run a local OIDC issuer for development and tests.
    Issuer(issuer::Args),
    /// Sign a token with a local key, for scripts and tests.
    Mint(mint::Args),
    /// Make a DPoP proof (RFC 9449) for one request, to paste into curl's DPoP header.
    Dpop(dpop::Args),
}

/// Exit codes shared by every command.
pub mod exit {
    /// The token is valid / the command succeeded.
    pub const OK: u8 = 0;
    /// The token is invalid.
    pub const INVALID: u8 = 1;
    /// Bad usage or configuration.
    pub const USAGE: u8 = 2;
    /// The token could not be checked now (keys unavailable).
    pub const CANNOT_CHECK: u8 = 3;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Verify(a) => verify::run(a),
        Command::Jwks(a) => jwks::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Decode(a) => decode::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Dpop(a) => dpop::run(a),
        Command::Issuer(a) => issuer::run(a),
        Command::Mint(a) => mint::run(a),
    };
    ExitCode::from(code)
}
