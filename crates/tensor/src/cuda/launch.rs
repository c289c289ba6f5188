//! Launch helpers shared by the CUDA ops: device checks, typed views of tensors' device
//! buffers, fresh outputs, launch shapes, and the [`launch!`] macro that picks the kernel
//! instance for the element type and checks every launch.

use std::sync::Arc;

use cudarc::driver::{CudaSlice, CudaView, CudaViewMut, LaunchConfig};

use super::context::driver_error;
use super::{CudaDevice, CudaStorage};
use crate::error::{Result, TensorError};
use crate::{Float, Storage, Tensor};

/// Threads per block of the 1-D kernels.
pub const BLOCK: u32 = 256;

/// The most axes a strided kernel argument describes (`MAX_RANK` in the `.cu` files).
pub const MAX_RANK: usize = 8;

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

/// One block of 256 threads per item: grid: [items], block: [256].
pub fn per_block(items: usize) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (items.clamp(1, i32::MAX as usize) as u32, 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// The CUDA storage of `tensor`, if it has one.
pub fn cuda_storage<E: Float>(tensor: &Tensor<E>) -> Option<&CudaStorage<E>> {
    match &**tensor.storage() {
        Storage::Cuda(storage) => Some(storage),
        Storage::Cpu(_) => None,
    }
}

/// Whether `tensor` lives on a GPU (the dispatch test of every op).
pub fn is_cuda<E: Float>(tensor: &Tensor<E>) -> bool {
    cuda_storage(tensor).is_some()
}

/// The device all `tensors` live on; fails unless they are all on one GPU.
pub fn common_device<E: Float>(
    op: &'static str,
    tensors: &[&Tensor<E>],
) -> Result<Arc<CudaDevice>> {
    let first = tensors[0];
    for other in &tensors[1..] {
        if other.device() != first.device() {
            return Err(TensorError::DeviceMismatch {
                op,
                lhs: first.device(),
                rhs: other.device(),
            });
        }
    }
    let storage = cuda_storage(first).ok_or(TensorError::UnsupportedDevice {
        op,
        device: first.device(),
    })?;
    Ok(Arc::clone(storage.device()))
}

/// The whole buffer behind `tensor` (index it with the tensor's layout).
pub fn whole<'a, E: Float>(op: &'static str, tensor: &'a Tensor<E>) -> Result<CudaView<'a, E>> {
    let storage = cuda_storage(tensor).ok_or(TensorError::UnsupportedDevice {
        op,
        device: tensor.device(),
    })?;
    Ok(storage.buffer().as_view())
}

/// The elements of a contiguous `tensor` as one dense view (from its offset).
pub fn dense_view<'a, E: Float>(
    op: &'static str,
    tensor: &'a Tensor<E>,
) -> Result<CudaView<'a, E>> {
    debug_assert!(tensor.is_contiguous());
    let view = whole(op, tensor)?;
    let start = tensor.layout().offset();
    let end = start + tensor.numel();
    view.try_slice(start..end.max(start))
        .ok_or_else(|| TensorError::Cuda {
            op,
            message: format!("view {start}..{end} is outside the device buffer"),
        })
}

/// Whether `offset` elements of `E` from a 256-byte-aligned allocation keep 16-byte alignment
/// (what the kernels' vector paths need: `float4`, or `double2` for f64).
pub fn vector_aligned<E: Float>(offset: usize) -> bool {
    (offset * E::DTYPE.size_in_bytes()).is_multiple_of(16)
}

/// A fresh output of `len` elements on `device` (uninitialised: the kernel writing it must
/// cover every element; tests poison outputs to check that).
pub struct Output<E: Float> {
    buffer: CudaSlice<E>,
    device: Arc<CudaDevice>,
}

impl<E: Float> Output<E> {
    pub fn new(op: &'static str, device: &Arc<CudaDevice>, len: usize) -> Result<Self> {
        // SAFETY: uninitialised device memory; see the type's doc — every launch that creates
        // an output writes all of it before anything reads it.
        let buffer = unsafe { device.stream().alloc::<E>(len.max(1)) }
            .map_err(|e| driver_error(op, "cuMemAlloc", e))?;
        Ok(Output {
            buffer,
            device: Arc::clone(device),
        })
    }

    /// The buffer, for a kernel to write.
    pub fn view_mut(&mut self) -> CudaViewMut<'_, E> {
        self.buffer.as_view_mut()
    }

    /// The finished output as a dense tensor of `shape`.
    pub fn into_tensor(self, shape: &[usize]) -> Tensor<E> {
        Tensor::from_cuda(CudaStorage::new(self.buffer, self.device), shape)
    }
}

/// Launches `kernel` (a constant of [`super::kernels`]) instantiated for the element type
/// `$elem` (`kernel_f32` or `kernel_f64`) on `device` with `config` and the arguments, and turns
/// a failed launch (bad configuration, missing kernel, earlier fault) into
/// [`TensorError::Cuda`]; a kernel without an instance for `$elem` is `UnsupportedDType`.
/// Arguments must match the kernel's parameter list in order and type, with `T` = `$elem`.
macro_rules! launch {
    ($op:expr, $device:expr, $kernel:expr, $elem:ty, $config:expr; $($arg:expr),* $(,)?) => {{
        use cudarc::driver::PushKernelArg;
        let name = $kernel.name($op, <$elem as crate::Float>::DTYPE)?;
        let function = $device.function(&$kernel.file, &name)?;
        let mut builder = $device.stream().launch_builder(&function);
        $( builder.arg($arg); )*
        // SAFETY: the argument list matches the kernel's signature in `kernels/` (order and C
        // type: pointers are device views of the element type `T` = `$elem` (or i32),
        // integers i32/i64, scalars `T`, structs #[repr(C)] mirrors), and the launch shape
        // covers exactly the elements the kernel's doc states; kernels bound-check every index
        // against the sizes passed.
        unsafe { builder.launch($config) }
            .map(|_| ())
            .map_err(|e| crate::cuda::context::driver_error($op, &format!("launch {name}"), e))
    }};
}
pub(crate) use launch;

/// Copies a small host array (labels, indices) to the device.
pub fn upload<T: cudarc::driver::DeviceRepr>(
    op: &'static str,
    device: &CudaDevice,
    values: &[T],
) -> Result<CudaSlice<T>> {
    device
        .stream()
        .clone_htod(values)
        .map_err(|e| driver_error(op, "cuMemcpyHtoD", e))
}

/// Converts a size to the kernels' `long long`.
pub fn as_i64(value: usize) -> i64 {
    value as i64
}

/// Converts a size to the kernels' `int`, failing if it does not fit.
pub fn as_i32(op: &'static str, value: usize) -> Result<i32> {
    i32::try_from(value).map_err(|_| {
        TensorError::invalid(
            op,
            format!("size {value} exceeds the CUDA kernels' 32-bit index"),
        )
    })
}
