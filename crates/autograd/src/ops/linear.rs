//! The fully connected layer `y = x·Wᵀ + b` (ResNet's classifier), with `x: [N, in]`,
//! `W: [out, in]` (PyTorch's layout), `b: [out]`. Its three gradients are matrix products on
//! the tensor crate's GEMM, the transposes being strided views read in place (no copies):
//!
//! ```text
//! forward  y  = x · Wᵀ + b     [N, out] = [N, in]·[in, out]
//! input    dx = dy · W         [N, in]  = [N, out]·[out, in]
//! weight   dW = dyᵀ · x        [out, in] = [out, N]·[N, in]
//! bias     db = Σ_n dy[n, ·]   [out]
//! ```
//!
//! Derivation: `y[n, o] = Σ_i x[n, i]·W[o, i] + b[o]`, so `∂y[n, o]/∂x[n, i] = W[o, i]` and
//! `∂y[n, o]/∂W[o, i] = x[n, i]`; summing `dy[n, o]` times these over the indices that do not
//! appear in the variable gives the three lines above.

use unravel_tensor::{Float, Tensor, TensorError};

use crate::error::{AutogradError, Result};
use crate::op::{BackwardRule, InputGradients, Op};
use crate::var::Var;

/// Record of a linear layer: x kept if W needs a gradient, W kept if x does.
pub(crate) struct LinearRecord<E: Float> {
    input: Option<usize>,
    weight: Option<usize>,
    bias: Option<usize>,
    input_value: Option<Tensor<E>>,
    weight_value: Option<Tensor<E>>,
}

impl<E: Float> BackwardRule<E> for LinearRecord<E> {
    fn name(&self) -> &'static str {
        "linear"
    }

    /// `dx = dy·W`, `dW = dyᵀ·x`, `db = Σ_n dy`.
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        gradients.give(self.input, || {
            // dx: [N, in] = dy [N, out] · W [out, in]
            Ok(grad_output.matmul(saved(&self.weight_value)?)?)
        })?;
        gradients.give(self.weight, || {
            // dW: [out, in] = dyᵀ [out, N] · x [N, in]
            Ok(grad_output
                .transpose(0, 1)?
                .matmul(saved(&self.input_value)?)?)
        })?;
        // db: [out] = Σ over the batch axis
        gradients.give(self.bias, || Ok(grad_output.sum(&[0], false)?))
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        self.input_value.iter().chain(&self.weight_value).collect()
    }
}

fn saved<E: Float>(value: &Option<Tensor<E>>) -> Result<&Tensor<E>> {
    value.as_ref().ok_or_else(|| {
        AutogradError::invalid(
            "linear",
            "backward needs a tensor that was not saved (internal error)",
        )
    })
}

impl<E: Float> Var<E> {
    /// `x·Wᵀ + b` for `x: [N, in]`, `weight: [out, in]`, `bias: [out]`.
    ///
    /// ```
    /// use unravel_autograd::Tape;
    /// use unravel_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.constant(Tensor::from_vec(vec![1.0, 2.0], &[1, 2])?);
    /// let w = tape.leaf(Tensor::from_vec(vec![3.0, 4.0], &[1, 2])?);
    /// let b = tape.leaf(Tensor::from_vec(vec![0.5], &[1])?);
    /// let y = x.linear(&w, Some(&b))?;
    /// assert_eq!(y.value().to_vec(), vec![11.5]);
    /// let gradients = tape.backward(&y.sum_all()?)?;
    /// assert_eq!(gradients.get(&w).unwrap().to_vec(), vec![1.0, 2.0]); // dW = dyᵀ·x
    /// # Ok::<(), unravel_autograd::AutogradError>(())
    /// ```
    pub fn linear(&self, weight: &Var<E>, bias: Option<&Var<E>>) -> Result<Var<E>> {
        const OP: &str = "linear";
        let (x_shape, w_shape) = (self.shape(), weight.shape());
        if x_shape.len() != 2 {
            return Err(TensorError::Rank {
                op: OP,
                expected: 2,
                shape: x_shape.to_vec(),
            }
            .into());
        }
        if w_shape.len() != 2 || w_shape[1] != x_shape[1] {
            return Err(AutogradError::invalid(
                OP,
                format!(
                    "input {x_shape:?} needs a weight of shape [out, {}], got {w_shape:?}",
                    x_shape[1]
                ),
            ));
        }
        if let Some(bias) = bias {
            if bias.shape() != [w_shape[0]] {
                return Err(TensorError::ShapeMismatch {
                    op: OP,
                    lhs: bias.shape().to_vec(),
                    rhs: vec![w_shape[0]],
                }
                .into());
            }
        }
        // y: [N, out] = x [N, in] · Wᵀ [in, out]
        let mut value = self.value().matmul(&weight.value().transpose(0, 1)?)?;
        if let Some(bias) = bias {
            value = value.add(bias.value())?; // b broadcast over the batch
        }
        let mut operands = vec![self, weight];
        operands.extend(bias);
        self.tape().record(OP, value, &operands, |inputs| {
            Op::Linear(LinearRecord {
                input: inputs[0],
                weight: inputs[1],
                bias: inputs.get(2).copied().flatten(),
                input_value: inputs[1].map(|_| self.value().clone()),
                weight_value: inputs[0].map(|_| weight.value().clone()),
            })
        })
    }
}
