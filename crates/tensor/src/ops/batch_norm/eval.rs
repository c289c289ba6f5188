//! Evaluation-mode batch norm: normalisation with the running statistics, which are constants,
//! so the backward is a per-channel scale.

use super::statistics::{channel_sums, for_each_plane_mut, plane_grad_sums};
use super::{
    channel_tensor, channel_values, check_eps, check_input, check_same_shape, BatchNormGrads,
};
use crate::error::Result;
use crate::{Float, Tensor};

/// Batch norm in evaluation mode: `y = γ·(x − μ_r)/√(σ²_r + ε) + β` with the running mean μ_r
/// and running variance σ²_r (`[C]` each), over `input` `[N, C, *]`.
///
/// ```
/// use unravel_tensor::{ops::batch_norm::batch_norm_eval, Tensor};
/// let x = Tensor::<f32>::from_vec(vec![3.0, 5.0], &[2, 1])?;
/// let running_mean = Tensor::<f32>::from_vec(vec![1.0], &[1])?;
/// let running_var = Tensor::<f32>::from_vec(vec![4.0], &[1])?;
/// let y = batch_norm_eval(&x, &running_mean, &running_var, None, None, 0.0)?;
/// assert_eq!(y.to_vec(), vec![1.0, 2.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn batch_norm_eval<E: Float>(
    input: &Tensor<E>,
    running_mean: &Tensor<E>,
    running_var: &Tensor<E>,
    weight: Option<&Tensor<E>>,
    bias: Option<&Tensor<E>>,
    eps: f64,
) -> Result<Tensor<E>> {
    let statistics = (running_mean, running_var);
    eval_forward(
        "batch_norm_eval",
        input,
        statistics,
        weight,
        bias,
        eps,
        false,
    )
}

/// [`batch_norm_eval`], then `max(y, 0)` in the same pass when `relu` (the ReLU exactly as
/// [`Tensor::relu`] computes it: `y < 0 ? 0 : y`, NaN kept).
pub(super) fn eval_forward<E: Float>(
    op: &'static str,
    input: &Tensor<E>,
    (running_mean, running_var): (&Tensor<E>, &Tensor<E>),
    weight: Option<&Tensor<E>>,
    bias: Option<&Tensor<E>>,
    eps: f64,
    relu: bool,
) -> Result<Tensor<E>> {
    let layout = check_input(op, input.shape())?;
    check_eps(op, eps)?;
    let channels = layout.channels;
    #[cfg(feature = "cuda")]
    if crate::cuda::launch::is_cuda(input) {
        super::check_channel_shapes(
            op,
            channels,
            &[
                ("running_mean", Some(running_mean)),
                ("running_var", Some(running_var)),
                ("weight", weight),
                ("bias", bias),
            ],
        )?;
        let shape = (layout.batch, layout.channels, layout.spatial);
        return crate::cuda::ops::normalization::eval(
            op,
            input,
            running_mean,
            running_var,
            weight,
            bias,
            eps,
            shape,
            relu,
        );
    }
    let mean = channel_values(op, "running_mean", Some(running_mean), channels, 0.0)?;
    let var = channel_values(op, "running_var", Some(running_var), channels, 0.0)?;
    let gamma = channel_values(op, "weight", weight, channels, 1.0)?;
    let beta = channel_values(op, "bias", bias, channels, 0.0)?;
    let x = input.contiguous_data(op)?;
    let mean_e: Vec<E> = mean.iter().map(|&v| E::from_f64(v)).collect();
    let scale: Vec<E> = (0..channels)
        .map(|c| E::from_f64(gamma[c] / (var[c] + eps).sqrt()))
        .collect();
    let shift: Vec<E> = beta.iter().map(|&b| E::from_f64(b)).collect();
    let spatial = layout.spatial;
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
    Tensor::from_vec(output, input.shape())
}

/// Backward of [`batch_norm_eval`], with `s_r = 1/√(σ²_r + ε)` constant:
///
/// ```text
/// dx = γ·s_r·dy      dγ = Σ dy·(x − μ_r)·s_r      dβ = Σ dy
/// ```
///
/// ```
/// use unravel_tensor::{ops::batch_norm::batch_norm_eval_backward, Tensor};
/// let x = Tensor::<f64>::from_vec(vec![3.0, 5.0], &[2, 1])?;
/// let dy = Tensor::<f64>::from_vec(vec![1.0, 1.0], &[2, 1])?;
/// let mean = Tensor::<f64>::from_vec(vec![1.0], &[1])?;
/// let var = Tensor::<f64>::from_vec(vec![4.0], &[1])?;
/// let grads = batch_norm_eval_backward(&dy, &x, &mean, &var, None, 0.0)?;
/// assert_eq!(grads.grad_input.to_vec(), vec![0.5, 0.5]);
/// assert_eq!(grads.grad_weight.to_vec(), vec![3.0]); // (2 + 4)/2
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn batch_norm_eval_backward<E: Float>(
    grad_output: &Tensor<E>,
    input: &Tensor<E>,
    running_mean: &Tensor<E>,
    running_var: &Tensor<E>,
    weight: Option<&Tensor<E>>,
    eps: f64,
) -> Result<BatchNormGrads<E>> {
    const OP: &str = "batch_norm_eval_backward";
    let layout = check_input(OP, input.shape())?;
    check_same_shape(OP, grad_output, input)?;
    check_eps(OP, eps)?;
    let channels = layout.channels;
    #[cfg(feature = "cuda")]
    if crate::cuda::launch::is_cuda(input) {
        super::check_channel_shapes(
            OP,
            channels,
            &[
                ("running_mean", Some(running_mean)),
                ("running_var", Some(running_var)),
                ("weight", weight),
            ],
        )?;
        let shape = (layout.batch, layout.channels, layout.spatial);
        return crate::cuda::ops::normalization::eval_backward(
            OP,
            grad_output,
            input,
            running_mean,
            running_var,
            weight,
            eps,
            shape,
        );
    }
    let mean = channel_values(OP, "running_mean", Some(running_mean), channels, 0.0)?;
    let var = channel_values(OP, "running_var", Some(running_var), channels, 0.0)?;
    let gamma = channel_values(OP, "weight", weight, channels, 1.0)?;
    let inverse_std: Vec<f64> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    let x = input.contiguous_data(OP)?;
    let dy = grad_output.contiguous_data(OP)?;
    let spatial = layout.spatial;
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
    let scale: Vec<E> = (0..channels)
        .map(|c| E::from_f64(gamma[c] * inverse_std[c]))
        .collect();
    let mut grad_input = crate::buffer::filled(OP, input.shape(), E::ZERO)?;
    for_each_plane_mut(&mut grad_input, layout, |c, offset, dx| {
        let k = scale[c];
        for (out, &g) in dx.iter_mut().zip(&dy[offset..offset + spatial]) {
            *out = g * k;
        }
    });
    Ok(BatchNormGrads {
        grad_input: Tensor::from_vec(grad_input, input.shape())?,
        grad_weight: channel_tensor(&sum_dy_xhat)?,
        grad_bias: channel_tensor(&sum_dy)?,
    })
}
