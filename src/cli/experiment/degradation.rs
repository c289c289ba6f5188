//! `unravel experiment degradation`: He et al. 2015 §4.2 / Figure 6 on Fashion-MNIST — plain-20,
//! plain-56, ResNet-20 and ResNet-56 trained with the same schedule and seed, their training
//! and test error plotted together. Expected: plain-56 trains worse than plain-20 (the
//! degradation problem), ResNet-56 better than ResNet-20.
//!
//! Each network trains in `OUT/<arch>`; a network whose run is already finished is skipped, an
//! interrupted one is resumed, so the experiment can be stopped and restarted.

use std::path::PathBuf;

use clap::Args;
use unravel_resnet::weights::write_atomically;
use unravel_train::plot::{error_curves, save, Labels};
use unravel_train::{metrics, Outcome, TrainConfig, WEIGHTS_FILE};

use crate::cli::bench::{with_threads, CliResult};
use crate::cli::train::train_run;

#[derive(Args, Debug, Clone)]
pub struct DegradationArgs {
    /// Networks to compare.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "plain20,plain56,resnet20,resnet56"
    )]
    pub arches: Vec<String>,
    /// Epochs (the default budget fits in about an hour on two cores).
    #[arg(long, default_value_t = 8)]
    pub epochs: usize,
    /// Training images (0: all 60 000).
    #[arg(long, default_value_t = 10_000)]
    pub limit_train: usize,
    /// Test images (0: all 10 000).
    #[arg(long, default_value_t = 2_000)]
    pub limit_test: usize,
    /// The paper's full schedule instead: all the data, 164 epochs (64k iterations at batch
    /// 128 on CIFAR's 50k images ≈ 164 epochs), ÷10 at 50% and 75%.
    #[arg(long)]
    pub full: bool,
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    #[arg(long, default_value_t = 0.1)]
    pub lr: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long)]
    pub threads: Option<usize>,
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Experiment directory.
    #[arg(long, default_value = "runs/degradation")]
    pub out: PathBuf,
}

pub fn run(args: DegradationArgs) -> CliResult<()> {
    let (epochs, limit_train, limit_test) = if args.full {
        (164, None, None)
    } else {
        let limit = |n: usize| (n > 0).then_some(n);
        (args.epochs, limit(args.limit_train), limit(args.limit_test))
    };
    let verbose = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut runs = Vec::new();
    for arch in &args.arches {
        let run_dir = args.out.join(arch);
        let config = TrainConfig {
            arch: arch.clone(),
            epochs,
            batch_size: args.batch,
            lr: args.lr,
            seed: args.seed,
            limit_train,
            limit_test,
            ..TrainConfig::default()
        };
        config.validate()?;
        if run_dir.join(WEIGHTS_FILE).exists() {
            println!("{arch}: already trained in {}", run_dir.display());
        } else {
            let resume = run_dir
                .join(unravel_train::checkpoint::CHECKPOINT_FILE)
                .exists()
                .then(|| run_dir.clone());
            let (data_dir, out) = (args.data.clone(), run_dir.clone());
            let summary = with_threads(args.threads, move || {
                train_run::<f32>(
                    Some(config),
                    resume.as_ref(),
                    Some(out),
                    data_dir.as_deref(),
                    verbose,
                    None,
                    unravel_tensor::Device::Cpu,
                )
                .map_err(|e| e.to_string())
            })??;
            if summary.outcome == Outcome::Interrupted {
                return Err(format!(
                    "interrupted during {arch}; run the same command again to continue"
                )
                .into());
            }
            println!(
                "{arch}: test error {:.2}%, train loss {:.4}",
                100.0 * (1.0 - summary.test_accuracy),
                summary.train_loss
            );
        }
        runs.push((arch.clone(), metrics::read(&run_dir)?));
    }
    let labels = Labels {
        title: "Fashion-MNIST: plain vs residual (dashed: training error, bold: test error)".into(),
        x: "epoch".into(),
        y: "error (%)".into(),
    };
    let stem = args.out.join("degradation");
    let mut written = save(&stem, &error_curves(&runs), &labels)?;
    let summary: Vec<serde_json::Value> = runs
        .iter()
        .map(|(arch, records)| {
            let last = records.last();
            serde_json::json!({
                "arch": arch,
                "epochs": records.len(),
                "final_train_error": last.map(|r| r.train_error),
                "final_test_error": last.map(|r| r.test_error),
            })
        })
        .collect();
    let summary_path = args.out.join("summary.json");
    write_atomically(
        &summary_path,
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    written.push(summary_path);
    for path in written {
        println!("{}", path.display());
    }
    Ok(())
}
