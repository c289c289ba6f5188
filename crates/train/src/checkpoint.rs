//! Training checkpoints: one safetensors file holding the model's state dict (torchvision
//! names), the SGD momentum buffers (`sgd.momentum_buffer.<name>`), and in its metadata the
//! run's [`TrainConfig`], the optimizer's hyper-parameters and the [`Progress`] (epoch, next
//! batch, step, the partial sums of an interrupted epoch, the metrics so far).
//!
//! The random state: every random number of a run comes from streams that depend only on the
//! seed and the position in training — weights from the seed, each epoch's shuffle and
//! augmentation from (seed, epoch) (`unravel_data::plan`), the per-batch block choice of
//! `--active-blocks` from (seed, step) — so the position *is* the RNG state, and it is saved.
//!
//! Files are written atomically (temporary file in the same directory, then rename), so a
//! crash or Ctrl-C never leaves a half-written checkpoint. The file loads in PyTorch with
//! `safetensors.torch.load_file` (the extra entries are the optimizer's).

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use unravel_resnet::nn::Module;
use unravel_resnet::sgd::{Sgd, SgdConfig};
use unravel_resnet::weights::{
    load_state, momentum_buffers, serialize_state, write_atomically, SafetensorsFile,
    MOMENTUM_PREFIX, SGD_METADATA,
};
use unravel_resnet::{presets, ResnetError};
use unravel_tensor::Float;

use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::metrics::EpochRecord;

/// File name of the latest checkpoint in a run directory.
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
/// Metadata key of the [`TrainConfig`] (JSON).
pub const CONFIG_METADATA: &str = "unravel.train.config";
/// Metadata key of the [`Progress`] (JSON).
pub const PROGRESS_METADATA: &str = "unravel.train.progress";

/// Where training is: what a resumed run needs besides the weights and the optimizer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// 0-based index of the epoch in progress (= epochs completed when `next_batch` is 0).
    pub epoch: usize,
    /// The first batch of `epoch` still to train.
    pub next_batch: usize,
    /// Optimizer steps taken so far.
    pub step: u64,
    /// Sum of the per-image losses of the batches of `epoch` already trained.
    pub epoch_loss_sum: f64,
    /// Correct predictions among them.
    pub epoch_correct: u64,
    /// Images among them.
    pub epoch_images: u64,
    /// Training seconds spent in `epoch` so far.
    pub epoch_train_seconds: f64,
    /// Metrics of the completed epochs.
    pub records: Vec<EpochRecord>,
}

fn json_error(path: &Path, what: &str, error: serde_json::Error) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_path_buf(),
        message: format!("{what}: {error}"),
    }
}

/// Writes a checkpoint of `model`, `optimizer`, `config` and `progress` to `path`, atomically.
pub fn save<E: Float>(
    path: &Path,
    model: &dyn Module<E>,
    optimizer: &Sgd<E>,
    config: &TrainConfig,
    progress: &Progress,
) -> Result<()> {
    write(path, model, Some((optimizer, progress)), config)
}

/// Writes the model's state dict with the run's configuration in the metadata (what
/// `unravel eval` needs to rebuild the network), atomically. PyTorch loads it as a state dict.
pub fn save_weights<E: Float>(
    path: &Path,
    model: &dyn Module<E>,
    config: &TrainConfig,
) -> Result<()> {
    write(path, model, None, config)
}

fn write<E: Float>(
    path: &Path,
    model: &dyn Module<E>,
    training: Option<(&Sgd<E>, &Progress)>,
    config: &TrainConfig,
) -> Result<()> {
    let mut metadata = HashMap::new();
    metadata.insert(
        CONFIG_METADATA.to_string(),
        to_json(path, "config", config)?,
    );
    if let Some((_, progress)) = training {
        metadata.insert(
            PROGRESS_METADATA.to_string(),
            to_json(path, "progress", progress)?,
        );
    }
    let optimizer = training.map(|(optimizer, _)| optimizer);
    let bytes =
        serialize_state(model, optimizer, metadata).map_err(|e| TrainError::Checkpoint {
            path: path.to_path_buf(),
            message: format!("encoding safetensors: {e}"),
        })?;
    write_atomically(path, &bytes)?;
    Ok(())
}

fn to_json<T: Serialize>(path: &Path, what: &str, value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| json_error(path, what, e))
}

/// The configuration stored in a checkpoint (or a weights file written by training), checked
/// by [`check_stored_config`] before anything is built from it.
pub fn read_config(file: &SafetensorsFile) -> Result<Option<TrainConfig>> {
    let Some(text) = file.metadata.get(CONFIG_METADATA) else {
        return Ok(None);
    };
    let config: TrainConfig =
        serde_json::from_str(text).map_err(|e| json_error(&file.path, "config", e))?;
    check_stored_config(&file.path, &config)?;
    Ok(Some(config))
}

