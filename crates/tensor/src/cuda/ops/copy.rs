//! Ops that place views into a fresh GPU output (`kernels/elementwise.cu`, the `copy_strided`
//! and `fill` kernels): constant padding, concatenation and slice scatter (the backward of a
//! stepped slice). Every one is "fill (if the output is not covered) then copy each source view
//! to its region", so one kernel serves all three.

use cudarc::driver::CudaViewMut;

use super::elementwise::StridedPair;
use crate::cuda::kernels::{COPY_STRIDED, FILL};
use crate::cuda::launch::{self, as_i64, common_device, launch, Output, MAX_RANK};
use crate::cuda::CudaDevice;
use crate::error::{Result, TensorError};
use crate::layout::{contiguous_strides, numel, Layout};
use crate::{Float, Tensor};

fn check_rank(op: &'static str, rank: usize) -> Result<()> {
    if rank > MAX_RANK {
        return Err(TensorError::invalid(
            op,
            format!("rank {rank} is above the CUDA kernels' limit of {MAX_RANK}"),
        ));
    }
    Ok(())
}

/// `dst[dst_offset + Σ iₖ·dst_strides[k]] = src[i]` for every index `i` of `src`'s shape
/// (`src` any view on `device`; `dst` a whole output buffer).
fn copy_into<E: Float>(
    op: &'static str,
    device: &CudaDevice,
    src: &Tensor<E>,
    dst: &mut CudaViewMut<'_, E>,
    dst_strides: &[usize],
    dst_offset: usize,
) -> Result<()> {
    check_rank(op, src.rank())?;
    let n = src.numel();
    if n == 0 {
        return Ok(());
    }
    let layout = src.layout();
    let mut view = StridedPair {
        rank: src.rank() as i32,
        shape: [1; MAX_RANK],
        a_stride: [0; MAX_RANK],
        b_stride: [0; MAX_RANK],
        a_offset: as_i64(layout.offset()),
        b_offset: as_i64(dst_offset),
    };
    let axes = layout.shape().iter().zip(layout.strides()).zip(dst_strides);
    for (axis, ((&size, &src_stride), &dst_stride)) in axes.enumerate() {
        view.shape[axis] = as_i64(size);
        view.a_stride[axis] = as_i64(src_stride);
        view.b_stride[axis] = as_i64(dst_stride);
    }
    let src_view = launch::whole(op, src)?;
    let count = as_i64(n);
    // grid: [ceil(numel(src)/256)], block: [256]; dst: the region of `dst_strides`/`dst_offset`
    launch!(op, device, COPY_STRIDED, E, launch::linear(n);
        &count, &src_view, dst, &view)
}

/// Every element of `dst` (`n` of them) set to `value`.
fn fill<E: Float>(
    op: &'static str,
    device: &CudaDevice,
    dst: &mut CudaViewMut<'_, E>,
    n: usize,
    value: E,
) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let count = as_i64(n);
    // grid: [ceil(n/256)], block: [256]; dst: [n]
    launch!(op, device, FILL, E, launch::linear(n); &count, &value, dst)
}

/// `out[i + before] = x[i]`, every other element `value`; `shape` is the padded shape, checked
/// by [`Tensor::pad`].
pub(crate) fn pad<E: Float>(
    op: &'static str,
    x: &Tensor<E>,
    padding: &[(usize, usize)],
    value: E,
    shape: &[usize],
) -> Result<Tensor<E>> {
    let device = common_device(op, &[x])?;
    let n = numel(shape);
    let mut out = Output::<E>::new(op, &device, n)?;
    {
        let strides = contiguous_strides(shape);
        let offset: usize = padding
            .iter()
            .zip(&strides)
            .map(|(&(before, _), &stride)| before * stride)
            .sum();
        let mut out_view = out.view_mut();
        fill(op, &device, &mut out_view, n, value)?;
        // out[before₀ + i₀, before₁ + i₁, …] = x[i₀, i₁, …]; out: shape
        copy_into(op, &device, x, &mut out_view, &strides, offset)?;
    }
    Ok(out.into_tensor(shape))
}

/// `out[…, offsetₖ + j, …] = tensorsₖ[…, j, …]`; `shape` is the joined shape, checked by
/// [`Tensor::concat`].
pub(crate) fn concat<E: Float>(
    op: &'static str,
    tensors: &[&Tensor<E>],
    axis: usize,
    shape: &[usize],
) -> Result<Tensor<E>> {
    let device = common_device(op, tensors)?;
    let mut out = Output::<E>::new(op, &device, numel(shape))?;
    {
        let strides = contiguous_strides(shape);
        let mut out_view = out.view_mut();
        let mut start = 0;
        for tensor in tensors {
            // out[…, start .. start + size, …] = tensor; out: shape
            copy_into(
                op,
                &device,
                tensor,
                &mut out_view,
                &strides,
                start * strides[axis],
            )?;
            start += tensor.shape()[axis];
        }
    }
    Ok(out.into_tensor(shape))
}

/// A copy of `base` whose elements `start, start + step, … < end` along `axis` are replaced by
/// `src` (PyTorch's `slice_scatter`); arguments checked by [`Tensor::slice_scatter`], which
/// passes the slice's `view` of a dense `base`.
pub(crate) fn slice_scatter<E: Float>(
    op: &'static str,
    base: &Tensor<E>,
    src: &Tensor<E>,
    view: &Layout,
) -> Result<Tensor<E>> {
    let device = common_device(op, &[base, src])?;
    let shape = base.shape();
    let mut out = Output::<E>::new(op, &device, base.numel())?;
    {
        let strides = contiguous_strides(shape);
        let mut out_view = out.view_mut();
        // out = base (dense); out: base.shape
        copy_into(op, &device, base, &mut out_view, &strides, 0)?;
        // out[slice] = src; the slice's strides and offset in the dense output
        copy_into(
            op,
            &device,
            src,
            &mut out_view,
            view.strides(),
            view.offset(),
        )?;
    }
    Ok(out.into_tensor(shape))
}
