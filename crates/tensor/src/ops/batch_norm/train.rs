//! Training-mode batch norm: batch statistics, normalisation, and the closed-form backward
//! derived in the [module docs](super).

use super::statistics::{channel_moments, channel_sums, for_each_plane_mut, plane_grad_sums};
use super::{
    channel_tensor, channel_values, check_eps, check_input, check_same_shape, BatchNormGrads,
    BatchNormTrain,
};
use crate::error::{Result, TensorError};
use crate::{Float, Tensor};

/// Batch norm in training mode over `input` `[N, C, *]`, normalising with the batch statistics:
/// `y = γ·(x − μ)/√(σ² + ε) + β`, with μ and the biased σ² taken per channel over `N·H·W` values.
///
/// `weight` (γ) and `bias` (β) are `[C]`; `None` means γ = 1, β = 0. Returns the output and the
/// statistics ([`BatchNormTrain`]); feed `mean` and `variance` to [`super::update_running_statistics`]
/// and `mean`, `inverse_std` to [`batch_norm_train_backward`]. Fails with fewer than two values
/// per channel (as PyTorch: the variance of one value is not informative).
///
/// ```
/// use unravel_tensor::{ops::batch_norm::batch_norm_train, Tensor};
/// // One channel holding 1, 2, 3, 4 (N = 2, H·W = 2): μ = 2.5, σ² = 1.25.
/// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 1, 2, 1])?;
/// let result = batch_norm_train(&x, None, None, 0.0)?;
/// assert_eq!(result.mean.to_vec(), vec![2.5]);
/// assert_eq!(result.variance.to_vec(), vec![1.25]);
/// let y = result.output.to_vec();
/// assert!((y[0] + 1.5 / 1.25f64.sqrt()).abs() < 1e-12);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn batch_norm_train<E: Float>(
    input: &Tensor<E>,
    weight: Option<&Tensor<E>>,
    bias: Option<&Tensor<E>>,
    eps: f64,
) -> Result<BatchNormTrain<E>> {
    train_forward("batch_norm_train", input, weight, bias, eps, false)
}

/// [`batch_norm_train`], then `max(y, 0)` in the same pass when `relu` (the ReLU exactly as
/// [`Tensor::relu`] computes it: `y < 0 ? 0 : y`, NaN kept).
pub(super) fn train_forward<E: Float>(
    op: &'static str,
    input: &Tensor<E>,
    weight: Option<&Tensor<E>>,
    bias: Option<&Tensor<E>>,
    eps: f64,
    relu: bool,
) -> Result<BatchNormTrain<E>> {
    let layout = check_input(op, input.shape())?;
    if layout.batch == 0 {
        return Err(TensorError::invalid(
            op,
            format!("empty batch: input shape {:?}", input.shape()),
        ));
    }
    let count = layout.count();
    if count < 2 {
        return Err(TensorError::invalid(
            op,
            format!(
                "expected more than one value per channel in training, got input shape {:?}",
                input.shape()
            ),
        ));
    }
    check_eps(op, eps)?;
    #[cfg(feature = "cuda")]
    if crate::cuda::launch::is_cuda(input) {
        super::check_channel_shapes(op, layout.channels, &[("weight", weight), ("bias", bias)])?;
        let channels = (layout.batch, layout.channels, layout.spatial);
        return crate::cuda::ops::normalization::train(
            op, input, weight, bias, eps, channels, relu,
        );
    }
    let gamma = channel_values(op, "weight", weight, layout.channels, 1.0)?;
    let beta = channel_values(op, "bias", bias, layout.channels, 0.0)?;
    let x = input.contiguous_data(op)?;
    let spatial = layout.spatial;

    // μ and σ² = Σ(x − μ)²/M per channel: two-pass per plane (no cancellation, unlike
    // E[x²] − μ²), planes merged exactly; one sweep over memory.
    let moments = channel_moments(&x, layout);
    let mean: Vec<f64> = moments.iter().map(|m| m.mean()).collect();
    let variance: Vec<f64> = moments.iter().map(|m| m.variance()).collect();
    let inverse_std: Vec<f64> = variance.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();

    // y = (x − μ)·(γ·s) + β, per channel constants in E.
    let mean_e: Vec<E> = mean.iter().map(|&v| E::from_f64(v)).collect();
    let scale: Vec<E> = gamma
        .iter()
        .zip(&inverse_std)
        .map(|(g, s)| E::from_f64(g * s))
        .collect();
    let shift: Vec<E> = beta.iter().map(|&b| E::from_f64(b)).collect();
    let mut output = crate::buffer::filled(op, input.shape(), E::ZERO)?;
    for_each_plane_mut(&mut output, layout, |c, offset, out| {
        let (m, k, b) = (mean_e[c], scale[c], shift[c]);
        let values = out.iter_mut().zip(&x[offset..offset + spatial]);
        if relu {
            for (y, &v) in values {
                let t = (v - m) * k + b;
                *y = if t < E::ZERO { E::ZERO } else { t };
            }
        } else {
            for (y, &v) in values {
                *y = (v - m) * k + b;
            }
        }
    });
    Ok(BatchNormTrain {
        output: Tensor::from_vec(output, input.shape())?,
        mean: channel_tensor(&mean)?,
        variance: channel_tensor(&variance)?,
        inverse_std: channel_tensor(&inverse_std)?,
    })
}

