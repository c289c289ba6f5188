//! 2-D average pooling and its backward kernel.
//!
//! Forward, for each `(n, c)` plane and output position `(i, j)`:
//!
//! ```text
//! y[i, j] = (1 / d[i, j]) · Σ { x[h, w] : (h, w) in window(i, j) ∩ input }
//! ```
//!
//! where the divisor `d[i, j]` is the number of window positions inside the input
//! (`count_include_pad = false`) or inside the padded input (`count_include_pad = true`, PyTorch's
//! default: the padding counts as zeros). Window sums are accumulated in `f64`. Backward spreads each output gradient evenly over its
//! window, adding where windows overlap:
//!
//! ```text
//! ∂L/∂x[h, w] = Σ { ∂L/∂y[i, j] / d[i, j] : (h, w) in window(i, j) }
//! ```

use super::{check_nchw, for_each_plane, PlaneGeometry, Pool2dParams};
use crate::error::{Result, TensorError};
use crate::{Float, Tensor};

/// The divisor `d[i, j]` of output position `(oh, ow)`.
#[inline(always)]
fn divisor(geometry: &PlaneGeometry, oh: usize, ow: usize, count_include_pad: bool) -> usize {
    if count_include_pad {
        geometry.padded_window_len(0, oh) * geometry.padded_window_len(1, ow)
    } else {
        let (h0, h1) = geometry.window(0, oh);
        let (w0, w1) = geometry.window(1, ow);
        (h1 - h0) * (w1 - w0)
    }
}

/// Average pooling of `input` `[N, C, H, W]` → `[N, C, OH, OW]`.
///
/// `count_include_pad` chooses the divisor: `true` (PyTorch's default) counts padded positions as
/// zeros, `false` averages over the real input elements of the window only.
///
/// ```
/// use unravel_tensor::{ops::pool::{avg_pool2d, Pool2dParams}, Tensor};
/// let x = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2])?;
/// let y = avg_pool2d(&x, Pool2dParams::square(2, 2, 0), true)?;
/// assert_eq!(y.to_vec(), vec![2.5]);
/// // With padding 1, the corner window holds one element and three zeros of padding.
/// let y = avg_pool2d(&x, Pool2dParams::square(2, 2, 1), true)?;
/// assert_eq!(y.to_vec(), vec![0.25, 0.5, 0.75, 1.0]);
/// let y = avg_pool2d(&x, Pool2dParams::square(2, 2, 1), false)?;
/// assert_eq!(y.to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn avg_pool2d<E: Float>(
    input: &Tensor<E>,
    params: Pool2dParams,
    count_include_pad: bool,
) -> Result<Tensor<E>> {
    const OP: &str = "avg_pool2d";
    let [n, c, h, w] = check_nchw(OP, "input", input.shape())?;
    let geometry = PlaneGeometry::new(OP, [h, w], params)?;
    #[cfg(feature = "cuda")]
    if crate::cuda::launch::is_cuda(input) {
        return crate::cuda::ops::pool::avg_pool2d(
            OP,
            input,
            &params,
            geometry.output,
            count_include_pad,
        );
    }
    let data = input.contiguous_data(OP)?;
    let (in_plane, out_plane) = (geometry.input_plane(), geometry.output_plane());
    let out_shape = [n, c, geometry.output[0], geometry.output[1]];
    let mut output = crate::buffer::filled(OP, &out_shape, E::ZERO)?;
    for_each_plane(&mut output, out_plane, data.len(), |plane, out| {
        let x = &data[plane * in_plane..(plane + 1) * in_plane];
        avg_pool_plane(x, &geometry, count_include_pad, out);
    });
    Tensor::from_vec(output, &out_shape)
}

fn avg_pool_plane<E: Float>(
    x: &[E],
    geometry: &PlaneGeometry,
    count_include_pad: bool,
    out: &mut [E],
) {
    let width = geometry.input[1];
    let out_width = geometry.output[1];
    for oh in 0..geometry.output[0] {
        let (h0, h1) = geometry.window(0, oh);
        for ow in 0..out_width {
            let (w0, w1) = geometry.window(1, ow);
            // Accumulated in f64: windows of large values that cancel stay accurate in f32.
            let mut sum = 0.0f64;
            for hh in h0..h1 {
                for &value in &x[hh * width + w0..hh * width + w1] {
                    sum += value.to_f64();
                }
            }
            out[oh * out_width + ow] =
                E::from_f64(sum / divisor(geometry, oh, ow, count_include_pad) as f64);
        }
    }
}

/// Gradient of [`avg_pool2d`] with respect to its input, `[N, C, H, W]` = `input_shape`.
///
/// `grad_output` must have the pooled shape `[N, C, OH, OW]` that `input_shape` and `params`
/// give; `params` and `count_include_pad` must be those of the forward call.
///
/// ```
/// use unravel_tensor::{ops::pool::{avg_pool2d_backward, Pool2dParams}, Tensor};
/// let grad_output = Tensor::<f64>::from_vec(vec![4.0], &[1, 1, 1, 1])?;
/// let grad_input = avg_pool2d_backward(&grad_output, &[1, 1, 2, 2], Pool2dParams::square(2, 2, 0), true)?;
/// assert_eq!(grad_input.to_vec(), vec![1.0, 1.0, 1.0, 1.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn avg_pool2d_backward<E: Float>(
    grad_output: &Tensor<E>,
    input_shape: &[usize],
    params: Pool2dParams,
    count_include_pad: bool,
) -> Result<Tensor<E>> {
    const OP: &str = "avg_pool2d_backward";
    let [n, c, h, w] = check_nchw(OP, "input_shape", input_shape)?;
    let geometry = PlaneGeometry::new(OP, [h, w], params)?;
    let expected = [n, c, geometry.output[0], geometry.output[1]];
    if grad_output.shape() != expected {
        return Err(TensorError::ShapeMismatch {
            op: OP,
            lhs: grad_output.shape().to_vec(),
            rhs: expected.to_vec(),
        });
    }
    #[cfg(feature = "cuda")]
    if crate::cuda::launch::is_cuda(grad_output) {
        return crate::cuda::ops::pool::avg_pool2d_backward(
            OP,
            grad_output,
            [n, c, h, w],
            &params,
            count_include_pad,
        );
    }
    let grad = grad_output.contiguous_data(OP)?;
    let (in_plane, out_plane) = (geometry.input_plane(), geometry.output_plane());
    let mut grad_input = crate::buffer::filled(OP, input_shape, E::ZERO)?;
    let work = grad_input.len() + grad.len();
    for_each_plane(&mut grad_input, in_plane, work, |plane, dx| {
        let dy = &grad[plane * out_plane..(plane + 1) * out_plane];
        avg_pool_backward_plane(dy, &geometry, count_include_pad, dx);
    });
    Tensor::from_vec(grad_input, input_shape)
}

fn avg_pool_backward_plane<E: Float>(
    dy: &[E],
    geometry: &PlaneGeometry,
    count_include_pad: bool,
    dx: &mut [E],
) {
    let width = geometry.input[1];
    let out_width = geometry.output[1];
    for oh in 0..geometry.output[0] {
        let (h0, h1) = geometry.window(0, oh);
        for ow in 0..out_width {
            let (w0, w1) = geometry.window(1, ow);
            let share = dy[oh * out_width + ow]
                / E::from_usize(divisor(geometry, oh, ow, count_include_pad));
            for hh in h0..h1 {
                for target in &mut dx[hh * width + w0..hh * width + w1] {
                    *target += share;
                }
            }
        }
    }
}
