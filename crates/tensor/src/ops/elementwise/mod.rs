//! Elementwise ops with NumPy broadcasting: `out[i] = f(a[i], b[i])`.
//!
//! Broadcasting (NumPy rules): shapes are aligned from the right; each pair of sizes must be
//! equal or one of them 1, and a size-1 axis is repeated. Broadcast operands are never
//! materialised: `strided::Plan` walks each operand with stride 0 on repeated axes, and the
//! inner rows run through the run-time dispatched SIMD loops of [`simd`].
//!
//! Comparisons return a *mask* of the same element type: `1` where the relation holds, `0`
//! elsewhere (a comparison involving NaN is false, so it gives `0`).

mod fused;
pub mod math;
pub mod reference;
pub mod simd;
pub(crate) mod strided;

use crate::error::{Result, TensorError};
use crate::layout::broadcast_shape;
use crate::{Float, Tensor};
use strided::Plan;

/// Fails unless both tensors live on the same device.
pub(crate) fn check_same_device<E: Float>(
    op: &'static str,
    lhs: &Tensor<E>,
    rhs: &Tensor<E>,
) -> Result<()> {
    if lhs.device() != rhs.device() {
        return Err(TensorError::DeviceMismatch {
            op,
            lhs: lhs.device(),
            rhs: rhs.device(),
        });
    }
    Ok(())
}

/// The CUDA arm of a unary op: returns from the calling op with the GPU result when `x` lives
/// on a GPU (`kernels/elementwise.cu`, the `unary` kernel); nothing without the `cuda` feature.
macro_rules! cuda_unary {
    ($op:literal, $x:expr, $kind:ident, $scalar:expr) => {
        #[cfg(feature = "cuda")]
        if crate::cuda::launch::is_cuda($x) {
            return crate::cuda::ops::elementwise::unary(
                $op,
                $x,
                crate::cuda::ops::elementwise::Unary::$kind,
                $scalar,
            );
        }
    };
}

/// `out[i] = f(x[i])` on the CPU: the shared engine of every unary op.
pub(crate) fn unary_map<E: Float, F: Fn(E) -> E + Sync>(
    op: &'static str,
    x: &Tensor<E>,
    f: F,
) -> Result<Tensor<E>> {
    Ok(Tensor::from_contiguous(map_to_vec(op, x, f)?, x.shape()))
}

/// The elements of `x` as one row-major slice: borrowed if `x` is already dense, otherwise
/// gathered by the strided engine (rows at a time, much faster than an element iterator).
pub(crate) fn dense_data<'a, E: Float>(
    op: &'static str,
    x: &'a Tensor<E>,
) -> Result<std::borrow::Cow<'a, [E]>> {
    x.cpu_storage(op)?;
    Ok(match x.as_slice() {
        Some(slice) => std::borrow::Cow::Borrowed(slice),
        None => std::borrow::Cow::Owned(map_to_vec(op, x, |v| v)?),
    })
}

/// `f(x[i])` for every element in row-major order, as a new buffer.
fn map_to_vec<E: Float, F: Fn(E) -> E + Sync>(
    op: &'static str,
    x: &Tensor<E>,
    f: F,
) -> Result<Vec<E>> {
    let (data, layout) = x.cpu_storage(op)?;
    if x.numel() == 0 {
        return crate::buffer::filled(op, x.shape(), E::ZERO);
    }
    let plan = Plan::new([layout]);
    // SAFETY: every arm writes all `row.len()` elements: the SIMD loop zips `row` with an input
    // slice of exactly `row.len()` elements, the other arms loop over the whole row.
    let out = unsafe {
        plan.collect(op, x.shape(), |[start], [stride], row| match stride {
            1 => simd::unary(&data[start..start + row.len()], row, &f),
            0 => {
                let value = f(data[start]);
                row.iter_mut().for_each(|o| {
                    o.write(value);
                });
            }
            _ => {
                for (i, o) in row.iter_mut().enumerate() {
                    o.write(f(data[start + i * stride]));
                }
            }
        })?
    };
    Ok(out)
}

