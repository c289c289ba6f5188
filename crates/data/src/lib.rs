//! # unravel-data
//!
//! Image-classification data for unravel: readers for Fashion-MNIST / MNIST (IDX, gzipped or
//! not) and CIFAR-10 (binary version), an in-memory [`Dataset`] of `u8` pixels, per-channel
//! [`Normalization`], the pad-crop-flip [`Augmentation`] of He et al. 2015 §4.2, a fresh seeded
//! shuffle each epoch, and a [`BatchLoader`] that converts one batch at a time to
//! `Tensor<E>` [B, C, H, W] while a background thread prepares the next.
//!
//! Every random choice comes from [`unravel_tensor::Rng`] streams that depend only on the seed
//! and the epoch ([`plan`]), so runs are the same on every machine and a resumed run reproduces
//! its epochs. Bad files give a [`DataError`] naming the file, the byte offset and how to get
//! the data; the parsers never panic, whatever the bytes (they are fuzzed, see
//! `docs/reliability.md`).
//!
//! Layout: [`error`]; the formats [`gzip`], [`idx`], [`cifar`]; [`source`] (where files are and
//! how a dataset is read); [`dataset`]; [`normalize`]; [`augment`]; [`plan`] (shuffle and
//! augmentation draws per epoch); [`loader`].
//!
//! ## Iterating over Fashion-MNIST
//!
//! ```no_run
//! use unravel_data::{
//!     load_dataset, Augmentation, BatchLoader, DatasetKind, LoaderConfig, Normalization, Split,
//! };
//!
//! // `None`: $UNRAVEL_DATA, else /usr/share/datasets/fashion-mnist/ (`apt-get install
//! // dataset-fashion-mnist`). Pass Some(dir) for a `--data DIR` flag.
//! let train = load_dataset(DatasetKind::FashionMnist, Split::Train, None)?;
//! let test = load_dataset(DatasetKind::FashionMnist, Split::Test, None)?;
//!
//! let normalization = Normalization::from_dataset(&train)?; // = Normalization::fashion_mnist()
//! let train_loader = BatchLoader::new(
//!     train,
//!     LoaderConfig::train(128, 42)
//!         .with_augmentation(Augmentation::paper())
//!         .with_normalization(normalization.clone()),
//! )?;
//! let test_loader =
//!     BatchLoader::new(test, LoaderConfig::test(500).with_normalization(normalization))?;
//!
//! for epoch in 0..2 {
//!     for (images, labels) in train_loader.epoch::<f32>(epoch) {
//!         // images: Tensor<f32> [128, 1, 28, 28]; labels: Vec<usize> of 128 classes.
//!         let _ = (images, labels);
//!     }
//!     for (images, labels) in test_loader.epoch::<f32>(0) {
//!         let _ = (images, labels);
//!     }
//! }
//! # Ok::<(), unravel_data::DataError>(())
//! ```
//!
//! A runnable version: `cargo run --release -p unravel-data --example fashion_mnist_batches`.

pub mod augment;
pub mod cifar;
pub mod dataset;
pub mod error;
pub mod gzip;
pub mod idx;
pub mod loader;
pub mod normalize;
pub mod plan;
pub mod source;

pub use augment::{Augmentation, Transform};
pub use cifar::parse_cifar_batch;
pub use dataset::Dataset;
pub use error::{DataError, Result, HOW_TO_GET_DATA};
pub use idx::{parse_idx_images, parse_idx_labels, IdxImages};
pub use loader::{BatchLoader, Batches, LoaderConfig};
pub use normalize::Normalization;
pub use plan::{epoch_order, EpochPlan};
pub use source::{
    load_dataset, load_dataset_from_dir, locate_data_dir, resolve_data_dir, DatasetKind, Split,
};
