//! View ops — reshape, flatten, permute, transpose, narrow, stepped slice — and their backward
//! rules. A view moves no data; its backward moves the gradient back to where each element came
//! from.
//!
//! | forward                      | backward                                                  |
//! |------------------------------|-----------------------------------------------------------|
//! | `y = reshape(x, s)`          | `dx = reshape(dy, shape(x))`                              |
//! | `y = permute(x, p)`          | `dx = permute(dy, p⁻¹)`, where `p⁻¹[p[i]] = i`              |
//! | `y = slice(x, axis, a..b, k)`| `dx = 0` except `dx[…, a + i·k, …] = dy[…, i, …]` (scatter) |

use unravel_tensor::{Float, Tensor};

use crate::error::Result;
use crate::op::{BackwardRule, InputGradients, Op};
use crate::var::Var;

/// Record of a reshape: the input's shape.
pub(crate) struct ReshapeRecord {
    input: Option<usize>,
    input_shape: Vec<usize>,
}

impl<E: Float> BackwardRule<E> for ReshapeRecord {
    fn name(&self) -> &'static str {
        "reshape"
    }

    /// `dx = reshape(dy, shape(x))`: reshape keeps row-major order, so element `k` of `y` is
    /// element `k` of `x`.
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        gradients.give(self.input, || Ok(grad_output.reshape(&self.input_shape)?))
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        Vec::new()
    }
}

/// Record of a permute: the axis order.
pub(crate) struct PermuteRecord {
    input: Option<usize>,
    axes: Vec<usize>,
}

impl<E: Float> BackwardRule<E> for PermuteRecord {
    fn name(&self) -> &'static str {
        "permute"
    }

    /// `dx = permute(dy, p⁻¹)`: output axis `i` was input axis `p[i]`, so input axis `p[i]` is
    /// gradient axis `i`.
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        gradients.give(self.input, || {
            let mut inverse = vec![0; self.axes.len()];
            for (i, &axis) in self.axes.iter().enumerate() {
                inverse[axis] = i;
            }
            Ok(grad_output.permute(&inverse)?)
        })
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        Vec::new()
    }
}

/// Record of a (possibly stepped) slice along one axis.
pub(crate) struct SliceRecord {
    input: Option<usize>,
    input_shape: Vec<usize>,
    axis: usize,
    start: usize,
    end: usize,
    step: usize,
}

impl<E: Float> BackwardRule<E> for SliceRecord {
    fn name(&self) -> &'static str {
        "slice"
    }

    /// `dx[…, start + i·step, …] = dy[…, i, …]`, zero elsewhere. The slice's own layout over a
    /// dense buffer of the input's shape lists, in `dy`'s order, the positions to write: the
    /// adjoint of "read through this view" is "write back through it".
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        gradients.give(self.input, || {
            // dx = slice_scatter(zeros(shape(x)), dy), on dy's device
            let zeros = Tensor::zeros_on(&self.input_shape, grad_output.device())?;
            Ok(zeros.slice_scatter(grad_output, self.axis, self.start, self.end, self.step)?)
        })
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        Vec::new()
    }
}

impl<E: Float> Var<E> {
    /// The same elements in a new shape (row-major order). Backward: reshape back.
    pub fn reshape(&self, shape: &[usize]) -> Result<Var<E>> {
        let value = self.value().reshape(shape)?;
        let input_shape = self.shape().to_vec();
        self.tape().record("reshape", value, &[self], |inputs| {
            Op::Reshape(ReshapeRecord {
                input: inputs[0],
                input_shape,
            })
        })
    }

    /// Axes `start..=end` merged into one: `[N, C, H, W].flatten(1, 3)` → `[N, C·H·W]`.
    pub fn flatten(&self, start: usize, end: usize) -> Result<Var<E>> {
        let shape = self.value().flatten(start, end)?.shape().to_vec();
        self.reshape(&shape)
    }

    /// A size-1 axis inserted at `axis`.
    pub fn unsqueeze(&self, axis: usize) -> Result<Var<E>> {
        let shape = self.value().unsqueeze(axis)?.shape().to_vec();
        self.reshape(&shape)
    }

    /// The size-1 axis `axis` removed.
    pub fn squeeze(&self, axis: usize) -> Result<Var<E>> {
        let shape = self.value().squeeze(axis)?.shape().to_vec();
        self.reshape(&shape)
    }

    /// Axes reordered: output axis `i` is input axis `axes[i]`. Backward: the inverse order.
    pub fn permute(&self, axes: &[usize]) -> Result<Var<E>> {
        let value = self.value().permute(axes)?;
        let axes = axes.to_vec();
        self.tape().record("permute", value, &[self], |inputs| {
            Op::Permute(PermuteRecord {
                input: inputs[0],
                axes,
            })
        })
    }

    /// Axes `a` and `b` swapped.
    pub fn transpose(&self, a: usize, b: usize) -> Result<Var<E>> {
        unravel_tensor::layout::check_axis("transpose", a, self.value().rank())?;
        unravel_tensor::layout::check_axis("transpose", b, self.value().rank())?;
        let mut axes: Vec<usize> = (0..self.value().rank()).collect();
        axes.swap(a, b);
        self.permute(&axes)
    }

    /// Elements `start, start + step, …` below `end` along `axis` (the stride-2 subsample of
    /// the option-A shortcut is `slice(2, 0, h, 2)` then `slice(3, 0, w, 2)`). Backward: the
    /// gradient is scattered back into zeros of the input's shape.
    pub fn slice(&self, axis: usize, start: usize, end: usize, step: usize) -> Result<Var<E>> {
        let value = self.value().slice(axis, start, end, step)?;
        let input_shape = self.shape().to_vec();
        self.tape().record("slice", value, &[self], |inputs| {
            Op::Slice(SliceRecord {
                input: inputs[0],
                input_shape,
                axis,
                start,
                end,
                step,
            })
        })
    }

    /// `len` elements of `axis` from `start`.
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Result<Var<E>> {
        let end = start.checked_add(len).ok_or_else(|| {
            crate::AutogradError::invalid("narrow", "start + len overflows usize")
        })?;
        self.slice(axis, start, end, 1)
    }
}
