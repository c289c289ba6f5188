//! `unravel eval`: test accuracy and confusion matrix of a weights file (a run's
//! `model.safetensors` or `checkpoint.safetensors`, or a PyTorch state dict with `--arch`).

use std::path::PathBuf;

use clap::Args;
use unravel_resnet::weights::{load_state, SafetensorsFile, MOMENTUM_PREFIX};
use unravel_tensor::Float;
use unravel_train::checkpoint::read_config;
use unravel_train::evaluate::{confusion_table, evaluate, Evaluation};
use unravel_train::{data, TrainConfig};

use crate::cli::bench::{with_threads, CliResult};

#[derive(Args, Debug, Clone)]
pub struct EvalArgs {
    /// Weights file (safetensors).
    #[arg(long)]
    pub weights: PathBuf,
    /// Preset; needed when the file was not written by `unravel train`.
    #[arg(long)]
    pub arch: Option<String>,
    /// Stage widths of the network, when the file has no training configuration.
    #[arg(long, value_delimiter = ',')]
    pub widths: Option<Vec<usize>>,
    /// fashion-mnist, mnist or cifar10 (default: the run's, else fashion-mnist).
    #[arg(long)]
    pub dataset: Option<String>,
    /// Data directory (default: $UNRAVEL_DATA, then the system directory).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// f32 or f64.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// Evaluate the first N test images only.
    #[arg(long)]
    pub limit_test: Option<usize>,
    #[arg(long)]
    pub threads: Option<usize>,
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// One JSON line instead of the table.
    #[arg(long)]
    pub json: bool,
}

fn evaluate_file<E: Float>(
    args: &EvalArgs,
    config: &TrainConfig,
    file: &SafetensorsFile,
) -> CliResult<(Evaluation, Vec<String>)> {
    // The training set too: the inputs are normalised with its statistics, as in training.
    let (train, test) = data::load(config, args.data.as_deref())?;
    let names = test.class_names().to_vec();
    let [channels, _, _] = test.image_shape();
    let mut model = config.build_model::<E>(channels, test.num_classes(), 0)?;
    load_state(&mut model, file, true, &|name| {
        !name.starts_with(MOMENTUM_PREFIX)
    })?;
    let (_, loader) = data::loaders(config, train, test)?;
    Ok((evaluate(&mut model, &loader)?, names))
}

pub fn run(args: EvalArgs) -> CliResult<()> {
    let file = SafetensorsFile::open(&args.weights)?;
    let mut config = match (read_config(&file)?, &args.arch) {
        (Some(config), None) => config,
        (Some(config), Some(arch)) if *arch == config.arch => config,
        (Some(config), Some(arch)) => {
            return Err(format!(
                "{} holds a {} but --arch says {arch}",
                args.weights.display(),
                config.arch
            )
            .into())
        }
        (None, Some(arch)) => TrainConfig {
            arch: arch.clone(),
            widths: args.widths.clone(),
            ..TrainConfig::default()
        },
        (None, None) => {
            return Err(format!(
            "{} was not written by `unravel train`: give --arch (and --widths if not the preset's)",
            args.weights.display()
        )
            .into())
        }
    };
    if let Some(dataset) = &args.dataset {
        config.dataset = dataset.clone();
    }
    config.limit_test = args.limit_test.or(config.limit_test);
    config.batch_size = args.batch.max(1);
    let dtype = args.dtype.clone();
    let json = args.json;
    let weights = args.weights.clone();
    let (evaluation, names) = with_threads(args.threads, || {
        match dtype.as_str() {
            "f64" => evaluate_file::<f64>(&args, &config, &file),
            "f32" => evaluate_file::<f32>(&args, &config, &file),
            other => Err(format!("--dtype must be f32 or f64, got `{other}`").into()),
        }
        .map_err(|e| e.to_string())
    })??;
    let run_dir = weights
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_default();
    let last_record = unravel_train::metrics::read(&run_dir)
        .ok()
        .and_then(|records| records.last().cloned());
    if json {
        println!(
            "{}",
            serde_json::json!({
                "test_accuracy": evaluation.accuracy,
                "test_loss": evaluation.loss,
                "images": evaluation.images,
                "confusion": evaluation.confusion,
                "train_loss": last_record.as_ref().map(|r| r.train_loss),
                "epochs": last_record.as_ref().map(|r| r.epoch).unwrap_or(0),
                "images_per_s": last_record.as_ref().map(|r| r.images_per_s),
                "run_dir": run_dir.display().to_string(),
            })
        );
    } else {
        println!(
            "{}: test accuracy {:.2}% ({} images), test loss {:.4}\n",
            weights.display(),
            100.0 * evaluation.accuracy,
            evaluation.images,
            evaluation.loss
        );
        print!("{}", confusion_table(&evaluation.confusion, &names));
    }
    Ok(())
}
