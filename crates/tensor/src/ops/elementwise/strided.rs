//! The broadcasting engine: walks `K` strided operands in the row-major order of a dense output
//! without materialising any broadcast operand.
//!
//! Every operand's layout is first broadcast to the output shape (stride 0 on repeated axes).
//! Size-1 axes are dropped and neighbouring axes merged wherever every operand allows it, so
//! the walk is over as few, as long rows as possible: same-shape contiguous inputs become one
//! row; `[N, C, H, W] + [1, C, 1, 1]` becomes `[N, C, H·W]` whose inner row is
//! "contiguous vector ⊙ one scalar". The caller's row kernel sees, per row, each operand's start
//! index and inner stride (0 or 1 on the fast paths).
//!
//! Large outputs are split into fixed chunks of [`CHUNK`] elements processed by rayon; the split
//! depends only on the shape, and every element is computed by the same expression whatever the
//! chunk, so results never depend on the thread count.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::error::Result;
use crate::layout::Layout;

/// Elements per parallel work unit (and the size above which work goes to rayon).
pub const CHUNK: usize = 32 * 1024;

/// A coalesced iteration plan over the output shape for `K` operands.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan<const K: usize> {
    /// Sizes of the remaining axes, outermost first; never empty (a scalar is `[1]`).
    pub sizes: Vec<usize>,
    /// Per axis, each operand's stride.
    pub strides: Vec<[usize; K]>,
    /// Each operand's storage offset.
    pub offsets: [usize; K],
}

impl<const K: usize> Plan<K> {
    /// Builds the plan for layouts already broadcast to one common shape.
    pub fn new(layouts: [&Layout; K]) -> Self {
        let shape = layouts[0].shape();
        debug_assert!(layouts.iter().all(|l| l.shape() == shape));
        let offsets = std::array::from_fn(|k| layouts[k].offset());
        let mut sizes: Vec<usize> = Vec::with_capacity(shape.len());
        let mut strides: Vec<[usize; K]> = Vec::with_capacity(shape.len());
        // Walk from the innermost axis outwards, merging an axis into the one inside it when
        // every operand steps over the inner axis exactly once per outer step.
        for axis in (0..shape.len()).rev() {
            let size = shape[axis];
            if size == 1 {
                continue;
            }
            let axis_strides: [usize; K] = std::array::from_fn(|k| layouts[k].strides()[axis]);
            if let (Some(&inner_size), Some(inner_strides)) = (sizes.last(), strides.last_mut()) {
                if (0..K).all(|k| axis_strides[k] == inner_strides[k] * inner_size) {
                    *sizes.last_mut().expect("checked above") = inner_size * size;
                    continue;
                }
            }
            sizes.push(size);
            strides.push(axis_strides);
        }
        if sizes.is_empty() {
            sizes.push(1);
            strides.push([0; K]);
        }
        sizes.reverse();
        strides.reverse();
        Plan {
            sizes,
            strides,
            offsets,
        }
    }

    /// Number of elements the plan walks.
    pub fn numel(&self) -> usize {
        self.sizes.iter().product()
    }

    /// Calls `row(starts, inner_strides, out_row)` for each maximal piece of an inner row that
    /// lies in `out`, the output elements `first .. first + out.len()`.
    #[inline]
    pub fn for_each_row<E>(
        &self,
        first: usize,
        out: &mut [E],
        row: &mut impl FnMut([usize; K], [usize; K], &mut [E]),
    ) {
        let rank = self.sizes.len();
        let inner_size = self.sizes[rank - 1];
        let inner_strides = self.strides[rank - 1];
        // Multi-index of `first`.
        let mut index = vec![0usize; rank];
        let mut rest = first;
        for axis in (0..rank).rev() {
            index[axis] = rest % self.sizes[axis];
            rest /= self.sizes[axis];
        }
        let mut done = 0;
        while done < out.len() {
            let starts: [usize; K] = std::array::from_fn(|k| {
                self.offsets[k]
                    + index
                        .iter()
                        .zip(&self.strides)
                        .map(|(&i, s)| i * s[k])
                        .sum::<usize>()
            });
            let count = (inner_size - index[rank - 1]).min(out.len() - done);
            row(starts, inner_strides, &mut out[done..done + count]);
            done += count;
            // Advance the odometer to the next row.
            index[rank - 1] = 0;
            for axis in (0..rank - 1).rev() {
                index[axis] += 1;
                if index[axis] < self.sizes[axis] {
                    break;
                }
                index[axis] = 0;
            }
        }
    }

