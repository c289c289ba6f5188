//! Elementwise ops on the GPU (`kernels/elementwise.cu`): binary ops with broadcasting, unary
//! maps, the strided gather that makes a view dense, and fill.

use cudarc::driver::DeviceRepr;

use crate::cuda::kernels::{
    ADD_RELU, BINARY_DENSE, BINARY_STRIDED, FILL, GATHER, RELU_BACKWARD, UNARY,
};
use crate::cuda::launch::{self, as_i64, common_device, launch, Output, MAX_RANK};
use crate::error::{Result, TensorError};
use crate::layout::Layout;
use crate::{Float, Tensor};

/// Mirror of `StridedPair` in `elementwise.cu`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct StridedPair {
    pub(crate) rank: i32,
    pub(crate) shape: [i64; MAX_RANK],
    pub(crate) a_stride: [i64; MAX_RANK],
    pub(crate) b_stride: [i64; MAX_RANK],
    pub(crate) a_offset: i64,
    pub(crate) b_offset: i64,
}
// SAFETY: #[repr(C)] plain integers, laid out exactly as the C struct (int, 4 bytes padding,
// then long longs), so it can be passed by value as a kernel parameter.
unsafe impl DeviceRepr for StridedPair {}

/// Mirror of `Strided` in `elementwise.cu`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct Strided {
    rank: i32,
    shape: [i64; MAX_RANK],
    stride: [i64; MAX_RANK],
    offset: i64,
}
// SAFETY: as for StridedPair.
unsafe impl DeviceRepr for Strided {}

pub(crate) fn check_rank(op: &'static str, rank: usize) -> Result<()> {
    if rank > MAX_RANK {
        return Err(TensorError::invalid(
            op,
            format!("rank {rank} is above the CUDA kernels' limit of {MAX_RANK}"),
        ));
    }
    Ok(())
}

/// The binary op code of the `binary_*` kernels, by public op name.
fn binary_code(op: &str) -> Option<i32> {
    Some(match op {
        "add" => 0,
        "sub" => 1,
        "mul" => 2,
        "div" => 3,
        "maximum" => 4,
        "minimum" => 5,
        "pow" => 6,
        "gt" => 7,
        "ge" => 8,
        "lt" => 9,
        "le" => 10,
        "eq" => 11,
        _ => return None,
    })
}

/// `out = a ∘ b` with broadcasting, for the binary op named `op` (`add`, `sub`, `mul`, `div`,
/// `maximum`, `minimum`, `pow`, and the masks `gt`, `ge`, `lt`, `le`, `eq`); any other name is `UnsupportedDevice` (a closure cannot run on the
/// GPU). `shape` is the broadcast shape, checked by the caller.
/// As PyTorch does, a rank-0 CPU operand (a scalar such as `Tensor::scalar(0.0)`) may meet a
/// GPU operand: it is copied to the GPU. Any other device mix is `DeviceMismatch`.
pub fn binary_mixed<E: Float>(
    op: &'static str,
    a: &Tensor<E>,
    b: &Tensor<E>,
) -> Option<Result<Tensor<E>>> {
    let (a_gpu, b_gpu) = (launch::is_cuda(a), launch::is_cuda(b));
    if !a_gpu && !b_gpu {
        return None;
    }
    let lift = |scalar: &Tensor<E>, to: crate::Device| {
        if scalar.rank() == 0 && scalar.device() == crate::Device::Cpu {
            scalar.to_device(to)
        } else {
            Ok(scalar.clone())
        }
    };
    Some((|| {
        let a = if a_gpu {
            a.clone()
        } else {
            lift(a, b.device())?
        };
        let b = if b_gpu {
            b.clone()
        } else {
            lift(b, a.device())?
        };
        let shape = crate::layout::broadcast_shape(op, a.shape(), b.shape())?;
        binary(op, &a, &b, &shape)
    })())
}

