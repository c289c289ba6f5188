//! The gradient carried by paths of each length (Veit et al. 2016, §5, Fig. 6b and 6c).
//!
//! The method of the paper: feed a batch forward through the whole network; in the backward
//! pass, pick k blocks at random that propagate only through their residual branch, while the
//! other n − k propagate only through their skip connection; record the norm of the gradient
//! that arrives at the input. With each block's Jacobian split as J_i = B_i + S_i (branch and
//! skip, evaluated at the full network's activations), the true input gradient is
//!
//! ∂L/∂x = (Π_i (B_i + S_i))ᵀ g = Σ_{S ⊆ blocks} (Π_{i∈S} B_i Π_{i∉S} S_i)ᵀ g,
//!
//! one term per path; the routed backward computes exactly one term, the gradient of the single
//! path through the branches of S. The routing is the autograd's [`GradientRoute`] on each
//! block's residual add (`LeftOnly`: the branch, `RightOnly`: the skip).
//!
//! From the mean norm m(k) of paths of length k: the total gradient of length k is
//! C(n, k)·m(k) (Fig. 6c), and the *effective* paths are the narrowest range of lengths that
//! carries most of it (the paper: 5 to 17 blocks of 54, 0.45% of all paths).
//!
//! Batch normalisation runs in eval mode (running statistics) by default; in train mode (batch
//! statistics, as during training, where the paper's gradients flow) the backward pass also
//! goes through the batch mean and variance. Either way each sample sees the same network (in
//! train mode the running statistics of the copy are updated but never read), and the caller's
//! model is never changed: the probe works on a copy.

use unravel_autograd::{GradientRoute, Tape};
use unravel_tensor::ops::softmax::Reduction;
use unravel_tensor::{Float, Rng, Tensor};

use crate::config::BlockKind;
use crate::ensemble::copy::duplicate;
use crate::ensemble::evaluate::LabelledBatch;
use crate::ensemble::paths::PathLengths;
use crate::ensemble::stats::Spread;
use crate::error::{ResnetError, Result};
use crate::network::ResNet;
use crate::nn::{Context, Mode, Module, StateMut};

/// A frozen copy of a residual network that computes the input gradient of single paths.
///
/// ```
/// use unravel_resnet::{ensemble::PathGradientProbe, presets};
/// use unravel_tensor::{Rng, Tensor};
/// let options = presets::PresetOptions { widths: Some(vec![2, 3, 4]), ..Default::default() };
/// let model = presets::build::<f64>("resnet20", &options, 0)?;
/// let mut probe = PathGradientProbe::new(&model)?;
/// let images = Tensor::randn(&[2, 3, 8, 8], 0.0, 1.0, &mut Rng::seed_from(1));
/// // The path through the branches of blocks 0 and 5 and the skips of the other seven.
/// let gradient = probe.input_gradient(&images, &[3, 7], &[0, 5])?;
/// assert_eq!(gradient.shape(), &[2, 3, 8, 8]);
/// # Ok::<(), unravel_resnet::ResnetError>(())
/// ```
pub struct PathGradientProbe<E: Float> {
    model: ResNet<E>,
    blocks: usize,
    /// Batch normalisation with running statistics ([`Mode::Eval`], the default) or with the
    /// batch's ([`Mode::Train`]).
    pub mode: Mode,
}

impl<E: Float> PathGradientProbe<E> {
    /// Copies `model` and freezes the copy's parameters, so that the backward pass computes
    /// only the gradient at the input. Errors for a plain network (no skip connections).
    pub fn new(model: &ResNet<E>) -> Result<Self> {
        if model.config.block == BlockKind::Plain {
            return Err(ResnetError::experiment(
                "path gradients",
                "a plain network has one path only: there are no skip connections to route",
            ));
        }
        let mut model = duplicate(model)?;
        model.visit_state_mut("", &mut |_, entry| {
            if let StateMut::Parameter(parameter) = entry {
                parameter.trainable = false;
            }
        });
        let blocks = model.blocks_mut().len();
        Ok(PathGradientProbe {
            model,
            blocks,
            mode: Mode::Eval,
        })
    }

    /// n, the number of residual blocks.
    pub fn blocks(&self) -> usize {
        self.blocks
    }

    /// ∂L/∂x for the single path through the residual branches of `branch_blocks` and the skip
    /// connections of every other block, with L the mean cross-entropy of `labels`; the forward
    /// pass is the whole network's. An empty list gives the all-skip path; all blocks give the
    /// path through every branch.
    pub fn input_gradient(
        &mut self,
        images: &Tensor<E>,
        labels: &[usize],
        branch_blocks: &[usize],
    ) -> Result<Tensor<E>> {
        let mut through_branch = vec![false; self.blocks];
        for &index in branch_blocks {
            match through_branch.get_mut(index) {
                Some(flag) if !*flag => *flag = true,
                Some(_) => {
                    return Err(ResnetError::experiment(
                        "path gradients",
                        format!("block {index} is listed twice"),
                    ))
                }
                None => {
                    return Err(ResnetError::experiment(
                        "path gradients",
                        format!(
                            "block {index} does not exist: the network has {} blocks",
                            self.blocks
                        ),
                    ))
                }
            }
        }
        for (block, &branch) in self.model.blocks_mut().into_iter().zip(&through_branch) {
            // The add is recorded as `branch.add(&shortcut)`: left is F, right is the skip.
            block.route = if branch {
                GradientRoute::LeftOnly
            } else {
                GradientRoute::RightOnly
            };
        }
        let tape = Tape::new();
        let input = tape.leaf(images.clone());
        let mut context = Context::new(&tape, self.mode);
        let logits = self.model.forward(&mut context, &input)?;
        let loss = logits.cross_entropy(labels, Reduction::Mean)?;
        let gradients = tape.backward(&loss)?;
        Ok(gradients
            .get(&input)
            .cloned()
            .unwrap_or_else(|| Tensor::zeros(images.shape())))
    }
}

