//! Batch norm fused with the ReLU that follows it in a residual branch: `z = max(y, 0)` with
//! `y = γ·(x − μ)·s + β`, one pass over memory instead of two in the forward (`y` is never
//! written), exactly the values of [`batch_norm_train`](super::batch_norm_train) (or
//! [`batch_norm_eval`](super::batch_norm_eval)) followed by [`Tensor::relu`].
//!
//! Backward, from the saved output `z`: the ReLU's mask, then the batch norm's backward,
//!
//! ```text
//! g = dy ⊙ [z > 0]      (dx, dγ, dβ) = batch norm backward of g
//! ```
//!
//! On a GPU the kernels' `relu` flag applies the ReLU in the normalising pass and the mask in
//! both training-mode backward passes; on the CPU (and in evaluation mode on a GPU) the masked
//! gradient is formed first, so the result is that of the unfused pair bit for bit.

use super::eval::eval_forward;
use super::train::{train_backward, train_forward};
use super::{batch_norm_eval_backward, BatchNormGrads, BatchNormTrain};
use crate::error::Result;
use crate::{Float, Tensor};

/// `max(y, 0)` with `y` the training-mode batch norm of [`super::batch_norm_train`] (same
/// arguments, same batch statistics), in one pass.
///
/// ```
/// use unravel_tensor::{ops::batch_norm::batch_norm_train_relu, Tensor};
/// let x = Tensor::<f64>::from_vec(vec![1.0, 3.0], &[2, 1])?; // μ = 2, σ² = 1
/// let result = batch_norm_train_relu(&x, None, None, 0.0)?;
/// assert_eq!(result.output.to_vec(), vec![0.0, 1.0]);      // relu([−1, 1])
/// assert_eq!(result.mean.to_vec(), vec![2.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn batch_norm_train_relu<E: Float>(
    input: &Tensor<E>,
    weight: Option<&Tensor<E>>,
    bias: Option<&Tensor<E>>,
    eps: f64,
) -> Result<BatchNormTrain<E>> {
    train_forward("batch_norm_train_relu", input, weight, bias, eps, true)
}

/// Backward of [`batch_norm_train_relu`]: with `g = dy ⊙ [z > 0]` (`z` = `output`, the
/// forward's), `dγ = Σ g·x̂`, `dβ = Σ g`, `dx = (γ·s/M)·(M·g − Σg − x̂·Σ g·x̂)`.
///
/// ```
/// use unravel_tensor::ops::batch_norm::{batch_norm_train_relu, batch_norm_train_relu_backward};
/// use unravel_tensor::Tensor;
/// let x = Tensor::<f64>::from_vec(vec![1.0, 3.0], &[2, 1])?;
/// let forward = batch_norm_train_relu(&x, None, None, 0.0)?;
/// let dy = Tensor::<f64>::ones(&[2, 1]);
/// let grads = batch_norm_train_relu_backward(
///     &dy, &forward.output, &x, None, &forward.mean, &forward.inverse_std)?;
/// assert_eq!(grads.grad_bias.to_vec(), vec![1.0]); // only the positive output passes
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn batch_norm_train_relu_backward<E: Float>(
    grad_output: &Tensor<E>,
    output: &Tensor<E>,
    input: &Tensor<E>,
    weight: Option<&Tensor<E>>,
    mean: &Tensor<E>,
    inverse_std: &Tensor<E>,
) -> Result<BatchNormGrads<E>> {
    train_backward(
        "batch_norm_train_relu_backward",
        grad_output,
        Some(output),
        input,
        weight,
        mean,
        inverse_std,
    )
}

/// `max(y, 0)` with `y` the evaluation-mode batch norm of [`super::batch_norm_eval`] (running
/// statistics), in one pass.
///
/// ```
/// use unravel_tensor::{ops::batch_norm::batch_norm_eval_relu, Tensor};
/// let x = Tensor::<f32>::from_vec(vec![-3.0, 5.0], &[2, 1])?;
/// let (mean, var) = (Tensor::from_vec(vec![1.0], &[1])?, Tensor::from_vec(vec![4.0], &[1])?);
/// let y = batch_norm_eval_relu(&x, &mean, &var, None, None, 0.0)?;
/// assert_eq!(y.to_vec(), vec![0.0, 2.0]); // relu([−2, 2])
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn batch_norm_eval_relu<E: Float>(
    input: &Tensor<E>,
    running_mean: &Tensor<E>,
    running_var: &Tensor<E>,
    weight: Option<&Tensor<E>>,
    bias: Option<&Tensor<E>>,
    eps: f64,
) -> Result<Tensor<E>> {
    let statistics = (running_mean, running_var);
    eval_forward(
        "batch_norm_eval_relu",
        input,
        statistics,
        weight,
        bias,
        eps,
        true,
    )
}

/// Backward of [`batch_norm_eval_relu`]: `g = dy ⊙ [z > 0]` (`z` = `output`), then
/// `dx = γ·s_r·g`, `dγ = Σ g·(x − μ_r)·s_r`, `dβ = Σ g`.
///
/// ```
/// use unravel_tensor::ops::batch_norm::{batch_norm_eval_relu, batch_norm_eval_relu_backward};
/// use unravel_tensor::Tensor;
/// let x = Tensor::<f64>::from_vec(vec![-3.0, 5.0], &[2, 1])?;
/// let (mean, var) = (Tensor::from_vec(vec![1.0], &[1])?, Tensor::from_vec(vec![4.0], &[1])?);
/// let z = batch_norm_eval_relu(&x, &mean, &var, None, None, 0.0)?;
/// let dy = Tensor::<f64>::ones(&[2, 1]);
/// let grads = batch_norm_eval_relu_backward(&dy, &z, &x, &mean, &var, None, 0.0)?;
/// assert_eq!(grads.grad_input.to_vec(), vec![0.0, 0.5]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn batch_norm_eval_relu_backward<E: Float>(
    grad_output: &Tensor<E>,
    output: &Tensor<E>,
    input: &Tensor<E>,
    running_mean: &Tensor<E>,
    running_var: &Tensor<E>,
    weight: Option<&Tensor<E>>,
    eps: f64,
) -> Result<BatchNormGrads<E>> {
    let masked = output.relu_backward(grad_output)?;
    batch_norm_eval_backward(&masked, input, running_mean, running_var, weight, eps)
}
