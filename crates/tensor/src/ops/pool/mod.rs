//! 2-D pooling over `[N, C, H, W]` tensors: max, average and global average pooling, forward and
//! backward kernels.
//!
//! Every window is read from one `(n, c)` plane, so the kernels work plane by plane: planes are
//! independent, run in parallel with rayon when the input is large, and each is computed by one
//! thread in a fixed order, so results are bit-identical for any number of threads.
//!
//! Output size (PyTorch, `ceil_mode = false`), per spatial axis:
//!
//! ```text
//! out = ⌊(in + 2·padding − kernel) / stride⌋ + 1
//! ```
//!
//! Window `o` covers input positions `o·stride − padding ..< o·stride − padding + kernel`; the
//! positions outside `0..in` are the padding. As in PyTorch, `padding ≤ kernel / 2`, so every
//! window holds at least one real input element.
//!
//! Files: [`max_pool`](max_pool2d) (`max_pool.rs`), [`avg_pool`](avg_pool2d) (`avg_pool.rs`),
//! [`global_avg_pool2d`] (`global_avg_pool.rs`), and the plain reference kernels that document
//! what the fast ones compute ([`reference`](mod@reference)).

mod avg_pool;
mod global_avg_pool;
mod max_pool;
pub mod reference;

pub use avg_pool::{avg_pool2d, avg_pool2d_backward};
pub use global_avg_pool::{global_avg_pool2d, global_avg_pool2d_backward};
pub use max_pool::{max_pool2d, max_pool2d_backward};

use rayon::prelude::*;

use crate::error::{Result, TensorError};

/// Inputs with at least this many elements are pooled plane-parallel. The split (one task per
/// plane) depends only on the shape, so the threshold never changes a result.
const PARALLEL_THRESHOLD: usize = 1 << 15;

/// Window size, stride and zero/−∞ padding of a 2-D pooling, as `[height, width]`.
///
/// ```
/// use unravel_tensor::ops::pool::Pool2dParams;
/// // ResNet's stem: 3×3 max pool, stride 2, padding 1.
/// let params = Pool2dParams::square(3, 2, 1);
/// assert_eq!(params.output_size("example", [112, 112])?, [56, 56]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pool2dParams {
    /// Window size `[kh, kw]`, each at least 1.
    pub kernel: [usize; 2],
    /// Step between windows `[sh, sw]`, each at least 1.
    pub stride: [usize; 2],
    /// Implicit padding on both sides `[ph, pw]`, each at most half the window size.
    pub padding: [usize; 2],
}

impl Pool2dParams {
    /// The parameters from their parts.
    pub fn new(kernel: [usize; 2], stride: [usize; 2], padding: [usize; 2]) -> Self {
        Pool2dParams {
            kernel,
            stride,
            padding,
        }
    }

    /// The same window, stride and padding on both axes.
    pub fn square(kernel: usize, stride: usize, padding: usize) -> Self {
        Self::new([kernel; 2], [stride; 2], [padding; 2])
    }

    /// `[out_h, out_w]` for an input plane of `[in_h, in_w]`, with `out = ⌊(in + 2p − k)/s⌋ + 1`.
    ///
    /// Fails (naming `op`) for a zero window or stride, padding above half the window, or a
    /// window larger than the padded input.
    pub fn output_size(&self, op: &'static str, input: [usize; 2]) -> Result<[usize; 2]> {
        let mut out = [0; 2];
        for axis in 0..2 {
            let (k, s, p, size) = (
                self.kernel[axis],
                self.stride[axis],
                self.padding[axis],
                input[axis],
            );
            if k == 0 {
                return Err(TensorError::invalid(
                    op,
                    format!("kernel {:?} must be at least 1 on each axis", self.kernel),
                ));
            }
            if s == 0 {
                return Err(TensorError::invalid(
                    op,
                    format!("stride {:?} must be at least 1 on each axis", self.stride),
                ));
            }
            if p > k / 2 {
                return Err(TensorError::invalid(
                    op,
                    format!(
                        "padding {:?} must be at most half of the kernel {:?}",
                        self.padding, self.kernel
                    ),
                ));
            }
            let padded = size
                .checked_add(2 * p)
                .ok_or_else(|| TensorError::invalid(op, "padded input size overflows usize"))?;
            if padded < k {
                return Err(TensorError::invalid(
                    op,
                    format!(
                        "kernel {:?} is larger than the padded input {:?} (input {:?}, padding {:?})",
                        self.kernel,
                        [
                            input[0].saturating_add(2 * self.padding[0]),
                            input[1].saturating_add(2 * self.padding[1])
                        ],
                        input,
                        self.padding
                    ),
                ));
            }
            out[axis] = (padded - k) / s + 1;
        }
        Ok(out)
    }
}

