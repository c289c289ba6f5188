//! The datasets and loaders of a run: the named dataset (through `unravel-data`), cut to
//! `--limit-train` / `--limit-test`, normalised with the training set's per-channel statistics,
//! and augmented as He et al. 2015 §4.2 (pad 4, random crop, horizontal flip) when asked.

use std::path::Path;

use unravel_data::{
    load_dataset, Augmentation, BatchLoader, Dataset, DatasetKind, LoaderConfig, Normalization,
    Split,
};
use unravel_tensor::Rng;

use crate::config::TrainConfig;
use crate::error::{Result, TrainError};

/// The dataset behind a `--dataset` name.
pub fn dataset_kind(name: &str) -> Result<DatasetKind> {
    match name {
        "fashion-mnist" | "fashion_mnist" | "fmnist" => Ok(DatasetKind::FashionMnist),
        "mnist" => Ok(DatasetKind::Mnist),
        "cifar10" | "cifar-10" => Ok(DatasetKind::Cifar10),
        _ => Err(TrainError::config(format!(
            "unknown dataset `{name}`; expected fashion-mnist, mnist or cifar10"
        ))),
    }
}

/// The first `limit` images of `dataset` (all of them when `None` or more than there are).
pub fn limit(dataset: Dataset, limit: Option<usize>) -> Result<Dataset> {
    match limit {
        Some(n) if n < dataset.len() => Ok(dataset.subset(&(0..n).collect::<Vec<_>>())?),
        _ => Ok(dataset),
    }
}

/// Reads the training and test sets the configuration names, from `data_dir`, else
/// `$UNRAVEL_DATA`, else the dataset's system directory.
pub fn load(config: &TrainConfig, data_dir: Option<&Path>) -> Result<(Dataset, Dataset)> {
    let kind = dataset_kind(&config.dataset)?;
    let train = limit(
        load_dataset(kind, Split::Train, data_dir)?,
        config.limit_train,
    )?;
    let test = limit(
        load_dataset(kind, Split::Test, data_dir)?,
        config.limit_test,
    )?;
    Ok((train, test))
}

/// The training loader (shuffled each epoch with the run's seed, augmented if configured) and
/// the test loader, both normalised with the training set's per-channel mean and std.
pub fn loaders(
    config: &TrainConfig,
    train: Dataset,
    test: Dataset,
) -> Result<(BatchLoader, BatchLoader)> {
    if train.image_shape() != test.image_shape() {
        return Err(TrainError::config(format!(
            "training images are {:?}, test images {:?}",
            train.image_shape(),
            test.image_shape()
        )));
    }
    let normalization = Normalization::from_dataset(&train)?;
    let mut train_config = LoaderConfig::train(config.batch_size, config.seed)
        .with_normalization(normalization.clone());
    if config.augment {
        train_config = train_config.with_augmentation(Augmentation::paper());
    }
    let train_loader = BatchLoader::new(train, train_config)?;
    let test_loader = BatchLoader::new(
        test,
        LoaderConfig::test(config.batch_size.max(100)).with_normalization(normalization),
    )?;
    Ok((train_loader, test_loader))
}

/// A small learnable dataset for tests and examples: `len` grey `side`×`side` images of
/// `classes` classes, class k a bright bar in row band k plus noise, drawn from `seed`.
///
/// ```
/// let data = unravel_train::data::synthetic(20, 4, 8, 0).unwrap();
/// assert_eq!(data.len(), 20);
/// assert_eq!(data.image_shape(), [1, 8, 8]);
/// ```
pub fn synthetic(len: usize, classes: usize, side: usize, seed: u64) -> Result<Dataset> {
    if classes == 0 || side < classes {
        return Err(TrainError::config(format!(
            "synthetic data needs 1 ≤ classes ≤ side, got {classes} classes of side {side}"
        )));
    }
    let mut rng = Rng::seed_from(seed);
    let mut images = Vec::with_capacity(len * side * side);
    let mut labels = Vec::with_capacity(len);
    for index in 0..len {
        let label = index % classes;
        let band = side / classes;
        for row in 0..side {
            for _ in 0..side {
                let bright = row / band.max(1) == label;
                let base = if bright { 180.0 } else { 40.0 };
                images.push((base + rng.uniform(-40.0, 40.0)) as u8);
            }
        }
        labels.push(label as u8);
    }
    let names = (0..classes).map(|k| format!("class {k}")).collect();
    Ok(Dataset::new(
        "synthetic",
        images,
        labels,
        [1, side, side],
        names,
    )?)
}
