//! `tollgate mint` (being built; see the issue tracker).

/// Arguments of `tollgate mint`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> u8 {
    eprintln!("tollgate mint: not available in this build yet");
    crate::exit::USAGE
}
