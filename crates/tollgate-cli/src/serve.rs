//! `tollgate serve` (being built; see the issue tracker).

/// Arguments of `tollgate serve`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> u8 {
    eprintln!("tollgate serve: not available in this build yet");
    crate::exit::USAGE
}
