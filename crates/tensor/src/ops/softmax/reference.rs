//! Plain reference softmax family: direct loops in `f64` over the multi-index, read through
//! [`Tensor::get`] so any layout works. The tests compare the fast kernels against these.

use crate::error::Result;
use crate::{Float, Tensor};

/// Calls `lane(indices)` with the multi-indices of every lane along `axis` (row-major order).
fn for_each_lane(
    shape: &[usize],
    axis: usize,
    mut lane: impl FnMut(Vec<Vec<usize>>) -> Result<()>,
) -> Result<()> {
    let mut others: Vec<usize> = shape.to_vec();
    others[axis] = 1;
    let total: usize = others.iter().product();
    for flat in 0..total {
        // Decompose `flat` over `others` (row-major), then vary `axis`.
        let mut index = vec![0; shape.len()];
        let mut rest = flat;
        for d in (0..shape.len()).rev() {
            index[d] = rest % others[d];
            rest /= others[d];
        }
        let lane_indices = (0..shape[axis])
            .map(|j| {
                let mut i = index.clone();
                i[axis] = j;
                i
            })
            .collect();
        lane(lane_indices)?;
    }
    Ok(())
}

fn row_major(shape: &[usize], index: &[usize]) -> usize {
    index.iter().zip(shape).fold(0, |acc, (&i, &s)| acc * s + i)
}

/// Softmax (or log-softmax) along `axis`, row-major values in `f64`.
///
/// ```
/// use unravel_tensor::{ops::softmax::reference, Tensor};
/// let x = Tensor::<f64>::from_vec(vec![0.0, 0.0], &[2])?;
/// assert_eq!(reference::softmax(&x, 0, false)?, vec![0.5, 0.5]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn softmax<E: Float>(input: &Tensor<E>, axis: usize, log: bool) -> Result<Vec<f64>> {
    let shape = input.shape().to_vec();
    let mut out = vec![0.0; input.numel()];
    for_each_lane(&shape, axis, |lane| {
        let values: Vec<f64> = lane
            .iter()
            .map(|i| input.get(i).map(|v| v.to_f64()))
            .collect::<Result<_>>()?;
        let max = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = values.iter().map(|v| (v - max).exp()).sum();
        for (i, v) in lane.iter().zip(&values) {
            out[row_major(&shape, i)] = if log {
                v - max - sum.ln()
            } else {
                (v - max).exp() / sum
            };
        }
        Ok(())
    })?;
    Ok(out)
}

/// The Jacobian-vector product of softmax (or log-softmax) at `input`, by the explicit
/// Jacobian: `dxᵢ = Σⱼ dyⱼ·∂yⱼ/∂xᵢ`.
///
/// ```
/// use unravel_tensor::{ops::softmax::reference, Tensor};
/// let x = Tensor::<f64>::from_vec(vec![0.0, 0.0], &[2])?;
/// let dy = Tensor::<f64>::from_vec(vec![1.0, 0.0], &[2])?;
/// assert_eq!(reference::softmax_backward(&x, &dy, 0, false)?, vec![0.25, -0.25]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn softmax_backward<E: Float>(
    input: &Tensor<E>,
    grad_output: &Tensor<E>,
    axis: usize,
    log: bool,
) -> Result<Vec<f64>> {
    let shape = input.shape().to_vec();
    let probabilities = softmax(input, axis, false)?;
    let mut out = vec![0.0; input.numel()];
    for_each_lane(&shape, axis, |lane| {
        for i in &lane {
            let p_i = probabilities[row_major(&shape, i)];
            let mut sum = 0.0;
            for j in &lane {
                let p_j = probabilities[row_major(&shape, j)];
                let delta = if i == j { 1.0 } else { 0.0 };
                // softmax: ∂yⱼ/∂xᵢ = pⱼ(δᵢⱼ − pᵢ); log-softmax: ∂yⱼ/∂xᵢ = δᵢⱼ − pᵢ.
                let jacobian = if log {
                    delta - p_i
                } else {
                    p_j * (delta - p_i)
                };
                sum += grad_output.get(j)?.to_f64() * jacobian;
            }
            out[row_major(&shape, i)] = sum;
        }
        Ok(())
    })?;
    Ok(out)
}

/// Per-sample cross-entropy `−log_softmax(xₙ)[tₙ]` for `[N, C]` logits.
///
/// ```
/// use unravel_tensor::{ops::softmax::reference, Tensor};
/// let logits = Tensor::<f64>::zeros(&[1, 2]);
/// assert_eq!(reference::cross_entropy_per_sample(&logits, &[1])?, vec![2f64.ln()]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn cross_entropy_per_sample<E: Float>(
    logits: &Tensor<E>,
    targets: &[usize],
) -> Result<Vec<f64>> {
    let log_probabilities = softmax(logits, 1, true)?;
    let classes = logits.shape()[1];
    Ok(targets
        .iter()
        .enumerate()
        .map(|(n, &t)| -log_probabilities[n * classes + t])
        .collect())
}
