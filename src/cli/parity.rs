//! `unravel parity FILE… [--json]`: runs PyTorch parity fixtures in f64 and f32, prints every
//! tensor's relative error, and fails (exit status 1) if any checked tensor is off.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use unravel_resnet::parity::{run as run_fixture, Fixture, ParityReport};

use crate::cli::bench::CliResult;

#[derive(Args, Debug)]
pub struct ParityArgs {
    /// Fixture files (format `unravel-parity/1`).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print only failures and each fixture's worst error.
    #[arg(long)]
    pub quiet: bool,
    /// Also print the results as one JSON object on the last line.
    #[arg(long)]
    pub json: bool,
}

fn print(report: &ParityReport, quiet: bool) {
    println!("{} [{}]", report.path.display(), report.dtype);
    for comparison in &report.comparisons {
        if quiet && comparison.passed() {
            continue;
        }
        let verdict = match comparison.tolerance {
            Some(t) if comparison.passed() => format!("ok (≤ {t:.0e})"),
            Some(t) => format!("FAILED (> {t:.0e})"),
            None => "reported".to_string(),
        };
        println!(
            "  {:<48} {:>10.3e}  {verdict}",
            comparison.name, comparison.relative_error
        );
    }
    if let Some(worst) = report.worst() {
        println!(
            "  worst checked: {} {:.3e}",
            worst.name, worst.relative_error
        );
    }
}

pub fn run(args: ParityArgs) -> CliResult<()> {
    let mut results = Vec::new();
    let mut all_passed = true;
    for path in &args.files {
        let fixture = Fixture::open(path)?;
        for report in [run_fixture::<f64>(&fixture)?, run_fixture::<f32>(&fixture)?] {
            print(&report, args.quiet);
            all_passed &= report.passed();
            let worst = report.worst();
            results.push(json!({
                "path": report.path.display().to_string(),
                "dtype": report.dtype.to_string(),
                "passed": report.passed(),
                "tensors": report.comparisons.len(),
                "worst": worst.map(|c| c.name.clone()),
                "worst_relative_error": worst.map(|c| c.relative_error),
            }));
        }
    }
    println!(
        "{}",
        if all_passed {
            "parity: all passed"
        } else {
            "parity: FAILED"
        }
    );
    if args.json {
        println!("{}", json!({ "passed": all_passed, "fixtures": results }));
    }
    if all_passed {
        Ok(())
    } else {
        Err("parity check failed".into())
    }
}
