//! Concatenation along an axis: `out[…, offsetₖ + j, …] = tensorsₖ[…, j, …]` with
//! `offsetₖ = Σ_{m<k} sizeₘ(axis)`.

use crate::error::{Result, TensorError};
use crate::layout::{check_axis, check_shape};
use crate::{Float, Tensor};

impl<E: Float> Tensor<E> {
    /// Joins tensors along `axis`; every other axis must match. Views are accepted as inputs.
    ///
    /// Each output "row" (one index of the axes before `axis`) is the concatenation of each
    /// input's contiguous block of `sizeₖ(axis) · Π(inner sizes)` elements, so the copy is a
    /// sequence of `memcpy`s.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let a = Tensor::<f32>::from_vec(vec![1.0, 2.0], &[2, 1])?;
    /// let b = Tensor::<f32>::from_vec(vec![3.0, 4.0, 5.0, 6.0], &[2, 2])?;
    /// let c = Tensor::concat(&[&a, &b], 1)?;
    /// assert_eq!(c.shape(), &[2, 3]);
    /// assert_eq!(c.to_vec(), vec![1.0, 3.0, 4.0, 2.0, 5.0, 6.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn concat(tensors: &[&Tensor<E>], axis: usize) -> Result<Tensor<E>> {
        const OP: &str = "concat";
        let first = tensors
            .first()
            .ok_or_else(|| TensorError::invalid(OP, "needs at least one tensor"))?;
        let rank = first.rank();
        check_axis(OP, axis, rank)?;
        let mut total = 0usize;
        for tensor in tensors {
            if tensor.device() != first.device() {
                return Err(TensorError::DeviceMismatch {
                    op: OP,
                    lhs: first.device(),
                    rhs: tensor.device(),
                });
            }
            let matches = tensor.rank() == rank
                && tensor
                    .shape()
                    .iter()
                    .zip(first.shape())
                    .enumerate()
                    .all(|(a, (s, f))| a == axis || s == f);
            if !matches {
                return Err(TensorError::ShapeMismatch {
                    op: OP,
                    lhs: first.shape().to_vec(),
                    rhs: tensor.shape().to_vec(),
                });
            }
            total = total
                .checked_add(tensor.shape()[axis])
                .ok_or_else(|| TensorError::invalid(OP, "concatenated axis overflows usize"))?;
        }
        let mut shape = first.shape().to_vec();
        shape[axis] = total;
        // Inputs can be views showing more elements than they store; the result cannot.
        check_shape(OP, &shape, std::mem::size_of::<E>())?;
        #[cfg(feature = "cuda")]
        if crate::cuda::launch::is_cuda(first) {
            return crate::cuda::ops::copy::concat(OP, tensors, axis, &shape);
        }
        let outer: usize = shape[..axis].iter().product();
        let inner: usize = shape[axis + 1..].iter().product();
        let blocks: Vec<(std::borrow::Cow<'_, [E]>, usize)> = tensors
            .iter()
            .map(|t| {
                Ok((
                    crate::ops::elementwise::dense_data(OP, t)?,
                    t.shape()[axis] * inner,
                ))
            })
            .collect::<Result<_>>()?;
        let (mut out, _) = crate::buffer::with_capacity(OP, &shape)?;
        for row in 0..outer {
            for (data, block) in &blocks {
                out.extend_from_slice(&data[row * block..(row + 1) * block]);
            }
        }
        Ok(Tensor::from_contiguous(out, &shape))
    }
}
