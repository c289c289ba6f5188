//! Where the data is found and how each dataset's files are read into a [`Dataset`].
//!
//! The directory is, in order: the one the caller gives (the `--data DIR` flag), else the
//! environment variable `UNRAVEL_DATA`, else the dataset's default location (only Fashion-MNIST
//! has one: `/usr/share/datasets/fashion-mnist/`, where the Debian package
//! `dataset-fashion-mnist` installs it). If the directory does not hold the files itself but a
//! subdirectory with the dataset's usual name does (`fashion-mnist/`, `mnist/`,
//! `cifar-10-batches-bin/`), that subdirectory is used, so one `UNRAVEL_DATA` can hold several
//! datasets.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::cifar::{parse_cifar_batch, CIFAR_CLASSES, CIFAR_IMAGE_SHAPE};
use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::idx::{parse_idx_images, parse_idx_labels};

/// The environment variable that names the data directory.
pub const DATA_DIR_VARIABLE: &str = "UNRAVEL_DATA";
/// Where the Debian package `dataset-fashion-mnist` puts Fashion-MNIST.
pub const FASHION_MNIST_DEFAULT_DIR: &str = "/usr/share/datasets/fashion-mnist/";

/// The datasets this crate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetKind {
    /// Fashion-MNIST (Xiao et al. 2017): 60 000 + 10 000 grey 28×28 images of 10 clothing
    /// classes, in MNIST's IDX format.
    FashionMnist,
    /// MNIST (LeCun et al. 1998): 60 000 + 10 000 grey 28×28 handwritten digits, IDX format.
    Mnist,
    /// CIFAR-10 (Krizhevsky 2009), binary version: 50 000 + 10 000 colour 32×32 images.
    Cifar10,
}

/// Which part of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    Train,
    Test,
}

impl DatasetKind {
    /// The dataset's usual name.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::FashionMnist => "Fashion-MNIST",
            DatasetKind::Mnist => "MNIST",
            DatasetKind::Cifar10 => "CIFAR-10",
        }
    }

    /// The class names, indexed by label.
    pub fn class_names(self) -> &'static [&'static str] {
        match self {
            DatasetKind::FashionMnist => &[
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ],
            DatasetKind::Mnist => &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            DatasetKind::Cifar10 => &[
                "airplane",
                "automobile",
                "bird",
                "cat",
                "deer",
                "dog",
                "frog",
                "horse",
                "ship",
                "truck",
            ],
        }
    }

    /// The directory used when neither a directory nor `UNRAVEL_DATA` is given.
    pub fn default_dir(self) -> Option<&'static Path> {
        match self {
            DatasetKind::FashionMnist => Some(Path::new(FASHION_MNIST_DEFAULT_DIR)),
            DatasetKind::Mnist | DatasetKind::Cifar10 => None,
        }
    }

    /// The subdirectory name looked into when a data directory does not hold the files itself.
    pub fn subdirectory(self) -> &'static str {
        match self {
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Mnist => "mnist",
            DatasetKind::Cifar10 => "cifar-10-batches-bin",
        }
    }

    /// The files of `split`, without `.gz`: (images, labels) for IDX; the batch files for
    /// CIFAR-10. Each is also accepted gzipped, with `.gz` appended.
    pub fn file_names(self, split: Split) -> &'static [&'static str] {
        match (self, split) {
            (DatasetKind::FashionMnist | DatasetKind::Mnist, Split::Train) => {
                &["train-images-idx3-ubyte", "train-labels-idx1-ubyte"]
            }
            (DatasetKind::FashionMnist | DatasetKind::Mnist, Split::Test) => {
                &["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
            }
            (DatasetKind::Cifar10, Split::Train) => &[
                "data_batch_1.bin",
                "data_batch_2.bin",
                "data_batch_3.bin",
                "data_batch_4.bin",
                "data_batch_5.bin",
            ],
            (DatasetKind::Cifar10, Split::Test) => &["test_batch.bin"],
        }
    }
}

/// The data directory for `kind`: `explicit`, else `$UNRAVEL_DATA`, else the default location
/// (see the module documentation).
pub fn locate_data_dir(kind: DatasetKind, explicit: Option<&Path>) -> Result<PathBuf> {
    let from_environment = std::env::var_os(DATA_DIR_VARIABLE);
    resolve_data_dir(kind, explicit, from_environment.as_deref())
}