/// The GPU arm of the binary ops (operands on one GPU, `shape` their broadcast shape).
pub fn binary<E: Float>(
    op: &'static str,
    a: &Tensor<E>,
    b: &Tensor<E>,
    shape: &[usize],
) -> Result<Tensor<E>> {
    let device = common_device(op, &[a, b])?;
    let code = binary_code(op).ok_or(TensorError::UnsupportedDevice {
        op,
        device: a.device(),
    })?;
    check_rank(op, shape.len())?;
    let n = crate::layout::numel(shape);
    let mut out = Output::<E>::new(op, &device, n)?;
    if n == 0 {
        return Ok(out.into_tensor(shape));
    }
    let a_layout = a.layout().broadcast_to(shape)?;
    let b_layout = b.layout().broadcast_to(shape)?;
    let (a_view, b_view) = (launch::whole(op, a)?, launch::whole(op, b)?);
    let count = as_i64(n);
    let mut out_view = out.view_mut();
    if a_layout.is_contiguous() && b_layout.is_contiguous() {
        let a_dense = a_view.slice(a_layout.offset()..a_layout.offset() + n);
        let b_dense = b_view.slice(b_layout.offset()..b_layout.offset() + n);
        // The vector loads (float4, or two double2) need 16-byte alignment of every operand;
        // allocations are 256-byte aligned, so it is a matter of the offsets.
        let vectorised = i32::from(
            launch::vector_aligned::<E>(a_layout.offset())
                && launch::vector_aligned::<E>(b_layout.offset()),
        );
        // grid: [ceil(n/1024)], block: [256] (4 elements per thread); out: shape (dense)
        launch!(op, device, BINARY_DENSE, E, launch::linear(n.div_ceil(4));
            &code, &count, &a_dense, &b_dense, &mut out_view, &vectorised)?;
    } else {
        let mut pair = StridedPair {
            rank: shape.len() as i32,
            shape: [1; MAX_RANK],
            a_stride: [0; MAX_RANK],
            b_stride: [0; MAX_RANK],
            a_offset: as_i64(a_layout.offset()),
            b_offset: as_i64(b_layout.offset()),
        };
        for (axis, &size) in shape.iter().enumerate() {
            pair.shape[axis] = as_i64(size);
            pair.a_stride[axis] = as_i64(a_layout.strides()[axis]);
            pair.b_stride[axis] = as_i64(b_layout.strides()[axis]);
        }
        // grid: [ceil(n/256)], block: [256]; out: shape (dense)
        launch!(op, device, BINARY_STRIDED, E, launch::linear(n);
            &code, &count, &a_view, &b_view, &mut out_view, &pair)?;
    }
    Ok(out.into_tensor(shape))
}

/// The unary maps of the `unary` kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unary {
    Neg = 0,
    Relu = 1,
    Exp = 2,
    Log = 3,
    Sqrt = 4,
    Abs = 5,
    AddScalar = 8,
    MulScalar = 9,
    PowScalar = 10,
    Square = 11,
}

/// `out[i] = f(x[i], scalar)` for the map `unary`.
pub fn unary<E: Float>(
    op: &'static str,
    x: &Tensor<E>,
    unary: Unary,
    scalar: E,
) -> Result<Tensor<E>> {
    let device = common_device(op, &[x])?;
    let x = contiguous(op, x)?;
    let n = x.numel();
    let mut out = Output::<E>::new(op, &device, n)?;
    if n > 0 {
        let x_view = launch::dense_view(op, &x)?;
        let (code, count) = (unary as i32, as_i64(n));
        let mut out_view = out.view_mut();
        // grid: [ceil(n/256)], block: [256]; out: x.shape
        launch!(op, device, UNARY, E, launch::linear(n);
            &code, &count, &x_view, &scalar, &mut out_view)?;
    }
    Ok(out.into_tensor(x.shape()))
}

/// `x` itself if contiguous, else a dense copy gathered on the GPU.
pub fn contiguous<E: Float>(op: &'static str, x: &Tensor<E>) -> Result<Tensor<E>> {
    if x.is_contiguous() {
        return Ok(x.clone());
    }
    let device = common_device(op, &[x])?;
    check_rank(op, x.rank())?;
    let n = x.numel();
    let mut out = Output::<E>::new(op, &device, n)?;
    if n > 0 {
        let view = strided(x.layout());
        let x_view = launch::whole(op, x)?;
        let count = as_i64(n);
        let mut out_view = out.view_mut();
        // grid: [ceil(n/256)], block: [256]; out: x.shape (dense)
        launch!(op, device, GATHER, E, launch::linear(n);
            &count, &x_view, &mut out_view, &view)?;
    }
    Ok(out.into_tensor(x.shape()))
}

