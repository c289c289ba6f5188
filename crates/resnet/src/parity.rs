//! PyTorch parity fixtures (format `unravel-parity/1`, `../shared/fixtures/parity/README.md`):
//! a safetensors file holding an architecture spec, torchvision-named weights, an input batch,
//! and what PyTorch computed from them.
//!
//! [`run`] builds the model from the spec, loads the weights (strictly), and compares, each by
//! relative error `‖got − expected‖ / ‖expected‖`:
//!
//! 1. `expect.eval_logits`: eval mode, running statistics;
//! 2. `expect.train_logits`, `expect.loss`, `expect.grad.input`, `expect.grad.<param>`: one
//!    train-mode forward (mean cross-entropy) and backward;
//! 3. `expect.step<k>.<name>`: every parameter and running statistic after `k` SGD steps, the
//!    first using the gradients of 2, each later one a new train-mode forward and backward on
//!    the same batch.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use unravel_autograd::Tape;
use unravel_tensor::ops::softmax::Reduction;
use unravel_tensor::{DType, Float, Tensor};

use crate::config::ResNetConfig;
use crate::error::{ResnetError, Result};
use crate::network::ResNet;
use crate::nn::{named_gradients, Context, Mode, Module, StateRef};
use crate::sgd::{Sgd, SgdConfig};
use crate::weights::{load_state, SafetensorsFile};

/// The fixture's `train` metadata.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct TrainSpec {
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    pub steps: usize,
}

/// An opened fixture.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub config: ResNetConfig,
    pub train: TrainSpec,
    pub file: SafetensorsFile,
}

impl Fixture {
    /// Reads `path` and parses its metadata.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let file = SafetensorsFile::open(path)?;
        let bad = |message: String| ResnetError::File {
            path: file.path.clone(),
            offset: Some(8),
            message,
        };
        let meta = |key: &str| {
            file.metadata
                .get(key)
                .ok_or_else(|| bad(format!("metadata has no `{key}`")))
        };
        let format = meta("format")?;
        if format != "unravel-parity/1" {
            return Err(bad(format!(
                "format `{format}`, expected `unravel-parity/1`"
            )));
        }
        let config = ResNetConfig::from_spec_json(
            meta("spec")?,
            file.metadata.get("bn").map(String::as_str),
        )
        .map_err(|e| bad(e.to_string()))?;
        let train: TrainSpec =
            serde_json::from_str(meta("train")?).map_err(|e| bad(format!("train: {e}")))?;
        Ok(Fixture {
            config,
            train,
            file,
        })
    }

    /// The fixture's path.
    pub fn path(&self) -> &PathBuf {
        &self.file.path
    }
}

/// One compared tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The expected tensor's key without `expect.` (`eval_logits`, `grad.fc.weight`).
    pub name: String,
    /// `‖got − expected‖ / ‖expected‖` (absolute when the expected tensor is zero; infinite on
    /// a shape mismatch or a missing tensor).
    pub relative_error: f64,
    /// The bound it must meet, or `None` if it is only reported.
    pub tolerance: Option<f64>,
}

impl Comparison {
    /// Whether the error is within the tolerance (always true without one).
    pub fn passed(&self) -> bool {
        match self.tolerance {
            Some(tolerance) => self.relative_error <= tolerance,
            None => true,
        }
    }
}

/// The outcome of one fixture in one precision.
#[derive(Debug, Clone)]
pub struct ParityReport {
    pub path: PathBuf,
    pub dtype: DType,
    pub comparisons: Vec<Comparison>,
}

impl ParityReport {
    /// Whether every checked comparison passed.
    pub fn passed(&self) -> bool {
        self.comparisons.iter().all(Comparison::passed)
    }

    /// The largest relative error among the checked comparisons.
    pub fn worst(&self) -> Option<&Comparison> {
        self.comparisons
            .iter()
            .filter(|c| c.tolerance.is_some())
            .max_by(|a, b| a.relative_error.total_cmp(&b.relative_error))
    }
}

/// Tolerances: in f64 every tensor to 1e-8; in f32 the eval logits and the loss to 1e-4 (the
/// rest is reported, not checked: train-mode BN over few values is ill-conditioned in f32).
pub fn tolerance_for(dtype: DType, name: &str) -> Option<f64> {
    match dtype {
        DType::F64 => Some(1e-8),
        DType::F32 => matches!(name, "eval_logits" | "loss").then_some(1e-4),
    }
}