/// Backward of [`batch_norm_train`]: with `x̂ = (x − μ)·s` and `M = N·H·W` values per channel,
///
/// ```text
/// dγ = Σ dy·x̂      dβ = Σ dy      dx = (γ·s/M)·(M·dy − Σdy − x̂·Σ(dy·x̂))
/// ```
///
/// `mean` and `inverse_std` are the `[C]` tensors the forward returned; `weight` is the forward's
/// γ (`None` for γ = 1).
///
/// ```
/// use unravel_tensor::{ops::batch_norm::{batch_norm_train, batch_norm_train_backward}, Tensor};
/// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 4.0, 7.0], &[4, 1])?;
/// let forward = batch_norm_train(&x, None, None, 1e-5)?;
/// // A constant upstream gradient: normalisation removes shifts, so dx = 0.
/// let dy = Tensor::<f64>::ones(&[4, 1]);
/// let grads = batch_norm_train_backward(&dy, &x, None, &forward.mean, &forward.inverse_std)?;
/// assert!(grads.grad_input.to_vec().iter().all(|g| g.abs() < 1e-12));
/// assert_eq!(grads.grad_bias.to_vec(), vec![4.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn batch_norm_train_backward<E: Float>(
    grad_output: &Tensor<E>,
    input: &Tensor<E>,
    weight: Option<&Tensor<E>>,
    mean: &Tensor<E>,
    inverse_std: &Tensor<E>,
) -> Result<BatchNormGrads<E>> {
    train_backward(
        "batch_norm_train_backward",
        grad_output,
        None,
        input,
        weight,
        mean,
        inverse_std,
    )
}

/// [`batch_norm_train_backward`] of `dy ⊙ [y > 0]` when `relu_output` is the forward's output
/// `y` (the backward of [`super::batch_norm_train_relu`]): on a GPU the kernels' `relu` flag
/// masks inside both passes; on the CPU the masked gradient is formed first.
pub(super) fn train_backward<E: Float>(
    op: &'static str,
    grad_output: &Tensor<E>,
    relu_output: Option<&Tensor<E>>,
    input: &Tensor<E>,
    weight: Option<&Tensor<E>>,
    mean: &Tensor<E>,
    inverse_std: &Tensor<E>,
) -> Result<BatchNormGrads<E>> {
    let layout = check_input(op, input.shape())?;
    check_same_shape(op, grad_output, input)?;
    if let Some(output) = relu_output {
        check_same_shape(op, output, input)?;
    }
    if layout.batch == 0 {
        return Err(TensorError::invalid(
            op,
            format!("empty batch: input shape {:?}", input.shape()),
        ));
    }
    let channels = layout.channels;
    #[cfg(feature = "cuda")]
    if crate::cuda::launch::is_cuda(input) {
        super::check_channel_shapes(
            op,
            channels,
            &[
                ("weight", weight),
                ("mean", Some(mean)),
                ("inverse_std", Some(inverse_std)),
            ],
        )?;
        let shape = (layout.batch, layout.channels, layout.spatial);
        return crate::cuda::ops::normalization::train_backward(
            op,
            grad_output,
            input,
            weight,
            relu_output,
            mean,
            inverse_std,
            shape,
        );
    }
    let masked = match relu_output {
        Some(output) => Some(output.relu_backward(grad_output)?),
        None => None,
    };
    let grad_output = masked.as_ref().unwrap_or(grad_output);
    let gamma = channel_values(op, "weight", weight, channels, 1.0)?;
    let mean = channel_values(op, "mean", Some(mean), channels, 0.0)?;
    let inverse_std = channel_values(op, "inverse_std", Some(inverse_std), channels, 0.0)?;
    let x = input.contiguous_data(op)?;
    let dy = grad_output.contiguous_data(op)?;
    let spatial = layout.spatial;
    let count = layout.count() as f64;

    // [Σdy, Σdy·(x − μ)] per channel; Σdy·x̂ = s·Σdy·(x − μ).
    let sums = channel_sums(layout, |c, offset| {
        let range = offset..offset + spatial;
        plane_grad_sums(&dy[range.clone()], &x[range], mean[c])
    });
    let sum_dy: Vec<f64> = sums.iter().map(|s| s[0]).collect();
    let sum_dy_xhat: Vec<f64> = sums
        .iter()
        .zip(&inverse_std)
        .map(|(s, inv)| s[1] * inv)
        .collect();

    // dx = k·dy − k·(Σdy/M) − k·s·(Σdy·x̂/M)·(x − μ), with k = γ·s:
    // dx = α·dy + β·(x − μ) + δ per channel.
    let mut alpha = Vec::with_capacity(channels);
    let mut beta = Vec::with_capacity(channels);
    let mut delta = Vec::with_capacity(channels);
    for c in 0..channels {
        let k = gamma[c] * inverse_std[c];
        alpha.push(E::from_f64(k));
        beta.push(E::from_f64(-k * inverse_std[c] * sum_dy_xhat[c] / count));
        delta.push(E::from_f64(-k * sum_dy[c] / count));
    }
    let mean_e: Vec<E> = mean.iter().map(|&v| E::from_f64(v)).collect();
    let mut grad_input = crate::buffer::filled(op, input.shape(), E::ZERO)?;
    for_each_plane_mut(&mut grad_input, layout, |c, offset, dx| {
        let (a, b, d, m) = (alpha[c], beta[c], delta[c], mean_e[c]);
        let range = offset..offset + spatial;
        for ((out, &g), &v) in dx.iter_mut().zip(&dy[range.clone()]).zip(&x[range]) {
            *out = a * g + b * (v - m) + d;
        }
    });
    Ok(BatchNormGrads {
        grad_input: Tensor::from_vec(grad_input, input.shape())?,
        grad_weight: channel_tensor(&sum_dy_xhat)?,
        grad_bias: channel_tensor(&sum_dy)?,
    })
}
