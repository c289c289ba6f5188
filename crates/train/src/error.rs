//! The training crate's typed error: what the model, data and file layers report, plus what
//! only training can get wrong (a bad configuration, a diverged loss, a bad checkpoint).

use std::path::PathBuf;

use unravel_data::DataError;
use unravel_resnet::ResnetError;

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, TrainError>;

/// What went wrong, and where.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// From the model, its weights files or the tensor ops under it.
    #[error(transparent)]
    Resnet(#[from] ResnetError),
    /// From the dataset readers or the loader.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A training option is out of range or inconsistent.
    #[error("invalid training configuration: {0}")]
    Config(String),
    /// A checkpoint or run directory does not hold what training needs.
    #[error("{path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    /// The loss became NaN or infinite; the last good checkpoint is kept.
    #[error(
        "training diverged: the loss is {loss} at epoch {epoch}, step {step} (learning rate \
         {lr}); stopped without overwriting the last good checkpoint{}",
        checkpoint.as_ref().map(|p| format!(" ({})", p.display())).unwrap_or_default()
    )]
    NonFiniteLoss {
        epoch: usize,
        step: u64,
        loss: f64,
        lr: f64,
        checkpoint: Option<PathBuf>,
    },
}

impl TrainError {
    /// A configuration error with this message.
    pub fn config(message: impl Into<String>) -> Self {
        TrainError::Config(message.into())
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.into(),
            source,
        }
    }
}
