//! `unravel bench gemm` (being written).

use super::CliResult;

#[derive(clap::Args)]
pub struct GemmArgs {
    /// Square sizes to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = vec![512, 1024, 2048])]
    pub sizes: Vec<usize>,
    /// Threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

pub fn run(_args: GemmArgs) -> CliResult<()> {
    Err("bench gemm: not written yet".into())
}
