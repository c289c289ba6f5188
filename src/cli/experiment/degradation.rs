//! `unravel experiment degradation`: He et al. 2015 §4.2 / Figure 6 on Fashion-MNIST — plain-20,
//! plain-56, ResNet-20 and ResNet-56 trained with the same schedule and seed, their training
//! and test error plotted together. Expected: plain-56 trains worse than plain-20 (the
//! degradation problem), ResNet-56 better than ResNet-20.
//!
//! Each network trains in `OUT/<arch>`; a network whose run is already finished (with the same
//! configuration) is skipped, an interrupted one is resumed, so the experiment can be stopped and
//! restarted.
//!
//! The default budget (about 45 minutes on two cores) keeps the paper's depths, optimiser and
//! step schedule but halves the stage widths (8/16/32 instead of 16/32/64) so that all 60 000
//! images can be seen 6 times (≈2 800 iterations per network), and warms every network up
//! linearly from 0.01 to 0.1 over the first epoch (the paper warms up only ResNet-110; without
//! it, ResNet-56 at full width loses its first epoch to lr 0.1 in so short a run). `--full`
//! gives the paper's widths and schedule: 164 epochs, no warm-up.

use std::path::PathBuf;

use clap::Args;
use unravel_resnet::weights::{write_atomically, SafetensorsFile};
use unravel_train::plot::{error_curves, save, Labels};
use unravel_train::{checkpoint, metrics, Outcome, TrainConfig, WEIGHTS_FILE};

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
    #[arg(long, default_value_t = 6)]
    pub epochs: usize,
    /// Stage widths of every network (the paper's: 16,32,64).
    #[arg(long, value_delimiter = ',', default_value = "8,16,32")]
    pub widths: Vec<usize>,
    /// Epochs of linear warm-up from 0.01 to --lr.
    #[arg(long, default_value_t = 1.0)]
    pub warmup_epochs: f64,
    /// Training images (0: all 60 000).
    #[arg(long, default_value_t = 0)]
    pub limit_train: usize,
    /// Test images (0: all 10 000).
    #[arg(long, default_value_t = 0)]
    pub limit_test: usize,
    /// The paper's full recipe instead: widths 16,32,64, all the data, 164 epochs (64k
    /// iterations at batch 128 on CIFAR's 50k images ≈ 164 epochs), ÷10 at 50% and 75%, no
    /// warm-up.
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
    let (epochs, widths, warmup_epochs, limit_train, limit_test) = if args.full {
        (164, None, 0.0, None, None)
    } else {
        let limit = |n: usize| (n > 0).then_some(n);
        (
            args.epochs,
            Some(args.widths.clone()),
            args.warmup_epochs,
            limit(args.limit_train),
            limit(args.limit_test),
        )
    };
    let verbose = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut runs = Vec::new();
    for arch in &args.arches {
        let run_dir = args.out.join(arch);
        let config = TrainConfig {
            arch: arch.clone(),
            widths: widths.clone(),
            epochs,
            warmup_epochs,
            batch_size: args.batch,
            lr: args.lr,
            seed: args.seed,
            limit_train,
            limit_test,
            ..TrainConfig::default()
        };
        config.validate()?;
        let weights = run_dir.join(WEIGHTS_FILE);
        if weights.exists() {
            let saved = checkpoint::read_config(&SafetensorsFile::open(&weights)?)?;
            if saved.as_ref() != Some(&config) {
                return Err(format!(
                    "{} holds a run with another configuration ({saved:?}, wanted {config:?}); \
                     use another --out or remove it",
                    run_dir.display()
                )
                .into());
            }
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
