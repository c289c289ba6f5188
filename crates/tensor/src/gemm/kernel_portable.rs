//! The portable micro-kernel (any CPU; the compiler vectorises it with what the target allows,
//! SSE2 on baseline x86-64) and the scalar tile write-back that every kernel uses for edge tiles.

use crate::Float;

/// Rows of the portable tile.
pub(super) const MR: usize = 4;
/// Columns of the portable f32 tile (two SSE registers per row).
pub(super) const NR_F32: usize = 8;
/// Columns of the portable f64 tile (two SSE registers per row).
pub(super) const NR_F64: usize = 4;

/// `C[..m_eff, ..n_eff] ← α·tile + β·C` where `tile` is an `MR × nr` row-major block of
/// `A·B` sums; with `β = 0`, C is not read. Computed as `(α·t) + (β·c)`, unfused, so that the
/// SIMD kernels' full-tile path gives bit-identical results.
///
/// # Safety
/// `c + i·rs_c + j·cs_c` is a valid element that nothing else accesses, for every
/// `i < m_eff`, `j < n_eff`, and `tile.len() ≥ m_eff·nr`, `n_eff ≤ nr`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn write_back_scalar<E: Float>(
    tile: &[E],
    nr: usize,
    alpha: E,
    beta: E,
    c: *mut E,
    rs_c: usize,
    cs_c: usize,
    m_eff: usize,
    n_eff: usize,
) {
    for i in 0..m_eff {
        for j in 0..n_eff {
            let sum = tile[i * nr + j];
            // SAFETY: (i, j) is inside the m_eff × n_eff block the caller vouched for.
            unsafe {
                let dst = c.add(i * rs_c + j * cs_c);
                *dst = if beta == E::ZERO {
                    alpha * sum
                } else {
                    alpha * sum + beta * *dst
                };
            }
        }
    }
}

/// Portable micro-kernel: `C[..m_eff, ..n_eff] ← α·(A_panel · B_panel) + β·C`, with the packed
/// A panel `kc` groups of `MR` values and the packed B panel `kc` groups of `NR` values.
///
/// # Safety
/// `a` points to `MR·kc` and `b` to `NR·kc` readable elements; C as in [`write_back_scalar`]
/// for `m_eff ≤ MR`, `n_eff ≤ NR`.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn kernel<E: Float, const NR: usize>(
    kc: usize,
    alpha: E,
    a: *const E,
    b: *const E,
    beta: E,
    c: *mut E,
    rs_c: usize,
    cs_c: usize,
    m_eff: usize,
    n_eff: usize,
) {
    // SAFETY: the caller guarantees these panel lengths.
    let (a, b) = unsafe {
        (
            std::slice::from_raw_parts(a, MR * kc),
            std::slice::from_raw_parts(b, NR * kc),
        )
    };
    let mut acc = [[E::ZERO; NR]; MR];
    for (a_col, b_row) in a.chunks_exact(MR).zip(b.chunks_exact(NR)) {
        for (acc_row, &a_value) in acc.iter_mut().zip(a_col) {
            for (sum, &b_value) in acc_row.iter_mut().zip(b_row) {
                *sum += a_value * b_value;
            }
        }
    }
    // SAFETY: forwarded from this function's contract.
    unsafe {
        write_back_scalar(
            acc.as_flattened(),
            NR,
            alpha,
            beta,
            c,
            rs_c,
            cs_c,
            m_eff,
            n_eff,
        )
    };
}
