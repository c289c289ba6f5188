//! NumPy's `where` on the GPU (`kernels/elementwise.cu`, the `select_strided` kernel):
//! `out = condition ≠ 0 ? on_true : on_false`, the three operands broadcast by stride
//! arithmetic (never materialised).

use cudarc::driver::DeviceRepr;

use super::elementwise::check_rank;
use crate::cuda::kernels::SELECT_STRIDED;
use crate::cuda::launch::{self, as_i64, common_device, launch, Output, MAX_RANK};
use crate::error::Result;
use crate::{Float, Tensor};

/// Mirror of `StridedTriple` in `elementwise.cu`.
#[repr(C)]
#[derive(Clone, Copy)]
struct StridedTriple {
    rank: i32,
    shape: [i64; MAX_RANK],
    c_stride: [i64; MAX_RANK],
    t_stride: [i64; MAX_RANK],
    f_stride: [i64; MAX_RANK],
    c_offset: i64,
    t_offset: i64,
    f_offset: i64,
}
// SAFETY: #[repr(C)] plain integers laid out exactly as the C struct (int, 4 bytes of padding,
// then long longs), passed by value as a kernel parameter.
unsafe impl DeviceRepr for StridedTriple {}

/// `out[i] = condition[i] ≠ 0 ? on_true[i] : on_false[i]` over the broadcast `shape` (checked
/// by [`Tensor::select`]).
pub(crate) fn select<E: Float>(
    op: &'static str,
    condition: &Tensor<E>,
    on_true: &Tensor<E>,
    on_false: &Tensor<E>,
    shape: &[usize],
) -> Result<Tensor<E>> {
    let device = common_device(op, &[condition, on_true, on_false])?;
    check_rank(op, shape.len())?;
    let n = crate::layout::numel(shape);
    let mut out = Output::<E>::new(op, &device, n)?;
    if n > 0 {
        let layouts = [
            condition.layout().broadcast_to(shape)?,
            on_true.layout().broadcast_to(shape)?,
            on_false.layout().broadcast_to(shape)?,
        ];
        let mut view = StridedTriple {
            rank: shape.len() as i32,
            shape: [1; MAX_RANK],
            c_stride: [0; MAX_RANK],
            t_stride: [0; MAX_RANK],
            f_stride: [0; MAX_RANK],
            c_offset: as_i64(layouts[0].offset()),
            t_offset: as_i64(layouts[1].offset()),
            f_offset: as_i64(layouts[2].offset()),
        };
        for (axis, &size) in shape.iter().enumerate() {
            view.shape[axis] = as_i64(size);
            view.c_stride[axis] = as_i64(layouts[0].strides()[axis]);
            view.t_stride[axis] = as_i64(layouts[1].strides()[axis]);
            view.f_stride[axis] = as_i64(layouts[2].strides()[axis]);
        }
        let (c, t, f) = (
            launch::whole(op, condition)?,
            launch::whole(op, on_true)?,
            launch::whole(op, on_false)?,
        );
        let count = as_i64(n);
        let mut out_view = out.view_mut();
        // grid: [ceil(n/256)], block: [256]; out: shape (dense)
        launch!(op, device, SELECT_STRIDED, E, launch::linear(n);
            &count, &c, &t, &f, &mut out_view, &view)?;
    }
    Ok(out.into_tensor(shape))
}
