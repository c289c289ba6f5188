//! The `unravel` command-line program.

use clap::{Parser, Subcommand};

mod cli;

#[derive(Parser)]
#[command(
    name = "unravel",
    version,
    about = "Reproduce, explain and measure residual networks"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure kernels; prints one JSON object per line.
    Bench {
        #[command(subcommand)]
        what: cli::bench::BenchCommand,
    },
}

fn main() {
    let args = Args::parse();
    let result = match args.command {
        Command::Bench { what } => cli::bench::run(what),
    };
    if let Err(error) = result {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}
