//! Pooling on the GPU (`kernels/pool.cu`): max pooling with argmax indices (returned to the
//! host as [`Indices`], the crate's index type), its gather-form backward, average pooling and
//! global average pooling, forward and backward.

use super::conv::Geometry;
use crate::cuda::context::driver_error;
use crate::cuda::kernels::{
    AVG_POOL_BACKWARD, AVG_POOL_FORWARD, GLOBAL_AVG_POOL_BACKWARD, GLOBAL_AVG_POOL_FORWARD,
    MAX_POOL_BACKWARD, MAX_POOL_FORWARD,
};
use crate::cuda::launch::{self, as_i32, as_i64, common_device, launch, upload, Output};
use crate::error::{Result, TensorError};
use crate::ops::pool::Pool2dParams;
use crate::{Float, Indices, Tensor};

fn geometry(
    op: &'static str,
    channels: usize,
    input: [usize; 2],
    output: [usize; 2],
    params: &Pool2dParams,
) -> Result<Geometry> {
    Ok(Geometry {
        channels: as_i32(op, channels)?,
        height: as_i32(op, input[0])?,
        width: as_i32(op, input[1])?,
        kernel_h: as_i32(op, params.kernel[0])?,
        kernel_w: as_i32(op, params.kernel[1])?,
        stride_h: as_i32(op, params.stride[0])?,
        stride_w: as_i32(op, params.stride[1])?,
        pad_h: as_i32(op, params.padding[0])?,
        pad_w: as_i32(op, params.padding[1])?,
        dilation_h: 1,
        dilation_w: 1,
        out_h: as_i32(op, output[0])?,
        out_w: as_i32(op, output[1])?,
    })
}

/// `(y, argmax)` of a max pool; `out_hw` was computed and checked by the entry point.
pub(crate) fn max_pool2d<E: Float>(
    op: &'static str,
    x: &Tensor<E>,
    params: &Pool2dParams,
    out_hw: [usize; 2],
) -> Result<(Tensor<E>, Indices)> {
    let device = common_device(op, &[x])?;
    let x = super::elementwise::contiguous(op, x)?;
    let [n, c, h, w] = [x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]];
    let out_shape = [n, c, out_hw[0], out_hw[1]];
    let total = crate::layout::numel(&out_shape);
    let mut y = Output::<E>::new(op, &device, total)?;
    // SAFETY: uninitialised i32 device memory, every element written by the kernel below.
    let mut index = unsafe { device.stream().alloc::<i32>(total.max(1)) }
        .map_err(|e| driver_error(op, "cuMemAlloc", e))?;
    if total > 0 {
        let g = geometry(op, c, [h, w], out_hw, params)?;
        let x_view = launch::dense_view(op, &x)?;
        let count = as_i64(total);
        let mut y_view = y.view_mut();
        // grid: [ceil(N·C·oh·ow/256)], block: [256]; y, index: [N, C, oh, ow]
        launch!(op, device, MAX_POOL_FORWARD, E, launch::linear(total);
            &x_view, &mut y_view, &mut index, &count, &g)?;
    }
    let host = device
        .stream()
        .clone_dtoh(&index)
        .map_err(|e| driver_error(op, "cuMemcpyDtoH", e))?;
    device.synchronize(op)?;
    let indices = Indices::new(
        host[..total].iter().map(|&i| i.max(0) as usize).collect(),
        &out_shape,
    )?;
    Ok((y.into_tensor(&out_shape), indices))
}

/// `dx[h, w] = Σ dy over the windows whose argmax is (h, w)`; arguments checked by the entry
/// point (indices in range).
pub(crate) fn max_pool2d_backward<E: Float>(
    op: &'static str,
    grad_output: &Tensor<E>,
    indices: &Indices,
    input_shape: [usize; 4],
) -> Result<Tensor<E>> {
    let device = common_device(op, &[grad_output])?;
    let dy = super::elementwise::contiguous(op, grad_output)?;
    let [n, c, h, w] = input_shape;
    let index: Vec<i32> = indices
        .as_slice()
        .iter()
        .map(|&i| {
            i32::try_from(i).map_err(|_| {
                TensorError::invalid(op, format!("index {i} does not fit the CUDA kernel"))
            })
        })
        .collect::<Result<_>>()?;
    let index = upload(
        op,
        &device,
        if index.is_empty() { &[0] } else { &index[..] },
    )?;
    let total = crate::layout::numel(&input_shape);
    let mut dx = Output::<E>::new(op, &device, total)?;
    if total > 0 {
        let dy_view = launch::dense_view(op, &dy)?;
        let planes = n * c;
        let (planes_arg, in_plane, out_plane) = (
            as_i64(planes),
            as_i64(h * w),
            as_i64(dy.shape()[2] * dy.shape()[3]),
        );
        let mut dx_view = dx.view_mut();
        // grid: [ceil(N·C/256)], block: [256]; dx: [N, C, H, W]
        launch!(op, device, MAX_POOL_BACKWARD, E, launch::linear(planes);
            &dy_view, &index, &mut dx_view, &planes_arg, &in_plane, &out_plane)?;
    }
    Ok(dx.into_tensor(&input_shape))
}