/// `‖got − expected‖₂ / ‖expected‖₂`, accumulated in f64.
pub fn relative_error(got: &[f64], expected: &[f64]) -> f64 {
    if got.len() != expected.len() {
        return f64::INFINITY;
    }
    let difference: f64 = got
        .iter()
        .zip(expected)
        .map(|(g, e)| (g - e) * (g - e))
        .sum();
    let norm: f64 = expected.iter().map(|e| e * e).sum();
    let error = if norm > 0.0 {
        (difference / norm).sqrt()
    } else {
        difference.sqrt()
    };
    if error.is_nan() {
        f64::INFINITY
    } else {
        error
    }
}

struct Recorder<'a> {
    fixture: &'a Fixture,
    dtype: DType,
    comparisons: Vec<Comparison>,
}

impl Recorder<'_> {
    fn compare(&mut self, name: &str, got: &[f64], shape: &[usize]) -> Result<()> {
        let key = format!("expect.{name}");
        let entry = self
            .fixture
            .file
            .tensors
            .get(&key)
            .ok_or_else(|| ResnetError::File {
                path: self.fixture.file.path.clone(),
                offset: None,
                message: format!("no tensor named `{key}`"),
            })?;
        let expected: Vec<f64> = match &entry.data {
            crate::weights::StoredData::Float(v) => v.clone(),
            crate::weights::StoredData::Int(v) => v.iter().map(|&i| i as f64).collect(),
        };
        let same_count = entry.shape.iter().product::<usize>() == shape.iter().product::<usize>();
        let relative_error = if same_count {
            relative_error(got, &expected)
        } else {
            f64::INFINITY
        };
        self.comparisons.push(Comparison {
            name: name.to_string(),
            relative_error,
            tolerance: tolerance_for(self.dtype, name),
        });
        Ok(())
    }

    fn compare_tensor<E: Float>(&mut self, name: &str, tensor: &Tensor<E>) -> Result<()> {
        let values: Vec<f64> = tensor.to_vec().iter().map(|v| v.to_f64()).collect();
        self.compare(name, &values, tensor.shape())
    }
}

/// Runs `fixture` in precision `E` (see the module docs).
pub fn run<E: Float>(fixture: &Fixture) -> Result<ParityReport> {
    let file = &fixture.file;
    let mut model = ResNet::<E>::new(&fixture.config, 0)?;
    let is_state = |name: &str| !name.starts_with("expect.") && name != "input" && name != "target";
    load_state(&mut model, file, true, &is_state)?;
    let input = file.tensor::<E>("input")?;
    let targets: Vec<usize> = file
        .int64("target")?
        .into_iter()
        .map(|t| {
            usize::try_from(t).map_err(|_| ResnetError::File {
                path: file.path.clone(),
                offset: file.tensors.get("target").map(|t| t.offset),
                message: format!("negative target {t}"),
            })
        })
        .collect::<Result<_>>()?;
    let mut recorder = Recorder {
        fixture,
        dtype: E::DTYPE,
        comparisons: Vec::new(),
    };

    // 1. Eval mode.
    let eval_logits = model.predict(&input)?;
    recorder.compare_tensor("eval_logits", &eval_logits)?;

    // 2 and 3. Train-mode steps; the first one's outputs and gradients are compared.
    let mut optimizer = Sgd::<E>::new(SgdConfig {
        lr: fixture.train.lr,
        momentum: fixture.train.momentum,
        dampening: 0.0,
        weight_decay: fixture.train.weight_decay,
        nesterov: fixture.train.nesterov,
    });
    let tape = Tape::<E>::new();
    for step in 0..fixture.train.steps.max(1) {
        tape.reset();
        let mut context = Context::new(&tape, Mode::Train);
        let x = tape.leaf(input.clone());
        let logits = model.forward(&mut context, &x)?;
        let loss = logits.cross_entropy(&targets, Reduction::Mean)?;
        let gradients = tape.backward(&loss)?;
        let parameter_gradients = context.parameter_gradients(&gradients);
        if step == 0 {
            recorder.compare_tensor("train_logits", logits.value())?;
            recorder.compare_tensor("loss", loss.value())?;
            let input_gradient = gradients.get_or_zeros(&x);
            recorder.compare_tensor("grad.input", &input_gradient)?;
            let named = named_gradients(&model, &parameter_gradients);
            for key in file
                .tensors
                .keys()
                .filter(|k| k.starts_with("expect.grad."))
            {
                let name = &key["expect.grad.".len()..];
                if name == "input" {
                    continue;
                }
                match named.iter().find(|(n, _)| n == name) {
                    Some((_, gradient)) => {
                        recorder.compare_tensor(&format!("grad.{name}"), gradient)?
                    }
                    None => recorder.comparisons.push(Comparison {
                        name: format!("grad.{name}"),
                        relative_error: f64::INFINITY,
                        tolerance: tolerance_for(E::DTYPE, "grad"),
                    }),
                }
            }
        }
        if step < fixture.train.steps {
            optimizer.step(&mut model, &parameter_gradients)?;
        }
    }

    // 3. State after the steps.
    let prefix = format!("expect.step{}.", fixture.train.steps);
    let mut state: Vec<(String, Vec<f64>, Vec<usize>)> = Vec::new();
    model.visit_state("", &mut |name, entry| {
        let (values, shape) = match entry {
            StateRef::Parameter(p) => (
                p.value.to_vec().iter().map(|v| v.to_f64()).collect(),
                p.value.shape().to_vec(),
            ),
            StateRef::Buffer(b) => (
                b.to_vec().iter().map(|v| v.to_f64()).collect(),
                b.shape().to_vec(),
            ),
            StateRef::Counter(c) => (vec![c as f64], Vec::new()),
        };
        state.push((name.to_string(), values, shape));
    });
    for key in file.tensors.keys().filter(|k| k.starts_with(&prefix)) {
        let name = &key[prefix.len()..];
        let label = format!("step{}.{name}", fixture.train.steps);
        match state.iter().find(|(n, _, _)| n == name) {
            Some((_, values, shape)) => recorder.compare(&label, values, shape)?,
            None => recorder.comparisons.push(Comparison {
                name: label,
                relative_error: f64::INFINITY,
                tolerance: tolerance_for(E::DTYPE, "step"),
            }),
        }
    }
    Ok(ParityReport {
        path: file.path.clone(),
        dtype: E::DTYPE,
        comparisons: recorder.comparisons,
    })
}

