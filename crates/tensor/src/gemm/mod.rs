//! General matrix multiply: `C ← α·A·B + β·C` over strided matrices.
//!
//! Transposed operands are strided views (`MatRef::t`), so one entry point covers all four
//! transpose cases. PLACEHOLDER: the hand-written BLIS-style kernels replace the body of
//! `GemmElement::gemm_unchecked`; until then it calls `matrixmultiply`.

use crate::error::{Result, TensorError};
use crate::Float;

/// A read-only strided matrix view: element `(i, j)` is `data[i·row_stride + j·col_stride]`.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a, E> {
    data: &'a [E],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

/// A mutable strided matrix view, laid out as [`MatRef`].
#[derive(Debug)]
pub struct MatMut<'a, E> {
    data: &'a mut [E],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

fn check_extent(op: &'static str, len: usize, rows: usize, cols: usize, rs: usize, cs: usize) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    let last = (rows - 1)
        .checked_mul(rs)
        .and_then(|r| (cols - 1).checked_mul(cs).and_then(|c| r.checked_add(c)));
    match last {
        Some(last) if last < len => Ok(()),
        _ => Err(TensorError::invalid(
            op,
            format!("a {rows}×{cols} matrix with strides ({rs}, {cs}) does not fit in a buffer of {len} elements"),
        )),
    }
}

impl<'a, E> MatRef<'a, E> {
    /// A strided view; fails if an element would fall outside `data`.
    pub fn new(data: &'a [E], rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> Result<Self> {
        check_extent("MatRef::new", data.len(), rows, cols, row_stride, col_stride)?;
        Ok(MatRef { data, rows, cols, row_stride, col_stride })
    }

    /// A dense row-major `rows × cols` view.
    pub fn row_major(data: &'a [E], rows: usize, cols: usize) -> Result<Self> {
        Self::new(data, rows, cols, cols, 1)
    }

    /// The transpose, as a view.
    pub fn t(self) -> Self {
        MatRef { data: self.data, rows: self.cols, cols: self.rows, row_stride: self.col_stride, col_stride: self.row_stride }
    }

    pub fn rows(&self) -> usize { self.rows }
    pub fn cols(&self) -> usize { self.cols }
    pub fn row_stride(&self) -> usize { self.row_stride }
    pub fn col_stride(&self) -> usize { self.col_stride }
    pub fn data(&self) -> &'a [E] { self.data }

    /// Element `(i, j)`, unchecked beyond the slice's own bounds check.
    #[inline(always)]
    pub fn at(&self, i: usize, j: usize) -> &'a E {
        &self.data[i * self.row_stride + j * self.col_stride]
    }
}

impl<'a, E> MatMut<'a, E> {
    /// A strided mutable view; fails if an element would fall outside `data`.
    pub fn new(data: &'a mut [E], rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> Result<Self> {
        check_extent("MatMut::new", data.len(), rows, cols, row_stride, col_stride)?;
        Ok(MatMut { data, rows, cols, row_stride, col_stride })
    }

    /// A dense row-major `rows × cols` view.
    pub fn row_major(data: &'a mut [E], rows: usize, cols: usize) -> Result<Self> {
        Self::new(data, rows, cols, cols, 1)
    }

    pub fn rows(&self) -> usize { self.rows }
    pub fn cols(&self) -> usize { self.cols }
    pub fn row_stride(&self) -> usize { self.row_stride }
    pub fn col_stride(&self) -> usize { self.col_stride }
    pub fn data_mut(&mut self) -> &mut [E] { self.data }

    /// Element `(i, j)`, mutably.
    #[inline(always)]
    pub fn at_mut(&mut self, i: usize, j: usize) -> &mut E {
        &mut self.data[i * self.row_stride + j * self.col_stride]
    }
}

/// Element types with a GEMM kernel.
pub trait GemmElement: Sized {
    /// `C ← α·A·B + β·C`; shapes already checked. With β = 0, C's old contents (even NaN) are
    /// ignored, as in BLAS.
    fn gemm_unchecked(alpha: Self, a: MatRef<'_, Self>, b: MatRef<'_, Self>, beta: Self, c: MatMut<'_, Self>);
}

impl GemmElement for f32 {
    fn gemm_unchecked(alpha: f32, a: MatRef<'_, f32>, b: MatRef<'_, f32>, beta: f32, c: MatMut<'_, f32>) {
        // SAFETY: MatRef/MatMut::new checked that every (i, j) index of each view lies inside its
        // slice, and `c` is borrowed mutably, so it aliases neither `a` nor `b`.
        unsafe {
            matrixmultiply::sgemm(
                a.rows, a.cols, b.cols, alpha,
                a.data.as_ptr(), a.row_stride as isize, a.col_stride as isize,
                b.data.as_ptr(), b.row_stride as isize, b.col_stride as isize,
                beta, c.data.as_mut_ptr(), c.row_stride as isize, c.col_stride as isize,
            )
        }
    }
}

impl GemmElement for f64 {
    fn gemm_unchecked(alpha: f64, a: MatRef<'_, f64>, b: MatRef<'_, f64>, beta: f64, c: MatMut<'_, f64>) {
        // SAFETY: as for f32 above.
        unsafe {
            matrixmultiply::dgemm(
                a.rows, a.cols, b.cols, alpha,
                a.data.as_ptr(), a.row_stride as isize, a.col_stride as isize,
                b.data.as_ptr(), b.row_stride as isize, b.col_stride as isize,
                beta, c.data.as_mut_ptr(), c.row_stride as isize, c.col_stride as isize,
            )
        }
    }
}

/// `C ← α·A·B + β·C` for `A: m×k`, `B: k×n`, `C: m×n`, any strides.
///
/// ```
/// use unravel_tensor::gemm::{gemm, MatMut, MatRef};
/// let a = [1.0f32, 2.0, 3.0, 4.0]; // [[1, 2], [3, 4]]
/// let b = [1.0f32, 0.0, 0.0, 1.0]; // identity
/// let mut c = [0.0f32; 4];
/// gemm(1.0, MatRef::row_major(&a, 2, 2)?, MatRef::row_major(&b, 2, 2)?.t(), 0.0,
///      MatMut::row_major(&mut c, 2, 2)?)?;
/// assert_eq!(c, a);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn gemm<E: Float>(alpha: E, a: MatRef<'_, E>, b: MatRef<'_, E>, beta: E, c: MatMut<'_, E>) -> Result<()> {
    if a.cols != b.rows || c.rows != a.rows || c.cols != b.cols {
        return Err(TensorError::invalid(
            "gemm",
            format!(
                "A is {}×{}, B is {}×{}, C is {}×{}: need A m×k, B k×n, C m×n",
                a.rows, a.cols, b.rows, b.cols, c.rows, c.cols
            ),
        ));
    }
    if c.rows > 1 && c.cols > 1 && (c.row_stride == 0 || c.col_stride == 0) {
        return Err(TensorError::invalid("gemm", "C must not have a zero stride (elements would alias)"));
    }
    E::gemm_unchecked(alpha, a, b, beta, c);
    Ok(())
}
