//! Integer index tensors: the result of `argmax`, the argmax positions that `max_pool2d`'s
//! backward routes gradients to, and class targets for cross-entropy.

use crate::error::{Result, TensorError};
use crate::layout::check_shape;

/// A dense row-major array of indices with a shape (always on the host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indices {
    data: Vec<usize>,
    shape: Vec<usize>,
}

impl Indices {
    /// Fails if `data.len()` does not fill `shape`.
    pub fn new(data: Vec<usize>, shape: &[usize]) -> Result<Self> {
        let expected = check_shape("Indices::new", shape, std::mem::size_of::<usize>())?;
        if expected != data.len() {
            return Err(TensorError::ElementCount {
                op: "Indices::new",
                shape: shape.to_vec(),
                expected,
                got: data.len(),
            });
        }
        Ok(Indices {
            data,
            shape: shape.to_vec(),
        })
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn as_slice(&self) -> &[usize] {
        &self.data
    }

    pub fn into_vec(self) -> Vec<usize> {
        self.data
    }

    pub fn numel(&self) -> usize {
        self.data.len()
    }
}
