//! The reverse walk: from the output's node down to the first node, each op's backward rule
//! turns the gradient of its output into gradients of its inputs, which are summed into those
//! inputs' slots.
//!
//! Why summing is right: if a variable `x` feeds several ops (the residual `y = F(x) + x` uses
//! `x` twice), the chain rule for the total derivative is ∂L/∂x = Σ over uses of
//! (∂L/∂use)·(∂use/∂x). Since a node's consumers were all recorded after it, by the time the
//! walk reaches a node every contribution has been added, and its gradient is complete.

use unravel_tensor::{Device, Float, Tensor, TensorError};

use crate::error::{AutogradError, Result};
use crate::gradients::Gradients;
use crate::tape::{NodeState, Tape};
use crate::var::Var;

impl<E: Float> Tape<E> {
    /// Reverse-mode differentiation of a single-element `loss`: returns ∂loss/∂v for every leaf
    /// `v` it depends on. Each op's saved tensors are released as soon as its backward has run.
    ///
    /// ```
    /// use unravel_autograd::Tape;
    /// use unravel_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![3.0], &[1])?);
    /// let y = x.mul(&x)?.add(&x)?; // y = x² + x, x used three times
    /// let gradients = tape.backward(&y)?;
    /// assert_eq!(gradients.get(&x).unwrap().to_vec(), vec![7.0]); // 2x + 1
    /// # Ok::<(), unravel_autograd::AutogradError>(())
    /// ```
    pub fn backward(&self, loss: &Var<E>) -> Result<Gradients<E>> {
        if loss.value().numel() != 1 {
            return Err(AutogradError::NotScalar {
                shape: loss.shape().to_vec(),
                numel: loss.value().numel(),
            });
        }
        // ∂L/∂L = 1, on the loss's device.
        let seed = Tensor::full_on(loss.shape(), E::ONE, loss.value().device())?;
        self.backward_with_grad(loss, &seed)
    }

    /// Backward from any output, given ∂L/∂output (a vector–Jacobian product): the returned
    /// gradients are `grad_outputᵀ · ∂output/∂v` for every leaf `v`.
    pub fn backward_with_grad(
        &self,
        output: &Var<E>,
        grad_output: &Tensor<E>,
    ) -> Result<Gradients<E>> {
        let output_id = self
            .check("backward", output)?
            .ok_or(AutogradError::NotRecorded)?;
        if grad_output.shape() != output.shape() {
            return Err(TensorError::ShapeMismatch {
                op: "backward",
                lhs: output.shape().to_vec(),
                rhs: grad_output.shape().to_vec(),
            }
            .into());
        }
        let mut gradients = Gradients::new(self.id(), self.generation());
        // gradient_of[i]: ∂L/∂(node i), summed over the consumers seen so far.
        let mut gradient_of: Vec<Option<Tensor<E>>> = vec![None; output_id.index + 1];
        gradient_of[output_id.index] = Some(grad_output.clone());

        for index in (0..=output_id.index).rev() {
            let Some(gradient) = gradient_of[index].take() else {
                continue; // the output does not depend on this node
            };
            // Take the node's record out of the tape, leaving `Released` behind.
            let (record, retain_grad) = {
                let mut nodes = self.inner.nodes.borrow_mut();
                let node = &mut nodes[index];
                let record = match std::mem::replace(&mut node.state, NodeState::Leaf) {
                    NodeState::Leaf => None,
                    NodeState::Recorded(op) => {
                        node.state = NodeState::Released { op: op.name() };
                        Some(op)
                    }
                    NodeState::Released { op } => {
                        node.state = NodeState::Released { op };
                        return Err(AutogradError::AlreadyBackpropagated { op, index });
                    }
                };
                (record, node.retain_grad)
            };
            match record {
                None => gradients.insert(index, gradient), // a leaf: report its gradient
                Some(op) => {
                    let input_gradients = op.backward(&gradient)?;
                    if retain_grad {
                        gradients.insert(index, gradient);
                    }
                    drop(op); // saved tensors released here, before the walk goes on
                    for (input, input_gradient) in input_gradients {
                        self.accumulate(&mut gradient_of[input], input, input_gradient)?;
                    }
                }
            }
        }
        Ok(gradients)
    }

    /// `slot += gradient`, checking the gradient has the node's shape (a rule that gets this
    /// wrong is a bug, reported rather than silently broadcast).
    fn accumulate(
        &self,
        slot: &mut Option<Tensor<E>>,
        input: usize,
        gradient: Tensor<E>,
    ) -> Result<()> {
        {
            let nodes = self.inner.nodes.borrow();
            let expected = &nodes[input].shape;
            if gradient.shape() != expected.as_slice() {
                return Err(TensorError::ShapeMismatch {
                    op: "backward (gradient of a node vs the node's shape)",
                    lhs: gradient.shape().to_vec(),
                    rhs: expected.clone(),
                }
                .into());
            }
        }
        match slot {
            None => *slot = Some(gradient),
            // On a GPU, out of place (device buffers are immutable): one add kernel.
            Some(sum) if sum.device() != Device::Cpu || gradient.device() != Device::Cpu => {
                *sum = sum.add(&gradient)?;
            }
            Some(sum) => {
                // In place: copies only if `sum` is a view or shared (copy on write).
                let addend = gradient.contiguous_data("backward")?;
                for (total, value) in sum.data_mut()?.iter_mut().zip(addend.iter()) {
                    *total += *value;
                }
            }
        }
        Ok(())
    }
}
