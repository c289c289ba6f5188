//! Softmax and log-softmax along an axis, forward and backward.
//!
//! A tensor seen along `axis` is `[outer, len, inner]` (row-major): each of the `outer·inner`
//! *lanes* holds `len` elements `inner` apart. Lanes are independent; blocks of whole lanes are
//! processed in parallel for large inputs, each lane by one thread in a fixed order, so results
//! do not depend on the thread count. Sums are accumulated in `f64`.

use rayon::prelude::*;

use crate::error::{Result, TensorError};
use crate::layout::check_axis;
use crate::{Float, Tensor};

/// Inputs with at least this many elements are processed in parallel.
const PARALLEL_THRESHOLD: usize = 1 << 15;
/// Approximate elements per parallel task.
const TASK_ELEMENTS: usize = 1 << 13;

/// `[outer, len, inner]` of `shape` along `axis`.
#[derive(Debug, Clone, Copy)]
struct AxisGeometry {
    len: usize,
    inner: usize,
}

fn geometry(op: &'static str, shape: &[usize], axis: usize) -> Result<AxisGeometry> {
    check_axis(op, axis, shape.len())?;
    Ok(AxisGeometry {
        len: shape[axis],
        inner: shape[axis + 1..].iter().product(),
    })
}

/// Runs `lane(block_offset, lane_index, out_block)` over every lane; a block is one `outer`
/// index, `len·inner` elements, and `out_block` is the output's block.
fn for_each_lane<E: Float>(
    output: &mut [E],
    geometry: AxisGeometry,
    lane: impl Fn(usize, usize, &mut [E]) + Sync + Send,
) {
    let block_len = geometry.len * geometry.inner;
    if block_len == 0 {
        return;
    }
    let blocks_per_task = (TASK_ELEMENTS / block_len).max(1);
    let run = |task: usize, chunk: &mut [E]| {
        for (index, block) in chunk.chunks_mut(block_len).enumerate() {
            let offset = (task * blocks_per_task + index) * block_len;
            for i in 0..geometry.inner {
                lane(offset, i, block);
            }
        }
    };
    let task_len = blocks_per_task * block_len;
    if output.len() >= PARALLEL_THRESHOLD {
        output
            .par_chunks_mut(task_len)
            .enumerate()
            .for_each(|(t, chunk)| run(t, chunk));
    } else {
        output
            .chunks_mut(task_len)
            .enumerate()
            .for_each(|(t, chunk)| run(t, chunk));
    }
}

fn forward<E: Float>(
    op: &'static str,
    input: &Tensor<E>,
    axis: usize,
    log: bool,
) -> Result<Tensor<E>> {
    let geometry = geometry(op, input.shape(), axis)?;
    #[cfg(feature = "cuda")]
    if crate::cuda::launch::is_cuda(input) {
        return crate::cuda::ops::softmax::forward(op, input, axis, log);
    }
    let x = input.contiguous_data(op)?;
    let (len, stride) = (geometry.len, geometry.inner);
    let mut output = crate::buffer::filled(op, input.shape(), E::ZERO)?;
    for_each_lane(&mut output, geometry, |offset, i, y| {
        let x = &x[offset..offset + len * stride];
        // m = max (NaN propagates), then Σ exp(x − m).
        let mut max = E::NEG_INFINITY;
        for j in 0..len {
            max = max.max(x[i + j * stride]);
        }
        let mut sum = 0.0f64;
        for j in 0..len {
            let e = (x[i + j * stride] - max).exp();
            sum += e.to_f64();
            if !log {
                y[i + j * stride] = e;
            }
        }
        if log {
            let shift = max + E::from_f64(sum.ln());
            for j in 0..len {
                y[i + j * stride] = x[i + j * stride] - shift;
            }
        } else {
            let sum = E::from_f64(sum);
            for j in 0..len {
                y[i + j * stride] /= sum;
            }
        }
    });
    Tensor::from_vec(output, input.shape())
}

