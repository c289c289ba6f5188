//! Plain reference kernels: the definition the fast elementwise kernels are tested against.
//!
//! Each output element `out[i₀, …]` is computed by indexing every operand at the broadcast
//! multi-index, one element at a time, with no fusion, chunking or SIMD.

use crate::error::Result;
use crate::layout::{broadcast_shape, Layout};
use crate::{Float, Tensor};

/// Element of `tensor` at the output multi-index `index` under NumPy broadcasting.
fn broadcast_get<E: Float>(tensor: &Tensor<E>, index: &[usize]) -> E {
    let lead = index.len() - tensor.rank();
    let own: Vec<usize> = tensor
        .shape()
        .iter()
        .enumerate()
        .map(|(axis, &size)| if size == 1 { 0 } else { index[lead + axis] })
        .collect();
    tensor
        .get(&own)
        .expect("reference: index in bounds by construction")
}

/// All multi-indices of `shape` in row-major order.
pub fn multi_indices(shape: &[usize]) -> Vec<Vec<usize>> {
    let count: usize = shape.iter().product();
    let mut all = Vec::with_capacity(count);
    let mut index = vec![0; shape.len()];
    for _ in 0..count {
        all.push(index.clone());
        for axis in (0..shape.len()).rev() {
            index[axis] += 1;
            if index[axis] < shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    all
}

/// `out = f(x)` elementwise.
pub fn unary<E: Float>(x: &Tensor<E>, f: impl Fn(E) -> E) -> Tensor<E> {
    let data = multi_indices(x.shape())
        .iter()
        .map(|index| f(x.get(index).expect("in bounds")))
        .collect();
    Tensor::from_vec(data, x.shape()).expect("sizes match")
}

/// `out[i] = f(a[i], b[i])` with NumPy broadcasting of `a` and `b`.
pub fn binary<E: Float>(a: &Tensor<E>, b: &Tensor<E>, f: impl Fn(E, E) -> E) -> Result<Tensor<E>> {
    let shape = broadcast_shape("reference::binary", a.shape(), b.shape())?;
    let data = multi_indices(&shape)
        .iter()
        .map(|index| f(broadcast_get(a, index), broadcast_get(b, index)))
        .collect();
    Tensor::from_vec(data, &shape)
}

/// `out[i] = condition[i] ≠ 0 ? on_true[i] : on_false[i]` with broadcasting of all three.
pub fn select<E: Float>(
    condition: &Tensor<E>,
    on_true: &Tensor<E>,
    on_false: &Tensor<E>,
) -> Result<Tensor<E>> {
    let shape = broadcast_shape("reference::select", condition.shape(), on_true.shape())?;
    let shape = broadcast_shape("reference::select", &shape, on_false.shape())?;
    let data = multi_indices(&shape)
        .iter()
        .map(|index| {
            if broadcast_get(condition, index) != E::ZERO {
                broadcast_get(on_true, index)
            } else {
                broadcast_get(on_false, index)
            }
        })
        .collect();
    Tensor::from_vec(data, &shape)
}

/// The storage indices of `layout` in logical order (re-exported for tests of the engine).
pub fn storage_order(layout: &Layout) -> Vec<usize> {
    layout.storage_indices().collect()
}
