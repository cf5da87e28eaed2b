//! `tollgate issuer` (being built; see the issue tracker).

/// Arguments of `tollgate issuer`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> u8 {
    eprintln!("tollgate issuer: not available in this build yet");
    crate::exit::USAGE
}
