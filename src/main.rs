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
    /// torchinfo-style summary of a preset: layers, output shapes, parameters, totals.
    Summary(cli::summary::SummaryArgs),
    /// One forward pass of a preset: output shape, values, time.
    Forward(cli::forward::ForwardArgs),
    /// List the presets with their parameter counts.
    Presets(cli::presets::PresetsArgs),
    /// Check PyTorch parity fixtures; non-zero exit on any failure.
    Parity(cli::parity::ParityArgs),
    /// The papers' experiments: Veit et al. 2016 lesions, reordering, gradient per path length;
    /// He et al. 2015 degradation (plain vs residual nets of 20 and 56 layers).
    Experiment {
        #[command(subcommand)]
        what: cli::experiment::ExperimentCommand,
    },
    /// Train a network on a dataset (He et al. 2015 §4.2's recipe by default).
    Train(Box<cli::train::TrainArgs>),
    /// Test accuracy and confusion matrix of a weights file.
    Eval(cli::eval::EvalArgs),
    /// Training and test error of runs against epochs, overlaid (PNG and SVG).
    Plot(cli::plot::PlotArgs),
    /// Analyses of trained runs (responses: the paper's Figure 7).
    Analyze {
        #[command(subcommand)]
        what: cli::analyze::AnalyzeCommand,
    },
}

/// A reader that closes our stdout early (`unravel summary --arch resnet1202 | head`) ends the
/// program quietly with status 141, as SIGPIPE ends a C tool. Rust ignores SIGPIPE, so without
/// this `println!` would panic with "failed printing to stdout: Broken pipe".
fn exit_quietly_when_stdout_closes() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default_hook(info);
    }));
}

fn main() {
    exit_quietly_when_stdout_closes();
    let args = Args::parse();
    unravel_train::plot::register_fonts();
    let result = match args.command {
        Command::Bench { what } => cli::bench::run(what),
        Command::Summary(args) => cli::summary::run(args),
        Command::Forward(args) => cli::forward::run(args),
        Command::Presets(args) => cli::presets::run(args),
        Command::Parity(args) => cli::parity::run(args),
        Command::Experiment { what } => cli::experiment::run(what),
        Command::Train(args) => cli::train::run(*args),
        Command::Eval(args) => cli::eval::run(args),
        Command::Plot(args) => cli::plot::run(args),
        Command::Analyze { what } => cli::analyze::run(what),
    };
    if let Err(error) = result {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}
