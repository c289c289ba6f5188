//! The tape: a Wengert list of the ops a forward pass ran, in the order it ran them.
//!
//! Every op on [`Var`]s computes its forward value with the tensor crate and, when the tape is
//! recording and some operand needs a gradient, appends one [`Node`] holding exactly what its
//! backward rule needs (an [`Op`] value: input node indices plus saved tensors). Because a node
//! is only ever appended after its inputs, creation order is a topological order, and
//! [`Tape::backward`](crate::Tape::backward) can walk it backwards with a plain loop.
//!
//! The tape is shared by the variables recorded on it (`Rc`), single-threaded (the kernels
//! underneath are multi-threaded), and reusable: [`Tape::reset`] drops every node and its saved
//! tensors but keeps the node vector's capacity, so a training loop does not grow it step after
//! step. Variables from before a reset are refused with [`AutogradError::StaleVariable`].

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use unravel_tensor::{Float, Tensor};

use crate::error::{AutogradError, Result};
use crate::op::Op;
use crate::var::{Var, VarId};

static NEXT_TAPE_ID: AtomicUsize = AtomicUsize::new(1);

/// A reverse-mode tape. Cheap to clone (a shared handle).
///
/// ```
/// use unravel_autograd::Tape;
/// use unravel_tensor::Tensor;
/// let tape = Tape::<f64>::new();
/// let x = tape.leaf(Tensor::from_vec(vec![1.0, -2.0, 3.0], &[3])?);
/// let y = x.relu()?.reshape(&[3, 1])?;          // recorded: relu, reshape
/// let loss = y.sum_all()?;                      // recorded: sum
/// let gradients = tape.backward(&loss)?;
/// assert_eq!(gradients.get(&x).unwrap().to_vec(), vec![1.0, 0.0, 1.0]);
/// tape.reset();                                 // ready for the next step
/// assert!(tape.is_empty());
/// # Ok::<(), unravel_autograd::AutogradError>(())
/// ```
pub struct Tape<E: Float> {
    pub(crate) inner: Rc<TapeInner<E>>,
}

impl<E: Float> Clone for Tape<E> {
    fn clone(&self) -> Self {
        Tape {
            inner: Rc::clone(&self.inner),
        }
    }
}

pub(crate) struct TapeInner<E: Float> {
    /// Distinguishes tapes, so variables of two tapes cannot be mixed.
    pub(crate) id: usize,
    /// Bumped by every reset, so variables of an earlier step cannot be used.
    pub(crate) generation: Cell<u64>,
    /// False inside a [`NoGradGuard`]: ops then record nothing and save nothing.
    pub(crate) recording: Cell<bool>,
    pub(crate) nodes: RefCell<Vec<Node<E>>>,
}

/// One entry of the Wengert list.
pub(crate) struct Node<E: Float> {
    /// Shape of the node's value (and so of its gradient).
    pub(crate) shape: Vec<usize>,
    pub(crate) state: NodeState<E>,
    /// Whether backward should report this (non-leaf) node's gradient too.
    pub(crate) retain_grad: bool,
}

pub(crate) enum NodeState<E: Float> {
    /// An input that requires a gradient (a parameter, or an input under study).
    Leaf,
    /// The result of an op, with what its backward rule needs (boxed: records differ in size,
    /// and the node list stays compact).
    Recorded(Box<Op<E>>),
    /// An op whose backward has run; its saved tensors are gone.
    Released { op: &'static str },
}

/// What the tape currently holds (for tests and for watching memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TapeStats {
    /// Nodes recorded since the last reset (leaves and ops).
    pub nodes: usize,
    /// Tensors saved for backward that have not been released yet.
    pub saved_tensors: usize,
    /// Elements in those tensors (views count their own element count).
    pub saved_elements: usize,
    /// Integer indices saved for backward (max-pool argmax, cross-entropy targets).
    pub saved_indices: usize,
    /// Capacity of the node vector (stays put across resets).
    pub node_capacity: usize,
}

/// While alive, the tape records nothing: ops compute plain forward values and return constants,
/// and no tensor is saved. Dropping the guard restores the previous mode.
///
/// ```
/// use unravel_autograd::Tape;
/// use unravel_tensor::Tensor;
/// let tape = Tape::<f32>::new();
/// let weight = tape.leaf(Tensor::ones(&[2, 2]));
/// {
///     let _no_grad = tape.no_grad();
///     let y = weight.relu()?;
///     assert!(!y.requires_grad());
///     assert_eq!(tape.len(), 1); // only the leaf recorded before the guard
/// }
/// assert!(weight.relu()?.requires_grad());
/// # Ok::<(), unravel_autograd::AutogradError>(())
/// ```
#[must_use = "the tape records again as soon as the guard is dropped"]
pub struct NoGradGuard<E: Float> {
    tape: Tape<E>,
    previous: bool,
}

impl<E: Float> Drop for NoGradGuard<E> {
    fn drop(&mut self) {
        self.tape.inner.recording.set(self.previous);
    }
}

impl<E: Float> Default for Tape<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Float> Tape<E> {
    /// An empty tape, recording.
    pub fn new() -> Self {
        Tape {
            inner: Rc::new(TapeInner {
                id: NEXT_TAPE_ID.fetch_add(1, Ordering::Relaxed),
                generation: Cell::new(0),
                recording: Cell::new(true),
                nodes: RefCell::new(Vec::new()),
            }),
        }
    }

    /// A variable that requires a gradient: a parameter, or an input whose gradient is wanted.
    /// Under [`Tape::no_grad`] it is a constant instead.
    pub fn leaf(&self, value: Tensor<E>) -> Var<E> {
        if !self.is_recording() {
            return self.constant(value);
        }
        let index = self.push(Node {
            shape: value.shape().to_vec(),
            state: NodeState::Leaf,
            retain_grad: false,
        });
        Var::new(self.clone(), Some(self.var_id(index)), value)
    }