/// [`locate_data_dir`] with the environment variable's value passed in, so it can be tested
/// without changing the process environment. An empty `environment` counts as unset.
///
/// ```
/// use unravel_data::{resolve_data_dir, DatasetKind};
/// // CIFAR-10 has no default location.
/// assert!(resolve_data_dir(DatasetKind::Cifar10, None, None).is_err());
/// ```
pub fn resolve_data_dir(
    kind: DatasetKind,
    explicit: Option<&Path>,
    environment: Option<&OsStr>,
) -> Result<PathBuf> {
    let environment = environment.filter(|value| !value.is_empty());
    let (dir, origin) = if let Some(dir) = explicit {
        (dir.to_path_buf(), "--data")
    } else if let Some(value) = environment {
        (PathBuf::from(value), DATA_DIR_VARIABLE)
    } else if let Some(dir) = kind.default_dir() {
        (dir.to_path_buf(), "the default location")
    } else {
        return Err(DataError::NoDataLocation {
            dataset: kind.name(),
        });
    };
    if !dir.is_dir() {
        return Err(DataError::MissingDirectory { dir, origin });
    }
    let first_file = kind.file_names(Split::Train)[0];
    let holds_files = |candidate: &Path| {
        candidate.join(first_file).is_file() || candidate.join(format!("{first_file}.gz")).is_file()
    };
    let subdirectory = dir.join(kind.subdirectory());
    if !holds_files(&dir) && holds_files(&subdirectory) {
        return Ok(subdirectory);
    }
    Ok(dir)
}

/// Loads `split` of `kind` from the directory [`locate_data_dir`] finds.
///
/// ```no_run
/// use unravel_data::{load_dataset, DatasetKind, Split};
/// // Reads /usr/share/datasets/fashion-mnist/ unless UNRAVEL_DATA says otherwise.
/// let train = load_dataset(DatasetKind::FashionMnist, Split::Train, None)?;
/// assert_eq!(train.len(), 60_000);
/// # Ok::<(), unravel_data::DataError>(())
/// ```
pub fn load_dataset(kind: DatasetKind, split: Split, explicit: Option<&Path>) -> Result<Dataset> {
    let dir = locate_data_dir(kind, explicit)?;
    load_dataset_from_dir(kind, split, &dir)
}

/// Loads `split` of `kind` from exactly `dir` (no search); each file gzipped (`NAME.gz`,
/// preferred) or not (`NAME`).
pub fn load_dataset_from_dir(kind: DatasetKind, split: Split, dir: &Path) -> Result<Dataset> {
    let class_names: Vec<String> = kind.class_names().iter().map(|s| s.to_string()).collect();
    let split_name = match split {
        Split::Train => "train",
        Split::Test => "test",
    };
    let name = format!("{} ({split_name})", kind.name());
    let files = kind.file_names(split);
    match kind {
        DatasetKind::FashionMnist | DatasetKind::Mnist => {
            let (images_file, image_bytes) = read_data_file(dir, files[0])?;
            let (labels_file, label_bytes) = read_data_file(dir, files[1])?;
            let images = parse_idx_images(&image_bytes, &images_file.to_string_lossy())?;
            let labels = parse_idx_labels(
                &label_bytes,
                &labels_file.to_string_lossy(),
                class_names.len(),
            )?;
            if images.count != labels.len() {
                return Err(DataError::CountMismatch {
                    images_file,
                    images: images.count,
                    image_size: format!("{}×{}", images.rows, images.columns),
                    labels_file,
                    labels: labels.len(),
                });
            }
            Dataset::new(
                name,
                images.pixels,
                labels,
                [1, images.rows, images.columns],
                class_names,
            )
        }
        DatasetKind::Cifar10 => {
            let mut images = Vec::new();
            let mut labels = Vec::new();
            for file_name in files {
                let (file, bytes) = read_data_file(dir, file_name)?;
                let batch = parse_cifar_batch(&bytes, &file.to_string_lossy())?;
                images.extend_from_slice(&batch.images);
                labels.extend_from_slice(&batch.labels);
            }
            debug_assert_eq!(class_names.len(), CIFAR_CLASSES);
            Dataset::new(name, images, labels, CIFAR_IMAGE_SHAPE, class_names)
        }
    }
}

/// Reads `dir/NAME.gz` if it exists, else `dir/NAME`; returns the path read and its bytes.
fn read_data_file(dir: &Path, name: &str) -> Result<(PathBuf, Vec<u8>)> {
    let gzipped = dir.join(format!("{name}.gz"));
    let plain = dir.join(name);
    let file = if gzipped.is_file() {
        gzipped
    } else if plain.is_file() {
        plain
    } else {
        return Err(DataError::MissingFile {
            file: gzipped,
            also_tried: plain,
        });
    };
    match std::fs::read(&file) {
        Ok(bytes) => Ok((file, bytes)),
        Err(source) => Err(DataError::Io { file, source }),
    }
}