pub(crate) fn strided(layout: &Layout) -> Strided {
    let mut view = Strided {
        rank: layout.rank() as i32,
        shape: [1; MAX_RANK],
        stride: [0; MAX_RANK],
        offset: as_i64(layout.offset()),
    };
    for axis in 0..layout.rank() {
        view.shape[axis] = as_i64(layout.shape()[axis]);
        view.stride[axis] = as_i64(layout.strides()[axis]);
    }
    view
}

/// A GPU tensor of `shape` with every element `value` (tests use it to poison outputs).
pub fn full<E: Float>(shape: &[usize], value: E, ordinal: usize) -> Result<Tensor<E>> {
    const OP: &str = "full";
    let device = crate::cuda::device(ordinal)?;
    let n = crate::layout::numel(shape);
    let mut out = Output::<E>::new(OP, &device, n)?;
    let count = as_i64(n.max(1));
    let mut out_view = out.view_mut();
    // grid: [ceil(n/256)], block: [256]; out: shape
    launch!(OP, device, FILL, E, launch::linear(n); &count, &value, &mut out_view)?;
    Ok(out.into_tensor(shape))
}

/// The residual join in one pass: `out = max(a + b, 0)` for two GPU tensors of one shape
/// (the `add_relu` kernel; saves writing and re-reading the sum).
pub fn add_relu<E: Float>(a: &Tensor<E>, b: &Tensor<E>) -> Result<Tensor<E>> {
    const OP: &str = "add_relu";
    let device = common_device(OP, &[a, b])?;
    if a.shape() != b.shape() {
        return Err(TensorError::ShapeMismatch {
            op: OP,
            lhs: a.shape().to_vec(),
            rhs: b.shape().to_vec(),
        });
    }
    let (a, b) = (contiguous(OP, a)?, contiguous(OP, b)?);
    let n = a.numel();
    let mut out = Output::<E>::new(OP, &device, n)?;
    if n > 0 {
        let (a_view, b_view) = (launch::dense_view(OP, &a)?, launch::dense_view(OP, &b)?);
        let count = as_i64(n);
        let mut out_view = out.view_mut();
        // grid: [ceil(n/256)], block: [256]; out: a.shape
        launch!(OP, device, ADD_RELU, E, launch::linear(n);
            &count, &a_view, &b_view, &mut out_view)?;
    }
    Ok(out.into_tensor(a.shape()))
}

/// ReLU's backward in one pass: `dx = x > 0 ? dy : 0` for GPU tensors of one shape
/// (the `relu_backward` kernel).
pub fn relu_backward<E: Float>(x: &Tensor<E>, dy: &Tensor<E>) -> Result<Tensor<E>> {
    const OP: &str = "relu_backward";
    let device = common_device(OP, &[x, dy])?;
    if x.shape() != dy.shape() {
        return Err(TensorError::ShapeMismatch {
            op: OP,
            lhs: x.shape().to_vec(),
            rhs: dy.shape().to_vec(),
        });
    }
    let (x, dy) = (contiguous(OP, x)?, contiguous(OP, dy)?);
    let n = x.numel();
    let mut out = Output::<E>::new(OP, &device, n)?;
    if n > 0 {
        let (x_view, dy_view) = (launch::dense_view(OP, &x)?, launch::dense_view(OP, &dy)?);
        let count = as_i64(n);
        let mut out_view = out.view_mut();
        // grid: [ceil(n/256)], block: [256]; dx: x.shape
        launch!(OP, device, RELU_BACKWARD, E, launch::linear(n);
            &count, &x_view, &dy_view, &mut out_view)?;
    }
    Ok(out.into_tensor(x.shape()))
}
