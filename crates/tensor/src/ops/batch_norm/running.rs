//! The running statistics a batch norm keeps for evaluation (PyTorch's update rule).

use crate::error::{Result, TensorError};
use crate::{Float, Tensor};

/// Updates the running estimates in place, as PyTorch's `BatchNorm` does in training:
///
/// ```text
/// running_mean ← (1 − m)·running_mean + m·μ
/// running_var  ← (1 − m)·running_var  + m·σ²·count/(count − 1)
/// ```
///
/// `batch_mean` and `batch_variance_biased` are [`super::BatchNormTrain`]'s `mean` and `variance`
/// (the biased one used to normalise); the running variance is updated from the *unbiased*
/// variance, with `count` = values per channel, `N·H·W`. All four tensors are `[C]`; `momentum`
/// is in `[0, 1]`; `count` must be at least 2. On a GPU (all four tensors on one device) the
/// update runs there and replaces the two running tensors with fresh ones (device buffers are
/// never written in place).
///
/// ```
/// use unravel_tensor::{ops::batch_norm::update_running_statistics, Tensor};
/// let mut running_mean = Tensor::<f64>::zeros(&[1]);
/// let mut running_var = Tensor::<f64>::ones(&[1]);
/// let mean = Tensor::<f64>::from_vec(vec![2.0], &[1])?;
/// let variance = Tensor::<f64>::from_vec(vec![3.0], &[1])?; // biased, over 4 values
/// update_running_statistics(&mut running_mean, &mut running_var, &mean, &variance, 4, 0.1)?;
/// assert!((running_mean.to_vec()[0] - 0.2).abs() < 1e-15);
/// assert!((running_var.to_vec()[0] - (0.9 + 0.1 * 4.0)).abs() < 1e-15); // 3·4/3 = 4
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn update_running_statistics<E: Float>(
    running_mean: &mut Tensor<E>,
    running_var: &mut Tensor<E>,
    batch_mean: &Tensor<E>,
    batch_variance_biased: &Tensor<E>,
    count: usize,
    momentum: f64,
) -> Result<()> {
    const OP: &str = "update_running_statistics";
    if running_mean.rank() != 1 {
        return Err(TensorError::Rank {
            op: OP,
            expected: 1,
            shape: running_mean.shape().to_vec(),
        });
    }
    for other in [&*running_var, batch_mean, batch_variance_biased] {
        if other.shape() != running_mean.shape() {
            return Err(TensorError::ShapeMismatch {
                op: OP,
                lhs: running_mean.shape().to_vec(),
                rhs: other.shape().to_vec(),
            });
        }
    }
    if count < 2 {
        return Err(TensorError::invalid(
            OP,
            format!("count {count}: the unbiased variance needs at least 2 values per channel"),
        ));
    }
    if !(0.0..=1.0).contains(&momentum) {
        return Err(TensorError::invalid(
            OP,
            format!("momentum {momentum} must be in [0, 1]"),
        ));
    }
    #[cfg(feature = "cuda")]
    if crate::cuda::launch::is_cuda(running_mean) {
        let (mean, var) = crate::cuda::ops::normalization::update_running_statistics(
            OP,
            running_mean,
            running_var,
            batch_mean,
            batch_variance_biased,
            count,
            momentum,
        )?;
        *running_mean = mean;
        *running_var = var;
        return Ok(());
    }
    let mean: Vec<f64> = batch_mean
        .contiguous_data(OP)?
        .iter()
        .map(|v| v.to_f64())
        .collect();
    let correction = count as f64 / (count - 1) as f64;
    let unbiased: Vec<f64> = batch_variance_biased
        .contiguous_data(OP)?
        .iter()
        .map(|v| v.to_f64() * correction)
        .collect();
    running_mean.cpu_storage(OP)?;
    running_var.cpu_storage(OP)?;
    for (running, &batch) in running_mean.data_mut()?.iter_mut().zip(&mean) {
        *running = E::from_f64((1.0 - momentum) * running.to_f64() + momentum * batch);
    }
    for (running, &batch) in running_var.data_mut()?.iter_mut().zip(&unbiased) {
        *running = E::from_f64((1.0 - momentum) * running.to_f64() + momentum * batch);
    }
    Ok(())
}
