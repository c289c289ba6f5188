//! Binary arithmetic with NumPy broadcasting — add, sub, mul, div — and the scalar forms.
//!
//! Broadcasting in the forward pass repeats an operand along some axes; the adjoint of
//! repeating is summing, so every gradient below is reduced back to its input's shape with
//! `sum_to_shape` (written `unbroadcast` in the equations):
//!
//! | forward       | ∂L/∂a                         | ∂L/∂b                               |
//! |---------------|-------------------------------|-------------------------------------|
//! | `y = a + b`   | `unbroadcast(dy)`             | `unbroadcast(dy)`                   |
//! | `y = a − b`   | `unbroadcast(dy)`             | `−unbroadcast(dy)`                  |
//! | `y = a ⊙ b`   | `unbroadcast(dy ⊙ b)`         | `unbroadcast(dy ⊙ a)`               |
//! | `y = a ⊘ b`   | `unbroadcast(dy ⊘ b)`         | `−unbroadcast(dy ⊙ a ⊘ b²)`         |
//!
//! The residual connection of He et al. is the add `y = F(x) + x`. For Veit et al.'s path
//! experiments an add can be told to send its gradient down one branch only: see
//! [`GradientRoute`] and [`Tape::set_gradient_route`].

use unravel_tensor::{Float, Tensor};

use crate::error::{AutogradError, Result};
use crate::op::{BackwardRule, InputGradients, Op};
use crate::tape::Tape;
use crate::var::Var;

/// Which operands of an add receive its gradient.
///
/// `Both` is the true derivative. `LeftOnly` / `RightOnly` cut the other branch out of the
/// backward pass (its forward value still counts), which is how Veit et al. (2016, §4) measure
/// the gradient carried by paths of each length through a residual network: with `y = F(x) + x`
/// recorded as `F(x).add(&x)`, `LeftOnly` keeps the residual branch and `RightOnly` the skip.
/// A fused `F(x).add_relu(&x)` takes the same routes, applied after the ReLU mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum GradientRoute {
    /// ∂L/∂a = ∂L/∂b = unbroadcast(dy).
    #[default]
    Both,
    /// Only the left operand `a` gets a gradient.
    LeftOnly,
    /// Only the right operand `b` gets a gradient.
    RightOnly,
}

/// Record of `a + b`: the operands' shapes and the route.
pub(crate) struct AddRecord {
    lhs: Option<usize>,
    rhs: Option<usize>,
    lhs_shape: Vec<usize>,
    rhs_shape: Vec<usize>,
    pub(crate) route: GradientRoute,
}

impl<E: Float> BackwardRule<E> for AddRecord {
    fn name(&self) -> &'static str {
        "add"
    }

    /// `da = unbroadcast(dy)`, `db = unbroadcast(dy)` (one of them skipped by a route).
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        if self.route != GradientRoute::RightOnly {
            gradients.give(self.lhs, || Ok(grad_output.sum_to_shape(&self.lhs_shape)?))?;
        }
        if self.route != GradientRoute::LeftOnly {
            gradients.give(self.rhs, || Ok(grad_output.sum_to_shape(&self.rhs_shape)?))?;
        }
        Ok(())
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        Vec::new()
    }
}

/// Record of `a − b`.
pub(crate) struct SubRecord {
    lhs: Option<usize>,
    rhs: Option<usize>,
    lhs_shape: Vec<usize>,
    rhs_shape: Vec<usize>,
}

impl<E: Float> BackwardRule<E> for SubRecord {
    fn name(&self) -> &'static str {
        "sub"
    }

    /// `da = unbroadcast(dy)`, `db = −unbroadcast(dy)`.
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        gradients.give(self.lhs, || Ok(grad_output.sum_to_shape(&self.lhs_shape)?))?;
        gradients.give(self.rhs, || {
            Ok(grad_output.sum_to_shape(&self.rhs_shape)?.neg()?)
        })
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        Vec::new()
    }
}

/// Record of `a ⊙ b`: each operand is saved only if the *other* one needs a gradient.
pub(crate) struct MulRecord<E: Float> {
    lhs: Option<usize>,
    rhs: Option<usize>,
    lhs_shape: Vec<usize>,
    rhs_shape: Vec<usize>,
    /// `a`, needed for `db` (kept only if `b` needs a gradient).
    lhs_value: Option<Tensor<E>>,
    /// `b`, needed for `da` (kept only if `a` needs a gradient).
    rhs_value: Option<Tensor<E>>,
}

