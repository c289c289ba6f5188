//! Matrix products on the GPU (`kernels/gemm.cu`): `torch.matmul` semantics like the CPU
//! [`Tensor::matmul`], on the tiled exact GEMM (`gemm_f32`, or `gemm_f64` for f64 tensors);
//! [`Tensor::matmul_tf32`] selects the tensor-core TF32 kernel explicitly (f32 only: f64
//! tensors get `UnsupportedDType`, never a silent fallback).

use cudarc::driver::{CudaView, CudaViewMut, DeviceRepr, LaunchConfig};

use crate::cuda::kernels::{GEMM_EXACT, GEMM_TF32};
use crate::cuda::launch::{self, as_i32, as_i64, common_device, launch, Output};
use crate::cuda::CudaDevice;
use crate::error::{Result, TensorError};
use crate::layout::broadcast_shape;
use crate::{Float, Tensor};

/// Which GEMM kernel runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GemmPrecision {
    /// Exact products and sums in the element type: fp32 FMAs for f32 (`gemm_f32`), fp64 FMAs
    /// for f64 (`gemm_f64`). The default everywhere.
    #[default]
    Exact,
    /// Tensor cores with TF32 inputs (10-bit mantissa), fp32 accumulation (`gemm_tf32_f32`);
    /// compute capability 8.0 or newer. Relative error around 1e-3. f32 only: an f64 operand
    /// is [`TensorError::UnsupportedDType`].
    Tf32,
}

/// Mirror of `GemmArgs<T>` in `gemm.cu`, `T` = `E` (α and β in the element type).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct GemmArgs<E: Float> {
    pub m: i32,
    pub n: i32,
    pub k: i32,
    pub a_row: i64,
    pub a_col: i64,
    pub b_row: i64,
    pub b_col: i64,
    pub c_row: i64,
    pub a_batch: i64,
    pub b_batch: i64,
    pub c_batch: i64,
    pub alpha: E,
    pub beta: E,
}
// SAFETY: #[repr(C)]: three ints, 4 bytes padding, eight long longs, then α and β as two `E`
// (f32 or f64, as `T` in the C struct) — the C layout of `GemmArgs<T>`.
unsafe impl<E: Float> DeviceRepr for GemmArgs<E> {}

/// `C_b = α·A_b·B_b + β·C_b` for `batch` products (see `gemm.cu` for the stride convention).
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm<E: Float>(
    op: &'static str,
    device: &CudaDevice,
    a: &CudaView<'_, E>,
    b: &CudaView<'_, E>,
    c: &mut CudaViewMut<'_, E>,
    args: GemmArgs<E>,
    batch: usize,
    precision: GemmPrecision,
) -> Result<()> {
    if args.m == 0 || args.n == 0 || batch == 0 {
        return Ok(());
    }
    let batch = as_i32(op, batch)? as u32;
    match precision {
        GemmPrecision::Exact => {
            let config = LaunchConfig {
                grid_dim: (
                    (args.n as u32).div_ceil(128),
                    (args.m as u32).div_ceil(128),
                    batch,
                ),
                block_dim: (256, 1, 1),
                shared_mem_bytes: 0,
            };
            // grid: [ceil(N/128), ceil(M/128), batch], block: [256]; C: [batch, M, N]
            launch!(op, device, GEMM_EXACT, E, config; a, b, c, &args)
        }
        GemmPrecision::Tf32 => {
            if device.capability().0 < 8 {
                return Err(TensorError::Cuda {
                    op,
                    message: format!(
                        "TF32 tensor cores need compute capability 8.0, this GPU has {:?}",
                        device.capability()
                    ),
                });
            }
            let config = LaunchConfig {
                grid_dim: (
                    (args.n as u32).div_ceil(64),
                    (args.m as u32).div_ceil(64),
                    batch,
                ),
                block_dim: (128, 1, 1),
                shared_mem_bytes: 0,
            };
            // grid: [ceil(N/64), ceil(M/64), batch], block: [128]; C: [batch, M, N]
            launch!(op, device, GEMM_TF32, E, config; a, b, c, &args)
        }
    }
}

/// The single stride that steps through the (flattened) batch axes `0..rank-2`, if there is
/// one: 0 when every batch axis of size > 1 is broadcast, `s` when they are nested like a dense
/// array of stride `s`; `None` otherwise (the operand is then made dense).
fn batch_stride(shape: &[usize], strides: &[usize]) -> Option<usize> {
    let axes: Vec<(usize, usize)> = (0..shape.len() - 2)
        .filter(|&axis| shape[axis] > 1)
        .map(|axis| (shape[axis], strides[axis]))
        .collect();
    let Some(&(_, innermost)) = axes.last() else {
        return Some(0);
    };
    if axes.iter().all(|&(_, stride)| stride == 0) {
        return Some(0);
    }
    for pair in axes.windows(2) {
        let ((_, outer_stride), (inner_size, inner_stride)) = (pair[0], pair[1]);
        if inner_stride == 0 || outer_stride != inner_stride * inner_size {
            return None;
        }
    }
    Some(innermost)
}

