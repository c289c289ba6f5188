//! 2-D max pooling and its backward kernel.
//!
//! Forward, for each `(n, c)` plane and output position `(i, j)`:
//!
//! ```text
//! y[i, j] = max { x[h, w] : (h, w) in window(i, j) },  argmax[i, j] = h·W + w
//! ```
//!
//! Padding counts as −∞ (it never wins). Ties go to the first position in row-major order; a NaN
//! wins over any number (the last NaN of the window, as PyTorch's scan). Backward routes each output gradient to its argmax and
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
    #[cfg(feature = "cuda")]
    if crate::cuda::launch::is_cuda(input) {
        return crate::cuda::ops::pool::max_pool2d(OP, input, &params, geometry.output);
    }
    let data = input.contiguous_data(OP)?;
    let (in_plane, out_plane) = (geometry.input_plane(), geometry.output_plane());
    let out_shape = [n, c, geometry.output[0], geometry.output[1]];
    let mut output = crate::buffer::filled(OP, &out_shape, E::ZERO)?;
    let mut indices = crate::buffer::filled(OP, &out_shape, 0usize)?;
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
///
/// Output columns whose window lies inside the input on the width axis (all but a few at the
/// edges) go through [`interior_run`], which visits one window tap for a whole run of outputs
/// at a time (vectorised by the compiler); edge columns go through [`window_max`].
fn max_pool_plane<E: Float>(
    x: &[E],
    geometry: &PlaneGeometry,
    out: &mut [E],
    argmax: &mut [usize],
) {
    let width = geometry.input[1];
    let out_width = geometry.output[1];
    let (kernel, stride, padding) = (
        geometry.params.kernel[1],
        geometry.params.stride[1],
        geometry.params.padding[1],
    );
    // Interior columns: o·s − p ≥ 0 and o·s − p + k ≤ W. Offsets within a window are kept in
    // u32 (so the run vectorises), which needs kh·W to fit.
    let interior_start = padding.div_ceil(stride).min(out_width);
    let interior_end =
        if width + padding >= kernel && geometry.params.kernel[0] * width < u32::MAX as usize {
            ((width + padding - kernel) / stride + 1).clamp(interior_start, out_width)
        } else {
            interior_start
        };
    for oh in 0..geometry.output[0] {
        let rows = geometry.window(0, oh);
        let out_row = &mut out[oh * out_width..(oh + 1) * out_width];
        let argmax_row = &mut argmax[oh * out_width..(oh + 1) * out_width];
        for ow in (0..interior_start).chain(interior_end..out_width) {
            (out_row[ow], argmax_row[ow]) = window_max(x, width, rows, geometry.window(1, ow));
        }
        if interior_start < interior_end {
            let run = interior_start..interior_end;
            let window = InteriorWindow {
                width,
                rows,
                kernel,
                first_column: interior_start * stride - padding,
            };
            let (values, positions) = (&mut out_row[run.clone()], &mut argmax_row[run]);
            // Literal strides let the compiler specialise the common cases.
            match stride {
                1 => interior_run(x, &window, 1, values, positions),
                2 => interior_run(x, &window, 2, values, positions),
                _ => interior_run(x, &window, stride, values, positions),
            }
        }
    }
}

/// The window rows, kernel width and first column of a run of interior outputs.
struct InteriorWindow {
    width: usize,
    rows: (usize, usize),
    kernel: usize,
    first_column: usize,
}

/// Outputs per block of [`interior_run`] (the u32 offsets live on the stack).
const RUN_BLOCK: usize = 64;

