//! The plain definition of GEMM, as a triple loop: what the packed kernels compute.
//!
//! `C[i][j] ← α·(Σₚ A[i][p]·B[p][j]) + β·C[i][j]`, and when `β = 0` the old `C[i][j]` is not
//! read at all (so a NaN there does not propagate), as in BLAS. Slow on purpose: it is the
//! yardstick the tests hold the fast path against.

use super::{check_operands, MatMut, MatRef};
use crate::error::Result;
use crate::Float;

/// `C ← α·A·B + β·C` by the textbook triple loop; the same argument checks as
/// [`super::gemm`].
///
/// ```
/// use unravel_tensor::gemm::{reference::gemm_reference, MatMut, MatRef};
/// let a = [1.0f64, 2.0, 3.0, 4.0]; // [[1, 2], [3, 4]]
/// let mut c = [f64::NAN; 4];       // β = 0: the NaN is ignored
/// gemm_reference(1.0, MatRef::row_major(&a, 2, 2)?, MatRef::row_major(&a, 2, 2)?, 0.0,
///                MatMut::row_major(&mut c, 2, 2)?)?;
/// assert_eq!(c, [7.0, 10.0, 15.0, 22.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn gemm_reference<E: Float>(
    alpha: E,
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    beta: E,
    mut c: MatMut<'_, E>,
) -> Result<()> {
    check_operands("gemm_reference", &a, &b, &c)?;
    for i in 0..c.rows() {
        for j in 0..c.cols() {
            let mut sum = E::ZERO;
            for p in 0..a.cols() {
                sum += *a.at(i, p) * *b.at(p, j);
            }
            let out = c.at_mut(i, j);
            *out = if beta == E::ZERO {
                alpha * sum
            } else {
                alpha * sum + beta * *out
            };
        }
    }
    Ok(())
}
