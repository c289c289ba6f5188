//! `unravel train`: trains a preset on a dataset (He et al. 2015 §4.2's recipe by default),
//! with a progress bar, per-epoch metrics, checkpoints, Ctrl-C and `--resume`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use clap::Args;
use unravel_tensor::{Device, Float};
use unravel_train::schedule::ScheduleKind;
use unravel_train::{data, read_run_config, Outcome, TrainConfig, Trainer};

use crate::cli::bench::{with_threads, CliResult};

#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// Preset (see `unravel presets`).
    #[arg(long, default_value = "resnet20")]
    pub arch: String,
    /// Stage widths replacing the preset's, comma-separated (e.g. 8,16,32).
    #[arg(long, value_delimiter = ',')]
    pub widths: Option<Vec<usize>>,
    /// fashion-mnist, mnist or cifar10.
    #[arg(long, default_value = "fashion-mnist")]
    pub dataset: String,
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Base learning rate.
    #[arg(long, default_value_t = 0.1)]
    pub lr: f64,
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f64,
    #[arg(long, default_value_t = 1e-4)]
    pub weight_decay: f64,
    #[arg(long)]
    pub nesterov: bool,
    /// step (÷10 at 50% and 75%), cosine or constant.
    #[arg(long, default_value = "step")]
    pub schedule: ScheduleKind,
    /// Epochs of linear warm-up from --warmup-lr to --lr.
    #[arg(long, default_value_t = 0.0)]
    pub warmup_epochs: f64,
    #[arg(long, default_value_t = 0.01)]
    pub warmup_lr: f64,
    /// Seed of the weights, shuffles and augmentation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Threads (all cores when omitted).
    #[arg(long)]
    pub threads: Option<usize>,
    /// f32 or f64.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// Turn off pad-crop-flip augmentation.
    #[arg(long)]
    pub no_augment: bool,
    /// Keep the residual branch of only m random blocks per mini-batch (Veit et al. 2016).
    #[arg(long)]
    pub active_blocks: Option<usize>,
    /// Data directory (default: $UNRAVEL_DATA, then /usr/share/datasets/fashion-mnist/).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Run directory (default: runs/<arch>-<timestamp>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in this directory (its configuration is used; other flags ignored).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Save and stop after this many epochs (continue later with --resume).
    #[arg(long)]
    pub stop_after_epochs: Option<usize>,
    /// No progress bar; end with one JSON line.
    #[arg(long)]
    pub json: bool,
    /// Train on the first N training images only.
    #[arg(long)]
    pub limit_train: Option<usize>,
    /// Test on the first N test images only.
    #[arg(long)]
    pub limit_test: Option<usize>,
    /// cpu, cuda (GPU 0) or cuda:N. The GPU needs a build with `--features cuda`, an NVIDIA
    /// driver and NVRTC (see docs/cuda.md); f32 and f64 both run there. Also applies to
    /// --resume.
    #[arg(long, default_value = "cpu", value_parser = parse_device)]
    pub device: Device,
}

/// `cpu`, `cuda` (ordinal 0) or `cuda:N`.
pub fn parse_device(text: &str) -> Result<Device, String> {
    match text {
        "cpu" => Ok(Device::Cpu),
        "cuda" | "gpu" => Ok(Device::Cuda(0)),
        _ => text
            .strip_prefix("cuda:")
            .and_then(|ordinal| ordinal.parse().ok())
            .map(Device::Cuda)
            .ok_or_else(|| format!("unknown device {text:?}: expected cpu, cuda or cuda:N")),
    }
}

impl TrainArgs {
    /// The run configuration these flags describe.
    pub fn config(&self) -> TrainConfig {
        TrainConfig {
            arch: self.arch.clone(),
            widths: self.widths.clone(),
            dataset: self.dataset.clone(),
            epochs: self.epochs,
            batch_size: self.batch,
            lr: self.lr,
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            nesterov: self.nesterov,
            schedule: self.schedule,
            warmup_epochs: self.warmup_epochs,
            warmup_lr: self.warmup_lr,
            seed: self.seed,
            dtype: self.dtype.clone(),
            augment: !self.no_augment,
            limit_train: self.limit_train,
            limit_test: self.limit_test,
            active_blocks: self.active_blocks,
        }
    }
}

/// A fresh directory `runs/<arch>-<unix seconds>[-k]`.
pub fn fresh_run_dir(arch: &str) -> PathBuf {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let base = PathBuf::from("runs").join(format!("{arch}-{seconds}"));
    let mut candidate = base.clone();
    let mut k = 1;
    while candidate.exists() {
        candidate = PathBuf::from(format!("{}-{k}", base.display()));
        k += 1;
    }
    candidate
}

/// The process's Ctrl-C flag: the first call installs a handler that raises it (checked by the
/// trainer before every batch).
pub fn interrupt_flag() -> Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let raised = flag.clone();
        if let Err(error) = ctrlc::set_handler(move || raised.store(true, Ordering::SeqCst)) {
            eprintln!("warning: Ctrl-C will not save a checkpoint ({error})");
        }
        flag
    })
    .clone()
}

/// The summary a finished (or interrupted) run reports.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub outcome: Outcome,
    pub test_accuracy: f64,
    pub train_loss: f64,
    pub epochs: usize,
    pub images_per_s: f64,
    pub run_dir: PathBuf,
}

