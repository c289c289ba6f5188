//! safetensors files: read any tensor of one with its dtype, shape and byte offset
//! ([`SafetensorsFile`]), and load or save a model's state dict under its PyTorch names —
//! a file PyTorch wrote with `safetensors.torch.save_file(model.state_dict(), …)` loads
//! directly, int64 `num_batches_tracked` included.
//!
//! Loading checks everything before changing anything: in strict mode, every missing key,
//! unexpected key and shape mismatch is reported in one [`ResnetError::StateDict`], and the
//! model is left untouched. Saving writes a temporary file in the same directory, then renames
//! it over the target, so a crash never leaves a half-written file.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensorError, View};
use unravel_tensor::{Float, Tensor};

use crate::error::{ResnetError, Result, ShapeMismatch};
use crate::nn::{Module, StateMut, StateRef};
use crate::sgd::{Sgd, SgdConfig};

mod file;

use file::file_error;
pub use file::{SafetensorsFile, StoredData, StoredTensor, MAX_HEADER_BYTES};

/// Prefix of the optimizer's momentum buffers in a checkpoint.
pub const MOMENTUM_PREFIX: &str = "sgd.momentum_buffer.";
/// Metadata key of the optimizer's configuration (JSON) in a checkpoint.
pub const SGD_METADATA: &str = "sgd";

/// What a (non-strict) load did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Entries copied into the model.
    pub loaded: usize,
    /// Model entries the file lacks (left as they were).
    pub missing: Vec<String>,
    /// File entries the model lacks (ignored).
    pub unexpected: Vec<String>,
    /// Entries whose shapes differ (left as they were).
    pub mismatched: Vec<ShapeMismatch>,
}

/// Copies the entries of `file` that `select` accepts into `model`, under their state names.
///
/// With `strict`, any missing key, unexpected key or shape mismatch fails the whole load (one
/// error lists them all) and nothing is changed. Without it, what matches is loaded and the
/// rest is reported.
pub fn load_state<E: Float>(
    model: &mut dyn Module<E>,
    file: &SafetensorsFile,
    strict: bool,
    select: &dyn Fn(&str) -> bool,
) -> Result<LoadReport> {
    // Check everything first.
    let mut report = LoadReport::default();
    let mut expected: BTreeMap<String, (Vec<usize>, bool)> = BTreeMap::new();
    model.visit_state("", &mut |name, entry| {
        let counter = matches!(entry, StateRef::Counter(_));
        expected.insert(name.to_string(), (entry.shape(), counter));
    });
    let mut type_errors = Vec::new();
    for (name, (shape, counter)) in &expected {
        match file.tensors.get(name) {
            None => report.missing.push(name.clone()),
            Some(stored) => {
                let stored_shape: Vec<usize> = stored.shape.clone();
                // A counter is a 0-d tensor; accept a 1-element tensor too.
                let shape_ok = if *counter {
                    stored.shape.iter().product::<usize>() == 1
                } else {
                    &stored_shape == shape
                };
                if !shape_ok {
                    report.mismatched.push(ShapeMismatch {
                        name: name.clone(),
                        expected: shape.clone(),
                        found: stored_shape,
                    });
                } else if *counter != matches!(stored.data, StoredData::Int(_)) {
                    type_errors.push((name.clone(), stored.dtype, stored.offset));
                }
            }
        }
    }
    for name in file.tensors.keys() {
        if select(name) && !expected.contains_key(name) {
            report.unexpected.push(name.clone());
        }
    }
    if let Some((name, dtype, offset)) = type_errors.first() {
        return Err(file_error(
            &file.path,
            Some(*offset),
            format!(
                "`{name}` is stored as {dtype:?}, but the model's entry is {}",
                if expected[name].1 {
                    "an int64 counter"
                } else {
                    "floating-point"
                }
            ),
        ));
    }
    let clean =
        report.missing.is_empty() && report.unexpected.is_empty() && report.mismatched.is_empty();
    if strict && !clean {
        return Err(ResnetError::StateDict {
            path: file.path.clone(),
            missing: report.missing,
            unexpected: report.unexpected,
            mismatched: report.mismatched,
        });
    }

    // Then copy.
    let skip: std::collections::HashSet<&str> =
        report.mismatched.iter().map(|m| m.name.as_str()).collect();
    let mut failure = None;
    let mut loaded = 0;
    model.visit_state_mut("", &mut |name, entry| {
        if skip.contains(name) || failure.is_some() {
            return;
        }
        let Some(stored) = file.tensors.get(name) else {
            return;
        };
        let result = match (entry, &stored.data) {
            (StateMut::Parameter(p), StoredData::Float(_)) => {
                file.tensor(name).map(|t| p.value = t)
            }
            (StateMut::Buffer(b), StoredData::Float(_)) => file.tensor(name).map(|t| *b = t),
            (StateMut::Counter(c), StoredData::Int(values)) => {
                *c = values.first().copied().unwrap_or(0);
                Ok(())
            }
            _ => Ok(()), // excluded by the type check above
        };
        match result {
            Ok(()) => loaded += 1,
            Err(error) => failure = Some(error),
        }
    });
    if let Some(error) = failure {
        return Err(error);
    }
    report.loaded = loaded;
    Ok(report)
}

