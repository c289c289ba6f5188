//! Cross-entropy of logits against class indices, computed through log-softmax.
//!
//! ```text
//! ℓₙ = −log_softmax(xₙ)[tₙ] = mₙ + ln Σ_c exp(xₙ,c − mₙ) − xₙ,tₙ        (mₙ = max_c xₙ,c)
//! L  = Σₙ ℓₙ  (Sum)   or   (1/N) Σₙ ℓₙ  (Mean, PyTorch's default)
//! ∂L/∂xₙ,c = g·(softmax(xₙ)_c − [c = tₙ])  (·1/N for Mean)
//! ```
//!
//! Each row is computed in `f64` (also for `f32` logits) and the rows are added in order.

use rayon::prelude::*;

use crate::error::{Result, TensorError};
use crate::{Float, Tensor};

/// Rows are processed in parallel from this many logits on (each row by one thread; the loss
/// adds the per-row values in row order, so the thread count never changes a result).
const PARALLEL_THRESHOLD: usize = 1 << 15;

/// How per-sample losses are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Reduction {
    /// The average over the batch (PyTorch's default).
    #[default]
    Mean,
    /// The sum over the batch.
    Sum,
}

/// Checks `[N, C]` logits against `targets` and returns `(N, C)`.
fn check(op: &'static str, logits: &[usize], targets: &[usize]) -> Result<(usize, usize)> {
    if logits.len() != 2 {
        return Err(TensorError::Rank {
            op,
            expected: 2,
            shape: logits.to_vec(),
        });
    }
    let (n, c) = (logits[0], logits[1]);
    if n == 0 {
        return Err(TensorError::invalid(
            op,
            format!("empty batch: logits of shape {logits:?}"),
        ));
    }
    if targets.len() != n {
        return Err(TensorError::invalid(
            op,
            format!(
                "{} targets for logits of shape {logits:?} (one per row expected)",
                targets.len()
            ),
        ));
    }
    if let Some((row, &target)) = targets.iter().enumerate().find(|(_, &t)| t >= c) {
        return Err(TensorError::invalid(
            op,
            format!("target {target} of row {row} is not below the number of classes {c} (logits {logits:?})"),
        ));
    }
    Ok((n, c))
}

/// `(m, ln Σ exp(x − m))` of one row, in `f64`.
fn log_sum_exp<E: Float>(row: &[E]) -> (f64, f64) {
    let max = row.iter().fold(f64::NEG_INFINITY, |m, v| m.max(v.to_f64()));
    let sum: f64 = row.iter().map(|v| (v.to_f64() - max).exp()).sum();
    (max, sum.ln())
}

/// Cross-entropy of `logits` `[N, C]` against `targets` (`N` class indices below `C`), as a
/// rank-0 tensor: `ℓₙ = −log_softmax(xₙ)[tₙ]`, summed or averaged over the batch.
///
/// ```
/// use unravel_tensor::{ops::softmax::{cross_entropy, Reduction}, Tensor};
/// // Uniform logits over 4 classes: the loss is ln 4 whatever the target.
/// let logits = Tensor::<f64>::zeros(&[2, 4]);
/// let loss = cross_entropy(&logits, &[0, 3], Reduction::Mean)?;
/// assert_eq!(loss.shape(), &[] as &[usize]);
/// assert!((loss.item()? - 4f64.ln()).abs() < 1e-15);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn cross_entropy<E: Float>(
    logits: &Tensor<E>,
    targets: &[usize],
    reduction: Reduction,
) -> Result<Tensor<E>> {
    const OP: &str = "cross_entropy";
    let (n, c) = check(OP, logits.shape(), targets)?;
    #[cfg(feature = "cuda")]
    if crate::cuda::launch::is_cuda(logits) {
        return crate::cuda::ops::softmax::cross_entropy(OP, logits, targets, reduction);
    }
    let x = logits.contiguous_data(OP)?;
    let row_loss = |row: usize| {
        let values = &x[row * c..(row + 1) * c];
        let (max, log_sum) = log_sum_exp(values);
        max + log_sum - values[targets[row]].to_f64()
    };
    let losses: Vec<f64> = if n * c >= PARALLEL_THRESHOLD {
        (0..n).into_par_iter().map(row_loss).collect()
    } else {
        (0..n).map(row_loss).collect()
    };
    let total: f64 = losses.iter().sum();
    let loss = match reduction {
        Reduction::Mean => total / n as f64,
        Reduction::Sum => total,
    };
    Ok(Tensor::scalar(E::from_f64(loss)))
}

/// Gradient of [`cross_entropy`] with respect to the logits, `[N, C]`:
/// `g·(softmax(xₙ) − onehot(tₙ))`, divided by `N` for [`Reduction::Mean`]; `grad_loss` is `g`,
/// the gradient flowing into the loss (1 when it is the final loss).
///
/// ```
/// use unravel_tensor::{ops::softmax::{cross_entropy_backward, Reduction}, Tensor};
/// let logits = Tensor::<f64>::zeros(&[1, 2]);
/// let grad = cross_entropy_backward(&logits, &[1], Reduction::Sum, 1.0)?;
/// assert_eq!(grad.to_vec(), vec![0.5, -0.5]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn cross_entropy_backward<E: Float>(
    logits: &Tensor<E>,
    targets: &[usize],
    reduction: Reduction,
    grad_loss: E,
) -> Result<Tensor<E>> {
    const OP: &str = "cross_entropy_backward";
    let (n, c) = check(OP, logits.shape(), targets)?;
    #[cfg(feature = "cuda")]
    if crate::cuda::launch::is_cuda(logits) {
        return crate::cuda::ops::softmax::cross_entropy_backward(
            OP, logits, targets, reduction, grad_loss,
        );
    }
    let x = logits.contiguous_data(OP)?;
    let scale = match reduction {
        Reduction::Mean => grad_loss.to_f64() / n as f64,
        Reduction::Sum => grad_loss.to_f64(),
    };
    let mut grad = crate::buffer::filled(OP, &[n, c], E::ZERO)?;
    let row_grad = |row: usize, out: &mut [E]| {
        let values = &x[row * c..(row + 1) * c];
        let max = values
            .iter()
            .fold(f64::NEG_INFINITY, |m, v| m.max(v.to_f64()));
        // One exponential per logit: exp(x − m) is kept in `out` until the sum is known.
        let mut sum = 0.0f64;
        for (g, v) in out.iter_mut().zip(values) {
            let e = (v.to_f64() - max).exp();
            sum += e;
            *g = E::from_f64(e);
        }
        for (class, g) in out.iter_mut().enumerate() {
            let p = g.to_f64() / sum;
            let onehot = if class == targets[row] { 1.0 } else { 0.0 };
            *g = E::from_f64(scale * (p - onehot));
        }
    };
    if n * c >= PARALLEL_THRESHOLD {
        grad.par_chunks_mut(c)
            .enumerate()
            .for_each(|(row, out)| row_grad(row, out));
    } else {
        grad.chunks_mut(c)
            .enumerate()
            .for_each(|(row, out)| row_grad(row, out));
    }
    Tensor::from_vec(grad, &[n, c])
}
