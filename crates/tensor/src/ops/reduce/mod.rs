//! Reductions over any set of axes: `sum`, `mean`, `var`, `max`, `min`, `argmax`, and
//! `sum_to_shape` (the gradient of broadcasting).
//!
//! `axes` lists distinct axes below the rank, in any order. With `keepdim` the reduced axes stay
//! as size 1 (so the result broadcasts against the input); without it they are removed. As in
//! NumPy, an empty `axes` reduces nothing; [`Tensor::sum_all`] reduces everything.
//!
//! Sums use a cascade (pairwise) summation (see `kernels.rs`), accurate to O(log n)·ε, and split
//! work in a way fixed by the shape, so results are bit-identical for any thread count.

pub(crate) mod kernels;
pub mod reference;

use rayon::prelude::*;

use crate::error::{Result, TensorError};
use crate::layout::{check_axis, numel};
use crate::{Float, Indices, Tensor};

/// Checks `axes` (each below the rank, no repeats) and returns the per-axis "reduced" mask.
fn reduced_mask(op: &'static str, shape: &[usize], axes: &[usize]) -> Result<Vec<bool>> {
    let mut mask = vec![false; shape.len()];
    for &axis in axes {
        check_axis(op, axis, shape.len())?;
        if std::mem::replace(&mut mask[axis], true) {
            return Err(TensorError::invalid(
                op,
                format!("axis {axis} appears twice in {axes:?} (shape {shape:?})"),
            ));
        }
    }
    Ok(mask)
}

