//! AVX2 + FMA micro-kernels: an `MR × NR` tile of C held in 12 ymm registers.
//!
//! The same scheme as `kernel_avx512.rs` with 16 ymm registers instead of 32 zmm: one k step
//! loads two ymm of the packed B row, broadcasts each of the `MR = 6` values of the packed A
//! column and issues 12 fused multiply-adds (12 accumulators + 2 B + 1 broadcast = 15 registers).
//!
//! f32: 6 × 16 tile; f64: 6 × 8 tile.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::kernel_portable::write_back_scalar;

/// Rows of the f32 and f64 tiles (values of A broadcast per k step).
pub(super) const MR: usize = 6;
/// Columns of the f32 tile (two ymm of 8 lanes).
pub(super) const NR_F32: usize = 16;
/// Columns of the f64 tile (two ymm of 4 lanes).
pub(super) const NR_F64: usize = 8;

macro_rules! avx2_kernel {
    ($name:ident, $elem:ty, $lanes:expr, $vec:ty, $zero:ident, $set1:ident, $load:ident,
     $store:ident, $fmadd:ident, $mul:ident, $add:ident) => {
        /// `C[..m_eff, ..n_eff] ← α·(A_panel · B_panel) + β·C` for one tile, where the packed
        /// A panel holds `kc` groups of `MR` values and the packed B panel `kc` groups of
        /// `2·lanes` values. With `β = 0`, C is not read.
        ///
        /// # Safety
        /// The CPU supports AVX2 and FMA; `a` points to `MR·kc` and `b` to `2·lanes·kc` readable
        /// elements; `c + i·rs_c + j·cs_c` is a valid, exclusively owned element for every
        /// `i < m_eff ≤ MR`, `j < n_eff ≤ 2·lanes`.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        #[allow(clippy::too_many_arguments)]
        pub(super) unsafe fn $name(
            kc: usize,
            alpha: $elem,
            a: *const $elem,
            b: *const $elem,
            beta: $elem,
            c: *mut $elem,
            rs_c: usize,
            cs_c: usize,
            m_eff: usize,
            n_eff: usize,
        ) {
            const NR: usize = 2 * $lanes;
            let mut acc0: [$vec; MR] = [$zero(); MR];
            let mut acc1: [$vec; MR] = [$zero(); MR];
            if cs_c == 1 {
                // Start fetching the C tile now; it is needed after the k loop.
                for i in 0..m_eff {
                    let row = c.wrapping_add(i * rs_c) as *const i8;
                    _mm_prefetch::<_MM_HINT_T0>(row);
                    _mm_prefetch::<_MM_HINT_T0>(
                        row.wrapping_add(NR * std::mem::size_of::<$elem>() - 1),
                    );
                }
            }
            let mut a_ptr = a;
            let mut b_ptr = b;
            for _ in 0..kc {
                // SAFETY: p < kc, so the row p of B (NR values) and column p of A (MR values)
                // lie inside the panels the caller vouched for.
                unsafe {
                    // Prefetch the B row 8 steps ahead (a hint: near the end the address lies
                    // past the panel, so it is computed with wrapping arithmetic).
                    _mm_prefetch::<_MM_HINT_T0>(b_ptr.wrapping_add(8 * NR) as *const i8);
                    let b0 = $load(b_ptr);
                    let b1 = $load(b_ptr.add($lanes));
                    for i in 0..MR {
                        let ai = $set1(*a_ptr.add(i));
                        acc0[i] = $fmadd(ai, b0, acc0[i]);
                        acc1[i] = $fmadd(ai, b1, acc1[i]);
                    }
                    a_ptr = a_ptr.add(MR);
                    b_ptr = b_ptr.add(NR);
                }
            }
            if m_eff == MR && n_eff == NR && cs_c == 1 {
                // Full tile, rows of C contiguous: update in vector registers. The update is a
                // separate multiply and add (not fused), as in `write_back_scalar`, so full and
                // edge tiles round identically.
                let alpha_v = $set1(alpha);
                let beta_v = $set1(beta);
                for i in 0..MR {
                    // SAFETY: row i < m_eff of C holds NR contiguous elements (cs_c = 1) that
                    // the caller lets us write.
                    unsafe {
                        let row = c.add(i * rs_c);
                        let mut t0 = $mul(alpha_v, acc0[i]);
                        let mut t1 = $mul(alpha_v, acc1[i]);
                        if beta != 0.0 {
                            t0 = $add(t0, $mul(beta_v, $load(row)));
                            t1 = $add(t1, $mul(beta_v, $load(row.add($lanes))));
                        }
                        $store(row, t0);
                        $store(row.add($lanes), t1);
                    }
                }
            } else {
                let mut tile = [0.0 as $elem; MR * NR];
                for i in 0..MR {
                    // SAFETY: tile holds MR rows of NR elements.
                    unsafe {
                        $store(tile.as_mut_ptr().add(i * NR), acc0[i]);
                        $store(tile.as_mut_ptr().add(i * NR + $lanes), acc1[i]);
                    }
                }
                // SAFETY: forwarded from this function's contract.
                unsafe { write_back_scalar(&tile, NR, alpha, beta, c, rs_c, cs_c, m_eff, n_eff) };
            }
        }
    };
}

avx2_kernel!(
    kernel_f32,
    f32,
    8,
    __m256,
    _mm256_setzero_ps,
    _mm256_set1_ps,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_fmadd_ps,
    _mm256_mul_ps,
    _mm256_add_ps
);
avx2_kernel!(
    kernel_f64,
    f64,
    4,
    __m256d,
    _mm256_setzero_pd,
    _mm256_set1_pd,
    _mm256_loadu_pd,
    _mm256_storeu_pd,
    _mm256_fmadd_pd,
    _mm256_mul_pd,
    _mm256_add_pd
);
