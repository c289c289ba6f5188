//! The buffer behind a tensor. Storage is shared (`Arc`) between views and is never mutated
//! while shared: [`crate::Tensor::data_mut`] copies on write.

use crate::{Device, Float};

/// Where and how a tensor's elements are stored.
///
/// Every kernel dispatches on this enum; adding a device is adding a variant here and an arm in
/// each dispatch. The `Cuda` variant exists with the `cuda` feature; a CPU-only op that meets
/// it returns [`crate::TensorError::UnsupportedDevice`].
#[derive(Debug, Clone)]
pub enum Storage<E: Float> {
    /// A host buffer.
    Cpu(Vec<E>),
    /// A buffer in GPU memory (immutable once written; clones share it).
    #[cfg(feature = "cuda")]
    Cuda(crate::cuda::CudaStorage<E>),
}

impl<E: Float> Storage<E> {
    /// The device this storage lives on.
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
            #[cfg(feature = "cuda")]
            Storage::Cuda(storage) => Device::Cuda(storage.ordinal()),
        }
    }

    /// Number of elements in the buffer (not the number a view of it shows).
    pub fn len(&self) -> usize {
        match self {
            Storage::Cpu(data) => data.len(),
            #[cfg(feature = "cuda")]
            Storage::Cuda(storage) => storage.len(),
        }
    }

    /// Whether the buffer holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