/// The sizes of one pooling problem, checked: input plane `[h, w]`, output plane `[oh, ow]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlaneGeometry {
    pub(crate) input: [usize; 2],
    pub(crate) output: [usize; 2],
    pub(crate) params: Pool2dParams,
}

impl PlaneGeometry {
    pub(crate) fn new(op: &'static str, input: [usize; 2], params: Pool2dParams) -> Result<Self> {
        let output = params.output_size(op, input)?;
        Ok(PlaneGeometry {
            input,
            output,
            params,
        })
    }

    /// The input range `start..end` (clipped to the input) of output position `o` on `axis`.
    #[inline(always)]
    pub(crate) fn window(&self, axis: usize, o: usize) -> (usize, usize) {
        let padded_start = o * self.params.stride[axis];
        let start = padded_start.saturating_sub(self.params.padding[axis]);
        // kernel > padding (padding ≤ kernel/2), so this does not underflow.
        let end = (padded_start + self.params.kernel[axis] - self.params.padding[axis])
            .min(self.input[axis]);
        (start, end)
    }

    /// The number of positions of window `o` on `axis` counting padding, as PyTorch's
    /// `count_include_pad` divisor does: the window clipped to `−padding ..< in + padding`.
    #[inline(always)]
    pub(crate) fn padded_window_len(&self, axis: usize, o: usize) -> usize {
        let padded_start = o * self.params.stride[axis];
        let padded_end = (padded_start + self.params.kernel[axis])
            .min(self.input[axis] + 2 * self.params.padding[axis]);
        padded_end - padded_start
    }

    pub(crate) fn input_plane(&self) -> usize {
        self.input[0] * self.input[1]
    }

    pub(crate) fn output_plane(&self) -> usize {
        self.output[0] * self.output[1]
    }
}

/// Checks that `shape` is `[N, C, H, W]` with non-empty planes and channels (`N` may be 0) and
/// an element count that fits in `usize` (`input_shape` arguments come from the caller).
pub(crate) fn check_nchw(op: &'static str, what: &str, shape: &[usize]) -> Result<[usize; 4]> {
    if shape.len() != 4 {
        return Err(TensorError::Rank {
            op,
            expected: 4,
            shape: shape.to_vec(),
        });
    }
    if shape[1] == 0 || shape[2] == 0 || shape[3] == 0 {
        return Err(TensorError::invalid(
            op,
            format!("{what} of shape {shape:?} has an empty channel or spatial axis"),
        ));
    }
    if crate::layout::checked_numel(shape).is_none() {
        return Err(TensorError::invalid(
            op,
            format!("{what} of shape {shape:?} has more elements than usize can count"),
        ));
    }
    Ok([shape[0], shape[1], shape[2], shape[3]])
}

/// Runs `kernel(plane_index, output_plane)` on every `plane_len`-sized chunk of `output`, in
/// parallel when `work` (elements touched) is large. Each plane is computed by one call, so the
/// result does not depend on the thread count.
pub(crate) fn for_each_plane<E: Send>(
    output: &mut [E],
    plane_len: usize,
    work: usize,
    kernel: impl Fn(usize, &mut [E]) + Sync + Send,
) {
    if plane_len == 0 || output.is_empty() {
        return;
    }
    if work >= PARALLEL_THRESHOLD {
        output
            .par_chunks_mut(plane_len)
            .enumerate()
            .for_each(|(plane, out)| kernel(plane, out));
    } else {
        output
            .chunks_mut(plane_len)
            .enumerate()
            .for_each(|(plane, out)| kernel(plane, out));
    }
}