/// `lhs · rhs` with `torch.matmul` semantics on the GPU.
pub fn matmul<E: Float>(
    op: &'static str,
    lhs: &Tensor<E>,
    rhs: &Tensor<E>,
    precision: GemmPrecision,
) -> Result<Tensor<E>> {
    let device = common_device(op, &[lhs, rhs])?;
    if precision == GemmPrecision::Tf32 {
        // TF32 rounds fp32 inputs: there is no f64 instance, and no silent fallback to the
        // exact GEMM either (UnsupportedDType, whatever the shapes).
        GEMM_TF32.name(op, E::DTYPE)?;
    }
    let (left_vector, right_vector) = (lhs.rank() == 1, rhs.rank() == 1);
    let a = if left_vector {
        lhs.unsqueeze(0)?
    } else {
        lhs.clone()
    };
    let b = if right_vector {
        rhs.unsqueeze(1)?
    } else {
        rhs.clone()
    };
    let (m, k) = (a.shape()[a.rank() - 2], a.shape()[a.rank() - 1]);
    let (k_rhs, n) = (b.shape()[b.rank() - 2], b.shape()[b.rank() - 1]);
    if k != k_rhs {
        return Err(TensorError::ShapeMismatch {
            op,
            lhs: lhs.shape().to_vec(),
            rhs: rhs.shape().to_vec(),
        });
    }
    let batch_shape = broadcast_shape(op, &a.shape()[..a.rank() - 2], &b.shape()[..b.rank() - 2])?;
    let full = |rows: usize, cols: usize| {
        let mut shape = batch_shape.clone();
        shape.extend([rows, cols]);
        shape
    };
    // Each operand broadcast to [batch…, rows, cols]; made dense only if its batch axes cannot
    // be walked with one stride.
    let operand = |t: &Tensor<E>, rows: usize, cols: usize| -> Result<(Tensor<E>, usize)> {
        let t = t.broadcast_to(&full(rows, cols))?;
        match batch_stride(t.shape(), t.strides()) {
            Some(stride) => Ok((t, stride)),
            None => Ok((super::elementwise::contiguous(op, &t)?, rows * cols)),
        }
    };
    let (a, a_batch) = operand(&a, m, k)?;
    let (b, b_batch) = operand(&b, k, n)?;
    let batch = crate::layout::numel(&batch_shape);
    let out_shape = full(m, n);
    let mut out = Output::<E>::new(op, &device, crate::layout::numel(&out_shape))?;
    if m * n * batch > 0 {
        let (ar, br) = (a.rank(), b.rank());
        let args = GemmArgs {
            m: as_i32(op, m)?,
            n: as_i32(op, n)?,
            k: as_i32(op, k)?,
            a_row: as_i64(a.strides()[ar - 2]),
            a_col: as_i64(a.strides()[ar - 1]),
            b_row: as_i64(b.strides()[br - 2]),
            b_col: as_i64(b.strides()[br - 1]),
            c_row: as_i64(n),
            a_batch: as_i64(a_batch),
            b_batch: as_i64(b_batch),
            c_batch: as_i64(m * n),
            alpha: E::ONE,
            beta: E::ZERO,
        };
        let a_view = launch::whole(op, &a)?;
        let a_view = a_view.slice(a.layout().offset()..);
        let b_view = launch::whole(op, &b)?;
        let b_view = b_view.slice(b.layout().offset()..);
        let mut c_view = out.view_mut();
        // C: [batch, m, n] = A: [batch, m, k] · B: [batch, k, n]
        gemm(
            op,
            &device,
            &a_view,
            &b_view,
            &mut c_view,
            args,
            batch,
            precision,
        )?;
    }
    // (k = 0 needs no special case: the kernels then write α·0 = 0 everywhere.)
    let result = out.into_tensor(&out_shape);
    // Drop the axes the vectors added.
    let mut shape = batch_shape;
    if !left_vector {
        shape.push(m);
    }
    if !right_vector {
        shape.push(n);
    }
    result.reshape(&shape)
}

impl<E: Float> Tensor<E> {
    /// `self · other` like [`Tensor::matmul`], on the GPU's tensor cores with TF32 inputs
    /// (relative error around 1e-3; compute capability 8.0 or newer). GPU tensors only, and
    /// f32 only: f64 tensors get [`TensorError::UnsupportedDType`] (use [`Tensor::matmul`],
    /// which runs the exact f64 GEMM).
    pub fn matmul_tf32(&self, other: &Tensor<E>) -> Result<Tensor<E>> {
        matmul("matmul_tf32", self, other, GemmPrecision::Tf32)
    }
}
