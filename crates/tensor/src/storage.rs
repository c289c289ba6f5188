//! The buffer behind a tensor. Storage is shared (`Arc`) between views and is never mutated
//! while shared: [`crate::Tensor::data_mut`] copies on write.

use crate::{Device, Float};

/// Where and how a tensor's elements are stored.
///
/// Every kernel dispatches on this enum; adding a device is adding a variant here and an arm in
/// each dispatch. The CUDA variant arrives with the `cuda` feature.
#[derive(Debug, Clone)]
pub enum Storage<E: Float> {
    /// A host buffer.
    Cpu(Vec<E>),
}

impl<E: Float> Storage<E> {
    /// The device this storage lives on.
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
        }
    }

    /// Number of elements in the buffer (not the number a view of it shows).
    pub fn len(&self) -> usize {
        match self {
            Storage::Cpu(data) => data.len(),
        }
    }

    /// Whether the buffer holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