/// Loads a state dict written by PyTorch (`safetensors.torch.save_file(model.state_dict(), …)`)
/// or by [`save`]. Entries under [`MOMENTUM_PREFIX`] (optimizer state) are not model state and
/// are not reported as unexpected.
///
/// ```
/// use unravel_resnet::{presets, weights};
/// let options = presets::PresetOptions { widths: Some(vec![4, 8, 16]), ..Default::default() };
/// let model = presets::build::<f32>("resnet20", &options, 1)?;
/// let path = std::env::temp_dir().join(format!("unravel-doc-{}.safetensors", std::process::id()));
/// weights::save(&model, None, &path)?;
/// let mut other = presets::build::<f32>("resnet20", &options, 2)?;
/// let report = weights::load(&mut other, &path, true)?;
/// // 19 convs (weight), 19 BNs (5 entries each), the classifier (weight, bias)
/// assert_eq!(report.loaded, 19 + 19 * 5 + 2);
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), unravel_resnet::ResnetError>(())
/// ```
pub fn load<E: Float>(
    model: &mut dyn Module<E>,
    path: impl AsRef<Path>,
    strict: bool,
) -> Result<LoadReport> {
    let file = SafetensorsFile::open(path)?;
    load_state(model, &file, strict, &|name| {
        !name.starts_with(MOMENTUM_PREFIX)
    })
}

/// Loads the model's state and the optimizer's (configuration and momentum buffers) from a
/// checkpoint written by [`save`] with an optimizer.
pub fn load_checkpoint<E: Float>(
    model: &mut dyn Module<E>,
    optimizer: &mut Sgd<E>,
    path: impl AsRef<Path>,
    strict: bool,
) -> Result<LoadReport> {
    let file = SafetensorsFile::open(path)?;
    load_checkpoint_file(model, optimizer, &file, strict)
}

/// [`load_checkpoint`] from an already decoded file ([`SafetensorsFile::from_bytes`]). Nothing
/// is changed unless the whole checkpoint is valid: the optimizer's configuration and momentum
/// buffers are decoded before the model is loaded.
pub fn load_checkpoint_file<E: Float>(
    model: &mut dyn Module<E>,
    optimizer: &mut Sgd<E>,
    file: &SafetensorsFile,
    strict: bool,
) -> Result<LoadReport> {
    let config = file
        .metadata
        .get(SGD_METADATA)
        .map(|text| {
            serde_json::from_str::<SgdConfig>(text).map_err(|e| {
                file_error(
                    &file.path,
                    Some(8),
                    format!("metadata `{SGD_METADATA}`: {e}"),
                )
            })
        })
        .transpose()?;
    let momentum_buffers = momentum_buffers(file)?;
    let report = load_state(model, file, strict, &|name| {
        !name.starts_with(MOMENTUM_PREFIX)
    })?;
    if let Some(config) = config {
        optimizer.config = config;
    }
    optimizer.momentum_buffers = momentum_buffers;
    Ok(report)
}