/// Shape of the result: reduced axes become 1 (`keepdim`) or disappear.
fn output_shape(shape: &[usize], mask: &[bool], keepdim: bool) -> Vec<usize> {
    shape
        .iter()
        .zip(mask)
        .filter_map(|(&size, &reduced)| match (reduced, keepdim) {
            (false, _) => Some(size),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect()
}

/// Number of elements reduced into each output element.
fn reduced_count(shape: &[usize], mask: &[bool]) -> usize {
    shape
        .iter()
        .zip(mask)
        .filter(|(_, &r)| r)
        .map(|(&s, _)| s)
        .product()
}

/// The neutral element of a reduction, or the seed of one that has none.
#[derive(Clone, Copy)]
enum Identity<E> {
    /// `f(identity, x) = x`, so an empty reduction gives `identity` (0 for a sum).
    Present(E),
    /// No identity: an empty reduction is an error. The value seeds the SIMD lanes (±∞ for
    /// max/min, which is neutral for every non-empty input).
    Absent(E),
}

/// Re-labels an error with the public op that caused it.
fn rename(error: TensorError, op: &'static str) -> TensorError {
    match error {
        TensorError::AxisOutOfRange { axis, rank, .. } => {
            TensorError::AxisOutOfRange { op, axis, rank }
        }
        TensorError::InvalidArgument { message, .. } => {
            TensorError::InvalidArgument { op, message }
        }
        other => other,
    }
}

/// The shared driver: validates, makes the input dense, and runs [`kernels::reduce_groups`].
/// Reductions without an identity (max, min) reject empty reductions; their seed value (±∞)
/// is only used as the starting lane value.
fn reduce<E: Float, F: Fn(E, E) -> E + Sync>(
    op: &'static str,
    x: &Tensor<E>,
    axes: &[usize],
    keepdim: bool,
    identity: Identity<E>,
    f: F,
) -> Result<Tensor<E>> {
    let mask = reduced_mask(op, x.shape(), axes)?;
    let shape = output_shape(x.shape(), &mask, keepdim);
    let count = reduced_count(x.shape(), &mask);
    let out_numel = numel(&shape);
    let start = match identity {
        Identity::Present(identity) => identity,
        Identity::Absent(_) if count == 0 && out_numel > 0 => {
            return Err(TensorError::invalid(
                op,
                format!(
                    "cannot reduce over axes {axes:?} of shape {:?}: they hold no element and {op} has no identity",
                    x.shape()
                ),
            ))
        }
        Identity::Absent(seed) => seed,
    };
    #[cfg(feature = "cuda")]
    if crate::cuda::launch::is_cuda(x) {
        return match op {
            "sum" | "sum_all" => crate::cuda::ops::reduce::sum(op, x, &mask, &shape, 1.0),
            "max" | "min" => crate::cuda::ops::reduce::extreme(op, x, &mask, &shape, op == "max"),
            _ => Err(TensorError::UnsupportedDevice {
                op,
                device: x.device(),
            }),
        };
    }
    // A non-contiguous input is made dense first (an error if that copy cannot be allocated).
    let data = crate::ops::elementwise::dense_data(op, x)?;
    if data.is_empty() {
        // Reducing an empty axis can still leave many elements: `[0, n]` summed over axis 0.
        let out = crate::buffer::filled(op, &shape, start)?;
        return Ok(Tensor::from_contiguous(out, &shape));
    }
    let groups = kernels::coalesce(x.shape(), &mask);
    let out = kernels::reduce_groups(&data, &groups, start, &f);
    debug_assert_eq!(out.len(), out_numel);
    Ok(Tensor::from_contiguous(out, &shape))
}

impl<E: Float> Tensor<E> {
    /// `out = Σ x` over `axes` (cascade summation).
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// assert_eq!(x.sum(&[1], false)?.to_vec(), vec![6.0, 15.0]);
    /// assert_eq!(x.sum(&[0], true)?.shape(), &[1, 3]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn sum(&self, axes: &[usize], keepdim: bool) -> Result<Tensor<E>> {
        reduce(
            "sum",
            self,
            axes,
            keepdim,
            Identity::Present(E::ZERO),
            |a, b| a + b,
        )
    }

    /// `out = (1/n) Σ x` over `axes`, `n` the number of elements reduced (NaN when `n = 0`).
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
    /// assert_eq!(x.mean(&[0], false)?.to_vec(), vec![2.0, 3.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn mean(&self, axes: &[usize], keepdim: bool) -> Result<Tensor<E>> {
        let sum = self.sum(axes, keepdim).map_err(|e| rename(e, "mean"))?;
        let mask = reduced_mask("mean", self.shape(), axes)?;
        let count = E::from_usize(reduced_count(self.shape(), &mask));
        #[cfg(feature = "cuda")]
        if crate::cuda::launch::is_cuda(&sum) {
            return sum.mul_scalar(E::ONE / count);
        }
        crate::ops::elementwise::unary_map("mean", &sum, move |s| s / count)
    }

    /// `out = Σ (x − x̄)² / (n − correction)` over `axes`: `correction = 0` is the biased
    /// (population) variance, `1` the unbiased (sample) one. Two passes (mean, then squared
    /// deviations), so it does not suffer the cancellation of `E[x²] − E[x]²`. Fails if
    /// `n ≤ correction`.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[4])?;
    /// assert_eq!(x.var(&[0], false, 0)?.item()?, 1.25);
    /// assert_eq!(x.var(&[0], false, 1)?.item()?, 5.0 / 3.0);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn var(&self, axes: &[usize], keepdim: bool, correction: usize) -> Result<Tensor<E>> {
        const OP: &str = "var";
        let mask = reduced_mask(OP, self.shape(), axes)?;
        let count = reduced_count(self.shape(), &mask);
        if count <= correction {
            return Err(TensorError::invalid(
                OP,
                format!(
                    "axes {axes:?} of shape {:?} hold {count} elements per result, not more than the correction {correction}",
                    self.shape()
                ),
            ));
        }
        #[cfg(feature = "cuda")]
        if crate::cuda::launch::is_cuda(self) {
            // The same two passes from GPU ops: Σ (x − x̄)², then one scaling.
            let deviation = self.sub(&self.mean(axes, true)?)?;
            let sum = deviation.powf(E::ONE + E::ONE)?.sum(axes, keepdim)?;
            return sum.mul_scalar(E::ONE / E::from_usize(count - correction));
        }
        let mean = self.mean(axes, true)?;
        let squared =
            crate::ops::elementwise::binary_map(OP, self, &mean, |x, m| (x - m) * (x - m))?;
        let sum = reduce(
            OP,
            &squared,
            axes,
            keepdim,
            Identity::Present(E::ZERO),
            |a, b| a + b,
        )?;
        let divisor = E::from_usize(count - correction);
        crate::ops::elementwise::unary_map(OP, &sum, move |s| s / divisor)
    }

    /// `out = max x` over `axes`; NaN if any reduced element is NaN. Fails on an empty reduction.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1.0, 5.0, 3.0, 4.0], &[2, 2])?;
    /// assert_eq!(x.max(&[1], false)?.to_vec(), vec![5.0, 4.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn max(&self, axes: &[usize], keepdim: bool) -> Result<Tensor<E>> {
        reduce(
            "max",
            self,
            axes,
            keepdim,
            Identity::Absent(E::NEG_INFINITY),
            |a, b| Float::max(a, b),
        )
    }

    /// `out = min x` over `axes`; NaN if any reduced element is NaN. Fails on an empty reduction.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1.0, 5.0, 3.0, 4.0], &[2, 2])?;
    /// assert_eq!(x.min(&[0], false)?.to_vec(), vec![1.0, 4.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn min(&self, axes: &[usize], keepdim: bool) -> Result<Tensor<E>> {
        reduce(
            "min",
            self,
            axes,
            keepdim,
            Identity::Absent(E::INFINITY),
            |a, b| Float::min(a, b),
        )
    }

    /// Index of the maximum along `axis` (the first one on ties; a NaN counts as the maximum, so
    /// the first NaN wins). Fails if the axis is empty.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1.0, 5.0, 5.0, 4.0, 2.0, 0.0], &[2, 3])?;
    /// assert_eq!(x.argmax(1, false)?.as_slice(), &[1, 0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn argmax(&self, axis: usize, keepdim: bool) -> Result<Indices> {
        const OP: &str = "argmax";
        check_axis(OP, axis, self.rank())?;
        let shape = self.shape();
        let size = shape[axis];
        let mut mask = vec![false; shape.len()];
        mask[axis] = true;
        let out_shape = output_shape(shape, &mask, keepdim);
        let outer: usize = shape[..axis].iter().product();
        let inner: usize = shape[axis + 1..].iter().product();
        if size == 0 && outer * inner > 0 {
            return Err(TensorError::invalid(
                OP,
                format!("axis {axis} of shape {shape:?} is empty"),
            ));
        }
        #[cfg(feature = "cuda")]
        if crate::cuda::launch::is_cuda(self) {
            return crate::cuda::ops::reduce::argmax(OP, self, axis, &out_shape);
        }
        let data = crate::ops::elementwise::dense_data(OP, self)?;
        let mut out = crate::buffer::filled(OP, &out_shape, 0usize)?;
        // Per outer index: one pass over the `size` rows of `inner` elements, updating the
        // running best of each column (contiguous, cache-friendly for any axis).
        let block = |o: usize, indices: &mut [usize]| {
            let base = o * size * inner;
            let mut best: Vec<E> = data[base..base + inner].to_vec();
            for j in 1..size {
                let row = &data[base + j * inner..base + (j + 1) * inner];
                for ((b, index), &v) in best.iter_mut().zip(indices.iter_mut()).zip(row) {
                    if !b.is_nan() && (v.is_nan() || v > *b) {
                        *b = v;
                        *index = j;
                    }
                }
            }
        };
        if inner > 0 {
            if data.len() > kernels::PARALLEL_WORK {
                out.par_chunks_mut(inner)
                    .enumerate()
                    .for_each(|(o, chunk)| block(o, chunk));
            } else {
                out.chunks_mut(inner)
                    .enumerate()
                    .for_each(|(o, chunk)| block(o, chunk));
            }
        }
        Indices::new(out, &out_shape)
    }

    /// `Σ x` over every element, as a rank-0 tensor.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
    /// assert_eq!(x.sum_all()?.item()?, 10.0);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn sum_all(&self) -> Result<Tensor<E>> {
        let axes: Vec<usize> = (0..self.rank()).collect();
        reduce(
            "sum_all",
            self,
            &axes,
            false,
            Identity::Present(E::ZERO),
            |a, b| a + b,
        )
    }

    /// `(1/n) Σ x` over every element, as a rank-0 tensor (NaN for an empty tensor).
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
    /// assert_eq!(x.mean_all()?.item()?, 2.5);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn mean_all(&self) -> Result<Tensor<E>> {
        let count = E::from_usize(self.numel());
        let sum = self.sum_all()?;
        #[cfg(feature = "cuda")]
        if crate::cuda::launch::is_cuda(&sum) {
            return sum.mul_scalar(E::ONE / count);
        }
        crate::ops::elementwise::unary_map("mean_all", &sum, move |s| s / count)
    }

    /// Sums a broadcast result back to `shape`, the shape of an operand that was broadcast to
    /// `self.shape()`: `out[j] = Σ self[i]` over every `i` that broadcasting mapped to `j`.
    /// This is the gradient of broadcasting. When `shape` equals `self.shape()` the result shares
    /// `self`'s storage (no copy). Fails unless `shape` broadcasts to `self.shape()`.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let grad = Tensor::<f32>::ones(&[2, 3, 4, 4]);
    /// let bias_grad = grad.sum_to_shape(&[1, 3, 1, 1])?;
    /// assert_eq!(bias_grad.to_vec(), vec![32.0, 32.0, 32.0]);
    /// assert_eq!(grad.sum_to_shape(&[4])?.to_vec(), vec![24.0; 4]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn sum_to_shape(&self, shape: &[usize]) -> Result<Tensor<E>> {
        const OP: &str = "sum_to_shape";
        let error = || TensorError::Broadcast {
            op: OP,
            lhs: shape.to_vec(),
            rhs: self.shape().to_vec(),
        };
        if shape.len() > self.rank() {
            return Err(error());
        }
        let lead = self.rank() - shape.len();
        let mut axes: Vec<usize> = (0..lead).collect();
        for (i, &size) in shape.iter().enumerate() {
            let own = self.shape()[lead + i];
            if size == own {
                continue;
            }
            if size == 1 {
                axes.push(lead + i);
            } else {
                return Err(error());
            }
        }
        if axes.is_empty() {
            // Nothing was broadcast (the common case in a backward pass): share the storage.
            return Ok(self.clone());
        }
        let summed = self.sum(&axes, true)?;
        summed.reshape(shape)
    }
}
