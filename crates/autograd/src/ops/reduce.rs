//! Sums, means and broadcasting, which are each other's adjoints:
//!
//! | forward                         | backward                                          |
//! |---------------------------------|---------------------------------------------------|
//! | `y = Σ_all x`                   | `dx = broadcast(dy, shape(x))`                    |
//! | `y = mean_all x`  (n elements)  | `dx = broadcast(dy, shape(x)) / n`                |
//! | `y = Σ_axes x`                  | `dx = broadcast(dy with the axes kept as 1, shape(x))` |
//! | `y = mean_axes x` (n per output)| the same, `/ n`                                   |
//! | `y = broadcast_to(x, s)`        | `dx = sum_to_shape(dy, shape(x))`                 |
//!
//! The broadcasts in the backward are views (stride 0): no memory is spent on them until the
//! gradient is accumulated.

use unravel_tensor::{Float, Tensor};

use crate::error::Result;
use crate::op::{BackwardRule, InputGradients, Op};
use crate::var::Var;

/// Record of a sum or mean over some axes (all of them for `sum_all` / `mean_all`).
pub(crate) struct SumRecord<E: Float> {
    input: Option<usize>,
    input_shape: Vec<usize>,
    /// The reduced axes, sorted.
    axes: Vec<usize>,
    /// 1 for a sum, 1/n for a mean.
    scale: E,
    mean: bool,
}

impl<E: Float> BackwardRule<E> for SumRecord<E> {
    fn name(&self) -> &'static str {
        if self.mean {
            "mean"
        } else {
            "sum"
        }
    }

    /// `dx = scale · broadcast(dy, shape(x))`, with dy first given size-1 axes where the
    /// reduction removed them.
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        gradients.give(self.input, || {
            let mut kept_shape = self.input_shape.clone();
            for &axis in &self.axes {
                kept_shape[axis] = 1;
            }
            let mut gradient = grad_output.reshape(&kept_shape)?;
            if self.mean {
                gradient = gradient.mul_scalar(self.scale)?;
            }
            Ok(gradient.broadcast_to(&self.input_shape)?)
        })
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        Vec::new()
    }
}

/// Record of a broadcast.
pub(crate) struct BroadcastRecord {
    input: Option<usize>,
    input_shape: Vec<usize>,
}

impl<E: Float> BackwardRule<E> for BroadcastRecord {
    fn name(&self) -> &'static str {
        "broadcast_to"
    }

    /// `dx = sum_to_shape(dy, shape(x))`: every repeated copy sends its gradient back.
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        gradients.give(self.input, || {
            Ok(grad_output.sum_to_shape(&self.input_shape)?)
        })
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        Vec::new()
    }
}

impl<E: Float> Var<E> {
    fn reduction(&self, value: Tensor<E>, axes: &[usize], mean: bool) -> Result<Var<E>> {
        let mut axes = axes.to_vec();
        axes.sort_unstable();
        axes.dedup();
        let count: usize = axes.iter().map(|&axis| self.shape()[axis]).product();
        let input_shape = self.shape().to_vec();
        let name = if mean { "mean" } else { "sum" };
        self.tape().record(name, value, &[self], |inputs| {
            Op::Sum(SumRecord {
                input: inputs[0],
                input_shape,
                axes,
                scale: E::ONE / E::from_usize(count.max(1)),
                mean,
            })
        })
    }

    /// Σ of every element, as a tensor of shape `[]`. Backward: `dx = broadcast(dy)`.
    pub fn sum_all(&self) -> Result<Var<E>> {
        let value = self.value().sum_all()?;
        let axes: Vec<usize> = (0..self.value().rank()).collect();
        self.reduction(value, &axes, false)
    }

    /// Mean of every element, as a tensor of shape `[]`. Backward: `dx = broadcast(dy) / n`.
    pub fn mean_all(&self) -> Result<Var<E>> {
        let value = self.value().mean_all()?;
        let axes: Vec<usize> = (0..self.value().rank()).collect();
        self.reduction(value, &axes, true)
    }

    /// Σ over `axes` (kept as size 1 if `keepdim`). Backward: `dx = broadcast(dy)`.
    pub fn sum(&self, axes: &[usize], keepdim: bool) -> Result<Var<E>> {
        let value = self.value().sum(axes, keepdim)?;
        self.reduction(value, axes, false)
    }

    /// Mean over `axes` (kept as size 1 if `keepdim`). Backward: `dx = broadcast(dy) / n`.
    pub fn mean(&self, axes: &[usize], keepdim: bool) -> Result<Var<E>> {
        let value = self.value().mean(axes, keepdim)?;
        self.reduction(value, axes, true)
    }

    /// Broadcast to `shape` (NumPy rules). Backward: `dx = sum_to_shape(dy, shape(x))`.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Var<E>> {
        let value = self.value().broadcast_to(shape)?;
        let input_shape = self.shape().to_vec();
        self.tape()
            .record("broadcast_to", value, &[self], |inputs| {
                Op::Broadcast(BroadcastRecord {
                    input: inputs[0],
                    input_shape,
                })
            })
    }
}
