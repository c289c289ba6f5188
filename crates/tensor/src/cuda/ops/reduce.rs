//! Reductions on the GPU (`kernels/reduce.cu`): sums, maxima and minima over axes (one block
//! per output element, a fixed combination order, so results are deterministic) and argmax
//! along one axis (one thread per output).

use cudarc::driver::DeviceRepr;

use crate::cuda::context::driver_error;
use crate::cuda::kernels::{ARGMAX_AXIS, EXTREME_AXES, SUM_AXES};
use crate::cuda::launch::{self, as_i32, as_i64, common_device, launch, Output, MAX_RANK};
use crate::error::{Result, TensorError};
use crate::{Float, Indices, Tensor};

/// Mirror of `ReduceView` in `reduce.cu`.
#[repr(C)]
#[derive(Clone, Copy)]
struct ReduceView {
    kept_rank: i32,
    kept_shape: [i64; MAX_RANK],
    kept_stride: [i64; MAX_RANK],
    reduced_rank: i32,
    reduced_shape: [i64; MAX_RANK],
    reduced_stride: [i64; MAX_RANK],
    offset: i64,
    reduced_count: i64,
}
// SAFETY: #[repr(C)] plain integers laid out exactly as the C struct (each int followed by 4
// bytes of padding before the next long long), passed by value.
unsafe impl DeviceRepr for ReduceView {}

/// The index maps of `x` split into kept and reduced axes (`reduced[axis]`).
fn reduce_view<E: Float>(op: &'static str, x: &Tensor<E>, reduced: &[bool]) -> Result<ReduceView> {
    if x.rank() > MAX_RANK {
        return Err(TensorError::invalid(
            op,
            format!("rank {} is above the CUDA limit of {MAX_RANK}", x.rank()),
        ));
    }
    let layout = x.layout();
    let mut view = ReduceView {
        kept_rank: 0,
        kept_shape: [1; MAX_RANK],
        kept_stride: [0; MAX_RANK],
        reduced_rank: 0,
        reduced_shape: [1; MAX_RANK],
        reduced_stride: [0; MAX_RANK],
        offset: as_i64(layout.offset()),
        reduced_count: 1,
    };
    for (axis, &is_reduced) in reduced.iter().enumerate().take(x.rank()) {
        let (size, stride) = (as_i64(layout.shape()[axis]), as_i64(layout.strides()[axis]));
        if is_reduced {
            let r = view.reduced_rank as usize;
            view.reduced_shape[r] = size;
            view.reduced_stride[r] = stride;
            view.reduced_rank += 1;
            view.reduced_count *= size;
        } else {
            let k = view.kept_rank as usize;
            view.kept_shape[k] = size;
            view.kept_stride[k] = stride;
            view.kept_rank += 1;
        }
    }
    Ok(view)
}

/// `out = scale · Σ x` over the axes marked in `reduced`; `out_shape` is the caller's output
/// shape (with or without kept unit axes: the element order is the same).
pub fn sum<E: Float>(
    op: &'static str,
    x: &Tensor<E>,
    reduced: &[bool],
    out_shape: &[usize],
    scale: f64,
) -> Result<Tensor<E>> {
    let device = common_device(op, &[x])?;
    let view = reduce_view(op, x, reduced)?;
    let outputs = crate::layout::numel(out_shape);
    let mut out = Output::<E>::new(op, &device, outputs)?;
    if outputs > 0 {
        let x_view = launch::whole(op, x)?;
        let scale = E::from_f64(scale);
        let mut out_view = out.view_mut();
        // grid: [outputs], block: [256]; out: out_shape
        launch!(op, device, SUM_AXES, E, launch::per_block(outputs);
            &x_view, &mut out_view, &scale, &view)?;
    }
    Ok(out.into_tensor(out_shape))
}

/// `out = max x` (`is_max`) or `min x` over the axes marked in `reduced`, NaN if any reduced
/// element is NaN. The entry point refuses empty reductions with outputs.
pub(crate) fn extreme<E: Float>(
    op: &'static str,
    x: &Tensor<E>,
    reduced: &[bool],
    out_shape: &[usize],
    is_max: bool,
) -> Result<Tensor<E>> {
    let device = common_device(op, &[x])?;
    let view = reduce_view(op, x, reduced)?;
    let outputs = crate::layout::numel(out_shape);
    let mut out = Output::<E>::new(op, &device, outputs)?;
    if outputs > 0 {
        let x_view = launch::whole(op, x)?;
        let is_max = i32::from(is_max);
        let mut out_view = out.view_mut();
        // grid: [outputs], block: [256]; out: out_shape
        launch!(op, device, EXTREME_AXES, E, launch::per_block(outputs);
            &x_view, &mut out_view, &is_max, &view)?;
    }
    Ok(out.into_tensor(out_shape))
}

/// Index of the first maximum along `axis` (the first NaN wins), returned to the host as the
/// crate's [`Indices`] of `out_shape`. The entry point refuses an empty axis with outputs.
pub(crate) fn argmax<E: Float>(
    op: &'static str,
    x: &Tensor<E>,
    axis: usize,
    out_shape: &[usize],
) -> Result<Indices> {
    let device = common_device(op, &[x])?;
    let x = super::elementwise::contiguous(op, x)?;
    let shape = x.shape();
    let size = shape[axis];
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    let outputs = outer * inner;
    if outputs == 0 {
        return Indices::new(Vec::new(), out_shape);
    }
    as_i32(op, size)?;
    // SAFETY: uninitialised i32 device memory; the kernel below writes all `outputs` elements.
    let mut index = unsafe { device.stream().alloc::<i32>(outputs) }
        .map_err(|e| driver_error(op, "cuMemAlloc", e))?;
    {
        let x_view = launch::dense_view(op, &x)?;
        let (count, size, inner) = (as_i64(outputs), as_i64(size), as_i64(inner));
        // grid: [ceil(outer·inner/256)], block: [256]; index: [outer, inner]
        launch!(op, device, ARGMAX_AXIS, E, launch::linear(outputs);
            &x_view, &mut index, &count, &size, &inner)?;
    }
    let host = device
        .stream()
        .clone_dtoh(&index)
        .map_err(|e| driver_error(op, "cuMemcpyDtoH", e))?;
    device.synchronize(op)?;
    Indices::new(host.iter().map(|&i| i.max(0) as usize).collect(), out_shape)
}