/// The Euclidean (Frobenius) norm √(Σ x²) of a tensor, accumulated in f64.
pub fn norm<E: Float>(tensor: &Tensor<E>) -> f64 {
    tensor
        .to_vec()
        .iter()
        .map(|v| v.to_f64().powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Settings of [`path_gradient_experiment`].
#[derive(Debug, Clone, PartialEq)]
pub struct PathGradientConfig {
    /// The path lengths k to measure (the paper: 1 … n). Empty means 1 … n.
    pub lengths: Vec<usize>,
    /// Random paths per length (sets of k blocks drawn uniformly without replacement).
    pub samples: usize,
    pub seed: u64,
    /// Batch normalisation mode of the forward pass (see the module documentation).
    pub mode: Mode,
}

impl Default for PathGradientConfig {
    fn default() -> Self {
        PathGradientConfig {
            lengths: Vec::new(),
            samples: 5,
            seed: 0,
            mode: Mode::Eval,
        }
    }
}

/// Input-gradient norms of the sampled paths of one length.
#[derive(Debug, Clone, PartialEq)]
pub struct LengthGradient {
    pub length: usize,
    pub norms: Vec<f64>,
    pub spread: Spread,
}

/// The result of [`path_gradient_experiment`].
#[derive(Debug, Clone, PartialEq)]
pub struct PathGradients {
    pub distribution: PathLengths,
    /// One entry per measured length, in increasing order.
    pub per_length: Vec<LengthGradient>,
}

impl PathGradients {
    /// Total gradient carried by all paths of each measured length: C(n, k)·mean norm(k)
    /// (Fig. 6c), as `(k, total)`.
    pub fn total_gradient(&self) -> Vec<(usize, f64)> {
        self.per_length
            .iter()
            .map(|g| {
                (
                    g.length,
                    self.distribution.count(g.length) as f64 * g.spread.mean,
                )
            })
            .collect()
    }

    /// The narrowest run of consecutive measured lengths `(low, high)` whose total gradient is
    /// at least `mass` of the sum over all measured lengths (the "effective paths").
    pub fn effective_range(&self, mass: f64) -> Option<(usize, usize)> {
        let totals = self.total_gradient();
        let sum: f64 = totals.iter().map(|(_, t)| t).sum();
        if totals.is_empty() || sum.is_nan() || sum <= 0.0 {
            return None;
        }
        let mut best: Option<(usize, usize)> = None;
        for start in 0..totals.len() {
            let mut carried = 0.0;
            for (end, &(_, total)) in totals.iter().enumerate().skip(start) {
                carried += total;
                if carried >= mass * sum {
                    let narrower = match best {
                        None => true,
                        Some((s, e)) => end - start < e - s,
                    };
                    if narrower {
                        best = Some((start, end));
                    }
                    break;
                }
            }
        }
        best.map(|(s, e)| (totals[s].0, totals[e].0))
    }
}

/// Veit et al.'s §5 experiment on one batch: for each length k, `samples` random sets of k
/// blocks, each giving the norm of the single path's gradient at the input.
///
/// ```
/// use unravel_resnet::{ensemble::{path_gradient_experiment, LabelledBatch, PathGradientConfig}, presets};
/// use unravel_tensor::{Rng, Tensor};
/// let options = presets::PresetOptions { widths: Some(vec![2, 3, 4]), ..Default::default() };
/// let model = presets::build::<f32>("resnet20", &options, 0)?;
/// let images = Tensor::randn(&[2, 3, 8, 8], 0.0, 1.0, &mut Rng::seed_from(1));
/// let batch = LabelledBatch::new(images, vec![1, 4])?;
/// let config = PathGradientConfig { samples: 2, ..Default::default() };
/// let result = path_gradient_experiment(&model, &batch, &config)?;
/// assert_eq!(result.per_length.len(), 9); // k = 1 … 9
/// assert!(result.effective_range(0.9).is_some());
/// # Ok::<(), unravel_resnet::ResnetError>(())
/// ```
pub fn path_gradient_experiment<E: Float>(
    model: &ResNet<E>,
    batch: &LabelledBatch<E>,
    config: &PathGradientConfig,
) -> Result<PathGradients> {
    let mut probe = PathGradientProbe::new(model)?;
    probe.mode = config.mode;
    let blocks = probe.blocks();
    let distribution = PathLengths::new(blocks)?;
    let mut lengths = if config.lengths.is_empty() {
        (1..=blocks).collect()
    } else {
        config.lengths.clone()
    };
    lengths.sort_unstable();
    lengths.dedup();
    if let Some(&too_long) = lengths.iter().find(|&&k| k > blocks) {
        return Err(ResnetError::experiment(
            "path gradients",
            format!("paths of length {too_long} asked for, the network has {blocks} blocks"),
        ));
    }
    if config.samples == 0 {
        return Err(ResnetError::experiment(
            "path gradients",
            "at least one sample per length",
        ));
    }
    let mut rng = Rng::seed_from(config.seed);
    let mut per_length = Vec::new();
    for length in lengths {
        let mut norms = Vec::new();
        for _ in 0..config.samples {
            let mut indices: Vec<usize> = (0..blocks).collect();
            rng.shuffle(&mut indices);
            let gradient =
                probe.input_gradient(&batch.images, &batch.labels, &indices[..length])?;
            norms.push(norm(&gradient));
        }
        let spread = Spread::of(&norms);
        per_length.push(LengthGradient {
            length,
            norms,
            spread,
        });
    }
    Ok(PathGradients {
        distribution,
        per_length,
    })
}
