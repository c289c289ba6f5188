//! 2-D convolution on the GPU (`kernels/conv.cu` + `kernels/gemm.cu`), any number of groups
//! `G` (the GEMMs of each group are sub-matrices of the same buffers; see [`super::conv_plan`]
//! for the offsets, which are checked on the CPU):
//! - forward: cols = im2col(x): [N, C·kh·kw, oh·ow]; per group g, Y_n,g = W_g · cols_n,g
//!   (batched over the images, W_g broadcast with batch stride 0), plus the bias;
//! - backward, data: per group, dcols_n,g = W_gᵀ · dY_n,g (Wᵀ is a stride swap, not a copy);
//!   dX = col2im(dcols);
//! - backward, weight: dW_g = Σ_n dY_n,g · cols_n,gᵀ, as N GEMMs (batched over the groups)
//!   accumulating into dW (β = 1) in a fixed order (deterministic).

use cudarc::driver::{CudaView, CudaViewMut, DeviceRepr};

use super::conv_plan::{self, GemmCall};
use super::matmul::{gemm, GemmPrecision};
use crate::cuda::kernels::{ADD_CHANNEL_BIAS, COL2IM, IM2COL};
use crate::cuda::launch::{self, as_i32, as_i64, common_device, launch, Output};
use crate::cuda::CudaDevice;
use crate::error::{Result, TensorError};
use crate::ops::conv::ConvShape;
use crate::{Float, Tensor};

/// Mirror of `ConvGeometry` in `conv.cu` (and `PoolGeometry` in `pool.cu`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    pub channels: i32,
    pub height: i32,
    pub width: i32,
    pub kernel_h: i32,
    pub kernel_w: i32,
    pub stride_h: i32,
    pub stride_w: i32,
    pub pad_h: i32,
    pub pad_w: i32,
    pub dilation_h: i32,
    pub dilation_w: i32,
    pub out_h: i32,
    pub out_w: i32,
}
// SAFETY: #[repr(C)] thirteen ints, the C struct's layout.
unsafe impl DeviceRepr for Geometry {}

fn geometry(op: &'static str, shape: &ConvShape) -> Result<Geometry> {
    Ok(Geometry {
        channels: as_i32(op, shape.in_channels)?,
        height: as_i32(op, shape.height)?,
        width: as_i32(op, shape.width)?,
        kernel_h: as_i32(op, shape.kernel[0])?,
        kernel_w: as_i32(op, shape.kernel[1])?,
        stride_h: as_i32(op, shape.stride[0])?,
        stride_w: as_i32(op, shape.stride[1])?,
        pad_h: as_i32(op, shape.padding[0])?,
        pad_w: as_i32(op, shape.padding[1])?,
        dilation_h: as_i32(op, shape.dilation[0])?,
        dilation_w: as_i32(op, shape.dilation[1])?,
        out_h: as_i32(op, shape.out[0])?,
        out_w: as_i32(op, shape.out[1])?,
    })
}

/// Runs the GEMMs of `plan` (see [`conv_plan`]): each launch reads A and B and writes C from its
/// element offsets into these buffers.
fn run_plan<E: Float>(
    op: &'static str,
    device: &CudaDevice,
    plan: &[GemmCall<E>],
    a: &CudaView<'_, E>,
    b: &CudaView<'_, E>,
    c: &mut CudaViewMut<'_, E>,
) -> Result<()> {
    let outside = |what: &str, offset: usize, len: usize| TensorError::Cuda {
        op,
        message: format!("GEMM operand {what} starts at {offset}, past its buffer of {len}"),
    };
    for call in plan {
        let a_part = a
            .try_slice(call.a_offset..)
            .ok_or_else(|| outside("A", call.a_offset, a.len()))?;
        let b_part = b
            .try_slice(call.b_offset..)
            .ok_or_else(|| outside("B", call.b_offset, b.len()))?;
        let c_len = c.len();
        let mut c_part = c
            .try_slice_mut(call.c_offset..)
            .ok_or_else(|| outside("C", call.c_offset, c_len))?;
        gemm(
            op,
            device,
            &a_part,
            &b_part,
            &mut c_part,
            call.args,
            call.batch,
            GemmPrecision::Exact,
        )?;
    }
    Ok(())
}

/// The column matrices `[N, C·kh·kw, oh·ow]` of a dense input.
fn im2col<E: Float>(op: &'static str, x: &Tensor<E>, shape: &ConvShape) -> Result<Tensor<E>> {
    let device = common_device(op, &[x])?;
    let x = super::elementwise::contiguous(op, x)?;
    let rows = shape.in_channels * shape.kernel[0] * shape.kernel[1];
    let positions = shape.out[0] * shape.out[1];
    let cols_shape = [shape.batch, rows, positions];
    let total = shape.batch * rows * positions;
    let mut cols = Output::<E>::new(op, &device, total)?;
    if total > 0 {
        let g = geometry(op, shape)?;
        let x_view = launch::dense_view(op, &x)?;
        let count = as_i64(total);
        let mut cols_view = cols.view_mut();
        // grid: [ceil(N·C·kh·kw·oh·ow/256)], block: [256]; cols: [N, C·kh·kw, oh·ow]
        launch!(op, device, IM2COL, E, launch::linear(total); &x_view, &mut cols_view, &count, &g)?;
    }
    Ok(cols.into_tensor(&cols_shape))
}

