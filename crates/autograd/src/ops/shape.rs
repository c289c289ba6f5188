//! Ops that build a bigger tensor from smaller ones — constant padding (the option-A shortcut's
//! zero channels) and concatenation — and whose backward cuts the gradient back into pieces:
//!
//! | forward                                     | backward                                   |
//! |---------------------------------------------|--------------------------------------------|
//! | `y = pad(x, (bₖ, aₖ) per axis, value)`      | `dx = dy[b₀ .. b₀+n₀, b₁ .. b₁+n₁, …]`      |
//! | `y = concat(x₀, x₁, …; axis)`               | `dxₖ = narrow(dy, axis, offsetₖ, sizeₖ)`   |
//!
//! The padded positions hold a constant, so they send no gradient anywhere. The narrowed
//! gradients are views of `dy` (no copy).

use unravel_tensor::{Float, Tensor};

use crate::error::{AutogradError, Result};
use crate::op::{BackwardRule, InputGradients, Op};
use crate::var::Var;

/// Record of a pad: the padding and the input's shape.
pub(crate) struct PadRecord {
    input: Option<usize>,
    input_shape: Vec<usize>,
    padding: Vec<(usize, usize)>,
}

impl<E: Float> BackwardRule<E> for PadRecord {
    fn name(&self) -> &'static str {
        "pad"
    }

    /// `dx = dy[b₀ .. b₀ + n₀, …]`: the un-padded region of the gradient.
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        gradients.give(self.input, || {
            let mut gradient = grad_output.clone();
            for (axis, (&(before, _), &size)) in
                self.padding.iter().zip(&self.input_shape).enumerate()
            {
                gradient = gradient.narrow(axis, before, size)?;
            }
            Ok(gradient)
        })
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        Vec::new()
    }
}

/// Record of a concat: each input's size along the axis.
pub(crate) struct ConcatRecord {
    inputs: Vec<Option<usize>>,
    sizes: Vec<usize>,
    axis: usize,
}

impl<E: Float> BackwardRule<E> for ConcatRecord {
    fn name(&self) -> &'static str {
        "concat"
    }

    /// `dxₖ = narrow(dy, axis, Σ_{m<k} sizeₘ, sizeₖ)`.
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        let mut offset = 0;
        for (&input, &size) in self.inputs.iter().zip(&self.sizes) {
            gradients.give(input, || Ok(grad_output.narrow(self.axis, offset, size)?))?;
            offset += size;
        }
        Ok(())
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        Vec::new()
    }
}

impl<E: Float> Var<E> {
    /// Pads every axis with `value`: `padding[k] = (before, after)` for axis `k`. Backward: the
    /// gradient of the un-padded region.
    pub fn pad(&self, padding: &[(usize, usize)], value: E) -> Result<Var<E>> {
        let output = self.value().pad(padding, value)?;
        let input_shape = self.shape().to_vec();
        self.tape().record("pad", output, &[self], |inputs| {
            Op::Pad(PadRecord {
                input: inputs[0],
                input_shape,
                padding: padding.to_vec(),
            })
        })
    }

    /// `[N, C, H, W]` → `[N, before + C + after, H, W]` with zero channels: the parameter-free
    /// "option A" shortcut of He et al. (2015, §4.2), used with a stride-2 subsample
    /// (`slice(2, 0, h, 2)?.slice(3, 0, w, 2)?`) when a stage doubles its channels.
    ///
    /// ```
    /// use unravel_autograd::Tape;
    /// use unravel_tensor::Tensor;
    /// let tape = Tape::<f32>::new();
    /// let x = tape.leaf(Tensor::ones(&[2, 4, 8, 8]));
    /// let shortcut = x.slice(2, 0, 8, 2)?.slice(3, 0, 8, 2)?.zero_pad_channels(2, 2)?;
    /// assert_eq!(shortcut.shape(), &[2, 8, 4, 4]);
    /// # Ok::<(), unravel_autograd::AutogradError>(())
    /// ```
    pub fn zero_pad_channels(&self, before: usize, after: usize) -> Result<Var<E>> {
        if self.value().rank() != 4 {
            return Err(unravel_tensor::TensorError::Rank {
                op: "zero_pad_channels",
                expected: 4,
                shape: self.shape().to_vec(),
            }
            .into());
        }
        self.pad(&[(0, 0), (before, after), (0, 0), (0, 0)], E::ZERO)
    }

    /// Joins variables along `axis` (every other axis must match). Backward: each input gets
    /// its slice of the gradient.
    pub fn concat(vars: &[&Var<E>], axis: usize) -> Result<Var<E>> {
        let first = vars
            .first()
            .ok_or_else(|| AutogradError::invalid("concat", "needs at least one variable"))?;
        let values: Vec<&Tensor<E>> = vars.iter().map(|v| v.value()).collect();
        let output = Tensor::concat(&values, axis)?;
        let sizes: Vec<usize> = vars.iter().map(|v| v.shape()[axis]).collect();
        first.tape().record("concat", output, vars, |inputs| {
            Op::Concat(ConcatRecord {
                inputs: inputs.to_vec(),
                sizes,
                axis,
            })
        })
    }
}