    /// A variable that never gets a gradient (data, labels, running statistics). Nothing is
    /// recorded for it; ops whose operands are all constants record nothing either.
    pub fn constant(&self, value: Tensor<E>) -> Var<E> {
        Var::new(self.clone(), None, value)
    }

    /// Stops recording until the returned guard is dropped (the inference path).
    pub fn no_grad(&self) -> NoGradGuard<E> {
        let previous = self.inner.recording.replace(false);
        NoGradGuard {
            tape: self.clone(),
            previous,
        }
    }

    /// Whether ops are recorded now (false inside [`Tape::no_grad`]).
    pub fn is_recording(&self) -> bool {
        self.inner.recording.get()
    }

    /// Drops every node and saved tensor, keeping the allocation, for the next training step.
    /// Variables recorded before the reset can no longer be used with this tape.
    pub fn reset(&self) {
        self.inner.nodes.borrow_mut().clear();
        self.inner.generation.set(self.inner.generation.get() + 1);
    }

    /// Number of nodes recorded since the last reset.
    pub fn len(&self) -> usize {
        self.inner.nodes.borrow().len()
    }

    /// Whether nothing has been recorded since the last reset.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Nodes, saved tensors not yet released, and their elements.
    pub fn stats(&self) -> TapeStats {
        let nodes = self.inner.nodes.borrow();
        let mut stats = TapeStats {
            nodes: nodes.len(),
            node_capacity: nodes.capacity(),
            ..TapeStats::default()
        };
        for node in nodes.iter() {
            if let NodeState::Recorded(op) = &node.state {
                for tensor in op.saved_tensors() {
                    stats.saved_tensors += 1;
                    stats.saved_elements += tensor.numel();
                }
                stats.saved_indices += op.saved_indices();
            }
        }
        stats
    }

    /// Asks backward to report the gradient of a non-leaf variable as well (leaves are always
    /// reported). Useful to look at the gradient reaching an activation.
    pub fn retain_grad(&self, var: &Var<E>) -> Result<()> {
        let id = self
            .check("retain_grad", var)?
            .ok_or(AutogradError::NotRecorded)?;
        self.inner.nodes.borrow_mut()[id.index].retain_grad = true;
        Ok(())
    }

    /// This tape's identity (see [`VarId`]).
    pub fn id(&self) -> usize {
        self.inner.id
    }

    /// The current step (the number of resets so far).
    pub fn generation(&self) -> u64 {
        self.inner.generation.get()
    }

    // ---- used by the ops --------------------------------------------------------------------

    fn push(&self, node: Node<E>) -> usize {
        let mut nodes = self.inner.nodes.borrow_mut();
        nodes.push(node);
        nodes.len() - 1
    }

    fn var_id(&self, index: usize) -> VarId {
        VarId {
            tape: self.inner.id,
            generation: self.inner.generation.get(),
            index,
        }
    }

    /// Checks that `var` belongs to this tape and to the current step; returns its node, if any.
    pub(crate) fn check(&self, op: &'static str, var: &Var<E>) -> Result<Option<VarId>> {
        if var.tape().inner.id != self.inner.id {
            return Err(AutogradError::ForeignTape {
                op,
                lhs: self.inner.id,
                rhs: var.tape().inner.id,
            });
        }
        if let Some(id) = var.id() {
            if id.generation != self.inner.generation.get() {
                return Err(AutogradError::StaleVariable {
                    op,
                    variable_generation: id.generation,
                    tape_generation: self.inner.generation.get(),
                });
            }
        }
        Ok(var.id())
    }

    /// Records an op whose forward value is `value`, computed from `inputs`.
    ///
    /// `make_op` receives the inputs' node indices (`None` for constants, which get no gradient)
    /// and builds the backward record; it is only called when something will be recorded, so
    /// under `no_grad`, or when every input is a constant, no tensor is saved at all.
    pub(crate) fn record(
        &self,
        op: &'static str,
        value: Tensor<E>,
        inputs: &[&Var<E>],
        make_op: impl FnOnce(&[Option<usize>]) -> Op<E>,
    ) -> Result<Var<E>> {
        let mut indices = Vec::with_capacity(inputs.len());
        for input in inputs {
            indices.push(self.check(op, input)?.map(|id| id.index));
        }
        if !self.is_recording() || indices.iter().all(Option::is_none) {
            return Ok(self.constant(value));
        }
        let index = self.push(Node {
            shape: value.shape().to_vec(),
            state: NodeState::Recorded(Box::new(make_op(&indices))),
            retain_grad: false,
        });
        Ok(Var::new(self.clone(), Some(self.var_id(index)), value))
    }

    /// Runs `edit` on the recorded op of `var` (used to set gradient routes).
    pub(crate) fn with_recorded_op<T>(
        &self,
        op_name: &'static str,
        var: &Var<E>,
        edit: impl FnOnce(usize, &mut Op<E>) -> Result<T>,
    ) -> Result<T> {
        let id = self
            .check(op_name, var)?
            .ok_or(AutogradError::NotRecorded)?;
        let mut nodes = self.inner.nodes.borrow_mut();
        match &mut nodes[id.index].state {
            NodeState::Recorded(op) => edit(id.index, op),
            NodeState::Leaf => Err(AutogradError::NotRoutable {
                op: "leaf",
                index: id.index,
            }),
            NodeState::Released { op } => Err(AutogradError::AlreadyBackpropagated {
                op,
                index: id.index,
            }),
        }
    }
}