impl<E: Float> BackwardRule<E> for MulRecord<E> {
    fn name(&self) -> &'static str {
        "mul"
    }

    /// `da = unbroadcast(dy ⊙ b)`, `db = unbroadcast(dy ⊙ a)`.
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        gradients.give(self.lhs, || {
            let b = saved(&self.rhs_value, "mul")?;
            Ok(grad_output.mul(b)?.sum_to_shape(&self.lhs_shape)?)
        })?;
        gradients.give(self.rhs, || {
            let a = saved(&self.lhs_value, "mul")?;
            Ok(grad_output.mul(a)?.sum_to_shape(&self.rhs_shape)?)
        })
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        self.lhs_value.iter().chain(&self.rhs_value).collect()
    }
}

/// Record of `a ⊘ b`: `b` always (both gradients divide by it), `a` only if `b` needs a
/// gradient.
pub(crate) struct DivRecord<E: Float> {
    lhs: Option<usize>,
    rhs: Option<usize>,
    lhs_shape: Vec<usize>,
    rhs_shape: Vec<usize>,
    lhs_value: Option<Tensor<E>>,
    rhs_value: Tensor<E>,
}

impl<E: Float> BackwardRule<E> for DivRecord<E> {
    fn name(&self) -> &'static str {
        "div"
    }

    /// `da = unbroadcast(dy ⊘ b)`, `db = −unbroadcast(dy ⊙ a ⊘ b²)`.
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        let b = &self.rhs_value;
        gradients.give(self.lhs, || {
            Ok(grad_output.div(b)?.sum_to_shape(&self.lhs_shape)?)
        })?;
        gradients.give(self.rhs, || {
            let a = saved(&self.lhs_value, "div")?;
            let quotient = grad_output.mul(a)?.div(&b.mul(b)?)?;
            Ok(quotient.sum_to_shape(&self.rhs_shape)?.neg()?)
        })
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        self.lhs_value
            .iter()
            .chain(std::iter::once(&self.rhs_value))
            .collect()
    }
}

/// Record of `x + c` (nothing to save: `dx = dy`).
pub(crate) struct AddScalarRecord {
    input: Option<usize>,
}

impl<E: Float> BackwardRule<E> for AddScalarRecord {
    fn name(&self) -> &'static str {
        "add_scalar"
    }

    /// `dx = dy`.
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        gradients.give(self.input, || Ok(grad_output.clone()))
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        Vec::new()
    }
}

/// Record of `c · x` (and `−x`, which is `c = −1`).
pub(crate) struct MulScalarRecord<E: Float> {
    input: Option<usize>,
    scalar: E,
}

impl<E: Float> BackwardRule<E> for MulScalarRecord<E> {
    fn name(&self) -> &'static str {
        "mul_scalar"
    }

    /// `dx = c · dy`.
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        gradients.give(self.input, || Ok(grad_output.mul_scalar(self.scalar)?))
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        Vec::new()
    }
}

/// A saved operand that the record decided to keep because it would be needed.
fn saved<'a, E: Float>(value: &'a Option<Tensor<E>>, op: &'static str) -> Result<&'a Tensor<E>> {
    value.as_ref().ok_or_else(|| {
        AutogradError::invalid(
            op,
            "backward needs an operand that was not saved (internal error)",
        )
    })
}

impl<E: Float> Var<E> {
    /// `self + other`, with broadcasting. Record: the shapes only.
    pub fn add(&self, other: &Var<E>) -> Result<Var<E>> {
        let value = self.value().add(other.value())?;
        let (lhs_shape, rhs_shape) = (self.shape().to_vec(), other.shape().to_vec());
        self.tape().record("add", value, &[self, other], |inputs| {
            Op::Add(AddRecord {
                lhs: inputs[0],
                rhs: inputs[1],
                lhs_shape,
                rhs_shape,
                route: GradientRoute::Both,
            })
        })
    }

