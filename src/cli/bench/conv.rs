//! `unravel bench conv` (being written).

use super::CliResult;

#[derive(clap::Args)]
pub struct ConvArgs {
    /// Threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

pub fn run(_args: ConvArgs) -> CliResult<()> {
    Err("bench conv: not written yet".into())
}