/// `out[i] = f(a[i], b[i])` with broadcasting on the CPU: the engine of every binary op.
pub(crate) fn binary_map<E: Float, F: Fn(E, E) -> E + Sync>(
    op: &'static str,
    a: &Tensor<E>,
    b: &Tensor<E>,
    f: F,
) -> Result<Tensor<E>> {
    #[cfg(feature = "cuda")]
    if let Some(result) = crate::cuda::ops::elementwise::binary_mixed(op, a, b) {
        return result;
    }
    check_same_device(op, a, b)?;
    let shape = broadcast_shape(op, a.shape(), b.shape())?;
    let (a_data, a_layout) = a.cpu_storage(op)?;
    let (b_data, b_layout) = b.cpu_storage(op)?;
    if crate::layout::numel(&shape) == 0 {
        return Ok(Tensor::from_contiguous(Vec::new(), &shape));
    }
    let a_layout = a_layout.broadcast_to(&shape)?;
    let b_layout = b_layout.broadcast_to(&shape)?;
    let plan = Plan::new([&a_layout, &b_layout]);
    // SAFETY: every arm writes all `row.len()` elements: the SIMD loops zip `row` with input
    // slices of exactly `row.len()` elements, the strided arm loops over the whole row.
    let out = unsafe {
        plan.collect(op, &shape, |[a_start, b_start], strides, row| {
            let n = row.len();
            match strides {
                [1, 1] => simd::binary(
                    &a_data[a_start..a_start + n],
                    &b_data[b_start..b_start + n],
                    row,
                    &f,
                ),
                [1, 0] => {
                    simd::vector_scalar(&a_data[a_start..a_start + n], b_data[b_start], row, &f)
                }
                [0, 1] => {
                    simd::scalar_vector(a_data[a_start], &b_data[b_start..b_start + n], row, &f)
                }
                [a_stride, b_stride] => {
                    for (i, o) in row.iter_mut().enumerate() {
                        o.write(f(
                            a_data[a_start + i * a_stride],
                            b_data[b_start + i * b_stride],
                        ));
                    }
                }
            }
        })?
    };
    Ok(Tensor::from_contiguous(out, &shape))
}

