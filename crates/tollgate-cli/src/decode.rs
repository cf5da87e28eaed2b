//! `tollgate decode` (being built; see the issue tracker).

/// Arguments of `tollgate decode`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> u8 {
    eprintln!("tollgate decode: not available in this build yet");
    crate::exit::USAGE
}
