//! Constant padding: `out[i + before] = x[i]`, every other element `value`.

use crate::error::{Result, TensorError};
use crate::layout::{check_shape, contiguous_strides};
use crate::{Float, Tensor};

impl<E: Float> Tensor<E> {
    /// Pads every axis with `value`: `padding[k] = (before, after)` elements added on each side
    /// of axis `k` (one pair per axis). Zero-padding the channels of `[N, C, H, W]` for an
    /// option-A shortcut is `pad(&[(0, 0), (c, c), (0, 0), (0, 0)], 0.0)`.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1.0, 2.0], &[1, 2])?;
    /// let y = x.pad(&[(0, 1), (1, 0)], 9.0)?;
    /// assert_eq!(y.shape(), &[2, 3]);
    /// assert_eq!(y.to_vec(), vec![9.0, 1.0, 2.0, 9.0, 9.0, 9.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn pad(&self, padding: &[(usize, usize)], value: E) -> Result<Tensor<E>> {
        const OP: &str = "pad";
        if padding.len() != self.rank() {
            return Err(TensorError::invalid(
                OP,
                format!(
                    "{} (before, after) pairs given for a tensor of shape {:?}",
                    padding.len(),
                    self.shape()
                ),
            ));
        }
        let mut shape = Vec::with_capacity(self.rank());
        for (&size, &(before, after)) in self.shape().iter().zip(padding) {
            let padded = size.checked_add(before).and_then(|s| s.checked_add(after));
            shape.push(padded.ok_or_else(|| {
                TensorError::invalid(OP, format!("padding {padding:?} overflows usize"))
            })?);
        }
        check_shape(OP, &shape, std::mem::size_of::<E>())?;
        #[cfg(feature = "cuda")]
        if crate::cuda::launch::is_cuda(self) {
            return crate::cuda::ops::copy::pad(OP, self, padding, value, &shape);
        }
        let data = crate::ops::elementwise::dense_data(OP, self)?;
        let mut out = crate::buffer::filled(OP, &shape, value)?;
        if data.is_empty() {
            return Ok(Tensor::from_contiguous(out, &shape));
        }
        if self.rank() == 0 {
            out[0] = data[0];
            return Ok(Tensor::from_contiguous(out, &shape));
        }
        // Copy each input row (last axis) to its place: offset Σ (iₖ + beforeₖ)·strideₖ.
        let out_strides = contiguous_strides(&shape);
        let row_len = *self.shape().last().expect("rank ≥ 1");
        let outer_shape = &self.shape()[..self.rank() - 1];
        let mut index = vec![0usize; outer_shape.len()];
        for row in data.chunks(row_len) {
            let start: usize = index
                .iter()
                .zip(padding)
                .zip(&out_strides)
                .map(|((&i, &(before, _)), &stride)| (i + before) * stride)
                .sum::<usize>()
                + padding[self.rank() - 1].0;
            out[start..start + row_len].copy_from_slice(row);
            for axis in (0..index.len()).rev() {
                index[axis] += 1;
                if index[axis] < outer_shape[axis] {
                    break;
                }
                index[axis] = 0;
            }
        }
        Ok(Tensor::from_contiguous(out, &shape))
    }
}
