//! Fused ops: several steps recorded as one node, so the forward makes one pass over memory and
//! the intermediate is never stored. Each is exactly its unfused composition, forward and
//! backward; the gradient checks and `tests/tape.rs` compare the two.
//!
//! | forward                 | ∂L/∂a                      | ∂L/∂b                      | saved |
//! |-------------------------|----------------------------|----------------------------|-------|
//! | `y = max(a + b, 0)`     | `unbroadcast(dy ⊙ [y > 0])` | `unbroadcast(dy ⊙ [y > 0])` | `y`   |
//!
//! `add_relu` is the join of a post-activation residual block, `y = relu(F(x) + shortcut(x))`.
//! Like an add it takes a [`GradientRoute`]: the route acts on the add's two operands *after*
//! the ReLU mask, exactly as a routed `add` followed by `relu` does (Veit et al.'s path
//! experiments give the same gradients fused or not).

use unravel_tensor::{Float, Tensor};

use crate::error::Result;
use crate::op::{BackwardRule, InputGradients, Op};
use crate::ops::arithmetic::GradientRoute;
use crate::var::Var;

/// Record of `max(a + b, 0)`: the operands' shapes, the output (for the mask) and the route.
pub(crate) struct AddReluRecord<E: Float> {
    lhs: Option<usize>,
    rhs: Option<usize>,
    lhs_shape: Vec<usize>,
    rhs_shape: Vec<usize>,
    output: Tensor<E>,
    pub(crate) route: GradientRoute,
}

impl<E: Float> BackwardRule<E> for AddReluRecord<E> {
    fn name(&self) -> &'static str {
        "add_relu"
    }

    /// `g = dy ⊙ [y > 0]` (one pass), then `da = unbroadcast(g)` unless the route is
    /// `RightOnly`, `db = unbroadcast(g)` unless it is `LeftOnly`.
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        let lhs = self.lhs.filter(|_| self.route != GradientRoute::RightOnly);
        let rhs = self.rhs.filter(|_| self.route != GradientRoute::LeftOnly);
        if lhs.is_none() && rhs.is_none() {
            return Ok(());
        }
        let masked = self.output.relu_backward(grad_output)?;
        gradients.give(lhs, || Ok(masked.sum_to_shape(&self.lhs_shape)?))?;
        gradients.give(rhs, || Ok(masked.sum_to_shape(&self.rhs_shape)?))
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        vec![&self.output]
    }
}

impl<E: Float> Var<E> {
    /// `max(self + other, 0)` with broadcasting, in one pass ([`Tensor::add_relu`]): the same
    /// values and gradients as `self.add(other)?.relu()`, one node instead of two. Routable like
    /// [`Var::add`] ([`Var::set_gradient_route`]). Backward: `da = db = unbroadcast(dy ⊙ [y > 0])`
    /// (saves the output).
    ///
    /// ```
    /// use unravel_autograd::{GradientRoute, Tape};
    /// use unravel_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![1.0, -2.0], &[2])?);
    /// let y = x.mul_scalar(3.0)?.add_relu(&x)?;        // relu(3x + x) = [4, 0]
    /// assert_eq!(y.value().to_vec(), vec![4.0, 0.0]);
    /// assert_eq!(tape.backward(&y.sum_all()?)?.get(&x).unwrap().to_vec(), vec![4.0, 0.0]);
    ///
    /// let y = x.mul_scalar(3.0)?.add_relu(&x)?;
    /// y.set_gradient_route(GradientRoute::RightOnly)?;  // the skip path only
    /// assert_eq!(tape.backward(&y.sum_all()?)?.get(&x).unwrap().to_vec(), vec![1.0, 0.0]);
    /// # Ok::<(), unravel_autograd::AutogradError>(())
    /// ```
    pub fn add_relu(&self, other: &Var<E>) -> Result<Var<E>> {
        let value = self.value().add_relu(other.value())?;
        let (lhs_shape, rhs_shape) = (self.shape().to_vec(), other.shape().to_vec());
        let output = value.clone();
        self.tape()
            .record("add_relu", value, &[self, other], |inputs| {
                Op::AddRelu(AddReluRecord {
                    lhs: inputs[0],
                    rhs: inputs[1],
                    lhs_shape,
                    rhs_shape,
                    output,
                    route: GradientRoute::Both,
                })
            })
    }
}
