//! Plain reference reductions: for each output element, visit the reduced elements one by one in
//! row-major order. Sums accumulate in `f64` (an accurate reference for `f32`; for `f64` inputs
//! it is a naive running sum, fine for the modest sizes the tests use).

use crate::layout::numel;
use crate::ops::elementwise::reference::multi_indices;
use crate::{Float, Indices, Tensor};

/// Output shape of a reduction over `axes`.
fn output_shape(shape: &[usize], axes: &[usize], keepdim: bool) -> Vec<usize> {
    let mut out = Vec::new();
    for (axis, &size) in shape.iter().enumerate() {
        if axes.contains(&axis) {
            if keepdim {
                out.push(1);
            }
        } else {
            out.push(size);
        }
    }
    out
}

/// The elements reduced into each output element (as f64), output elements in row-major order.
fn groups<E: Float>(x: &Tensor<E>, axes: &[usize]) -> Vec<Vec<f64>> {
    let kept_shape: Vec<usize> = x
        .shape()
        .iter()
        .enumerate()
        .map(|(axis, &size)| if axes.contains(&axis) { 1 } else { size })
        .collect();
    let reduced_shape: Vec<usize> = x
        .shape()
        .iter()
        .enumerate()
        .map(|(axis, &size)| if axes.contains(&axis) { size } else { 1 })
        .collect();
    let reduced = multi_indices(&reduced_shape);
    multi_indices(&kept_shape)
        .iter()
        .map(|kept| {
            reduced
                .iter()
                .map(|r| {
                    let index: Vec<usize> = kept.iter().zip(r).map(|(k, r)| k + r).collect();
                    x.get(&index).expect("in bounds").to_f64()
                })
                .collect()
        })
        .collect()
}

fn build<E: Float>(
    x: &Tensor<E>,
    axes: &[usize],
    keepdim: bool,
    f: impl Fn(&[f64]) -> f64,
) -> Tensor<E> {
    let shape = output_shape(x.shape(), axes, keepdim);
    let data: Vec<E> = groups(x, axes).iter().map(|g| E::from_f64(f(g))).collect();
    debug_assert_eq!(data.len(), numel(&shape));
    Tensor::from_vec(data, &shape).expect("sizes match")
}

/// `out = Σ x` over `axes`.
///
/// ```
/// use unravel_tensor::{ops::reduce::reference, Tensor};
/// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
/// assert_eq!(reference::sum(&x, &[1], false).to_vec(), vec![3.0, 7.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn sum<E: Float>(x: &Tensor<E>, axes: &[usize], keepdim: bool) -> Tensor<E> {
    build(x, axes, keepdim, |g| g.iter().sum())
}

/// `out = (1/n) Σ x` over `axes`.
///
/// ```
/// use unravel_tensor::{ops::reduce::reference, Tensor};
/// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
/// assert_eq!(reference::mean(&x, &[0], true).to_vec(), vec![2.0, 3.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn mean<E: Float>(x: &Tensor<E>, axes: &[usize], keepdim: bool) -> Tensor<E> {
    build(x, axes, keepdim, |g| g.iter().sum::<f64>() / g.len() as f64)
}

/// `out = Σ (x − mean)² / (n − correction)` over `axes`.
///
/// ```
/// use unravel_tensor::{ops::reduce::reference, Tensor};
/// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
/// assert_eq!(reference::var(&x, &[0, 1], false, 0).to_vec(), vec![1.25]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn var<E: Float>(x: &Tensor<E>, axes: &[usize], keepdim: bool, correction: usize) -> Tensor<E> {
    build(x, axes, keepdim, |g| {
        let mean = g.iter().sum::<f64>() / g.len() as f64;
        g.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (g.len() - correction) as f64
    })
}

/// `out = max x` over `axes` (NaN if any element is NaN).
///
/// ```
/// use unravel_tensor::{ops::reduce::reference, Tensor};
/// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
/// assert_eq!(reference::max(&x, &[0], false).to_vec(), vec![3.0, 4.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn max<E: Float>(x: &Tensor<E>, axes: &[usize], keepdim: bool) -> Tensor<E> {
    build(x, axes, keepdim, |g| {
        g.iter().fold(f64::NEG_INFINITY, |m, &v| {
            if m.is_nan() || v.is_nan() {
                f64::NAN
            } else {
                m.max(v)
            }
        })
    })
}

/// `out = min x` over `axes` (NaN if any element is NaN).
///
/// ```
/// use unravel_tensor::{ops::reduce::reference, Tensor};
/// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
/// assert_eq!(reference::min(&x, &[1], false).to_vec(), vec![1.0, 3.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn min<E: Float>(x: &Tensor<E>, axes: &[usize], keepdim: bool) -> Tensor<E> {
    build(x, axes, keepdim, |g| {
        g.iter().fold(f64::INFINITY, |m, &v| {
            if m.is_nan() || v.is_nan() {
                f64::NAN
            } else {
                m.min(v)
            }
        })
    })
}

/// First index of the maximum along `axis` (a NaN counts as the maximum).
///
/// ```
/// use unravel_tensor::{ops::reduce::reference, Tensor};
/// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
/// assert_eq!(reference::argmax(&x, 1, false).as_slice(), &[1, 1]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn argmax<E: Float>(x: &Tensor<E>, axis: usize, keepdim: bool) -> Indices {
    let shape = output_shape(x.shape(), &[axis], keepdim);
    let data = groups(x, &[axis])
        .iter()
        .map(|g| {
            let mut best = 0;
            for (i, &v) in g.iter().enumerate() {
                let b = g[best];
                if !b.is_nan() && (v.is_nan() || v > b) {
                    best = i;
                }
            }
            best
        })
        .collect();
    Indices::new(data, &shape).expect("sizes match")
}
