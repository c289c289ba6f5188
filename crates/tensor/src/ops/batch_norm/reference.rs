//! Plain reference batch norm: the equations of the [module docs](super) written as direct loops
//! in `f64`, two-pass, over a row-major copy of the input. The tests compare the fast kernels
//! against these.

use crate::error::Result;
use crate::{Float, Tensor};

/// `(batch, channels, spatial)` of an `[N, C, *]` shape.
fn split(shape: &[usize]) -> (usize, usize, usize) {
    (shape[0], shape[1], shape[2..].iter().product())
}

fn values<E: Float>(tensor: Option<&Tensor<E>>, channels: usize, default: f64) -> Vec<f64> {
    match tensor {
        Some(t) => t.to_vec().iter().map(|v| v.to_f64()).collect(),
        None => vec![default; channels],
    }
}

/// Per-channel batch mean and biased variance, two passes in `f64`.
///
/// ```
/// use unravel_tensor::{ops::batch_norm::reference, Tensor};
/// let x = Tensor::<f64>::from_vec(vec![1.0, 10.0, 3.0, 30.0], &[2, 2])?; // [N = 2, C = 2]
/// assert_eq!(reference::batch_statistics(&x), (vec![2.0, 20.0], vec![1.0, 100.0]));
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn batch_statistics<E: Float>(input: &Tensor<E>) -> (Vec<f64>, Vec<f64>) {
    let (n, c, s) = split(input.shape());
    let x: Vec<f64> = input.to_vec().iter().map(|v| v.to_f64()).collect();
    let count = (n * s) as f64;
    let mut mean = vec![0.0; c];
    let mut variance = vec![0.0; c];
    for ch in 0..c {
        for b in 0..n {
            for i in 0..s {
                mean[ch] += x[(b * c + ch) * s + i];
            }
        }
        mean[ch] /= count;
        for b in 0..n {
            for i in 0..s {
                let d = x[(b * c + ch) * s + i] - mean[ch];
                variance[ch] += d * d;
            }
        }
        variance[ch] /= count;
    }
    (mean, variance)
}

/// `y = γ·(x − μ)/√(σ² + ε) + β` with the given per-channel μ, σ².
///
/// ```
/// use unravel_tensor::{ops::batch_norm::reference, Tensor};
/// let x = Tensor::<f64>::from_vec(vec![3.0, 5.0], &[2, 1])?;
/// assert_eq!(reference::normalise(&x, &[1.0], &[4.0], None, None, 0.0), vec![1.0, 2.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn normalise<E: Float>(
    input: &Tensor<E>,
    mean: &[f64],
    variance: &[f64],
    weight: Option<&Tensor<E>>,
    bias: Option<&Tensor<E>>,
    eps: f64,
) -> Vec<f64> {
    let (n, c, s) = split(input.shape());
    let (gamma, beta) = (values(weight, c, 1.0), values(bias, c, 0.0));
    let x = input.to_vec();
    let mut y = vec![0.0; x.len()];
    for b in 0..n {
        for ch in 0..c {
            for i in 0..s {
                let index = (b * c + ch) * s + i;
                y[index] = gamma[ch] * (x[index].to_f64() - mean[ch]) / (variance[ch] + eps).sqrt()
                    + beta[ch];
            }
        }
    }
    y
}

/// Training-mode forward: (output, mean, biased variance).
///
/// ```
/// use unravel_tensor::{ops::batch_norm::reference, Tensor};
/// let x = Tensor::<f64>::from_vec(vec![1.0, 3.0], &[2, 1])?;
/// let (y, mean, variance) = reference::batch_norm_train(&x, None, None, 0.0)?;
/// assert_eq!((y, mean, variance), (vec![-1.0, 1.0], vec![2.0], vec![1.0]));
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn batch_norm_train<E: Float>(
    input: &Tensor<E>,
    weight: Option<&Tensor<E>>,
    bias: Option<&Tensor<E>>,
    eps: f64,
) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let (mean, variance) = batch_statistics(input);
    let y = normalise(input, &mean, &variance, weight, bias, eps);
    Ok((y, mean, variance))
}

/// Training-mode backward, closed form: (dx, dγ, dβ), statistics recomputed in `f64`.
///
/// ```
/// use unravel_tensor::{ops::batch_norm::reference, Tensor};
/// let x = Tensor::<f64>::from_vec(vec![1.0, 3.0], &[2, 1])?;
/// let dy = Tensor::<f64>::from_vec(vec![1.0, 1.0], &[2, 1])?;
/// let (dx, d_gamma, d_beta) = reference::batch_norm_train_backward(&dy, &x, None, 0.0);
/// assert_eq!((dx, d_gamma, d_beta), (vec![0.0, 0.0], vec![0.0], vec![2.0]));
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn batch_norm_train_backward<E: Float>(
    grad_output: &Tensor<E>,
    input: &Tensor<E>,
    weight: Option<&Tensor<E>>,
    eps: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (n, c, s) = split(input.shape());
    let gamma = values(weight, c, 1.0);
    let (mean, variance) = batch_statistics(input);
    let x = input.to_vec();
    let dy = grad_output.to_vec();
    let m = (n * s) as f64;
    let mut dx = vec![0.0; x.len()];
    let mut d_gamma = vec![0.0; c];
    let mut d_beta = vec![0.0; c];
    for ch in 0..c {
        let inv = 1.0 / (variance[ch] + eps).sqrt();
        let x_hat = |index: usize| (x[index].to_f64() - mean[ch]) * inv;
        for b in 0..n {
            for i in 0..s {
                let index = (b * c + ch) * s + i;
                d_beta[ch] += dy[index].to_f64();
                d_gamma[ch] += dy[index].to_f64() * x_hat(index);
            }
        }
        for b in 0..n {
            for i in 0..s {
                let index = (b * c + ch) * s + i;
                dx[index] = gamma[ch] * inv / m
                    * (m * dy[index].to_f64() - d_beta[ch] - x_hat(index) * d_gamma[ch]);
            }
        }
    }
    (dx, d_gamma, d_beta)
}