fn backward<E: Float>(
    op: &'static str,
    output: &Tensor<E>,
    grad_output: &Tensor<E>,
    axis: usize,
    log: bool,
) -> Result<Tensor<E>> {
    if output.shape() != grad_output.shape() {
        return Err(TensorError::ShapeMismatch {
            op,
            lhs: output.shape().to_vec(),
            rhs: grad_output.shape().to_vec(),
        });
    }
    let geometry = geometry(op, output.shape(), axis)?;
    #[cfg(feature = "cuda")]
    if crate::cuda::launch::is_cuda(output) {
        return crate::cuda::ops::softmax::backward(op, output, grad_output, axis, log);
    }
    let y = output.contiguous_data(op)?;
    let dy = grad_output.contiguous_data(op)?;
    let (len, stride) = (geometry.len, geometry.inner);
    let mut grad_input = crate::buffer::filled(op, output.shape(), E::ZERO)?;
    for_each_lane(&mut grad_input, geometry, |offset, i, dx| {
        let y = &y[offset..offset + len * stride];
        let dy = &dy[offset..offset + len * stride];
        if log {
            // dx = dy − exp(y)·Σdy
            let sum: f64 = (0..len).map(|j| dy[i + j * stride].to_f64()).sum();
            let sum = E::from_f64(sum);
            for j in 0..len {
                let k = i + j * stride;
                dx[k] = dy[k] - y[k].exp() * sum;
            }
        } else {
            // dx = y·(dy − Σ dy·y)
            let dot: f64 = (0..len)
                .map(|j| dy[i + j * stride].to_f64() * y[i + j * stride].to_f64())
                .sum();
            let dot = E::from_f64(dot);
            for j in 0..len {
                let k = i + j * stride;
                dx[k] = y[k] * (dy[k] - dot);
            }
        }
    });
    Tensor::from_vec(grad_input, output.shape())
}

/// Softmax along `axis`: `yᵢ = exp(xᵢ − m) / Σⱼ exp(xⱼ − m)`, `m = maxⱼ xⱼ` (numerically stable).
///
/// ```
/// use unravel_tensor::{ops::softmax::softmax, Tensor};
/// let x = Tensor::<f64>::from_vec(vec![0.0, 0.0, 1000.0, 1000.0], &[2, 2])?;
/// assert_eq!(softmax(&x, 1)?.to_vec(), vec![0.5, 0.5, 0.5, 0.5]); // no overflow
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn softmax<E: Float>(input: &Tensor<E>, axis: usize) -> Result<Tensor<E>> {
    forward("softmax", input, axis, false)
}

/// Log-softmax along `axis`: `yᵢ = xᵢ − m − ln Σⱼ exp(xⱼ − m)`, `m = maxⱼ xⱼ`.
///
/// ```
/// use unravel_tensor::{ops::softmax::log_softmax, Tensor};
/// let x = Tensor::<f64>::from_vec(vec![1.0, 1.0], &[2])?;
/// let y = log_softmax(&x, 0)?.to_vec();
/// assert!((y[0] + 2f64.ln()).abs() < 1e-15);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn log_softmax<E: Float>(input: &Tensor<E>, axis: usize) -> Result<Tensor<E>> {
    forward("log_softmax", input, axis, true)
}

/// Backward of [`softmax`] from its `output` y: `dxᵢ = yᵢ·(dyᵢ − Σⱼ dyⱼ·yⱼ)`.
///
/// ```
/// use unravel_tensor::{ops::softmax::{softmax, softmax_backward}, Tensor};
/// let y = softmax(&Tensor::<f64>::from_vec(vec![0.3, -1.2, 2.0], &[3])?, 0)?;
/// // A gradient that is the same for every class moves nothing: softmax ignores shifts.
/// let dx = softmax_backward(&y, &Tensor::<f64>::ones(&[3]), 0)?;
/// assert!(dx.to_vec().iter().all(|g| g.abs() < 1e-15));
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn softmax_backward<E: Float>(
    output: &Tensor<E>,
    grad_output: &Tensor<E>,
    axis: usize,
) -> Result<Tensor<E>> {
    backward("softmax_backward", output, grad_output, axis, false)
}

/// Backward of [`log_softmax`] from its `output` y: `dxᵢ = dyᵢ − exp(yᵢ)·Σⱼ dyⱼ`.
///
/// ```
/// use unravel_tensor::{ops::softmax::{log_softmax, log_softmax_backward}, Tensor};
/// let y = log_softmax(&Tensor::<f64>::from_vec(vec![0.0, 0.0], &[2])?, 0)?;
/// let dx = log_softmax_backward(&y, &Tensor::<f64>::from_vec(vec![1.0, 0.0], &[2])?, 0)?;
/// assert!((dx.to_vec()[0] - 0.5).abs() < 1e-15);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn log_softmax_backward<E: Float>(
    output: &Tensor<E>,
    grad_output: &Tensor<E>,
    axis: usize,
) -> Result<Tensor<E>> {
    backward("log_softmax_backward", output, grad_output, axis, true)
}