    /// `self − other`, with broadcasting.
    pub fn sub(&self, other: &Var<E>) -> Result<Var<E>> {
        let value = self.value().sub(other.value())?;
        let (lhs_shape, rhs_shape) = (self.shape().to_vec(), other.shape().to_vec());
        self.tape().record("sub", value, &[self, other], |inputs| {
            Op::Sub(SubRecord {
                lhs: inputs[0],
                rhs: inputs[1],
                lhs_shape,
                rhs_shape,
            })
        })
    }

    /// `self ⊙ other` (elementwise), with broadcasting.
    pub fn mul(&self, other: &Var<E>) -> Result<Var<E>> {
        let value = self.value().mul(other.value())?;
        self.tape().record("mul", value, &[self, other], |inputs| {
            Op::Mul(MulRecord {
                lhs: inputs[0],
                rhs: inputs[1],
                lhs_shape: self.shape().to_vec(),
                rhs_shape: other.shape().to_vec(),
                lhs_value: inputs[1].map(|_| self.value().clone()),
                rhs_value: inputs[0].map(|_| other.value().clone()),
            })
        })
    }

    /// `self ⊘ other` (elementwise), with broadcasting.
    pub fn div(&self, other: &Var<E>) -> Result<Var<E>> {
        let value = self.value().div(other.value())?;
        self.tape().record("div", value, &[self, other], |inputs| {
            Op::Div(DivRecord {
                lhs: inputs[0],
                rhs: inputs[1],
                lhs_shape: self.shape().to_vec(),
                rhs_shape: other.shape().to_vec(),
                lhs_value: inputs[1].map(|_| self.value().clone()),
                rhs_value: other.value().clone(),
            })
        })
    }

    /// `self + c`.
    pub fn add_scalar(&self, scalar: E) -> Result<Var<E>> {
        let value = self.value().add_scalar(scalar)?;
        self.tape().record("add_scalar", value, &[self], |inputs| {
            Op::AddScalar(AddScalarRecord { input: inputs[0] })
        })
    }

    /// `c · self`.
    pub fn mul_scalar(&self, scalar: E) -> Result<Var<E>> {
        let value = self.value().mul_scalar(scalar)?;
        self.tape().record("mul_scalar", value, &[self], |inputs| {
            Op::MulScalar(MulScalarRecord {
                input: inputs[0],
                scalar,
            })
        })
    }

    /// `−self`.
    pub fn neg(&self) -> Result<Var<E>> {
        self.mul_scalar(-E::ONE)
    }

    /// Sets which operands of the add (or [`Var::add_relu`]) that produced this variable receive
    /// its gradient (see [`GradientRoute`]); shorthand for [`Tape::set_gradient_route`].
    pub fn set_gradient_route(&self, route: GradientRoute) -> Result<()> {
        self.tape().set_gradient_route(self, route)
    }
}

impl<E: Float> Tape<E> {
    /// Sets the [`GradientRoute`] of the add (or fused [`Var::add_relu`]) that produced `sum`,
    /// before backward runs.
    ///
    /// ```
    /// use unravel_autograd::{GradientRoute, Tape};
    /// use unravel_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![2.0], &[1])?);
    /// let residual = x.mul_scalar(3.0)?;            // F(x) = 3x
    /// let y = residual.add(&x)?;                    // y = F(x) + x
    /// assert_eq!(tape.backward(&y)?.get(&x).unwrap().to_vec(), vec![4.0]);
    ///
    /// let y = x.mul_scalar(3.0)?.add(&x)?;           // recorded again for a second backward
    /// y.set_gradient_route(GradientRoute::RightOnly)?; // the skip path only
    /// assert_eq!(tape.backward(&y)?.get(&x).unwrap().to_vec(), vec![1.0]);
    /// # Ok::<(), unravel_autograd::AutogradError>(())
    /// ```
    pub fn set_gradient_route(&self, sum: &Var<E>, route: GradientRoute) -> Result<()> {
        self.with_recorded_op("set_gradient_route", sum, |index, op| match op {
            Op::Add(record) => {
                record.route = route;
                Ok(())
            }
            Op::AddRelu(record) => {
                record.route = route;
                Ok(())
            }
            other => Err(AutogradError::NotRoutable {
                op: other.name(),
                index,
            }),
        })
    }
}
