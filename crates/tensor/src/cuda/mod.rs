//! The CUDA backend (compiled with the `cuda` feature): device storage, host↔device copies,
//! and the hand-written kernels of `kernels/*.cu` (each instantiated for f32 and f64), compiled
//! at run time by NVRTC for the GPU in use and launched through cudarc.
//!
//! - [`context`]: one cached handle per GPU (context, stream, compute capability, modules);
//!   the driver library is looked for before any driver call, so a machine without a GPU gets
//!   a [`crate::TensorError::Cuda`], never a panic.
//! - [`nvrtc`]: our fallible NVRTC loader (`UNRAVEL_NVRTC` picks the library) and compiler.
//! - [`kernels`]: the embedded sources, one per kernel family, and the table of entry points.
//! - [`launch`]: the launch wrappers the ops dispatch to.
//!
//! See `docs/cuda.md` for the build, the driver/PTX version rule and the kernel designs.

pub mod context;
pub mod kernels;
pub mod launch;
pub mod nvrtc;
pub mod ops;

use std::sync::Arc;

use cudarc::driver::CudaSlice;

pub use context::{device, device_count, driver_is_present, driver_version, CudaDevice};

use crate::error::{Result, TensorError};
use crate::Float;

/// A buffer in GPU memory, and the device it lives on.
///
/// Device buffers are written once, by the kernel or copy that creates them, and only read
/// afterwards (ops never mutate their inputs), so clones share the buffer through an `Arc`.
#[derive(Clone)]
pub struct CudaStorage<E: Float> {
    buffer: Arc<CudaSlice<E>>,
    device: Arc<CudaDevice>,
}

impl<E: Float> std::fmt::Debug for CudaStorage<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CudaStorage<{}>(cuda:{}, {} elements)",
            E::DTYPE,
            self.device.ordinal(),
            self.buffer.len()
        )
    }
}

impl<E: Float> CudaStorage<E> {
    /// Wraps a buffer just written on `device`.
    pub fn new(buffer: CudaSlice<E>, device: Arc<CudaDevice>) -> Self {
        CudaStorage {
            buffer: Arc::new(buffer),
            device,
        }
    }

    /// Copies a host buffer to GPU `ordinal`.
    pub fn from_host(data: &[E], ordinal: usize) -> Result<Self> {
        let device = device(ordinal)?;
        let buffer = device
            .stream()
            .clone_htod(data)
            .map_err(|e| context::driver_error("to_device", "cuMemcpyHtoD", e))?;
        Ok(Self::new(buffer, device))
    }

    /// Copies the whole buffer to the host (waits for queued kernels first, so a kernel fault
    /// shows up here as an error).
    pub fn to_host(&self) -> Result<Vec<E>> {
        let data = self
            .device
            .stream()
            .clone_dtoh(self.buffer.as_ref())
            .map_err(|e| context::driver_error("to_vec", "cuMemcpyDtoH", e))?;
        self.device.synchronize("to_vec")?;
        Ok(data)
    }

    /// Copies the one element at `position` of the buffer to the host (`item`, `get`).
    pub fn read_element(&self, op: &'static str, position: usize) -> Result<E> {
        let element = self
            .buffer
            .try_slice(position..position + 1)
            .ok_or_else(|| TensorError::Cuda {
                op,
                message: format!(
                    "element {position} is outside the device buffer of {} elements",
                    self.buffer.len()
                ),
            })?;
        let data = self
            .device
            .stream()
            .clone_dtoh(&element)
            .map_err(|e| context::driver_error(op, "cuMemcpyDtoH", e))?;
        self.device.synchronize(op)?;
        data.first().copied().ok_or_else(|| TensorError::Cuda {
            op,
            message: "the one-element copy returned nothing".into(),
        })
    }

    pub fn ordinal(&self) -> usize {
        self.device.ordinal()
    }

    pub fn len(&self) -> usize {
        self.buffer.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    pub fn buffer(&self) -> &CudaSlice<E> {
        &self.buffer
    }

    pub fn device(&self) -> &Arc<CudaDevice> {
        &self.device
    }
}
