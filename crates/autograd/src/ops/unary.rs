//! Elementwise functions of one variable and their derivatives:
//!
//! | forward          | backward                               | saved |
//! |------------------|----------------------------------------|-------|
//! | `y = relu(x)`    | `dx = dy ⊙ [y > 0]`                    | `y`   |
//! | `y = exp(x)`     | `dx = dy ⊙ y`                          | `y`   |
//! | `y = ln(x)`      | `dx = dy ⊘ x`                          | `x`   |
//! | `y = √x`         | `dx = dy ⊘ (2y)`                       | `y`   |
//! | `y = xᵖ`         | `dx = dy ⊙ p·xᵖ⁻¹`                     | `x`   |
//!
//! ReLU is not differentiable at 0; like every framework we take the derivative there to be 0
//! (`[y > 0]` is false for `y = 0`). Gradient checks draw inputs away from 0.

use unravel_tensor::{Float, Tensor};

use crate::error::Result;
use crate::op::{BackwardRule, InputGradients, Op};
use crate::var::Var;

/// Which function a [`UnaryRecord`] differentiates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum UnaryFunction<E: Float> {
    Relu,
    Exp,
    Log,
    Sqrt,
    Powf(E),
}

/// Record of a unary function: the function and the one tensor its derivative needs (the
/// output for relu, exp, sqrt; the input for log and powf).
pub(crate) struct UnaryRecord<E: Float> {
    input: Option<usize>,
    function: UnaryFunction<E>,
    saved: Tensor<E>,
}

impl<E: Float> BackwardRule<E> for UnaryRecord<E> {
    fn name(&self) -> &'static str {
        match self.function {
            UnaryFunction::Relu => "relu",
            UnaryFunction::Exp => "exp",
            UnaryFunction::Log => "log",
            UnaryFunction::Sqrt => "sqrt",
            UnaryFunction::Powf(_) => "powf",
        }
    }

    /// See the table in the module docs.
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        let dy = grad_output;
        gradients.give(self.input, || {
            Ok(match self.function {
                // dx = dy ⊙ [y > 0], one pass (one kernel on a GPU)
                UnaryFunction::Relu => self.saved.relu_backward(dy)?,
                // dx = dy ⊙ y
                UnaryFunction::Exp => dy.mul(&self.saved)?,
                // dx = dy ⊘ x
                UnaryFunction::Log => dy.div(&self.saved)?,
                // dx = dy ⊘ 2y
                UnaryFunction::Sqrt => dy.div(&self.saved.mul_scalar(E::from_f64(2.0))?)?,
                // dx = dy ⊙ p·x^(p−1)
                UnaryFunction::Powf(p) => {
                    let derivative = self.saved.powf(p - E::ONE)?.mul_scalar(p)?;
                    dy.mul(&derivative)?
                }
            })
        })
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        vec![&self.saved]
    }
}

impl<E: Float> Var<E> {
    fn unary(
        &self,
        function: UnaryFunction<E>,
        value: Tensor<E>,
        save_input: bool,
    ) -> Result<Var<E>> {
        let name = match function {
            UnaryFunction::Relu => "relu",
            UnaryFunction::Exp => "exp",
            UnaryFunction::Log => "log",
            UnaryFunction::Sqrt => "sqrt",
            UnaryFunction::Powf(_) => "powf",
        };
        let saved = if save_input {
            self.value().clone()
        } else {
            value.clone()
        };
        self.tape().record(name, value, &[self], |inputs| {
            Op::Unary(UnaryRecord {
                input: inputs[0],
                function,
                saved,
            })
        })
    }

    /// `max(x, 0)`. Backward: `dx = dy ⊙ [y > 0]` (saves the output).
    pub fn relu(&self) -> Result<Var<E>> {
        let value = self.value().relu()?;
        self.unary(UnaryFunction::Relu, value, false)
    }

    /// `eˣ`. Backward: `dx = dy ⊙ y`.
    pub fn exp(&self) -> Result<Var<E>> {
        let value = self.value().exp()?;
        self.unary(UnaryFunction::Exp, value, false)
    }

    /// `ln x`. Backward: `dx = dy ⊘ x`.
    pub fn log(&self) -> Result<Var<E>> {
        let value = self.value().log()?;
        self.unary(UnaryFunction::Log, value, true)
    }

    /// `√x`. Backward: `dx = dy ⊘ 2y`.
    pub fn sqrt(&self) -> Result<Var<E>> {
        let value = self.value().sqrt()?;
        self.unary(UnaryFunction::Sqrt, value, false)
    }

    /// `xᵖ`. Backward: `dx = dy ⊙ p·xᵖ⁻¹`.
    pub fn powf(&self, exponent: E) -> Result<Var<E>> {
        let value = self.value().powf(exponent)?;
        self.unary(UnaryFunction::Powf(exponent), value, true)
    }

    /// `x²` (as `powf(2)`).
    pub fn square(&self) -> Result<Var<E>> {
        self.powf(E::from_f64(2.0))
    }
}
