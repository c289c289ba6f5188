//! `unravel experiment …`: Veit, Wilber, Belongie 2016 ("Residual Networks Behave Like
//! Ensembles of Relatively Shallow Networks") on a trained model.
//!
//! - `lesion`: delete each block, k random blocks, and swap k pairs (Fig. 3, 5a, 5b).
//! - `paths`: the path-length distribution and the gradient per path length (Fig. 6a–c).
//! - `degradation`: He et al. 2015 §4.2 — plain-20/56 and ResNet-20/56 trained with the same
//!   schedule, their error curves plotted together (Figure 6 of that paper).
//!
//! Each writes CSV files, SVG plots and `summary.txt` into `--out`, prints the summary, and with
//! `--json` ends with one JSON line of its headline numbers.

pub mod degradation;
pub mod lesion;
pub mod paths;
pub mod plot;
pub mod setup;

use clap::Subcommand;

use crate::cli::bench::CliResult;

#[derive(Subcommand)]
pub enum ExperimentCommand {
    /// Delete blocks at test time, one at a time and k at random; swap k pairs of blocks.
    Lesion(lesion::LesionArgs),
    /// Path lengths (Binomial(n, 1/2)) and the input-gradient norm of paths of each length.
    Paths(paths::PathsArgs),
    /// He et al. 2015: plain-20/56 vs ResNet-20/56 trained alike, error curves (Figure 6).
    Degradation(degradation::DegradationArgs),
}

pub fn run(command: ExperimentCommand) -> CliResult<()> {
    match command {
        ExperimentCommand::Lesion(args) => lesion::run(args),
        ExperimentCommand::Paths(args) => paths::run(args),
        ExperimentCommand::Degradation(args) => degradation::run(args),
    }
}