    /// Fills the dense `out` (of [`Plan::numel`] elements), in parallel chunks when large.
    /// Every element of `out` is handed to `row` exactly once.
    pub fn fill<E: Send>(
        &self,
        out: &mut [E],
        row: impl Fn([usize; K], [usize; K], &mut [E]) + Sync,
    ) {
        debug_assert_eq!(out.len(), self.numel());
        if out.len() > CHUNK {
            out.par_chunks_mut(CHUNK)
                .enumerate()
                .for_each(|(i, chunk)| {
                    self.for_each_row(i * CHUNK, chunk, &mut |s, t, o| row(s, t, o))
                });
        } else {
            self.for_each_row(0, out, &mut |s, t, o| row(s, t, o));
        }
    }

    /// A new dense buffer of [`Plan::numel`] elements written by `row`, with no zeroing pass
    /// first (for a memory-bound op that pass would cost a third of the traffic). `shape`, the
    /// shape of the result (of `numel` elements), and `op` name it in the error if it cannot
    /// be allocated.
    ///
    /// # Safety
    /// `row` must initialise every element of each row slice it is given.
    pub unsafe fn collect<E: Send>(
        &self,
        op: &'static str,
        shape: &[usize],
        row: impl Fn([usize; K], [usize; K], &mut [MaybeUninit<E>]) + Sync,
    ) -> Result<Vec<E>> {
        let len = self.numel();
        let (mut out, count) = crate::buffer::with_capacity::<E>(op, shape)?;
        debug_assert_eq!(count, len);
        self.fill(&mut out.spare_capacity_mut()[..len], row);
        // SAFETY: `fill` hands every one of the `len` elements to `row`, which the caller
        // guarantees initialises them all. A panic in `row` leaves the length at 0 (no UB).
        unsafe { out.set_len(len) };
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_shape_contiguous_is_one_row() {
        let a = Layout::contiguous(&[4, 5, 6]);
        let plan = Plan::new([&a, &a]);
        assert_eq!(plan.sizes, vec![120]);
        assert_eq!(plan.strides, vec![[1, 1]]);
    }

    #[test]
    fn channel_bias_merges_spatial_axes() {
        let x = Layout::contiguous(&[2, 3, 4, 5]);
        let bias = Layout::contiguous(&[1, 3, 1, 1])
            .broadcast_to(&[2, 3, 4, 5])
            .unwrap();
        let plan = Plan::new([&x, &bias]);
        assert_eq!(plan.sizes, vec![2, 3, 20]);
        assert_eq!(plan.strides, vec![[60, 0], [20, 1], [1, 0]]);
    }

    #[test]
    fn rows_cover_a_chunk_that_starts_mid_row() {
        let x = Layout::contiguous(&[3, 4]).permute(&[1, 0]).unwrap(); // [4, 3], strides [1, 4]
        let plan = Plan::new([&x]);
        let mut seen = Vec::new();
        let mut out = vec![0u8; 7];
        plan.for_each_row(2, &mut out, &mut |starts, strides, row: &mut [u8]| {
            for i in 0..row.len() {
                seen.push(starts[0] + i * strides[0]);
            }
        });
        let expected: Vec<usize> = x.storage_indices().skip(2).take(7).collect();
        assert_eq!(seen, expected);
    }
}