/// The optimizer's momentum buffers stored in `file` (under [`MOMENTUM_PREFIX`]), by
/// parameter name.
pub fn momentum_buffers<E: Float>(file: &SafetensorsFile) -> Result<BTreeMap<String, Tensor<E>>> {
    file.tensors
        .keys()
        .filter_map(|name| {
            name.strip_prefix(MOMENTUM_PREFIX)
                .map(|parameter| Ok((parameter.to_string(), file.tensor(name)?)))
        })
        .collect()
}

/// A tensor ready to be written.
struct Encoded {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Encoded {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn encode<E: Float>(tensor: &Tensor<E>) -> Encoded {
    let values = tensor.to_vec();
    let (dtype, bytes) = match E::DTYPE {
        unravel_tensor::DType::F32 => (
            Dtype::F32,
            values
                .iter()
                .flat_map(|v| (v.to_f64() as f32).to_le_bytes())
                .collect(),
        ),
        unravel_tensor::DType::F64 => (
            Dtype::F64,
            values
                .iter()
                .flat_map(|v| v.to_f64().to_le_bytes())
                .collect(),
        ),
    };
    Encoded {
        dtype,
        shape: tensor.shape().to_vec(),
        bytes,
    }
}

/// Writes the model's state dict (and, if given, the optimizer's state) to `path` as
/// safetensors, in the model's precision, `num_batches_tracked` as int64, atomically.
pub fn save<E: Float>(
    model: &dyn Module<E>,
    optimizer: Option<&Sgd<E>>,
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    let bytes = serialize_state(model, optimizer, HashMap::new())
        .map_err(|e| file_error(path, None, format!("encoding safetensors: {e}")))?;
    write_atomically(path, &bytes)
}

/// The bytes of a safetensors file holding the model's state dict under torchvision's names
/// (parameters and buffers in the model's precision, `num_batches_tracked` as int64), the
/// optimizer's momentum buffers under [`MOMENTUM_PREFIX`] and its hyper-parameters under
/// [`SGD_METADATA`] if given, and `metadata` (plus `format: pt`, so PyTorch loads it).
pub fn serialize_state<E: Float>(
    model: &dyn Module<E>,
    optimizer: Option<&Sgd<E>>,
    mut metadata: HashMap<String, String>,
) -> std::result::Result<Vec<u8>, SafeTensorError> {
    let mut entries: Vec<(String, Encoded)> = Vec::new();
    model.visit_state("", &mut |name, entry| {
        let encoded = match entry {
            StateRef::Parameter(p) => encode(&p.value),
            StateRef::Buffer(b) => encode(b),
            StateRef::Counter(c) => Encoded {
                dtype: Dtype::I64,
                shape: Vec::new(),
                bytes: c.to_le_bytes().to_vec(),
            },
        };
        entries.push((name.to_string(), encoded));
    });
    metadata.insert("format".to_string(), "pt".to_string());
    if let Some(optimizer) = optimizer {
        for (name, buffer) in &optimizer.momentum_buffers {
            entries.push((format!("{MOMENTUM_PREFIX}{name}"), encode(buffer)));
        }
        let config =
            serde_json::to_string(&optimizer.config).map_err(SafeTensorError::JsonError)?;
        metadata.insert(SGD_METADATA.to_string(), config);
    }
    safetensors::serialize(entries.iter().map(|(n, e)| (n.as_str(), e)), Some(metadata))
}

/// Writes `bytes` to a temporary file next to `path`, flushes it, then renames it to `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| ResnetError::Io {
        path: path.to_path_buf(),
        source,
    };
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| file_error(path, None, "not a file path"))?
        .to_string_lossy()
        .into_owned();
    let temporary = directory.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if let Err(source) = result {
        std::fs::remove_file(&temporary).ok();
        return Err(io(source));
    }
    Ok(())
}
