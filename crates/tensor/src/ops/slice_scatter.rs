//! Slice scatter, the adjoint of a stepped slice (PyTorch's `slice_scatter`):
//! `out = base` except `out[…, start + i·step, …] = src[…, i, …]` along `axis`.
//! The backward of `y = slice(x, axis, start, end, step)` is
//! `dx = slice_scatter(zeros(shape(x)), dy, axis, start, end, step)`.

use crate::error::{Result, TensorError};
use crate::layout::{check_shape, Layout};
use crate::{Float, Tensor};

impl<E: Float> Tensor<E> {
    /// A copy of `self` whose elements `start, start + step, … < end` along `axis` are replaced
    /// by `src`, which must have the shape of that slice and live on the same device.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let base = Tensor::<f32>::zeros(&[2, 5]);
    /// let src = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// let out = base.slice_scatter(&src, 1, 0, 5, 2)?;
    /// assert_eq!(out.to_vec(), vec![1.0, 0.0, 2.0, 0.0, 3.0, 4.0, 0.0, 5.0, 0.0, 6.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn slice_scatter(
        &self,
        src: &Tensor<E>,
        axis: usize,
        start: usize,
        end: usize,
        step: usize,
    ) -> Result<Tensor<E>> {
        const OP: &str = "slice_scatter";
        crate::ops::elementwise::check_same_device(OP, self, src)?;
        // The slice as a view of the dense output: its strides and offset address the region.
        let view = Layout::contiguous(self.shape()).slice(axis, start, end, step)?;
        if view.shape() != src.shape() {
            return Err(TensorError::ShapeMismatch {
                op: OP,
                lhs: view.shape().to_vec(),
                rhs: src.shape().to_vec(),
            });
        }
        check_shape(OP, self.shape(), std::mem::size_of::<E>())?;
        #[cfg(feature = "cuda")]
        if crate::cuda::launch::is_cuda(self) {
            return crate::cuda::ops::copy::slice_scatter(OP, self, src, &view);
        }
        let mut out = self.to_vec_for(OP)?;
        let values = src.to_vec_for(OP)?;
        for (position, value) in view.storage_indices().zip(values) {
            out[position] = value;
        }
        Tensor::from_vec(out, self.shape())
    }
}
