//! Batch normalisation (Ioffe & Szegedy, 2015, §3), PyTorch's `BatchNorm{1,2}d` semantics, over
//! `[N, C, H, W]` (or any `[N, C, *]`, including `[N, C]`): one set of statistics per channel `c`,
//! taken over the `M = N·H·W` values of that channel.
//!
//! # Forward
//!
//! ```text
//! μ = (1/M) Σᵢ xᵢ          σ² = (1/M) Σᵢ (xᵢ − μ)²  (biased)          s = 1/√(σ² + ε)
//! x̂ᵢ = (xᵢ − μ)·s          yᵢ = γ·x̂ᵢ + β
//! ```
//!
//! In training ([`batch_norm_train`]) μ and σ² are the batch's; the running estimates used in
//! evaluation ([`batch_norm_eval`]) follow `r ← (1 − m)·r + m·batch` with the *unbiased* batch
//! variance `σ²·M/(M − 1)` ([`update_running_statistics`]).
//!
//! # Backward in training mode, derived
//!
//! γ and β enter linearly: `∂L/∂β = Σᵢ dyᵢ`, `∂L/∂γ = Σᵢ dyᵢ·x̂ᵢ`, and `∂L/∂x̂ᵢ = γ·dyᵢ`. Each x̂ᵢ
//! depends on every xⱼ of the channel through μ and s:
//!
//! ```text
//! ∂μ/∂xⱼ = 1/M
//! ∂σ²/∂xⱼ = (2/M)(xⱼ − μ)           (the term through μ is (2/M)·Σᵢ(xᵢ − μ)·(−1) = 0)
//! ∂s/∂xⱼ  = −½·s³·∂σ²/∂xⱼ = −s³·(xⱼ − μ)/M
//! ∂x̂ᵢ/∂xⱼ = s·(δᵢⱼ − 1/M) + (xᵢ − μ)·∂s/∂xⱼ = s·(δᵢⱼ − 1/M − x̂ᵢ·x̂ⱼ/M)
//! ```
//!
//! so, by the chain rule, `dxⱼ = Σᵢ γ·dyᵢ·∂x̂ᵢ/∂xⱼ`:
//!
//! ```text
//! dxⱼ = (γ·s/M) · (M·dyⱼ − Σᵢ dyᵢ − x̂ⱼ · Σᵢ dyᵢ·x̂ᵢ)
//! ```
//!
//! Two per-channel sums (Σdy, Σdy·x̂) and one elementwise pass: [`batch_norm_train_backward`]. In
//! evaluation μ and s are constants, so `dx = γ·s·dy` ([`batch_norm_eval_backward`]).
//!
//! # Kernels
//!
//! Statistics are two-pass (mean, then squared deviations from it) within each `(n, c)` plane,
//! which stays in cache, accumulated in `f64` for both element types; planes run in parallel and
//! are merged per channel in a fixed order with Chan's pairwise formula, so the input is read
//! from memory once and the result is bit-identical for any number of threads. Gradient sums are
//! formed the same way. Files: `train.rs`, `eval.rs`,
//! `relu.rs` (batch norm fused with the ReLU after it), `running.rs`, `statistics.rs` (the shared reductions), [`reference`](mod@reference) (plain versions).

mod eval;
pub mod reference;
mod relu;
mod running;
mod statistics;
mod train;

pub use eval::{batch_norm_eval, batch_norm_eval_backward};
pub use relu::{
    batch_norm_eval_relu, batch_norm_eval_relu_backward, batch_norm_train_relu,
    batch_norm_train_relu_backward,
};
pub use running::update_running_statistics;
pub use train::{batch_norm_train, batch_norm_train_backward};

use crate::error::{Result, TensorError};
use crate::{Float, Tensor};

/// What [`batch_norm_train`] returns: the normalised output and the batch statistics, all `[C]`
/// except `output`.
#[derive(Debug, Clone)]
pub struct BatchNormTrain<E: Float> {
    /// `y = γ·(x − μ)·s + β`, the shape of the input.
    pub output: Tensor<E>,
    /// Per-channel batch mean μ, `[C]`.
    pub mean: Tensor<E>,
    /// Per-channel biased batch variance σ² = (1/M) Σ (x − μ)², the one used to normalise, `[C]`.
    pub variance: Tensor<E>,
    /// Per-channel `s = 1/√(σ² + ε)`, saved for [`batch_norm_train_backward`], `[C]`.
    pub inverse_std: Tensor<E>,
}

