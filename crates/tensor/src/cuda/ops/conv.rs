//! 2-D convolution on the GPU (`kernels/conv.cu` + `kernels/gemm.cu`), groups = 1:
//! - forward: cols = im2col(x): [N, C·kh·kw, oh·ow]; Y_n = W · cols_n (batched GEMM, W
//!   broadcast with batch stride 0), plus the bias;
//! - backward, data: dcols_n = Wᵀ · dY_n (Wᵀ is a stride swap, not a copy); dX = col2im(dcols);
//! - backward, weight: dW = Σ_n dY_n · cols_nᵀ, as N GEMMs accumulating into dW (β = 1) in a
//!   fixed order (deterministic).

use cudarc::driver::DeviceRepr;

use super::matmul::{gemm, GemmArgs, GemmPrecision};
use crate::cuda::kernels::{ADD_CHANNEL_BIAS, COL2IM, IM2COL};
use crate::cuda::launch::{self, as_i32, as_i64, common_device, launch, Output};
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

fn require_one_group(op: &'static str, shape: &ConvShape) -> Result<()> {
    if shape.groups != 1 {
        return Err(TensorError::invalid(
            op,
            format!(
                "groups = {} is not implemented on CUDA (only 1)",
                shape.groups
            ),
        ));
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
    require_one_group(op, shape)?;
    let cols = im2col(op, x, shape)?;
    let weight = super::elementwise::contiguous(op, weight)?;
    let (rows, positions) = (cols.shape()[1], cols.shape()[2]);
    let out_shape = shape.output_shape();
    let total = crate::layout::numel(&out_shape);
    let mut out = Output::<E>::new(op, &device, total)?;
    if total > 0 {
        let args = GemmArgs {
            m: as_i32(op, shape.out_channels)?,
            n: as_i32(op, positions)?,
            k: as_i32(op, rows)?,
            a_row: as_i64(rows),
            a_col: 1,
            b_row: as_i64(positions),
            b_col: 1,
            c_row: as_i64(positions),
            a_batch: 0,
            b_batch: as_i64(rows * positions),
            c_batch: as_i64(shape.out_channels * positions),
            alpha: E::ONE,
            beta: E::ZERO,
        };
        let w_view = launch::dense_view(op, &weight)?;
        let cols_view = launch::dense_view(op, &cols)?;
        let mut y_view = out.view_mut();
        // Y_n: [C_out, oh·ow] = W: [C_out, C·kh·kw] · cols_n: [C·kh·kw, oh·ow], n < N
        gemm(
            op,
            &device,
            &w_view,
            &cols_view,
            &mut y_view,
            args,
            shape.batch,
            GemmPrecision::Exact,
        )?;
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

/// `dX = col2im(Wᵀ · dY_n)`; `shape` was checked by the entry point.
pub(crate) fn backward_input<E: Float>(
    op: &'static str,
    grad_output: &Tensor<E>,
    weight: &Tensor<E>,
    shape: &ConvShape,
) -> Result<Tensor<E>> {
    let device = common_device(op, &[grad_output, weight])?;
    require_one_group(op, shape)?;
    let dy = super::elementwise::contiguous(op, grad_output)?;
    let weight = super::elementwise::contiguous(op, weight)?;
    let rows = shape.in_channels * shape.kernel[0] * shape.kernel[1];
    let positions = shape.out[0] * shape.out[1];
    let cols_total = shape.batch * rows * positions;
    let mut dcols = Output::<E>::new(op, &device, cols_total)?;
    if cols_total > 0 {
        let args = GemmArgs {
            m: as_i32(op, rows)?,
            n: as_i32(op, positions)?,
            k: as_i32(op, shape.out_channels)?,
            a_row: 1,
            a_col: as_i64(rows),
            b_row: as_i64(positions),
            b_col: 1,
            c_row: as_i64(positions),
            a_batch: 0,
            b_batch: as_i64(shape.out_channels * positions),
            c_batch: as_i64(rows * positions),
            alpha: E::ONE,
            beta: E::ZERO,
        };
        let w_view = launch::dense_view(op, &weight)?;
        let dy_view = launch::dense_view(op, &dy)?;
        let mut dcols_view = dcols.view_mut();
        // dcols_n: [C·kh·kw, oh·ow] = Wᵀ: [C·kh·kw, C_out] · dY_n: [C_out, oh·ow], n < N
        gemm(
            op,
            &device,
            &w_view,
            &dy_view,
            &mut dcols_view,
            args,
            shape.batch,
            GemmPrecision::Exact,
        )?;
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

/// `dW = Σ_n dY_n · cols_nᵀ`; `shape` was checked by the entry point.
pub(crate) fn backward_weight<E: Float>(
    op: &'static str,
    grad_output: &Tensor<E>,
    input: &Tensor<E>,
    shape: &ConvShape,
) -> Result<Tensor<E>> {
    let device = common_device(op, &[grad_output, input])?;
    require_one_group(op, shape)?;
    let dy = super::elementwise::contiguous(op, grad_output)?;
    let cols = im2col(op, input, shape)?;
    let rows = shape.in_channels * shape.kernel[0] * shape.kernel[1];
    let positions = shape.out[0] * shape.out[1];
    let weight_shape = shape.weight_shape();
    let total = shape.out_channels * rows;
    let mut dw = Output::<E>::new(op, &device, total)?;
    if total > 0 {
        let dy_view = launch::dense_view(op, &dy)?;
        let cols_view = launch::dense_view(op, &cols)?;
        let mut dw_view = dw.view_mut();
        for image in 0..shape.batch.max(1) {
            let args = GemmArgs {
                m: as_i32(op, shape.out_channels)?,
                n: as_i32(op, rows)?,
                k: as_i32(op, if shape.batch == 0 { 0 } else { positions })?,
                a_row: as_i64(positions),
                a_col: 1,
                b_row: 1,
                b_col: as_i64(positions),
                c_row: as_i64(rows),
                a_batch: 0,
                b_batch: 0,
                c_batch: 0,
                alpha: E::ONE,
                beta: if image == 0 { E::ZERO } else { E::ONE },
            };
            let n = image.min(shape.batch.saturating_sub(1));
            let a = dy_view.slice(n * shape.out_channels * positions..);
            let b = cols_view.slice(n * rows * positions..);
            // dW: [C_out, C·kh·kw] (+)= dY_n: [C_out, oh·ow] · cols_nᵀ: [oh·ow, C·kh·kw]
            gemm(
                op,
                &device,
                &a,
                &b,
                &mut dw_view,
                args,
                1,
                GemmPrecision::Exact,
            )?;
        }
    }
    Ok(dw.into_tensor(&weight_shape))
}
