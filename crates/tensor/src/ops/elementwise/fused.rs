//! Fused elementwise ops: several elementwise steps in one pass over memory, so that an
//! intermediate result is never written out and read back. Each has a plain composition of the
//! unfused ops in [`super::reference`] that it is tested against.

use super::binary_map;
use crate::error::Result;
use crate::{Float, Tensor};

impl<E: Float> Tensor<E> {
    /// The residual join of a post-activation ResNet block in one pass:
    /// `out = max(a + b, 0)`, broadcasting like [`Tensor::add`]. The sum is formed and clamped
    /// element by element (`s < 0 ? 0 : s`, so NaN stays NaN, as in [`Tensor::relu`]), so the
    /// result is bit-identical to `a.add(b)?.relu()`, without writing and re-reading the sum.
    /// On a GPU, operands of one shape on one device run the `add_relu` kernel; otherwise
    /// (broadcasting, a rank-0 CPU operand) the two unfused kernels run.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let a = Tensor::<f32>::from_vec(vec![1.0, -2.0, 0.5], &[3])?;
    /// let b = Tensor::<f32>::from_vec(vec![0.5, 1.0, -1.5], &[3])?;
    /// assert_eq!(a.add_relu(&b)?.to_vec(), vec![1.5, 0.0, 0.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn add_relu(&self, other: &Tensor<E>) -> Result<Tensor<E>> {
        const OP: &str = "add_relu";
        #[cfg(feature = "cuda")]
        if crate::cuda::launch::is_cuda(self) || crate::cuda::launch::is_cuda(other) {
            if self.shape() == other.shape() && self.device() == other.device() {
                return crate::cuda::ops::elementwise::add_relu(self, other);
            }
            // Broadcasting, or a CPU scalar operand to lift: the unfused kernels handle both.
            return self.add(other)?.relu();
        }
        binary_map(OP, self, other, |a, b| {
            let sum = a + b;
            if sum < E::ZERO {
                E::ZERO
            } else {
                sum
            }
        })
    }
}
