//! What both experiments share: the model (a preset with trained weights), the test set as
//! labelled batches, the output folder, and atomic CSV/text writes.

use std::path::{Path, PathBuf};

use clap::Args;
use unravel_resnet::ensemble::LabelledBatch;
use unravel_resnet::weights::{self, SafetensorsFile};
use unravel_resnet::ResNet;
use unravel_train::checkpoint::read_config;
use unravel_train::{data, TrainConfig};

use crate::cli::bench::CliResult;

/// The trained model and the data it is tested on. A weights file written by `unravel train`
/// carries its run's configuration (preset, widths, dataset, training subset), which is used
/// unless a flag says otherwise; the test images are normalised exactly as in that run.
#[derive(Args, Debug, Clone)]
pub struct ModelAndData {
    /// Trained weights (safetensors written by `unravel train`, or `weights::save` with
    /// `--preset`).
    #[arg(long, required_unless_present = "untrained")]
    pub weights: Option<PathBuf>,
    /// Use freshly initialised weights instead of `--weights` (to check the command only).
    #[arg(long)]
    pub untrained: bool,
    /// The architecture (see `unravel presets`); default: the weights file's, else
    /// preact-resnet56.
    #[arg(long)]
    pub preset: Option<String>,
    /// Base width of each stage, comma-separated; default: the weights file's.
    #[arg(long, value_delimiter = ',')]
    pub widths: Option<Vec<usize>>,
    /// fashion-mnist, mnist or cifar10; default: the weights file's, else fashion-mnist.
    #[arg(long)]
    pub dataset: Option<String>,
    /// Folder holding the dataset's files (default: $UNRAVEL_DATA, then the system location).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Use only the first N test images (default: all of them).
    #[arg(long)]
    pub test_samples: Option<usize>,
    /// Images per evaluation batch.
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// The default network of the experiments: Veit et al.'s pre-activation network at 27 blocks.
pub const DEFAULT_PRESET: &str = "preact-resnet56";

impl ModelAndData {
    /// The run configuration for `weights` (its metadata, if it has any) with the flags
    /// applied; `preset` overrides the architecture (for the plain network).
    pub fn config(&self, weights: Option<&Path>, preset: Option<&str>) -> CliResult<TrainConfig> {
        let stored = match (weights, self.untrained) {
            (Some(path), false) => read_config(&SafetensorsFile::open(path)?)?,
            _ => None,
        };
        let wanted = preset.map(str::to_string).or_else(|| self.preset.clone());
        let mut config = match (stored, wanted) {
            (Some(config), None) => config,
            (Some(config), Some(arch)) if arch == config.arch => config,
            (Some(config), Some(arch)) => {
                return Err(format!(
                    "{} holds a {} but {arch} was asked for",
                    weights.map(|p| p.display().to_string()).unwrap_or_default(),
                    config.arch
                )
                .into())
            }
            (None, arch) => TrainConfig {
                arch: arch.unwrap_or_else(|| DEFAULT_PRESET.to_string()),
                ..TrainConfig::default()
            },
        };
        if self.widths.is_some() {
            config.widths = self.widths.clone();
        }
        if let Some(dataset) = &self.dataset {
            config.dataset = dataset.clone();
        }
        if self.test_samples == Some(0) || self.batch_size == 0 {
            return Err("--test-samples and --batch-size must be positive".into());
        }
        config.limit_test = self.test_samples;
        config.batch_size = self.batch_size;
        Ok(config)
    }

    /// The test set of `config`'s dataset, normalised with its training set's statistics (as
    /// `unravel train` does), in batches; with the image channels and the class count.
    pub fn test_set(
        &self,
        config: &TrainConfig,
    ) -> CliResult<(Vec<LabelledBatch<f32>>, usize, usize)> {
        let (train, test) = data::load(config, self.data.as_deref())?;
        let [channels, _, _] = test.image_shape();
        let classes = test.num_classes();
        let (_, loader) = data::loaders(config, train, test)?;
        let mut batches = Vec::new();
        for (images, labels) in loader.epoch::<f32>(0) {
            batches.push(LabelledBatch::new(images, labels)?);
        }
        Ok((batches, channels, classes))
    }

    /// Builds `config`'s network and loads `weights` into it, strictly (every entry must match).
    pub fn model(
        &self,
        config: &TrainConfig,
        weights_path: Option<&Path>,
        channels: usize,
        classes: usize,
    ) -> CliResult<ResNet<f32>> {
        let mut model = config.build_model::<f32>(channels, classes, self.seed)?;
        match (weights_path, self.untrained) {
            (_, true) => {}
            (Some(path), false) => {
                weights::load(&mut model, path, true)?;
            }
            (None, false) => return Err(format!("{}: no weights given", config.arch).into()),
        }
        Ok(model)
    }
}

/// Creates `dir` and returns the path of `name` inside it.
pub fn output_path(dir: &Path, name: &str) -> CliResult<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir.join(name))
}

/// Writes `text` to `dir/name` atomically and returns the path.
pub fn write_text(dir: &Path, name: &str, text: &str) -> CliResult<PathBuf> {
    let path = output_path(dir, name)?;
    weights::write_atomically(&path, text.as_bytes())?;
    Ok(path)
}

/// A CSV file: a header and rows of already formatted cells.
pub fn write_csv(
    dir: &Path,
    name: &str,
    header: &[&str],
    rows: &[Vec<String>],
) -> CliResult<PathBuf> {
    let mut text = header.join(",");
    text.push('\n');
    for row in rows {
        text.push_str(&row.join(","));
        text.push('\n');
    }
    write_text(dir, name, &text)
}