impl RunSummary {
    /// The one JSON line of `--json`.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "test_accuracy": self.test_accuracy,
            "train_loss": self.train_loss,
            "epochs": self.epochs,
            "images_per_s": self.images_per_s,
            "run_dir": self.run_dir.display().to_string(),
            "interrupted": self.outcome == Outcome::Interrupted,
        })
    }
}

/// Trains (or resumes) a run in precision `E`; `verbose` draws the bar and epoch lines.
pub fn train_run<E: Float>(
    config: Option<TrainConfig>,
    resume: Option<&PathBuf>,
    out: Option<PathBuf>,
    data_dir: Option<&std::path::Path>,
    verbose: bool,
    stop_after_epochs: Option<usize>,
    device: Device,
) -> CliResult<RunSummary> {
    let mut trainer = match (resume, config) {
        (Some(run_dir), _) => {
            let config = read_run_config(run_dir)?;
            let (train, test) = data::load(&config, data_dir)?;
            Trainer::<E>::resume(run_dir, train, test)?
        }
        (None, Some(config)) => {
            let (train, test) = data::load(&config, data_dir)?;
            let run_dir = out.unwrap_or_else(|| fresh_run_dir(&config.arch));
            Trainer::<E>::new(config, train, test, &run_dir)?
        }
        (None, None) => return Err("nothing to train: give a configuration or --resume".into()),
    };
    trainer.verbose = verbose;
    trainer.stop_after_epochs = stop_after_epochs;
    trainer.device = device;
    trainer.stop = interrupt_flag();
    if verbose {
        println!(
            "training {} on {} for {} epochs on {}; run directory {}",
            trainer.config.arch,
            trainer.config.dataset,
            trainer.config.epochs,
            trainer.device,
            trainer.run_dir.display()
        );
    }
    let outcome = trainer.run()?;
    if outcome == Outcome::Interrupted && !trainer.stop.load(Ordering::SeqCst) {
        eprintln!(
            "stopped after {} epochs as asked: continue with `unravel train --resume {}`",
            trainer.progress.epoch,
            trainer.run_dir.display()
        );
    } else if outcome == Outcome::Interrupted {
        eprintln!(
            "interrupted: checkpoint saved; continue with `unravel train --resume {}`",
            trainer.run_dir.display()
        );
    }
    let records = &trainer.progress.records;
    let last = records.last();
    let train_seconds: f64 = records
        .iter()
        .map(|r| 1.0 / r.images_per_s.max(1e-12))
        .sum();
    Ok(RunSummary {
        outcome,
        // The evaluation itself when this process ran the last epoch (1 − error may differ in
        // the last bit).
        test_accuracy: match trainer.last_evaluation() {
            Some(evaluation) if outcome == Outcome::Finished => evaluation.accuracy,
            _ => last.map(|r| 1.0 - r.test_error).unwrap_or(0.0),
        },
        train_loss: last.map(|r| r.train_loss).unwrap_or(f64::NAN),
        epochs: records.len(),
        // Harmonic mean of the epochs' speeds (every epoch has the same number of images).
        images_per_s: if records.is_empty() {
            0.0
        } else {
            records.len() as f64 / train_seconds
        },
        run_dir: trainer.run_dir.clone(),
    })
}

pub fn run(args: TrainArgs) -> CliResult<()> {
    let verbose = !args.json && std::io::stdout().is_terminal();
    let config = args.config();
    let dtype = match &args.resume {
        Some(run_dir) => read_run_config(run_dir)?.dtype,
        None => {
            config.validate()?;
            config.dtype.clone()
        }
    };
    let device = args.device;
    if let Device::Cuda(ordinal) = device {
        // Fail before loading data: no driver, no GPU, or a build without the feature.
        Device::cuda(ordinal)?;
    }
    let (resume, out, data_dir) = (args.resume.clone(), args.out.clone(), args.data.clone());
    let stop_after = args.stop_after_epochs;
    let summary = with_threads(args.threads, move || {
        let (resume, data_dir) = (resume.as_ref(), data_dir.as_deref());
        match dtype.as_str() {
            "f64" => train_run::<f64>(
                Some(config),
                resume,
                out,
                data_dir,
                verbose,
                stop_after,
                device,
            ),
            _ => train_run::<f32>(
                Some(config),
                resume,
                out,
                data_dir,
                verbose,
                stop_after,
                device,
            ),
        }
        .map_err(|e| e.to_string())
    })??;
    if args.json {
        println!("{}", summary.json());
    } else {
        println!(
            "{}: test accuracy {:.2}% after {} epochs, train loss {:.4}, {:.0} images/s; run directory {}",
            if summary.outcome == Outcome::Finished { "done" } else { "interrupted" },
            100.0 * summary.test_accuracy,
            summary.epochs,
            summary.train_loss,
            summary.images_per_s,
            summary.run_dir.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_parse() {
        assert_eq!(parse_device("cpu"), Ok(Device::Cpu));
        assert_eq!(parse_device("cuda"), Ok(Device::Cuda(0)));
        assert_eq!(parse_device("cuda:3"), Ok(Device::Cuda(3)));
        assert!(parse_device("cuda:x").is_err());
        assert!(parse_device("tpu").is_err());
    }
}
