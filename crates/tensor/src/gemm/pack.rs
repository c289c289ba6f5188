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
pub(super) fn pack_a<E: Float>(
    a: &MatRef<'_, E>,
    row0: usize,
    rows: usize,
    col0: usize,
    kc: usize,
    mr: usize,
    dst: &mut [E],
) {
    let (data, rs, cs) = (a.data(), a.row_stride(), a.col_stride());
    for (q, panel) in dst
        .chunks_exact_mut(mr * kc)
        .take(rows.div_ceil(mr))
        .enumerate()
    {
        let first = row0 + q * mr;
        let live = mr.min(rows - q * mr);
        if live < mr {
            panel.fill(E::ZERO);
        }
        if cs == 1 && live == mr && matches!(mr, 4 | 6 | 8 | 14) {
            // Rows of A are contiguous and the panel is full: walk the MR rows side by side.
            let start = first * rs + col0;
            match mr {
                4 => pack_a_rows::<E, 4>(data, start, rs, kc, panel),
                6 => pack_a_rows::<E, 6>(data, start, rs, kc, panel),
                8 => pack_a_rows::<E, 8>(data, start, rs, kc, panel),
                _ => pack_a_rows::<E, 14>(data, start, rs, kc, panel),
            }
        } else if cs == 1 {
            // Rows of A are contiguous: read each row once, scatter with stride mr.
            for i in 0..live {
                let start = (first + i) * rs + col0;
                for (slot, &value) in panel[i..]
                    .iter_mut()
                    .step_by(mr)
                    .zip(&data[start..start + kc])
                {
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

/// One full panel from `MR` contiguous rows of length `kc`, the first at `data[start..]`, the
/// next `row_stride` further on: `panel[p·MR + i] = row_i[p]`.
fn pack_a_rows<E: Float, const MR: usize>(
    data: &[E],
    start: usize,
    row_stride: usize,
    kc: usize,
    panel: &mut [E],
) {
    let rows: [&[E]; MR] =
        std::array::from_fn(|i| &data[start + i * row_stride..start + i * row_stride + kc]);
    for (p, column) in panel.chunks_exact_mut(MR).take(kc).enumerate() {
        for (slot, row) in column.iter_mut().zip(&rows) {
            *slot = row[p];
        }
    }
}

/// Packs the consecutive panels `first_panel ..` of `B[row0 .. row0 + kc][col0 .. col0 + cols]`
/// that fill `dst` (`dst.len()` a multiple of `nr·kc`).
///
/// When B's rows are contiguous, the full panels are filled row by row of B, so memory is read
/// in long sequential runs (one per row of B) that the hardware prefetcher streams well;
/// reading panel by panel would touch a new page of B for every `nr` values.
#[allow(clippy::too_many_arguments)]
pub(super) fn pack_b<E: Float>(
    b: &MatRef<'_, E>,
    row0: usize,
    kc: usize,
    col0: usize,
    cols: usize,
    nr: usize,
    first_panel: usize,
    dst: &mut [E],
) {
    let panel_len = nr * kc;
    let panels = dst.len() / panel_len;
    let full_panels = (cols / nr).saturating_sub(first_panel).min(panels);
    let (data, rs) = (b.data(), b.row_stride());
    if b.col_stride() == 1 && full_panels > 0 && matches!(nr, 4 | 8 | 16 | 32) {
        let start = row0 * rs + col0 + first_panel * nr;
        match nr {
            4 => pack_b_by_rows::<E, 4>(data, start, rs, kc, full_panels, dst),
            8 => pack_b_by_rows::<E, 8>(data, start, rs, kc, full_panels, dst),
            16 => pack_b_by_rows::<E, 16>(data, start, rs, kc, full_panels, dst),
            _ => pack_b_by_rows::<E, 32>(data, start, rs, kc, full_panels, dst),
        }
    } else {
        for (q, panel) in dst
            .chunks_exact_mut(panel_len)
            .take(full_panels)
            .enumerate()
        {
            pack_b_panel(b, row0, kc, col0, cols, nr, first_panel + q, panel);
        }
    }
    for (q, panel) in dst
        .chunks_exact_mut(panel_len)
        .enumerate()
        .skip(full_panels)
    {
        if (first_panel + q) * nr < cols {
            pack_b_panel(b, row0, kc, col0, cols, nr, first_panel + q, panel);
        }
    }
}

/// `panels` full B panels from rows of B that are contiguous: row `p` of the block starts at
/// `data[start + p·row_stride]`; panel `q` takes its `NR` values at offset `q·NR`.
fn pack_b_by_rows<E: Float, const NR: usize>(
    data: &[E],
    start: usize,
    row_stride: usize,
    kc: usize,
    panels: usize,
    dst: &mut [E],
) {
    for p in 0..kc {
        let row = &data[start + p * row_stride..][..panels * NR];
        for (q, source) in row.chunks_exact(NR).enumerate() {
            let source: &[E; NR] = source.try_into().expect("NR elements");
            let destination: &mut [E; NR] = (&mut dst[(q * kc + p) * NR..][..NR])
                .try_into()
                .expect("NR elements");
            *destination = *source;
        }
    }
}

/// Packs panel `q` of `B[row0 .. row0 + kc][col0 .. col0 + cols]`, i.e. columns
/// `col0 + q·nr ..` (at most `nr`), into `panel` (`panel.len() = nr·kc`).
#[allow(clippy::too_many_arguments)]
fn pack_b_panel<E: Float>(
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
    if cs == 1 && live == nr && matches!(nr, 4 | 8 | 16 | 32) {
        // Rows of B are contiguous and the panel is full: fixed-size copies the compiler turns
        // into a few vector moves (a memcpy call per row would cost more than the copy).
        let start = row0 * rs + first;
        match nr {
            4 => pack_b_rows::<E, 4>(data, start, rs, kc, panel),
            8 => pack_b_rows::<E, 8>(data, start, rs, kc, panel),
            16 => pack_b_rows::<E, 16>(data, start, rs, kc, panel),
            _ => pack_b_rows::<E, 32>(data, start, rs, kc, panel),
        }
    } else if cs == 1 {
        // Rows of B are contiguous: one copy per k.
        for (p, row) in panel.chunks_exact_mut(nr).enumerate() {
            let start = (row0 + p) * rs + first;
            row[..live].copy_from_slice(&data[start..start + live]);
        }
    } else if rs == 1 {
        // Columns of B are contiguous (B is a transposed view): scatter with stride nr.
        for j in 0..live {
            let start = row0 + (first + j) * cs;
            for (slot, &value) in panel[j..]
                .iter_mut()
                .step_by(nr)
                .zip(&data[start..start + kc])
            {
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

/// One full B panel from `kc` contiguous row pieces of `NR` elements, the first at
/// `data[start..]`, the next `row_stride` further on.
fn pack_b_rows<E: Float, const NR: usize>(
    data: &[E],
    start: usize,
    row_stride: usize,
    kc: usize,
    panel: &mut [E],
) {
    for (p, row) in panel.chunks_exact_mut(NR).take(kc).enumerate() {
        let source: &[E; NR] = data[start + p * row_stride..][..NR]
            .try_into()
            .expect("NR elements");
        let destination: &mut [E; NR] = row.try_into().expect("NR elements");
        *destination = *source;
    }
}
