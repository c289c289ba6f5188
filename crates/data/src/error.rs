//! The one error type of the crate: what went wrong, in which file, at which byte, and how to get
//! the data.

use std::path::PathBuf;

/// How to get the data; appended to every error about a missing or unreadable data file.
pub const HOW_TO_GET_DATA: &str = "To get Fashion-MNIST: `apt-get install dataset-fashion-mnist` \
(it puts the files in /usr/share/datasets/fashion-mnist/). For MNIST or CIFAR-10 (binary \
version), download the files yourself. Then pass --data DIR or set UNRAVEL_DATA=DIR to the \
directory that holds them.";

/// Everything that can go wrong while finding, reading, parsing or batching a dataset.
///
/// File errors name the file (for an in-memory parse, the name the caller gave) and, where it
/// applies, the byte offset. For a gzipped file the offsets count bytes of the decompressed
/// content. Every file error ends with [`HOW_TO_GET_DATA`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The operating system could not read the file.
    #[error("cannot read {}: {source}. {HOW_TO_GET_DATA}", file.display())]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A required file is not there (neither gzipped nor plain).
    #[error("data file not found: {} (also looked for {}). {HOW_TO_GET_DATA}",
        file.display(), also_tried.display())]
    MissingFile { file: PathBuf, also_tried: PathBuf },

    /// The data directory does not exist (or is not a directory).
    #[error("data directory {} (from {origin}) does not exist or is not a directory. \
        {HOW_TO_GET_DATA}", dir.display())]
    MissingDirectory { dir: PathBuf, origin: &'static str },

    /// No directory was given and the dataset has no default location.
    #[error("no data directory for {dataset}: it has no default location. {HOW_TO_GET_DATA}")]
    NoDataLocation { dataset: &'static str },

    /// The file starts like gzip but does not decompress.
    #[error("{}: bad gzip stream: {message}. Re-download or reinstall the file. {HOW_TO_GET_DATA}",
        file.display())]
    Gzip { file: PathBuf, message: String },

    /// The first four bytes are not the format's magic number.
    #[error("{}: bad magic number {found:#010x} at byte 0, expected {expected:#010x} ({what}). \
        {HOW_TO_GET_DATA}", file.display())]
    BadMagic {
        file: PathBuf,
        found: u32,
        expected: u32,
        what: &'static str,
    },

    /// The IDX header declares a different number of dimensions than the file kind has.
    #[error("{}: {found} dimensions declared at byte 3, expected {expected} ({what}). \
        {HOW_TO_GET_DATA}", file.display())]
    WrongDimensions {
        file: PathBuf,
        found: u8,
        expected: u8,
        what: &'static str,
    },

    /// The file ends before the data its header (or record size) promises.
    #[error("{}: truncated: the file ends at byte {end}, but {what} needs {needed} bytes. \
        Re-download or reinstall the file. {HOW_TO_GET_DATA}", file.display())]
    Truncated {
        file: PathBuf,
        end: u64,
        needed: u64,
        what: String,
    },

    /// The file goes on after the data its header declares.
    #[error("{}: {extra} unexpected bytes after the declared data, from byte {offset}. \
        {HOW_TO_GET_DATA}", file.display())]
    TrailingBytes {
        file: PathBuf,
        offset: u64,
        extra: u64,
    },

    /// A header field holds an impossible value.
    #[error("{}: {what} at byte {offset}. {HOW_TO_GET_DATA}", file.display())]
    Corrupt {
        file: PathBuf,
        offset: u64,
        what: String,
    },

    /// A label is not a class of the dataset.
    #[error("{}: label {label} at byte {offset} is out of range: the dataset has {classes} \
        classes (0..{classes}). {HOW_TO_GET_DATA}", file.display())]
    LabelOutOfRange {
        file: PathBuf,
        offset: u64,
        label: u8,
        classes: usize,
    },

    /// The image file and the label file disagree on the number of examples, or images of one
    /// dataset have different sizes.
    #[error("{} holds {images} images of {image_size} but {} holds {labels} labels. \
        {HOW_TO_GET_DATA}", images_file.display(), labels_file.display())]
    CountMismatch {
        images_file: PathBuf,
        images: usize,
        image_size: String,
        labels_file: PathBuf,
        labels: usize,
    },

    /// A configuration value (batch size, crop, mean/std, dataset shape …) is impossible.
    #[error("invalid {what}: {message}")]
    InvalidConfig { what: &'static str, message: String },
}

impl DataError {
    /// Shorthand for [`DataError::InvalidConfig`].
    pub(crate) fn config(what: &'static str, message: impl Into<String>) -> Self {
        DataError::InvalidConfig {
            what,
            message: message.into(),
        }
    }

    /// The file this error is about, if any.
    pub fn file(&self) -> Option<&std::path::Path> {
        match self {
            DataError::Io { file, .. }
            | DataError::MissingFile { file, .. }
            | DataError::Gzip { file, .. }
            | DataError::BadMagic { file, .. }
            | DataError::WrongDimensions { file, .. }
            | DataError::Truncated { file, .. }
            | DataError::TrailingBytes { file, .. }
            | DataError::Corrupt { file, .. }
            | DataError::LabelOutOfRange { file, .. } => Some(file),
            DataError::CountMismatch { images_file, .. } => Some(images_file),
            DataError::MissingDirectory { dir, .. } => Some(dir),
            DataError::NoDataLocation { .. } | DataError::InvalidConfig { .. } => None,
        }
    }
}

/// `Result` with [`DataError`].
pub type Result<T> = std::result::Result<T, DataError>;