macro_rules! binary_ops {
    ($( $(#[$doc:meta])* $name:ident => |$a:ident, $b:ident| $body:expr; )*) => {
        impl<E: Float> Tensor<E> {
            $(
                $(#[$doc])*
                pub fn $name(&self, other: &Tensor<E>) -> Result<Tensor<E>> {
                    binary_map(stringify!($name), self, other, |$a: E, $b: E| $body)
                }
            )*
        }
    };
}

binary_ops! {
    /// `out = a + b`, broadcasting.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
    /// let row = Tensor::<f32>::from_vec(vec![10.0, 20.0], &[2])?;
    /// assert_eq!(x.add(&row)?.to_vec(), vec![11.0, 22.0, 13.0, 24.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    add => |a, b| a + b;
    /// `out = a − b`, broadcasting.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![5.0, 7.0], &[2, 1])?;
    /// let y = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2])?;
    /// assert_eq!(x.sub(&y)?.to_vec(), vec![4.0, 3.0, 6.0, 5.0]); // [2, 2]
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    sub => |a, b| a - b;
    /// `out = a · b`, broadcasting.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0], &[3])?;
    /// assert_eq!(x.mul(&Tensor::scalar(2.0))?.to_vec(), vec![2.0, 4.0, 6.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    mul => |a, b| a * b;
    /// `out = a / b`, broadcasting (IEEE division: x/0 is ±∞ or NaN).
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1.0, 3.0], &[2])?;
    /// assert_eq!(x.div(&Tensor::scalar(2.0))?.to_vec(), vec![0.5, 1.5]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    div => |a, b| a / b;
    /// `out = max(a, b)`, broadcasting; NaN if either is NaN.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![-1.0, 3.0], &[2])?;
    /// assert_eq!(x.maximum(&Tensor::scalar(0.0))?.to_vec(), vec![0.0, 3.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    maximum => |a, b| Float::max(a, b);
    /// `out = min(a, b)`, broadcasting; NaN if either is NaN.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![-1.0, 3.0], &[2])?;
    /// assert_eq!(x.minimum(&Tensor::scalar(0.0))?.to_vec(), vec![-1.0, 0.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    minimum => |a, b| Float::min(a, b);
    /// `out = a^b`, broadcasting (`powf` semantics).
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![2.0, 3.0], &[2])?;
    /// let e = Tensor::<f64>::from_vec(vec![3.0, 2.0], &[2])?;
    /// assert_eq!(x.pow(&e)?.to_vec(), vec![8.0, 9.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pow => |a, b| a.powf(b);
    /// Mask `out = (a > b) ? 1 : 0`, broadcasting.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![-1.0, 0.0, 2.0], &[3])?;
    /// assert_eq!(x.gt(&Tensor::scalar(0.0))?.to_vec(), vec![0.0, 0.0, 1.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    gt => |a, b| if a > b { E::ONE } else { E::ZERO };
    /// Mask `out = (a ≥ b) ? 1 : 0`, broadcasting.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![-1.0, 0.0, 2.0], &[3])?;
    /// assert_eq!(x.ge(&Tensor::scalar(0.0))?.to_vec(), vec![0.0, 1.0, 1.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    ge => |a, b| if a >= b { E::ONE } else { E::ZERO };
    /// Mask `out = (a < b) ? 1 : 0`, broadcasting.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![-1.0, 0.0, 2.0], &[3])?;
    /// assert_eq!(x.lt(&Tensor::scalar(0.0))?.to_vec(), vec![1.0, 0.0, 0.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    lt => |a, b| if a < b { E::ONE } else { E::ZERO };
    /// Mask `out = (a ≤ b) ? 1 : 0`, broadcasting.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![-1.0, 0.0, 2.0], &[3])?;
    /// assert_eq!(x.le(&Tensor::scalar(0.0))?.to_vec(), vec![1.0, 1.0, 0.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    le => |a, b| if a <= b { E::ONE } else { E::ZERO };
    /// Mask `out = (a = b) ? 1 : 0`, broadcasting (exact equality; NaN equals nothing).
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![-1.0, 0.0, 2.0], &[3])?;
    /// assert_eq!(x.eq(&Tensor::scalar(0.0))?.to_vec(), vec![0.0, 1.0, 0.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    eq => |a, b| if a == b { E::ONE } else { E::ZERO };
}

