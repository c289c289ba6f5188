//! [`Gradients`]: what backward returns, a map from variables to their gradients.

use std::collections::BTreeMap;

use unravel_tensor::{Float, Tensor};

use crate::var::Var;

/// The gradients of one backward pass: ∂L/∂v for every leaf `v` that the output depends on
/// (and for variables marked with [`Tape::retain_grad`](crate::Tape::retain_grad)). Each
/// gradient has its variable's shape and is contiguous.
#[derive(Debug, Clone)]
pub struct Gradients<E: Float> {
    tape: usize,
    generation: u64,
    by_node: BTreeMap<usize, Tensor<E>>,
}

impl<E: Float> Gradients<E> {
    pub(crate) fn new(tape: usize, generation: u64) -> Self {
        Gradients {
            tape,
            generation,
            by_node: BTreeMap::new(),
        }
    }

    pub(crate) fn insert(&mut self, index: usize, gradient: Tensor<E>) {
        self.by_node.insert(index, gradient.contiguous());
    }

    fn key(&self, var: &Var<E>) -> Option<usize> {
        let id = var.id()?;
        (id.tape == self.tape && id.generation == self.generation).then_some(id.index)
    }

    /// ∂L/∂`var`, or `None` if the output does not depend on `var` (or `var` is a constant, or
    /// from another tape or step).
    pub fn get(&self, var: &Var<E>) -> Option<&Tensor<E>> {
        self.by_node.get(&self.key(var)?)
    }

    /// Like [`Gradients::get`], but a variable the output does not depend on gets zeros of its
    /// shape (what an optimizer wants for an unused parameter).
    pub fn get_or_zeros(&self, var: &Var<E>) -> Tensor<E> {
        self.get(var)
            .cloned()
            .unwrap_or_else(|| Tensor::zeros(var.shape()))
    }

    /// Takes `var`'s gradient out of the map.
    pub fn remove(&mut self, var: &Var<E>) -> Option<Tensor<E>> {
        let key = self.key(var)?;
        self.by_node.remove(&key)
    }

    /// Number of gradients held.
    pub fn len(&self) -> usize {
        self.by_node.len()
    }

    /// Whether no gradient is held.
    pub fn is_empty(&self) -> bool {
        self.by_node.is_empty()
    }
}
