//! `unravel bench …`: quick JSON-lines benchmarks for scripting (criterion benches in `benches/`
//! are the careful ones).

use clap::Subcommand;

mod conv;
mod gemm;
pub mod net;

/// The error type of the command-line program.
pub type CliResult<T> = Result<T, Box<dyn std::error::Error>>;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// GEMM GFLOP/s: unravel vs matrixmultiply vs numpy's OpenBLAS (when python3 has numpy).
    Gemm(gemm::GemmArgs),
    /// conv2d on the layer table of ../shared/bench/README.md.
    Conv(conv::ConvArgs),
    /// Whole-network training and inference throughput of a preset, peak memory.
    Net(net::NetArgs),
}

pub fn run(command: BenchCommand) -> CliResult<()> {
    match command {
        BenchCommand::Gemm(args) => gemm::run(args),
        BenchCommand::Conv(args) => conv::run(args),
        BenchCommand::Net(args) => net::run(args),
    }
}

/// Runs `body` on a rayon pool of `threads` threads (all cores when `None`).
pub fn with_threads<T: Send>(
    threads: Option<usize>,
    body: impl FnOnce() -> T + Send,
) -> CliResult<T> {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(threads) = threads {
        builder = builder.num_threads(threads);
    }
    Ok(builder.build()?.install(body))
}