/// Gradients of a batch norm with respect to its input and its affine parameters.
///
/// `grad_weight` and `grad_bias` are computed even when the layer has no affine parameters
/// (they are then the gradients with respect to an implicit γ = 1, β = 0); ignore them there.
#[derive(Debug, Clone)]
pub struct BatchNormGrads<E: Float> {
    /// ∂L/∂x, the shape of the input.
    pub grad_input: Tensor<E>,
    /// ∂L/∂γ = Σ dy·x̂ per channel, `[C]`.
    pub grad_weight: Tensor<E>,
    /// ∂L/∂β = Σ dy per channel, `[C]`.
    pub grad_bias: Tensor<E>,
}

/// `[N, C, *]` seen as `batch` rows of `channels` contiguous planes of `spatial` elements.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChannelLayout {
    pub(crate) batch: usize,
    pub(crate) channels: usize,
    pub(crate) spatial: usize,
}

impl ChannelLayout {
    /// Values per channel, `M = N·H·W`.
    pub(crate) fn count(&self) -> usize {
        self.batch * self.spatial
    }
}

/// Checks that `shape` is `[N, C, *]` with `C ≥ 1` and non-empty spatial axes.
pub(crate) fn check_input(op: &'static str, shape: &[usize]) -> Result<ChannelLayout> {
    if shape.len() < 2 {
        return Err(TensorError::Rank {
            op,
            expected: 4,
            shape: shape.to_vec(),
        });
    }
    if shape[1..].contains(&0) {
        return Err(TensorError::invalid(
            op,
            format!("input of shape {shape:?} has an empty channel or spatial axis"),
        ));
    }
    Ok(ChannelLayout {
        batch: shape[0],
        channels: shape[1],
        spatial: shape[2..].iter().product(),
    })
}

/// Checks `eps` (finite, ≥ 0).
pub(crate) fn check_eps(op: &'static str, eps: f64) -> Result<()> {
    if eps.is_finite() && eps >= 0.0 {
        Ok(())
    } else {
        Err(TensorError::invalid(
            op,
            format!("eps {eps} must be finite and non-negative"),
        ))
    }
}

/// The values of a per-channel parameter `[C]` as `f64` (`default` everywhere when absent).
pub(crate) fn channel_values<E: Float>(
    op: &'static str,
    name: &str,
    tensor: Option<&Tensor<E>>,
    channels: usize,
    default: f64,
) -> Result<Vec<f64>> {
    let Some(tensor) = tensor else {
        // `channels` comes from the input's shape, which a view can make huge.
        return crate::buffer::filled(op, &[channels], default);
    };
    if tensor.shape() != [channels] {
        return Err(TensorError::invalid(
            op,
            format!(
                "{name} has shape {:?}, expected [{channels}] (one value per channel)",
                tensor.shape()
            ),
        ));
    }
    Ok(tensor
        .contiguous_data(op)?
        .iter()
        .map(|v| v.to_f64())
        .collect())
}

/// Checks that each given per-channel tensor has shape `[channels]` (the GPU arms read them as
/// dense `[C]` buffers, so a wrong shape must fail here, not read out of bounds).
#[cfg(feature = "cuda")]
pub(crate) fn check_channel_shapes<E: Float>(
    op: &'static str,
    channels: usize,
    tensors: &[(&str, Option<&Tensor<E>>)],
) -> Result<()> {
    for (name, tensor) in tensors {
        if let Some(tensor) = tensor {
            if tensor.shape() != [channels] {
                return Err(TensorError::invalid(
                    op,
                    format!(
                        "{name} has shape {:?}, expected [{channels}] (one value per channel)",
                        tensor.shape()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A `[C]` tensor from per-channel `f64` values.
pub(crate) fn channel_tensor<E: Float>(values: &[f64]) -> Result<Tensor<E>> {
    Tensor::from_vec(
        values.iter().map(|&v| E::from_f64(v)).collect(),
        &[values.len()],
    )
}

/// Checks that `grad_output` has the input's shape.
pub(crate) fn check_same_shape<E: Float>(
    op: &'static str,
    grad_output: &Tensor<E>,
    input: &Tensor<E>,
) -> Result<()> {
    if grad_output.shape() != input.shape() {
        return Err(TensorError::ShapeMismatch {
            op,
            lhs: grad_output.shape().to_vec(),
            rhs: input.shape().to_vec(),
        });
    }
    Ok(())
}