/// `y[n, c] = mean of x[n, c, ·, ·]`, shape `[N, C]` (the entry point reshapes as it needs).
pub(crate) fn global_avg_pool2d<E: Float>(
    op: &'static str,
    x: &Tensor<E>,
    out_shape: &[usize],
) -> Result<Tensor<E>> {
    let device = common_device(op, &[x])?;
    let x = super::elementwise::contiguous(op, x)?;
    let planes = x.shape()[0] * x.shape()[1];
    let plane = x.shape()[2] * x.shape()[3];
    let mut y = Output::<E>::new(op, &device, planes)?;
    if planes > 0 {
        let x_view = launch::dense_view(op, &x)?;
        let plane = as_i64(plane);
        let mut y_view = y.view_mut();
        // grid: [N·C], block: [256]; y: [N, C]
        launch!(op, device, GLOBAL_AVG_POOL_FORWARD, E, launch::per_block(planes); &x_view, &mut y_view, &plane)?;
    }
    Ok(y.into_tensor(out_shape))
}

/// `dx[n, c, h, w] = dy[n, c] / (H·W)`.
pub(crate) fn global_avg_pool2d_backward<E: Float>(
    op: &'static str,
    grad_output: &Tensor<E>,
    input_shape: [usize; 4],
) -> Result<Tensor<E>> {
    let device = common_device(op, &[grad_output])?;
    let dy = super::elementwise::contiguous(op, grad_output)?;
    let total = crate::layout::numel(&input_shape);
    let mut dx = Output::<E>::new(op, &device, total)?;
    if total > 0 {
        let dy_view = launch::dense_view(op, &dy)?;
        let (count, plane) = (as_i64(total), as_i64(input_shape[2] * input_shape[3]));
        let mut dx_view = dx.view_mut();
        // grid: [ceil(N·C·H·W/256)], block: [256]; dx: [N, C, H, W]
        launch!(op, device, GLOBAL_AVG_POOL_BACKWARD, E, launch::linear(total); &dy_view, &mut dx_view, &count, &plane)?;
    }
    Ok(dx.into_tensor(&input_shape))
}

/// Average pooling `y[n, c, i, j] = (1/d(i, j)) Σ x over window(i, j) ∩ input`, `d` counting
/// the padded positions too when `count_include_pad`; `out_hw` was checked by the entry point.
pub(crate) fn avg_pool2d<E: Float>(
    op: &'static str,
    x: &Tensor<E>,
    params: &Pool2dParams,
    out_hw: [usize; 2],
    count_include_pad: bool,
) -> Result<Tensor<E>> {
    let device = common_device(op, &[x])?;
    let x = super::elementwise::contiguous(op, x)?;
    let [n, c, h, w] = [x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]];
    let out_shape = [n, c, out_hw[0], out_hw[1]];
    let total = crate::layout::numel(&out_shape);
    let mut y = Output::<E>::new(op, &device, total)?;
    if total > 0 {
        let g = geometry(op, c, [h, w], out_hw, params)?;
        let x_view = launch::dense_view(op, &x)?;
        let (count, include_pad) = (as_i64(total), i32::from(count_include_pad));
        let mut y_view = y.view_mut();
        // grid: [ceil(N·C·oh·ow/256)], block: [256]; y: [N, C, oh, ow]
        launch!(op, device, AVG_POOL_FORWARD, E, launch::linear(total);
            &x_view, &mut y_view, &count, &g, &include_pad)?;
    }
    Ok(y.into_tensor(&out_shape))
}

/// `dx[h, w] = Σ dy[i, j] / d(i, j)` over the windows containing `(h, w)`; `grad_output` has
/// the pooled shape (checked by the entry point).
pub(crate) fn avg_pool2d_backward<E: Float>(
    op: &'static str,
    grad_output: &Tensor<E>,
    input_shape: [usize; 4],
    params: &Pool2dParams,
    count_include_pad: bool,
) -> Result<Tensor<E>> {
    let device = common_device(op, &[grad_output])?;
    let dy = super::elementwise::contiguous(op, grad_output)?;
    let [_, c, h, w] = input_shape;
    let out_hw = [dy.shape()[2], dy.shape()[3]];
    let total = crate::layout::numel(&input_shape);
    let mut dx = Output::<E>::new(op, &device, total)?;
    if total > 0 {
        let g = geometry(op, c, [h, w], out_hw, params)?;
        let dy_view = launch::dense_view(op, &dy)?;
        let (count, include_pad) = (as_i64(total), i32::from(count_include_pad));
        let mut dx_view = dx.view_mut();
        // grid: [ceil(N·C·H·W/256)], block: [256]; dx: [N, C, H, W]
        launch!(op, device, AVG_POOL_BACKWARD, E, launch::linear(total);
            &dy_view, &mut dx_view, &count, &g, &include_pad)?;
    }
    Ok(dx.into_tensor(&input_shape))
}