/// The fixture files to check: every `*.safetensors` in `../shared/fixtures/parity/` beside
/// the workspace root `workspace`, and in every directory listed in the environment variable
/// `UNRAVEL_PARITY_DIR` (colon-separated), sorted and without duplicates.
pub fn fixture_paths(workspace: &Path) -> Result<Vec<PathBuf>> {
    let extra = std::env::var("UNRAVEL_PARITY_DIR").ok();
    fixture_paths_from(workspace, extra.as_deref())
}

/// [`fixture_paths`] with the colon-separated directory list given explicitly.
///
/// ```
/// use unravel_resnet::parity::fixture_paths_from;
/// let directory = std::env::temp_dir().join(format!("unravel-doc-parity-{}", std::process::id()));
/// let workspace = directory.join("unravel");
/// std::fs::create_dir_all(&workspace)?;
/// std::fs::create_dir_all(directory.join("shared/fixtures/parity"))?; // beside the workspace
/// std::fs::write(directory.join("mine.safetensors"), b"")?;
/// let list = directory.to_str().unwrap();
/// let paths = fixture_paths_from(&workspace, Some(list))?;
/// assert!(paths.iter().any(|p| p.ends_with("mine.safetensors")));
/// # std::fs::remove_dir_all(&directory)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn fixture_paths_from(
    workspace: &Path,
    extra_directories: Option<&str>,
) -> Result<Vec<PathBuf>> {
    let mut directories = vec![workspace.join("../shared/fixtures/parity")];
    if let Some(list) = extra_directories {
        directories.extend(list.split(':').filter(|d| !d.is_empty()).map(PathBuf::from));
    }
    let mut paths = Vec::new();
    for directory in directories {
        let entries = std::fs::read_dir(&directory).map_err(|source| ResnetError::Io {
            path: directory.clone(),
            source,
        })?;
        for entry in entries {
            let path = entry
                .map_err(|source| ResnetError::Io {
                    path: directory.clone(),
                    source,
                })?
                .path();
            if path.extension().is_some_and(|e| e == "safetensors") {
                paths.push(path.canonicalize().unwrap_or(path));
            }
        }
    }
    paths.sort();
    paths.dedup();
    Ok(paths)
}
