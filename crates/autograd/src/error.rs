//! The autograd crate's typed error: everything the tensor crate can report, plus the mistakes
//! that only a tape can make (backward from a non-scalar, mixing tapes, using a variable after
//! `reset`, running backward twice through released nodes).

use unravel_tensor::TensorError;

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, AutogradError>;

/// What went wrong, and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AutogradError {
    /// An error from a tensor op (shapes, axes, devices, arguments), passed through unchanged.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// `backward` needs an output with exactly one element (a loss).
    #[error(
        "backward: the output has shape {shape:?} ({numel} elements); backward needs a \
         single-element loss, or use backward_with_grad to supply the output's gradient"
    )]
    NotScalar { shape: Vec<usize>, numel: usize },
    /// The operands of an op (or the output given to backward) belong to different tapes.
    #[error("{op}: the variables belong to different tapes (tape {lhs} and tape {rhs})")]
    ForeignTape {
        op: &'static str,
        lhs: usize,
        rhs: usize,
    },
    /// A variable recorded before `Tape::reset` was used afterwards.
    #[error(
        "{op}: the variable was recorded in step {variable_generation} of the tape, which has \
         been reset since (now step {tape_generation}); record it again"
    )]
    StaleVariable {
        op: &'static str,
        variable_generation: u64,
        tape_generation: u64,
    },
    /// Backward reached a node whose saved tensors were already released by an earlier backward.
    #[error(
        "backward: node {index} ({op}) was already backpropagated and its saved tensors were \
         released; run the forward pass again before calling backward a second time"
    )]
    AlreadyBackpropagated { op: &'static str, index: usize },
    /// `backward` was called on a variable that no recorded op connects to a leaf requiring grad.
    #[error(
        "backward: the output was not recorded (a constant, or computed under no_grad), so it \
         has no gradient"
    )]
    NotRecorded,
    /// A gradient route was set on a node that is not an addition.
    #[error(
        "set_gradient_route: node {index} is a {op}, not an add; only adds (and add_relu) can \
         be routed"
    )]
    NotRoutable { op: &'static str, index: usize },
}

impl AutogradError {
    /// Shorthand for an invalid-argument error from the tensor crate's vocabulary.
    pub fn invalid(op: &'static str, message: impl Into<String>) -> Self {
        AutogradError::Tensor(TensorError::invalid(op, message))
    }
}