/// A run of outputs whose windows lie inside the input on the width axis: for each window tap
/// `(h, kw)` in row-major order, one pass over the run updates every output's running maximum
/// and the offset of its position, with a strict `>` (the first of equal values wins). The
/// outputs are independent, so the pass vectorises. A run that meets a NaN is redone window by
/// window with PyTorch's NaN rule ([`window_max_with_nan`]).
#[inline(always)]
fn interior_run<E: Float>(
    x: &[E],
    window: &InteriorWindow,
    stride: usize,
    values: &mut [E],
    positions: &mut [usize],
) {
    let InteriorWindow {
        width,
        rows,
        kernel,
        first_column,
    } = *window;
    let blocks = values
        .chunks_mut(RUN_BLOCK)
        .zip(positions.chunks_mut(RUN_BLOCK));
    for (block, (values, positions)) in blocks.enumerate() {
        let block_column = first_column + block * RUN_BLOCK * stride;
        let len = values.len();
        let mut offsets = [0u32; RUN_BLOCK];
        let offsets = &mut offsets[..len];
        values.fill(E::NEG_INFINITY);
        let mut has_nan = false;
        for hh in rows.0..rows.1 {
            for tap in 0..kernel {
                let start = hh * width + block_column + tap;
                let source = &x[start..start + (len - 1) * stride + 1];
                // Fits: (kh − 1)·W + kw < kh·W < 2³².
                let offset = ((hh - rows.0) * width + tap) as u32;
                let lanes = values
                    .iter_mut()
                    .zip(offsets.iter_mut())
                    .zip(source.chunks(stride));
                for ((best, best_offset), group) in lanes {
                    let value = group[0];
                    let take = value > *best;
                    // A mask blend, stored unconditionally (a select here becomes a
                    // per-lane conditional store).
                    let mask = (take as u32).wrapping_neg();
                    *best_offset = (offset & mask) | (*best_offset & !mask);
                    *best = if take { value } else { *best };
                    has_nan |= value.is_nan();
                }
            }
        }
        let base = rows.0 * width + block_column;
        for (j, (position, &offset)) in positions.iter_mut().zip(offsets.iter()).enumerate() {
            *position = base + j * stride + offset as usize;
        }
        if has_nan {
            for (j, (value, position)) in values.iter_mut().zip(positions.iter_mut()).enumerate() {
                let column = block_column + j * stride;
                (*value, *position) =
                    window_max_with_nan(x, width, rows, (column, column + kernel));
            }
        }
    }
}

/// `(max, argmax)` of one window by PyTorch's scan in row-major order: `>` keeps the first of
/// equal values, a NaN replaces the running maximum (so the last NaN wins and the result is
/// NaN). Two short scans instead of one compare-and-branch per element (which mispredicts on
/// real data): the maximum, branch-free with one chain per row, then its first position.
fn window_max<E: Float>(
    x: &[E],
    width: usize,
    rows: (usize, usize),
    cols: (usize, usize),
) -> (E, usize) {
    let mut best = E::NEG_INFINITY;
    let mut has_nan = false;
    for hh in rows.0..rows.1 {
        let mut row_best = E::NEG_INFINITY;
        for &value in &x[hh * width + cols.0..hh * width + cols.1] {
            row_best = if value > row_best { value } else { row_best };
            has_nan |= value.is_nan();
        }
        best = if row_best > best { row_best } else { best };
    }
    if has_nan {
        window_max_with_nan(x, width, rows, cols)
    } else {
        (best, first_position_of(x, width, rows, cols, best))
    }
}

/// The first position `h·W + w` (row-major) in the window that holds `target` (which it does).
#[inline(always)]
fn first_position_of<E: Float>(
    x: &[E],
    width: usize,
    rows: (usize, usize),
    cols: (usize, usize),
    target: E,
) -> usize {
    for hh in rows.0..rows.1 {
        let row = &x[hh * width + cols.0..hh * width + cols.1];
        if let Some(offset) = row.iter().position(|&value| value == target) {
            return hh * width + cols.0 + offset;
        }
    }
    rows.0 * width + cols.0
}

/// PyTorch's scan, element by element: `>` keeps the first of equal values, a NaN replaces the
/// running maximum (so the last NaN of the window wins and the result is NaN).
fn window_max_with_nan<E: Float>(
    x: &[E],
    width: usize,
    rows: (usize, usize),
    cols: (usize, usize),
) -> (E, usize) {
    let mut best = E::NEG_INFINITY;
    let mut best_index = rows.0 * width + cols.0;
    for hh in rows.0..rows.1 {
        for w in cols.0..cols.1 {
            let value = x[hh * width + w];
            if value > best || value.is_nan() {
                best = value;
                best_index = hh * width + w;
            }
        }
    }
    (best, best_index)
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
    #[cfg(feature = "cuda")]
    if crate::cuda::launch::is_cuda(grad_output) {
        return crate::cuda::ops::pool::max_pool2d_backward(OP, grad_output, indices, [n, c, h, w]);
    }
    let out_plane = grad_shape[2] * grad_shape[3];
    let grad = grad_output.contiguous_data(OP)?;
    let argmax = indices.as_slice();
    let mut grad_input = crate::buffer::filled(OP, input_shape, E::ZERO)?;
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
