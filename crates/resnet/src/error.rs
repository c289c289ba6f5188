//! The resnet crate's typed error: everything the autograd and tensor crates can report, plus
//! what only models, files and fixtures can get wrong.

use std::path::PathBuf;

use unravel_autograd::AutogradError;
use unravel_tensor::TensorError;

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, ResnetError>;

/// One tensor whose shape in a file differs from the model's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeMismatch {
    /// The state name (`layer2.0.downsample.0.weight`).
    pub name: String,
    /// The shape the model has.
    pub expected: Vec<usize>,
    /// The shape the file has.
    pub found: Vec<usize>,
}

/// What went wrong, and where.
#[derive(Debug, thiserror::Error)]
pub enum ResnetError {
    /// An error from the autograd crate (and, through it, from a tensor op).
    #[error(transparent)]
    Autograd(#[from] AutogradError),
    /// An error from a tensor op used directly.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file's contents are not what they should be. `offset` is the byte offset in the file
    /// where the problem is, when it is known.
    #[error("{path}{}: {message}", offset.map(|o| format!(" (byte {o})")).unwrap_or_default())]
    File {
        path: PathBuf,
        offset: Option<u64>,
        message: String,
    },
    /// Strict loading found a state dict that does not match the model: every missing key,
    /// every unexpected key and every shape mismatch, all at once.
    #[error("{}", state_dict_message(path, missing, unexpected, mismatched))]
    StateDict {
        path: PathBuf,
        missing: Vec<String>,
        unexpected: Vec<String>,
        mismatched: Vec<ShapeMismatch>,
    },
    /// A configuration (a preset's options, a fixture's spec) that cannot build a network.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A preset name that does not exist.
    #[error("unknown preset `{name}`; known presets: {}", known.join(", "))]
    UnknownPreset { name: String, known: Vec<String> },
    /// An input whose shape the model cannot take.
    #[error("{layer}: {message}")]
    Input { layer: String, message: String },
    /// An experiment (lesion, reordering, path gradients) asked for something the model or its
    /// arguments cannot give: more blocks than the network has, no pair of blocks to swap, a
    /// block that cannot be deleted.
    #[error("{experiment}: {message}")]
    Experiment {
        experiment: &'static str,
        message: String,
    },
}

fn state_dict_message(
    path: &std::path::Path,
    missing: &[String],
    unexpected: &[String],
    mismatched: &[ShapeMismatch],
) -> String {
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!(
            "{} missing key(s): {}",
            missing.len(),
            missing.join(", ")
        ));
    }
    if !unexpected.is_empty() {
        parts.push(format!(
            "{} unexpected key(s): {}",
            unexpected.len(),
            unexpected.join(", ")
        ));
    }
    if !mismatched.is_empty() {
        let list: Vec<String> = mismatched
            .iter()
            .map(|m| format!("{} (model {:?}, file {:?})", m.name, m.expected, m.found))
            .collect();
        parts.push(format!(
            "{} shape mismatch(es): {}",
            mismatched.len(),
            list.join(", ")
        ));
    }
    format!(
        "{}: the state dict does not match the model: {}",
        path.display(),
        parts.join("; ")
    )
}

impl ResnetError {
    /// Shorthand for [`ResnetError::Config`].
    pub fn config(message: impl Into<String>) -> Self {
        ResnetError::Config(message.into())
    }

    /// Shorthand for [`ResnetError::Experiment`].
    pub fn experiment(experiment: &'static str, message: impl Into<String>) -> Self {
        ResnetError::Experiment {
            experiment,
            message: message.into(),
        }
    }
}
