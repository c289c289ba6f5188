//! 2-D max pooling and its backward kernel.
//!
//! Forward, for each `(n, c)` plane and output position `(i, j)`:
//!
//! ```text
//! y[i, j] = max { x[h, w] : (h, w) in window(i, j) },  argmax[i, j] = h·W + w
//! ```
//!
//! Padding counts as −∞ (it never wins). Ties go to the first position in row-major order, a NaN
//! wins over any number (as in PyTorch). Backward routes each output gradient to its argmax and
//! adds when windows overlap:
//!
//! ```text
//! ∂L/∂x[h, w] = Σ { ∂L/∂y[i, j] : argmax[i, j] = h·W + w }
//! ```

use rayon::prelude::*;

use super::{check_nchw, for_each_plane, PlaneGeometry, Pool2dParams, PARALLEL_THRESHOLD};
use crate::error::{Result, TensorError};
use crate::{Float, Indices, Tensor};

/// Max pooling of `input` `[N, C, H, W]` → `([N, C, OH, OW], argmax indices)`.
///
/// Padding is −∞. The [`Indices`] (shape `[N, C, OH, OW]`) give, for each output, the flat
/// position `h·W + w` of its maximum inside its own `(n, c)` input plane, as PyTorch's
/// `return_indices=True`; [`max_pool2d_backward`] takes them back.
///
/// ```
/// use unravel_tensor::{ops::pool::{max_pool2d, Pool2dParams}, Tensor};
/// let x = Tensor::<f32>::from_vec((0..16).map(|v| v as f32).collect(), &[1, 1, 4, 4])?;
/// let (y, argmax) = max_pool2d(&x, Pool2dParams::square(2, 2, 0))?;
/// assert_eq!(y.to_vec(), vec![5.0, 7.0, 13.0, 15.0]);
/// assert_eq!(argmax.as_slice(), &[5, 7, 13, 15]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn max_pool2d<E: Float>(
    input: &Tensor<E>,
    params: Pool2dParams,
) -> Result<(Tensor<E>, Indices)> {
    const OP: &str = "max_pool2d";
    let [n, c, h, w] = check_nchw(OP, "input", input.shape())?;
    let geometry = PlaneGeometry::new(OP, [h, w], params)?;
    let data = input.contiguous_data(OP)?;
    let (in_plane, out_plane) = (geometry.input_plane(), geometry.output_plane());
    let out_shape = [n, c, geometry.output[0], geometry.output[1]];
    let mut output = vec![E::ZERO; n * c * out_plane];
    let mut indices = vec![0usize; n * c * out_plane];
    let plane_kernel = |plane: usize, out: &mut [E], argmax: &mut [usize]| {
        let x = &data[plane * in_plane..(plane + 1) * in_plane];
        max_pool_plane(x, &geometry, out, argmax);
    };
    if out_plane > 0 && !output.is_empty() {
        // One task per (n, c) plane: output and indices planes are zipped.
        if data.len() >= PARALLEL_THRESHOLD {
            output
                .par_chunks_mut(out_plane)
                .zip(indices.par_chunks_mut(out_plane))
                .enumerate()
                .for_each(|(plane, (out, argmax))| plane_kernel(plane, out, argmax));
        } else {
            output
                .chunks_mut(out_plane)
                .zip(indices.chunks_mut(out_plane))
                .enumerate()
                .for_each(|(plane, (out, argmax))| plane_kernel(plane, out, argmax));
        }
    }
    Ok((
        Tensor::from_vec(output, &out_shape)?,
        Indices::new(indices, &out_shape)?,
    ))
}