/// Forward convolution; `shape` was checked by [`crate::ops::conv::conv2d`].
pub(crate) fn conv2d<E: Float>(
    op: &'static str,
    x: &Tensor<E>,
    weight: &Tensor<E>,
    bias: Option<&Tensor<E>>,
    shape: &ConvShape,
) -> Result<Tensor<E>> {
    let device = common_device(op, &[x, weight])?;
    let cols = im2col(op, x, shape)?;
    let weight = super::elementwise::contiguous(op, weight)?;
    let positions = shape.positions();
    let out_shape = shape.output_shape();
    let total = crate::layout::numel(&out_shape);
    let mut out = Output::<E>::new(op, &device, total)?;
    if total > 0 {
        let plan = conv_plan::forward(op, shape)?;
        let w_view = launch::dense_view(op, &weight)?;
        let cols_view = launch::dense_view(op, &cols)?;
        let mut y_view = out.view_mut();
        // per group g < G, n < N: Y_n,g: [C_out/G, oh·ow] = W_g: [C_out/G, C/G·kh·kw]
        //   · cols_n,g: [C/G·kh·kw, oh·ow]
        run_plan(op, &device, &plan, &w_view, &cols_view, &mut y_view)?;
        if let Some(bias) = bias {
            let bias = super::elementwise::contiguous(op, bias)?;
            let bias_view = launch::dense_view(op, &bias)?;
            let (count, channels, plane) = (
                as_i64(total),
                as_i32(op, shape.out_channels)?,
                as_i64(positions),
            );
            // grid: [ceil(N·C_out·oh·ow/256)], block: [256]; y: [N, C_out, oh·ow] (in place)
            launch!(op, device, ADD_CHANNEL_BIAS, E, launch::linear(total);
                &mut y_view, &bias_view, &count, &channels, &plane)?;
        }
    }
    Ok(out.into_tensor(&out_shape))
}

/// `dX = col2im(dcols)` with `dcols_n,g = W_gᵀ · dY_n,g` per group; `shape` was checked by the entry point.
pub(crate) fn backward_input<E: Float>(
    op: &'static str,
    grad_output: &Tensor<E>,
    weight: &Tensor<E>,
    shape: &ConvShape,
) -> Result<Tensor<E>> {
    let device = common_device(op, &[grad_output, weight])?;
    let dy = super::elementwise::contiguous(op, grad_output)?;
    let weight = super::elementwise::contiguous(op, weight)?;
    let rows = shape.in_channels * shape.kernel[0] * shape.kernel[1];
    let positions = shape.out[0] * shape.out[1];
    let cols_total = shape.batch * rows * positions;
    let mut dcols = Output::<E>::new(op, &device, cols_total)?;
    if cols_total > 0 {
        let plan = conv_plan::backward_input(op, shape)?;
        let w_view = launch::dense_view(op, &weight)?;
        let dy_view = launch::dense_view(op, &dy)?;
        let mut dcols_view = dcols.view_mut();
        // per group g < G, n < N: dcols_n,g: [C/G·kh·kw, oh·ow] = W_gᵀ: [C/G·kh·kw, C_out/G]
        //   · dY_n,g: [C_out/G, oh·ow]
        run_plan(op, &device, &plan, &w_view, &dy_view, &mut dcols_view)?;
    }
    let dcols = dcols.into_tensor(&[shape.batch, rows, positions]);
    let in_shape = shape.input_shape();
    let total = crate::layout::numel(&in_shape);
    let mut dx = Output::<E>::new(op, &device, total)?;
    if total > 0 {
        let g = geometry(op, shape)?;
        let dcols_view = launch::dense_view(op, &dcols)?;
        let count = as_i64(total);
        let mut dx_view = dx.view_mut();
        // grid: [ceil(N·C·H·W/256)], block: [256]; dx: [N, C, H, W]
        launch!(op, device, COL2IM, E, launch::linear(total); &dcols_view, &mut dx_view, &count, &g)?;
    }
    Ok(dx.into_tensor(&in_shape))
}

/// `dW_g = Σ_n dY_n,g · cols_n,gᵀ` per group; `shape` was checked by the entry point.
pub(crate) fn backward_weight<E: Float>(
    op: &'static str,
    grad_output: &Tensor<E>,
    input: &Tensor<E>,
    shape: &ConvShape,
) -> Result<Tensor<E>> {
    let device = common_device(op, &[grad_output, input])?;
    let dy = super::elementwise::contiguous(op, grad_output)?;
    let cols = im2col(op, input, shape)?;
    let weight_shape = shape.weight_shape();
    // dW: [C_out, C/G, kh, kw]
    let total = crate::layout::numel(&weight_shape);
    let mut dw = Output::<E>::new(op, &device, total)?;
    if total > 0 {
        let plan = conv_plan::backward_weight(op, shape)?;
        let dy_view = launch::dense_view(op, &dy)?;
        let cols_view = launch::dense_view(op, &cols)?;
        let mut dw_view = dw.view_mut();
        // per image n (in order), g < G: dW_g: [C_out/G, C/G·kh·kw] (+)= dY_n,g: [C_out/G, oh·ow]
        //   · cols_n,gᵀ: [oh·ow, C/G·kh·kw]
        run_plan(op, &device, &plan, &dy_view, &cols_view, &mut dw_view)?;
    }
    Ok(dw.into_tensor(&weight_shape))
}
