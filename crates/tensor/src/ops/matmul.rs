//! Matrix product with `torch.matmul` semantics, on top of [`crate::gemm`].
//!
//! - 2-D × 2-D: `[m, k] · [k, n] → [m, n]`.
//! - rank ≥ 3 (either side): a batch of matrix products over the leading axes, which broadcast
//!   with NumPy rules: `[b₁, 1, m, k] · [b₂, k, n] → [b₁, b₂, m, n]`.
//! - 1-D operands: a vector on the left is a `[1, k]` row, on the right a `[k, 1]` column, and
//!   that axis is dropped from the result (`[k] · [k] → []`, a dot product).
//!
//! Each operand's matrices are passed to GEMM with their own strides, so a transposed or
//! otherwise strided view is read in place, never copied; broadcast batch axes (stride 0 or
//! size 1) reuse the same matrix.

use rayon::prelude::*;

use crate::error::{Result, TensorError};
use crate::gemm::{gemm, MatMut, MatRef};
use crate::layout::{broadcast_shape, numel};
use crate::{Float, Layout, Tensor};

const OP: &str = "matmul";

/// The batch of matrices one operand holds: element `[batch…, i, j]` of the operand broadcast
/// to `batch_shape` is `data[offset(batch) + i·row_stride + j·col_stride]`.
struct MatrixBatch<'a, E> {
    data: &'a [E],
    layout: &'a Layout,
    rows: usize,
    cols: usize,
}

impl<'a, E> MatrixBatch<'a, E> {
    fn new(data: &'a [E], layout: &'a Layout) -> Self {
        let rank = layout.rank();
        MatrixBatch {
            data,
            layout,
            rows: layout.shape()[rank - 2],
            cols: layout.shape()[rank - 1],
        }
    }

    /// The matrix at multi-index `batch` of the broadcast batch shape (this operand's batch
    /// axes are right-aligned against it; size-1 axes broadcast).
    fn matrix(&self, batch: &[usize]) -> Result<MatRef<'a, E>> {
        let rank = self.layout.rank();
        let own_batch = rank - 2;
        let skip = batch.len() - own_batch;
        let mut offset = self.layout.offset();
        for axis in 0..own_batch {
            if self.layout.shape()[axis] != 1 {
                offset += batch[skip + axis] * self.layout.strides()[axis];
            }
        }
        let strides = self.layout.strides();
        let data = if self.rows == 0 || self.cols == 0 {
            &self.data[..0]
        } else {
            &self.data[offset..]
        };
        MatRef::new(
            data,
            self.rows,
            self.cols,
            strides[rank - 2],
            strides[rank - 1],
        )
    }
}

impl<E: Float> Tensor<E> {
    /// The matrix product `self · other` with `torch.matmul` semantics (see the module docs):
    /// `out[…, i, j] = Σₚ self[…, i, p] · other[…, p, j]`, batch axes broadcast.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let a = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// let b = a.transpose(0, 1)?; // [3, 2], a view: read in place by the GEMM
    /// let c = a.matmul(&b)?;      // [2, 2]
    /// assert_eq!(c.to_vec(), vec![14.0, 32.0, 32.0, 77.0]);
    /// let batch = Tensor::<f32>::ones(&[4, 1, 3]).matmul(&b)?; // [4, 1, 3] · [3, 2] → [4, 1, 2]
    /// assert_eq!(batch.shape(), &[4, 1, 2]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn matmul(&self, other: &Tensor<E>) -> Result<Tensor<E>> {
        if self.device() != other.device() {
            return Err(TensorError::DeviceMismatch {
                op: OP,
                lhs: self.device(),
                rhs: other.device(),
            });
        }
        for operand in [self, other] {
            if operand.rank() == 0 {
                return Err(TensorError::Rank {
                    op: OP,
                    expected: 1,
                    shape: operand.shape().to_vec(),
                });
            }
        }
        #[cfg(feature = "cuda")]
        if crate::cuda::launch::is_cuda(self) {
            return crate::cuda::ops::matmul::matmul(
                OP,
                self,
                other,
                crate::cuda::ops::GemmPrecision::Exact,
            );
        }
        // Vectors become [1, k] rows on the left, [k, 1] columns on the right (views).
        let lhs = if self.rank() == 1 {
            self.unsqueeze(0)?
        } else {
            self.clone()
        };
        let rhs = if other.rank() == 1 {
            other.unsqueeze(1)?
        } else {
            other.clone()
        };
        let (lhs_rank, rhs_rank) = (lhs.rank(), rhs.rank());
        let (m, k) = (lhs.shape()[lhs_rank - 2], lhs.shape()[lhs_rank - 1]);
        let (k_rhs, n) = (rhs.shape()[rhs_rank - 2], rhs.shape()[rhs_rank - 1]);
        if k != k_rhs {
            return Err(TensorError::ShapeMismatch {
                op: OP,
                lhs: self.shape().to_vec(),
                rhs: other.shape().to_vec(),
            });
        }
        let batch_shape = broadcast_shape(
            OP,
            &lhs.shape()[..lhs_rank - 2],
            &rhs.shape()[..rhs_rank - 2],
        )
        .map_err(|_| TensorError::Broadcast {
            op: OP,
            lhs: self.shape().to_vec(),
            rhs: other.shape().to_vec(),
        })?;

        let (lhs_data, lhs_layout) = lhs.cpu_storage(OP)?;
        let (rhs_data, rhs_layout) = rhs.cpu_storage(OP)?;
        let (lhs_batch, rhs_batch) = (
            MatrixBatch::new(lhs_data, lhs_layout),
            MatrixBatch::new(rhs_data, rhs_layout),
        );

        let mut out_shape = batch_shape.clone();
        out_shape.extend([m, n]);
        let mut out = vec![E::ZERO; numel(&out_shape)];
        if m * n > 0 {
            // One GEMM per batch element, in parallel; each is itself threaded when large.
            out.par_chunks_mut(m * n).enumerate().try_for_each(
                |(flat, out_matrix)| -> Result<()> {
                    let batch = unflatten(flat, &batch_shape);
                    // out[batch] [m, n] ← lhs[batch] [m, k] · rhs[batch] [k, n]
                    gemm(
                        E::ONE,
                        lhs_batch.matrix(&batch)?,
                        rhs_batch.matrix(&batch)?,
                        E::ZERO,
                        MatMut::row_major(out_matrix, m, n)?,
                    )
                },
            )?;
        }
        // Drop the axes that 1-D operands gained.
        if self.rank() == 1 {
            out_shape.remove(out_shape.len() - 2);
        }
        if other.rank() == 1 {
            out_shape.pop();
        }
        Tensor::from_vec(out, &out_shape)
    }
}

/// The multi-index of flat (row-major) position `flat` in `shape`.
fn unflatten(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (slot, &size) in index.iter_mut().zip(shape).rev() {
        *slot = flat % size;
        flat /= size;
    }
    index
}