/// One plane: `x` `[H, W]` → `out`, `argmax` `[OH, OW]`.
fn max_pool_plane<E: Float>(
    x: &[E],
    geometry: &PlaneGeometry,
    out: &mut [E],
    argmax: &mut [usize],
) {
    let width = geometry.input[1];
    let out_width = geometry.output[1];
    for oh in 0..geometry.output[0] {
        let (h0, h1) = geometry.window(0, oh);
        let out_row = &mut out[oh * out_width..(oh + 1) * out_width];
        let argmax_row = &mut argmax[oh * out_width..(oh + 1) * out_width];
        for (ow, (y, index)) in out_row.iter_mut().zip(argmax_row.iter_mut()).enumerate() {
            let (w0, w1) = geometry.window(1, ow);
            let mut best = E::NEG_INFINITY;
            let mut best_index = h0 * width + w0;
            for hh in h0..h1 {
                let row = &x[hh * width + w0..hh * width + w1];
                for (offset, &value) in row.iter().enumerate() {
                    // `>` keeps the first of equal values; a NaN always wins (PyTorch).
                    if value > best || value.is_nan() {
                        best = value;
                        best_index = hh * width + w0 + offset;
                    }
                }
            }
            *y = best;
            *index = best_index;
        }
    }
}

/// Gradient of [`max_pool2d`] with respect to its input, `[N, C, H, W]` = `input_shape`.
///
/// `grad_output` and `indices` have the pooled shape `[N, C, OH, OW]`; each gradient is added
/// to the input position its index names (`h·W + w` within the same plane), so overlapping
/// windows accumulate. Fails if an index is not below `H·W`.
///
/// ```
/// use unravel_tensor::{ops::pool::{max_pool2d, max_pool2d_backward, Pool2dParams}, Tensor};
/// let x = Tensor::<f64>::from_vec(vec![1.0, 4.0, 3.0, 2.0], &[1, 1, 2, 2])?;
/// let (_, argmax) = max_pool2d(&x, Pool2dParams::square(2, 1, 0))?;
/// let grad_output = Tensor::<f64>::from_vec(vec![10.0], &[1, 1, 1, 1])?;
/// let grad_input = max_pool2d_backward(&grad_output, &argmax, &[1, 1, 2, 2])?;
/// assert_eq!(grad_input.to_vec(), vec![0.0, 10.0, 0.0, 0.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn max_pool2d_backward<E: Float>(
    grad_output: &Tensor<E>,
    indices: &Indices,
    input_shape: &[usize],
) -> Result<Tensor<E>> {
    const OP: &str = "max_pool2d_backward";
    let [n, c, h, w] = check_nchw(OP, "input_shape", input_shape)?;
    let grad_shape = grad_output.shape();
    if grad_shape.len() != 4 {
        return Err(TensorError::Rank {
            op: OP,
            expected: 4,
            shape: grad_shape.to_vec(),
        });
    }
    if grad_shape[0] != n || grad_shape[1] != c {
        return Err(TensorError::invalid(
            OP,
            format!("grad_output of shape {grad_shape:?} does not match the batch and channels of input_shape {input_shape:?}"),
        ));
    }
    if indices.shape() != grad_shape {
        return Err(TensorError::ShapeMismatch {
            op: OP,
            lhs: grad_shape.to_vec(),
            rhs: indices.shape().to_vec(),
        });
    }
    let in_plane = h * w;
    if let Some(position) = indices.as_slice().iter().position(|&i| i >= in_plane) {
        return Err(TensorError::invalid(
            OP,
            format!(
                "index {} at flat position {position} is out of range for an input plane of {h}×{w}",
                indices.as_slice()[position]
            ),
        ));
    }
    let out_plane = grad_shape[2] * grad_shape[3];
    let grad = grad_output.contiguous_data(OP)?;
    let argmax = indices.as_slice();
    let mut grad_input = vec![E::ZERO; n * c * in_plane];
    for_each_plane(
        &mut grad_input,
        in_plane,
        grad_input_len(n, c, in_plane, out_plane),
        |plane, dx| {
            let range = plane * out_plane..(plane + 1) * out_plane;
            // Sequential within the plane: overlapping windows add in a fixed order.
            for (&g, &index) in grad[range.clone()].iter().zip(&argmax[range]) {
                dx[index] += g;
            }
        },
    );
    Tensor::from_vec(grad_input, input_shape)
}

fn grad_input_len(n: usize, c: usize, in_plane: usize, out_plane: usize) -> usize {
    n * c * (in_plane + out_plane)
}
