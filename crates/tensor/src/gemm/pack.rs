//! Packing: copying a block of A or B into the order the micro-kernel reads it.
//!
//! The micro-kernel walks k and at each step needs `MR` values of A (one per tile row) and
//! `NR` values of B (one per tile column). Packing lays them out consecutively, so the kernel
//! reads both panels with unit stride whatever A's and B's strides are (this is where
//! transposes are absorbed), and pads the last panel with zeros to a full `MR` or `NR`.
//!
//! ```text
//! A block [mc × kc] → panels of MR rows:    panel q = [kc][MR]   (A[q·MR + i][p] at p·MR + i)
//! B block [kc × nc] → panels of NR columns: panel q = [kc][NR]   (B[p][q·NR + j] at p·NR + j)
//! ```

use super::MatRef;
use crate::Float;

/// Packs `A[row0 .. row0 + rows][col0 .. col0 + kc]` into panels of `mr` rows in `dst`
/// (`dst.len() ≥ ceil(rows / mr)·mr·kc`).
pub(super) fn pack_a<E: Float>(a: &MatRef<'_, E>, row0: usize, rows: usize, col0: usize, kc: usize, mr: usize, dst: &mut [E]) {
    let (data, rs, cs) = (a.data(), a.row_stride(), a.col_stride());
    for (q, panel) in dst.chunks_exact_mut(mr * kc).take(rows.div_ceil(mr)).enumerate() {
        let first = row0 + q * mr;
        let live = mr.min(rows - q * mr);
        if live < mr {
            panel.fill(E::ZERO);
        }
        if cs == 1 {
            // Rows of A are contiguous: read each row once, scatter with stride mr.
            for i in 0..live {
                let start = (first + i) * rs + col0;
                for (slot, &value) in panel[i..].iter_mut().step_by(mr).zip(&data[start..start + kc]) {
                    *slot = value;
                }
            }
        } else if rs == 1 {
            // Columns of A are contiguous (A is a transposed view): one copy per k.
            for (p, column) in panel.chunks_exact_mut(mr).enumerate() {
                let start = first + (col0 + p) * cs;
                column[..live].copy_from_slice(&data[start..start + live]);
            }
        } else {
            for (p, column) in panel.chunks_exact_mut(mr).enumerate() {
                for (i, slot) in column[..live].iter_mut().enumerate() {
                    *slot = data[(first + i) * rs + (col0 + p) * cs];
                }
            }
        }
    }
}

/// Packs panel `q` of `B[row0 .. row0 + kc][col0 .. col0 + cols]`, i.e. columns
/// `col0 + q·nr ..` (at most `nr`), into `panel` (`panel.len() = nr·kc`).
#[allow(clippy::too_many_arguments)]
pub(super) fn pack_b_panel<E: Float>(
    b: &MatRef<'_, E>,
    row0: usize,
    kc: usize,
    col0: usize,
    cols: usize,
    nr: usize,
    q: usize,
    panel: &mut [E],
) {
    let (data, rs, cs) = (b.data(), b.row_stride(), b.col_stride());
    let first = col0 + q * nr;
    let live = nr.min(cols - q * nr);
    if live < nr {
        panel.fill(E::ZERO);
    }
    if cs == 1 {
        // Rows of B are contiguous: one copy per k.
        for (p, row) in panel.chunks_exact_mut(nr).enumerate() {
            let start = (row0 + p) * rs + first;
            row[..live].copy_from_slice(&data[start..start + live]);
        }
    } else if rs == 1 {
        // Columns of B are contiguous (B is a transposed view): scatter with stride nr.
        for j in 0..live {
            let start = row0 + (first + j) * cs;
            for (slot, &value) in panel[j..].iter_mut().step_by(nr).zip(&data[start..start + kc]) {
                *slot = value;
            }
        }
    } else {
        for (p, row) in panel.chunks_exact_mut(nr).enumerate() {
            for (j, slot) in row[..live].iter_mut().enumerate() {
                *slot = data[(row0 + p) * rs + (first + j) * cs];
            }
        }
    }
}
