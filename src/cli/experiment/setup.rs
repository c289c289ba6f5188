//! What both experiments share: the model (a preset with trained weights), the test set as
//! labelled batches, the output folder, and atomic CSV/text writes.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use unravel_data::{load_dataset, BatchLoader, DatasetKind, LoaderConfig, Normalization, Split};
use unravel_resnet::ensemble::LabelledBatch;
use unravel_resnet::presets::{self, PresetOptions};
use unravel_resnet::{weights, ResNet};

use crate::cli::bench::CliResult;

/// The datasets an experiment can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DatasetName {
    FashionMnist,
    Mnist,
    Cifar10,
}

impl DatasetName {
    fn kind(self) -> DatasetKind {
        match self {
            DatasetName::FashionMnist => DatasetKind::FashionMnist,
            DatasetName::Mnist => DatasetKind::Mnist,
            DatasetName::Cifar10 => DatasetKind::Cifar10,
        }
    }
}

/// The trained model and the data it is tested on.
#[derive(Args, Debug, Clone)]
pub struct ModelAndData {
    /// Trained weights (safetensors written by `unravel train` or `weights::save`).
    #[arg(long, required_unless_present = "untrained")]
    pub weights: Option<PathBuf>,
    /// Use freshly initialised weights instead of `--weights` (to check the command only).
    #[arg(long)]
    pub untrained: bool,
    /// The architecture the weights belong to (see `unravel presets`).
    #[arg(long, default_value = "preact-resnet56")]
    pub preset: String,
    /// Base width of each stage, comma-separated, if the weights were trained with other widths.
    #[arg(long, value_delimiter = ',')]
    pub widths: Option<Vec<usize>>,
    #[arg(long, value_enum, default_value = "fashion-mnist")]
    pub dataset: DatasetName,
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

impl ModelAndData {
    /// The preset options for this dataset's image channels and classes.
    pub fn options(&self, channels: usize, classes: usize) -> PresetOptions {
        PresetOptions {
            widths: self.widths.clone(),
            in_channels: Some(channels),
            num_classes: Some(classes),
            ..PresetOptions::default()
        }
    }

    /// The test set, normalised with the training set's statistics, in batches.
    pub fn test_set(&self) -> CliResult<(Vec<LabelledBatch<f32>>, usize, usize)> {
        let kind = self.dataset.kind();
        let test = load_dataset(kind, Split::Test, self.data.as_deref())?;
        let normalization = match kind {
            DatasetKind::FashionMnist => Normalization::fashion_mnist(),
            _ => Normalization::from_dataset(&load_dataset(
                kind,
                Split::Train,
                self.data.as_deref(),
            )?)?,
        };
        let [channels, _, _] = test.image_shape();
        let classes = test.num_classes();
        let test = match self.test_samples {
            Some(n) if n < test.len() => test.subset(&(0..n).collect::<Vec<_>>())?,
            Some(0) => return Err("--test-samples must be positive".into()),
            _ => test,
        };
        if self.batch_size == 0 {
            return Err("--batch-size must be positive".into());
        }
        let loader = BatchLoader::new(
            test,
            LoaderConfig::test(self.batch_size).with_normalization(normalization),
        )?;
        let mut batches = Vec::new();
        for (images, labels) in loader.epoch::<f32>(0) {
            batches.push(LabelledBatch::new(images, labels)?);
        }
        Ok((batches, channels, classes))
    }

    /// Builds `preset` (or `self.preset`) and loads `weights` into it, strictly.
    pub fn model(
        &self,
        preset: &str,
        weights_path: Option<&Path>,
        channels: usize,
        classes: usize,
    ) -> CliResult<ResNet<f32>> {
        let mut model = presets::build::<f32>(preset, &self.options(channels, classes), self.seed)?;
        match (weights_path, self.untrained) {
            (Some(path), false) => {
                weights::load(&mut model, path, true)?;
            }
            (_, true) => {}
            (None, false) => return Err(format!("{preset}: no weights given").into()),
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
