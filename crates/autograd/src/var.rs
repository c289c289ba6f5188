//! [`Var`]: a tensor value plus its place on a tape.

use std::fmt;

use unravel_tensor::{Float, Tensor};

use crate::error::Result;
use crate::tape::Tape;

/// Where a variable lives: which tape, which step of it (resets), which node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VarId {
    pub(crate) tape: usize,
    pub(crate) generation: u64,
    pub(crate) index: usize,
}

impl VarId {
    /// The node's position on the tape (creation order).
    pub fn index(&self) -> usize {
        self.index
    }
}

/// A value computed on a [`Tape`]: the forward tensor, plus the node that produced it.
///
/// Variables are immutable and cheap to clone (the tensor shares its storage). A variable that
/// requires a gradient is either a leaf ([`Tape::leaf`]) or the result of an op with at least
/// one such operand; a constant ([`Tape::constant`], or anything computed under
/// [`Tape::no_grad`]) has no node and gets no gradient.
///
/// The ops are methods, one file per op family in `ops/`, each next to its backward rule.
#[derive(Clone)]
pub struct Var<E: Float> {
    tape: Tape<E>,
    id: Option<VarId>,
    value: Tensor<E>,
}

impl<E: Float> Var<E> {
    pub(crate) fn new(tape: Tape<E>, id: Option<VarId>, value: Tensor<E>) -> Self {
        Var { tape, id, value }
    }

    /// The forward value.
    pub fn value(&self) -> &Tensor<E> {
        &self.value
    }

    /// The forward value, taking ownership.
    pub fn into_value(self) -> Tensor<E> {
        self.value
    }

    /// Shape of the value.
    pub fn shape(&self) -> &[usize] {
        self.value.shape()
    }

    /// The tape this variable was made on.
    pub fn tape(&self) -> &Tape<E> {
        &self.tape
    }

    /// The variable's node, or `None` for a constant.
    pub fn id(&self) -> Option<VarId> {
        self.id
    }

    /// Whether backward will compute a gradient through this variable.
    pub fn requires_grad(&self) -> bool {
        self.id.is_some()
    }

    /// A constant with the same value: the gradient stops here.
    pub fn detach(&self) -> Var<E> {
        self.tape.constant(self.value.clone())
    }

    /// Shorthand for [`Tape::backward`] from this variable.
    pub fn backward(&self) -> Result<crate::Gradients<E>> {
        self.tape.backward(self)
    }
}

impl<E: Float> fmt::Debug for Var<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Var")
            .field("id", &self.id)
            .field("value", &self.value)
            .finish()
    }
}