/// Checks a configuration read from the file `path`, which nothing guarantees was written by
/// a run: the values [`TrainConfig::validate`] checks, and the network that `arch` and
/// `widths` describe, which must be a preset with valid widths and at most
/// [`MAX_PARAMETERS`](unravel_resnet::config::MAX_PARAMETERS) parameters. That is counted
/// with one input channel and one class (the least any dataset has, so before the data is
/// read; building the model checks again with the real ones), so a file claiming widths of
/// 10⁶ is refused before anything is allocated. The error names the file and the field.
pub fn check_stored_config(path: &Path, config: &TrainConfig) -> Result<()> {
    let error = |field: &str, message: String| TrainError::Checkpoint {
        path: path.to_path_buf(),
        message: format!("stored training configuration, field `{field}`: {message}"),
    };
    config.validate().map_err(|e| match e {
        TrainError::Config(message) => TrainError::Checkpoint {
            path: path.to_path_buf(),
            message: format!("stored training configuration: {message}"),
        },
        other => other,
    })?;
    presets::config(&config.arch, &config.preset_options(1, 1)).map_err(|e| match e {
        ResnetError::UnknownPreset { .. } => error("arch", e.to_string()),
        other => error(
            "widths",
            format!("{:?} for {}: {other}", config.widths, config.arch),
        ),
    })?;
    Ok(())
}

/// Checks the [`Progress`] read from `path` against its configuration: the epoch within the
/// run, no more correct predictions than images, and counters far from overflowing (the rest of
/// the run adds to them; 2⁶³ steps or images is more than any run counts to).
fn check_progress(path: &Path, config: &TrainConfig, progress: &Progress) -> Result<()> {
    let error = |field: &str, message: String| {
        Err(TrainError::Checkpoint {
            path: path.to_path_buf(),
            message: format!("stored progress, field `{field}`: {message}"),
        })
    };
    if progress.epoch > config.epochs {
        return error(
            "epoch",
            format!(
                "{} is past the run's {} epochs",
                progress.epoch, config.epochs
            ),
        );
    }
    if progress.epoch_correct > progress.epoch_images {
        return error(
            "epoch_correct",
            format!(
                "{} correct predictions among {} images",
                progress.epoch_correct, progress.epoch_images
            ),
        );
    }
    const MAX_COUNT: u64 = 1 << 63;
    for (field, value) in [
        ("step", progress.step),
        ("epoch_images", progress.epoch_images),
    ] {
        if value > MAX_COUNT {
            return error(
                field,
                format!("{value} is more than any run counts to (2^63)"),
            );
        }
    }
    Ok(())
}

/// Loads a checkpoint into `model` and `optimizer` (strictly: every entry must match) and
/// returns its configuration and progress.
pub fn load<E: Float>(
    path: &Path,
    model: &mut dyn Module<E>,
    optimizer: &mut Sgd<E>,
) -> Result<(TrainConfig, Progress)> {
    load_file(&SafetensorsFile::open(path)?, model, optimizer)
}

/// [`load`] from an already decoded file ([`SafetensorsFile::from_bytes`]). Everything is
/// checked before `model` and `optimizer` are changed.
pub fn load_file<E: Float>(
    file: &SafetensorsFile,
    model: &mut dyn Module<E>,
    optimizer: &mut Sgd<E>,
) -> Result<(TrainConfig, Progress)> {
    let path = &file.path;
    let missing = |key: &str| TrainError::Checkpoint {
        path: path.to_path_buf(),
        message: format!("not a training checkpoint: no `{key}` metadata"),
    };
    let config = read_config(file)?.ok_or_else(|| missing(CONFIG_METADATA))?;
    let progress: Progress = serde_json::from_str(
        file.metadata
            .get(PROGRESS_METADATA)
            .ok_or_else(|| missing(PROGRESS_METADATA))?,
    )
    .map_err(|e| json_error(path, "progress", e))?;
    check_progress(path, &config, &progress)?;
    let sgd: SgdConfig = serde_json::from_str(
        file.metadata
            .get(SGD_METADATA)
            .ok_or_else(|| missing(SGD_METADATA))?,
    )
    .map_err(|e| json_error(path, "SGD", e))?;
    let momentum_buffers = momentum_buffers(file)?;
    load_state(model, file, true, &|name| {
        !name.starts_with(MOMENTUM_PREFIX)
    })?;
    optimizer.config = sgd;
    optimizer.momentum_buffers = momentum_buffers;
    Ok((config, progress))
}
