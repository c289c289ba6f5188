//! Sums over axes on the GPU (`kernels/reduce.cu`): one block per output element, a fixed
//! combination order, so results are deterministic.

use cudarc::driver::DeviceRepr;

use crate::cuda::kernels::REDUCE;
use crate::cuda::launch::{self, as_i64, common_device, launch, Output, MAX_RANK};
use crate::error::{Result, TensorError};
use crate::{Float, Tensor};

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
    let outputs = crate::layout::numel(out_shape);
    let mut out = Output::<E>::new(op, &device, outputs)?;
    if outputs > 0 {
        let x_view = launch::whole(op, x)?;
        let scale = scale as f32;
        let mut out_view = out.view_mut(op)?;
        // grid: [outputs], block: [256]; out: out_shape
        launch!(op, device, REDUCE, "sum_axes_f32", launch::per_block(outputs);
            &x_view, &mut out_view, &scale, &view)?;
    }
    Ok(out.into_tensor(out_shape))
}
