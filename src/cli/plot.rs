//! `unravel plot RUN_DIR…`: training and test error of several runs against epochs, overlaid
//! (He et al. 2015, Figures 1 and 6), to PNG and SVG.

use std::path::PathBuf;

use clap::Args;
use unravel_train::metrics;
use unravel_train::plot::{error_curves, save, Labels};

use crate::cli::bench::CliResult;

#[derive(Args, Debug, Clone)]
pub struct PlotArgs {
    /// Run directories (each with a metrics.json).
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// Names of the runs in the legend, comma-separated (default: the run's architecture).
    #[arg(long, value_delimiter = ',')]
    pub labels: Option<Vec<String>>,
    /// Output path without extension; STEM.png and STEM.svg are written.
    #[arg(long, default_value = "error-curves")]
    pub out: PathBuf,
    #[arg(long, default_value = "Training (dashed) and test (bold) error")]
    pub title: String,
}

pub fn run(args: PlotArgs) -> CliResult<()> {
    if let Some(labels) = &args.labels {
        if labels.len() != args.runs.len() {
            return Err(format!("{} labels for {} runs", labels.len(), args.runs.len()).into());
        }
    }
    let mut runs = Vec::new();
    for (k, dir) in args.runs.iter().enumerate() {
        let records = metrics::read(dir)?;
        let label = match &args.labels {
            Some(labels) => labels[k].clone(),
            None => unravel_train::read_run_config(dir)
                .map(|c| c.arch)
                .unwrap_or_else(|_| dir.display().to_string()),
        };
        runs.push((label, records));
    }
    let labels = Labels {
        title: args.title.clone(),
        x: "epoch".into(),
        y: "error (%)".into(),
    };
    for path in save(&args.out, &error_curves(&runs), &labels)? {
        println!("{}", path.display());
    }
    Ok(())
}
