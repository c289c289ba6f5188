//! Global average pooling: the mean of each `(n, c)` plane, ResNet's head before the classifier.
//!
//! ```text
//! y[n, c] = (1 / (H·W)) · Σ_{h, w} x[n, c, h, w]        ∂L/∂x[n, c, h, w] = ∂L/∂y[n, c] / (H·W)
//! ```
//!
//! The output is `[N, C]` (not `[N, C, 1, 1]`): the classifier that follows takes a matrix, so
//! the flatten is built in. Sums are accumulated in `f64` for both element types.

use super::{check_nchw, for_each_plane};
use crate::error::{Result, TensorError};
use crate::{Float, Tensor};

/// Plane mean with eight independent `f64` accumulators (vectorisable, fixed order).
fn plane_mean<E: Float>(plane: &[E]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let mut chunks = plane.chunks_exact(8);
    for chunk in &mut chunks {
        for (lane, &value) in lanes.iter_mut().zip(chunk) {
            *lane += value.to_f64();
        }
    }
    let mut tail = 0.0;
    for &value in chunks.remainder() {
        tail += value.to_f64();
    }
    let sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]))
        + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
        + tail;
    sum / plane.len() as f64
}

/// Mean over the spatial axes: `input` `[N, C, H, W]` → `[N, C]`.
///
/// ```
/// use unravel_tensor::{ops::pool::global_avg_pool2d, Tensor};
/// let x = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 6.0], &[1, 1, 2, 2])?;
/// let y = global_avg_pool2d(&x)?;
/// assert_eq!(y.shape(), &[1, 1]);
/// assert_eq!(y.to_vec(), vec![3.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn global_avg_pool2d<E: Float>(input: &Tensor<E>) -> Result<Tensor<E>> {
    const OP: &str = "global_avg_pool2d";
    let [n, c, h, w] = check_nchw(OP, "input", input.shape())?;
    #[cfg(feature = "cuda")]
    if crate::cuda::launch::is_cuda(input) {
        return crate::cuda::ops::pool::global_avg_pool2d(OP, input, &[n, c]);
    }
    let data = input.contiguous_data(OP)?;
    let plane = h * w;
    let mut output = crate::buffer::filled(OP, &[n, c], E::ZERO)?;
    // Tasks of whole planes: each output is one plane's mean, computed by one thread.
    let planes_per_task = (4096 / plane).max(1);
    for_each_plane(&mut output, planes_per_task, data.len(), |task, out| {
        for (offset, y) in out.iter_mut().enumerate() {
            let index = task * planes_per_task + offset;
            *y = E::from_f64(plane_mean(&data[index * plane..(index + 1) * plane]));
        }
    });
    Tensor::from_vec(output, &[n, c])
}

/// Gradient of [`global_avg_pool2d`]: `grad_output` `[N, C]` → `[N, C, H, W]` = `input_shape`,
/// every element of plane `(n, c)` receiving `grad_output[n, c] / (H·W)`.
///
/// ```
/// use unravel_tensor::{ops::pool::global_avg_pool2d_backward, Tensor};
/// let grad_output = Tensor::<f64>::from_vec(vec![4.0, 8.0], &[1, 2])?;
/// let grad_input = global_avg_pool2d_backward(&grad_output, &[1, 2, 2, 1])?;
/// assert_eq!(grad_input.to_vec(), vec![2.0, 2.0, 4.0, 4.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn global_avg_pool2d_backward<E: Float>(
    grad_output: &Tensor<E>,
    input_shape: &[usize],
) -> Result<Tensor<E>> {
    const OP: &str = "global_avg_pool2d_backward";
    let [n, c, h, w] = check_nchw(OP, "input_shape", input_shape)?;
    if grad_output.shape() != [n, c] {
        return Err(TensorError::ShapeMismatch {
            op: OP,
            lhs: grad_output.shape().to_vec(),
            rhs: vec![n, c],
        });
    }
    #[cfg(feature = "cuda")]
    if crate::cuda::launch::is_cuda(grad_output) {
        return crate::cuda::ops::pool::global_avg_pool2d_backward(OP, grad_output, [n, c, h, w]);
    }
    let grad = grad_output.contiguous_data(OP)?;
    let plane = h * w;
    let count = E::from_usize(plane);
    let mut grad_input = crate::buffer::filled(OP, input_shape, E::ZERO)?;
    for_each_plane(&mut grad_input, plane, n * c * plane, |index, dx| {
        dx.fill(grad[index] / count);
    });
    Tensor::from_vec(grad_input, input_shape)
}
