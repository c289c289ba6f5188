//! Small products: no packing, no threads.
//!
//! For a product of a few thousand multiply-adds, packing A and B into panels and zero-padding
//! a 14 × 32 tile cost more than the arithmetic. Here blocks of 4 rows × 8 columns of C are
//! summed in registers straight from A and B (B's rows must be contiguous),
//! `C[i][j] = α·Σₚ A[i][p]·B[p][j] + β·C[i][j]`; the compiler turns each 8-column group into
//! vector operations.

use super::{MatMut, MatRef};
use crate::Float;

/// Largest product (`m·n·k` multiply-adds) that takes this path.
const MAX_WORK: usize = 8 * 1024;
/// Widest C (columns) that takes this path.
const MAX_COLUMNS: usize = 64;

/// Whether `C [m×n] ← A [m×k] · B [k×n]` is small enough, and B laid out for this path.
pub(super) fn applies<E>(a: &MatRef<'_, E>, b: &MatRef<'_, E>) -> bool {
    let (m, n, k) = (a.rows(), b.cols(), a.cols());
    k > 0
        && n <= MAX_COLUMNS
        && m.saturating_mul(n).saturating_mul(k) <= MAX_WORK
        && b.col_stride() == 1
}

/// `C ← α·A·B + β·C` row by row (see the module docs); requires [`applies`].
pub(super) fn gemm_small<E: Float>(
    alpha: E,
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    beta: E,
    c: MatMut<'_, E>,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, the only requirement of `gemm_small_avx2`.
        return unsafe { gemm_small_avx2(alpha, a, b, beta, c) };
    }
    gemm_small_body(alpha, a, b, beta, c)
}

/// The same code compiled with AVX2 enabled, so the row updates use 256-bit vectors. (Multiply
/// and add stay separate operations: Rust never fuses them on its own.)
///
/// # Safety
/// The CPU supports AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn gemm_small_avx2<E: Float>(
    alpha: E,
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    beta: E,
    c: MatMut<'_, E>,
) {
    gemm_small_body(alpha, a, b, beta, c)
}

#[inline(always)]
fn gemm_small_body<E: Float>(
    alpha: E,
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    beta: E,
    mut c: MatMut<'_, E>,
) {
    let m = a.rows();
    let full = m / ROWS * ROWS;
    for i in (0..full).step_by(ROWS) {
        rows_block::<E, ROWS>(i, alpha, &a, &b, beta, &mut c);
    }
    for i in full..m {
        rows_block::<E, 1>(i, alpha, &a, &b, beta, &mut c);
    }
}

/// Rows handled together: `ROWS` independent accumulator chains hide the add latency.
const ROWS: usize = 4;
/// Columns per accumulator group (one or two vector registers).
const GROUP: usize = 8;

/// `C[i0 .. i0 + R][..] ← α·A[i0 .. i0 + R][..]·B + β·C[i0 .. i0 + R][..]`, each element summed
/// over p in order. Groups of 8 columns are held in registers across the whole k loop; the last
/// `n mod 8` columns are summed one by one.
#[inline(always)]
fn rows_block<E: Float, const R: usize>(
    i0: usize,
    alpha: E,
    a: &MatRef<'_, E>,
    b: &MatRef<'_, E>,
    beta: E,
    c: &mut MatMut<'_, E>,
) {
    let (n, k) = (b.cols(), a.cols());
    let (b_data, b_row_stride) = (b.data(), b.row_stride());
    let store = |c: &mut MatMut<'_, E>, i: usize, j: usize, sum: E| {
        let out = c.at_mut(i, j);
        *out = if beta == E::ZERO {
            alpha * sum
        } else {
            alpha * sum + beta * *out
        };
    };
    let grouped = n / GROUP * GROUP;
    for j0 in (0..grouped).step_by(GROUP) {
        // acc [R][8] ← A[i0.., ..] · B[.., j0 .. j0+8]
        let mut acc = [[E::ZERO; GROUP]; R];
        for p in 0..k {
            let b_group: &[E; GROUP] = b_data[p * b_row_stride + j0..][..GROUP]
                .try_into()
                .expect("8 values");
            for (r, sums) in acc.iter_mut().enumerate() {
                let a_value = *a.at(i0 + r, p);
                for (sum, &b_value) in sums.iter_mut().zip(b_group) {
                    *sum += a_value * b_value;
                }
            }
        }
        for (r, sums) in acc.iter().enumerate() {
            for (t, &sum) in sums.iter().enumerate() {
                store(c, i0 + r, j0 + t, sum);
            }
        }
    }
    for j in grouped..n {
        // acc [R] ← A[i0.., ..] · B[.., j]: R independent chains.
        let mut acc = [E::ZERO; R];
        for p in 0..k {
            let b_value = b_data[p * b_row_stride + j];
            for (r, sum) in acc.iter_mut().enumerate() {
                *sum += *a.at(i0 + r, p) * b_value;
            }
        }
        for (r, &sum) in acc.iter().enumerate() {
            store(c, i0 + r, j, sum);
        }
    }
}