impl<E: Float> Tensor<E> {
    /// `out = f(x)` elementwise with any closure: the generic unary engine (vectorised when the
    /// closure is simple arithmetic).
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1.0, 2.0], &[2])?;
    /// assert_eq!(x.map(|v| 3.0 * v + 1.0)?.to_vec(), vec![4.0, 7.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn map<F: Fn(E) -> E + Sync>(&self, f: F) -> Result<Tensor<E>> {
        unary_map("map", self, f)
    }

    /// `out = f(a, b)` elementwise with broadcasting and any closure: the generic binary engine.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let a = Tensor::<f32>::from_vec(vec![1.0, 2.0], &[2])?;
    /// let b = Tensor::<f32>::from_vec(vec![3.0, 4.0], &[2])?;
    /// assert_eq!(a.zip_map(&b, |x, y| x * y + 1.0)?.to_vec(), vec![4.0, 9.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn zip_map<F: Fn(E, E) -> E + Sync>(&self, other: &Tensor<E>, f: F) -> Result<Tensor<E>> {
        binary_map("zip_map", self, other, f)
    }

    /// `out = x + s`.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1.0, 2.0], &[2])?;
    /// assert_eq!(x.add_scalar(0.5)?.to_vec(), vec![1.5, 2.5]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn add_scalar(&self, scalar: E) -> Result<Tensor<E>> {
        cuda_unary!("add_scalar", self, AddScalar, scalar);
        unary_map("add_scalar", self, move |x| x + scalar)
    }

    /// `out = x · s`.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1.0, 2.0], &[2])?;
    /// assert_eq!(x.mul_scalar(-2.0)?.to_vec(), vec![-2.0, -4.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn mul_scalar(&self, scalar: E) -> Result<Tensor<E>> {
        cuda_unary!("mul_scalar", self, MulScalar, scalar);
        unary_map("mul_scalar", self, move |x| x * scalar)
    }

    /// `out = x^p` (`powf` semantics; `p = 2` is computed exactly as `x·x`, `p = 1` as `x`).
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![2.0, 9.0], &[2])?;
    /// assert_eq!(x.powf(2.0)?.to_vec(), vec![4.0, 81.0]);
    /// assert_eq!(x.powf(0.5)?.get(&[1])?, 3.0);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn powf(&self, exponent: E) -> Result<Tensor<E>> {
        const OP: &str = "powf";
        if exponent == E::ONE + E::ONE {
            cuda_unary!("powf", self, Square, exponent);
        }
        cuda_unary!("powf", self, PowScalar, exponent);
        if exponent == E::ONE {
            unary_map(OP, self, |x| x)
        } else if exponent == E::ONE + E::ONE {
            // x² is correctly rounded either way; the product vectorises.
            unary_map(OP, self, |x| x * x)
        } else {
            unary_map(OP, self, move |x| x.powf(exponent))
        }
    }

    /// `out = −x`.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1.0, -2.0], &[2])?;
    /// assert_eq!(x.neg()?.to_vec(), vec![-1.0, 2.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn neg(&self) -> Result<Tensor<E>> {
        cuda_unary!("neg", self, Neg, E::ZERO);
        unary_map("neg", self, |x| -x)
    }

    /// `out = max(x, 0)`; NaN stays NaN.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![-1.0, 2.0], &[2])?;
    /// assert_eq!(x.relu()?.to_vec(), vec![0.0, 2.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn relu(&self) -> Result<Tensor<E>> {
        cuda_unary!("relu", self, Relu, E::ZERO);
        // `x < 0 ? 0 : x` keeps NaN (the comparison is false) and vectorises to compare+blend.
        unary_map("relu", self, |x| if x < E::ZERO { E::ZERO } else { x })
    }

    /// `out = eˣ`, by the vectorised polynomial of [`math::exp`] (within 2 ulp of `std`).
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![0.0, 1.0], &[2])?;
    /// let y = x.exp()?.to_vec();
    /// assert_eq!(y[0], 1.0);
    /// assert!((y[1] - std::f64::consts::E).abs() < 1e-15);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn exp(&self) -> Result<Tensor<E>> {
        cuda_unary!("exp", self, Exp, E::ZERO);
        unary_map("exp", self, math::exp)
    }

    /// `out = ln x` (−∞ at 0, NaN below 0), by the vectorised [`math::ln`] (within 2 ulp of
    /// `std`).
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, std::f64::consts::E], &[2])?;
    /// let y = x.log()?.to_vec();
    /// assert_eq!(y[0], 0.0);
    /// assert!((y[1] - 1.0).abs() < 1e-15);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn log(&self) -> Result<Tensor<E>> {
        cuda_unary!("log", self, Log, E::ZERO);
        unary_map("log", self, math::ln)
    }

    /// `out = √x` (NaN below 0).
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![4.0, 9.0], &[2])?;
    /// assert_eq!(x.sqrt()?.to_vec(), vec![2.0, 3.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn sqrt(&self) -> Result<Tensor<E>> {
        cuda_unary!("sqrt", self, Sqrt, E::ZERO);
        unary_map("sqrt", self, |x| x.sqrt())
    }

    /// `out = |x|`.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![-4.0, 9.0], &[2])?;
    /// assert_eq!(x.abs()?.to_vec(), vec![4.0, 9.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn abs(&self) -> Result<Tensor<E>> {
        cuda_unary!("abs", self, Abs, E::ZERO);
        unary_map("abs", self, |x| x.abs())
    }

    /// ReLU's backward from its output (or input) `self`: `dx = dy ⊙ [self > 0]`, in one pass
    /// (the `relu_backward` kernel on a GPU). A NaN in `self` gives 0, as `gt` does.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let y = Tensor::<f32>::from_vec(vec![0.0, 2.0, 3.0], &[3])?;
    /// let dy = Tensor::<f32>::from_vec(vec![5.0, 6.0, 7.0], &[3])?;
    /// assert_eq!(y.relu_backward(&dy)?.to_vec(), vec![0.0, 6.0, 7.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn relu_backward(&self, grad_output: &Tensor<E>) -> Result<Tensor<E>> {
        const OP: &str = "relu_backward";
        if self.shape() != grad_output.shape() {
            return Err(TensorError::ShapeMismatch {
                op: OP,
                lhs: self.shape().to_vec(),
                rhs: grad_output.shape().to_vec(),
            });
        }
        check_same_device(OP, self, grad_output)?;
        #[cfg(feature = "cuda")]
        if crate::cuda::launch::is_cuda(self) {
            return crate::cuda::ops::elementwise::relu_backward(self, grad_output);
        }
        binary_map(OP, self, grad_output, |y, dy| {
            if y > E::ZERO {
                dy
            } else {
                E::ZERO
            }
        })
    }

    /// NumPy's `where`: `out = condition ≠ 0 ? on_true : on_false`, all three broadcast together.
    /// A NaN condition is nonzero, so it picks `on_true`. On a GPU, a rank-0 CPU operand (a
    /// scalar such as `Tensor::scalar(0.0)`) is copied to the GPU, as the binary ops do.
    ///
    /// ```
    /// use unravel_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![-1.0, 2.0, -3.0], &[3])?;
    /// let positive = x.gt(&Tensor::scalar(0.0))?;
    /// let y = Tensor::select(&positive, &x, &Tensor::scalar(0.0))?;
    /// assert_eq!(y.to_vec(), vec![0.0, 2.0, 0.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn select(
        condition: &Tensor<E>,
        on_true: &Tensor<E>,
        on_false: &Tensor<E>,
    ) -> Result<Tensor<E>> {
        const OP: &str = "select";
        #[cfg(feature = "cuda")]
        if let Some(device) = [condition, on_true, on_false]
            .iter()
            .map(|t| t.device())
            .find(|d| *d != crate::Device::Cpu)
        {
            let lift = |t: &Tensor<E>| {
                if t.rank() == 0 && t.device() == crate::Device::Cpu {
                    t.to_device(device)
                } else {
                    Ok(t.clone())
                }
            };
            let (c, t, f) = (lift(condition)?, lift(on_true)?, lift(on_false)?);
            let shape = broadcast_shape(OP, c.shape(), t.shape())?;
            let shape = broadcast_shape(OP, &shape, f.shape())?;
            return crate::cuda::ops::select::select(OP, &c, &t, &f, &shape);
        }
        check_same_device(OP, condition, on_true)?;
        check_same_device(OP, condition, on_false)?;
        let shape = broadcast_shape(OP, condition.shape(), on_true.shape())?;
        let shape = broadcast_shape(OP, &shape, on_false.shape())?;
        let (c_data, c_layout) = condition.cpu_storage(OP)?;
        let (t_data, t_layout) = on_true.cpu_storage(OP)?;
        let (f_data, f_layout) = on_false.cpu_storage(OP)?;
        if crate::layout::numel(&shape) == 0 {
            return Ok(Tensor::from_contiguous(Vec::new(), &shape));
        }
        let layouts = [
            c_layout.broadcast_to(&shape)?,
            t_layout.broadcast_to(&shape)?,
            f_layout.broadcast_to(&shape)?,
        ];
        let plan = Plan::new([&layouts[0], &layouts[1], &layouts[2]]);
        // SAFETY: the loop writes every element of `row`.
        let out = unsafe {
            plan.collect(OP, &shape, |[c, t, f], [cs, ts, fs], row| {
                for (i, o) in row.iter_mut().enumerate() {
                    o.write(if c_data[c + i * cs] != E::ZERO {
                        t_data[t + i * ts]
                    } else {
                        f_data[f + i * fs]
                    });
                }
            })?
        };
        Ok(Tensor::from_contiguous(out, &shape))
    }
}
