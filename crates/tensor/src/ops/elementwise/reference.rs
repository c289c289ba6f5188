//! Plain reference kernels: the definition the fast elementwise kernels are tested against.
//!
//! Each output element `out[i₀, …]` is computed by indexing every operand at the broadcast
//! multi-index, one element at a time, with no fusion, chunking or SIMD.

use crate::error::Result;
use crate::layout::broadcast_shape;
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
///
/// ```
/// use unravel_tensor::ops::elementwise::reference::multi_indices;
/// assert_eq!(multi_indices(&[2, 2]), vec![vec![0, 0], vec![0, 1], vec![1, 0], vec![1, 1]]);
/// assert_eq!(multi_indices(&[]), vec![Vec::<usize>::new()]);
/// ```
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
///
/// ```
/// use unravel_tensor::{ops::elementwise::reference, Tensor};
/// let x = Tensor::<f32>::from_vec(vec![1.0, -2.0], &[2])?;
/// assert_eq!(reference::unary(&x, |v| v * v).to_vec(), vec![1.0, 4.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn unary<E: Float>(x: &Tensor<E>, f: impl Fn(E) -> E) -> Tensor<E> {
    let data = multi_indices(x.shape())
        .iter()
        .map(|index| f(x.get(index).expect("in bounds")))
        .collect();
    Tensor::from_vec(data, x.shape()).expect("sizes match")
}

/// `out[i] = f(a[i], b[i])` with NumPy broadcasting of `a` and `b`.
///
/// ```
/// use unravel_tensor::{ops::elementwise::reference, Tensor};
/// let a = Tensor::<f32>::from_vec(vec![1.0, 2.0], &[2, 1])?;
/// let b = Tensor::<f32>::from_vec(vec![10.0, 20.0], &[2])?;
/// let sum = reference::binary(&a, &b, |x, y| x + y)?;
/// assert_eq!(sum.to_vec(), vec![11.0, 21.0, 12.0, 22.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn binary<E: Float>(a: &Tensor<E>, b: &Tensor<E>, f: impl Fn(E, E) -> E) -> Result<Tensor<E>> {
    let shape = broadcast_shape("reference::binary", a.shape(), b.shape())?;
    let data = multi_indices(&shape)
        .iter()
        .map(|index| f(broadcast_get(a, index), broadcast_get(b, index)))
        .collect();
    Tensor::from_vec(data, &shape)
}

/// `out[i] = condition[i] ≠ 0 ? on_true[i] : on_false[i]` with broadcasting of all three.
///
/// ```
/// use unravel_tensor::{ops::elementwise::reference, Tensor};
/// let c = Tensor::<f32>::from_vec(vec![1.0, 0.0], &[2])?;
/// let out = reference::select(&c, &Tensor::scalar(5.0), &Tensor::scalar(-5.0))?;
/// assert_eq!(out.to_vec(), vec![5.0, -5.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
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

/// `out = relu(a + b)` as the two unfused steps: the broadcast sum, then `s < 0 ? 0 : s` (NaN
/// stays NaN), each one element at a time. The definition [`Tensor::add_relu`] is tested
/// against.
///
/// ```
/// use unravel_tensor::{ops::elementwise::reference, Tensor};
/// let a = Tensor::<f64>::from_vec(vec![1.0, -3.0], &[2])?;
/// let b = Tensor::<f64>::from_vec(vec![1.0], &[1])?;
/// assert_eq!(reference::add_relu(&a, &b)?.to_vec(), vec![2.0, 0.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn add_relu<E: Float>(a: &Tensor<E>, b: &Tensor<E>) -> Result<Tensor<E>> {
    let sum = binary(a, b, |x, y| x + y)?;
    Ok(unary(&sum, |s| if s < E::ZERO { E::ZERO } else { s }))
}
