//! Launch wrappers: each turns tensors into kernel arguments, states the launch shape, launches
//! on the device's stream and turns every driver error into a [`TensorError::Cuda`].

use cudarc::driver::{CudaSlice, LaunchConfig};

use super::context::driver_error;
use super::CudaDevice;
use crate::error::Result;

/// Threads per block of the 1-D elementwise kernels.
pub const BLOCK: u32 = 256;

/// A 1-D launch over `n` elements: grid: [min(ceil(n/256), 65535·8)], block: [256] (the kernels
/// are grid-stride loops, so a capped grid still covers every element).
pub fn linear(n: usize) -> LaunchConfig {
    let blocks = n.div_ceil(BLOCK as usize).clamp(1, 65_535 * 8) as u32;
    LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// A fresh, uninitialised device buffer of `len` f32 (every kernel that fills one writes all of
/// it; tests poison outputs to check that).
pub fn alloc(device: &CudaDevice, len: usize, op: &'static str) -> Result<CudaSlice<f32>> {
    // SAFETY: the buffer is uninitialised device memory; every caller launches a kernel that
    // writes all `len` elements before the buffer is read.
    unsafe { device.stream().alloc::<f32>(len.max(1)) }.map_err(|e| driver_error(op, "cuMemAlloc", e))
}
